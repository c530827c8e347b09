"""SAFM's demo: output the outlines of grey shapes with 1x1 layers around SAFM, so the modulation map
M has to light up on edges.

The data (`shape_edges`, `edge_map`), the model around the block (`SAFMNet`), the loss, the
read-out of |M| against the edges and the `DEMO` entry of `fusion_edu.learn.DEMOS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import SAFM
from .demo import Batch, Check, Demo, iou, kept, model_maker, normal, pearson, pixel_grid, uniform

__all__ = ["edge_map", "shape_edges", "SAFMNet", "DEMO"]


def edge_map(img: Tensor, threshold: float = 0.08) -> Tensor:
    """1 where the 3x3 neighbourhood's max - min exceeds ``threshold``: a 2-px-wide edge map.

    Shape:
        img: (n, 1, H, W); out: (n, 1, H, W)
    """
    high = F.max_pool2d(img, 3, stride=1, padding=1)
    low = -F.max_pool2d(-img, 3, stride=1, padding=1)
    return (high - low > threshold).float()


def shape_edges(n: int, generator: torch.Generator, size: int = 32, shapes: int = 4, noise: float = 0.02) -> Batch:
    """Flat grey discs and rectangles on a grey background; the target is their 2-px outline.

    Shape:
        x: (n, 1, size, size); edges: (n, 1, size, size) in {0, 1}
    """
    rows, cols = pixel_grid(size)
    img = uniform(generator, n, 1, 1).expand(n, size, size).clone()
    clean = img
    for _ in range(shapes):
        cy, cx = uniform(generator, n, 1, 1) * size, uniform(generator, n, 1, 1) * size
        ry, rx = 3 + 7 * uniform(generator, n, 1, 1), 3 + 7 * uniform(generator, n, 1, 1)
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= ry**2
        rect = ((rows - cy).abs() <= ry) & ((cols - cx).abs() <= rx)
        is_disc = uniform(generator, n, 1, 1) < 0.5
        inside = torch.where(is_disc, disc, rect)
        clean = torch.where(inside, uniform(generator, n, 1, 1), clean)
    clean = clean.unsqueeze(1)
    x = clean + noise * normal(generator, n, 1, size, size)
    return {"x": x, "edges": edge_map(clean)}


class SAFMNet(nn.Module):
    """Pointwise 1x1 embed -> SAFM -> bias-free 1x1 head.

    All spatial work is inside SAFM, and with no bias in the head a flat region can only give 0
    if M * x is ~0 there: the modulation map M has to light up on edges.

    Shape:
        x: (B, 1, H, W); out: (B, 1, H, W)
    """

    def __init__(self, channels: int = 16, n_levels: int = 4, embed_bias: bool = True):
        super().__init__()
        self.embed = nn.Conv2d(1, channels, 1, bias=embed_bias)
        self.block = SAFM(channels, n_levels)
        self.head = nn.Conv2d(channels, 1, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.embed(x)))


def _loss(model: nn.Module, b: Batch) -> Tensor:
    return F.mse_loss(model(b["x"]), b["edges"])


def _interior(t: Tensor, border: int = 2) -> Tensor:
    return t[..., border:-border, border:-border]


def _readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, out = kept(model, b["x"])
    m = tensors["block.modulation"].abs().mean(1)  # (n, H, W)
    edges = b["edges"][:, 0]
    mi, ei = _interior(m), _interior(edges)
    metrics = {"edge_r": pearson(mi, ei, per_image=True).mean().item(),
               "edge_ratio": (mi[ei == 1].mean() / mi[ei == 0].mean()).item(),
               "edge_iou": iou(_interior(out[:, 0]) > 0.5, ei == 1)}
    return metrics, {"m": m, "out": out[:, 0]}


DEMO = Demo(
    key="safm",
    task_zh="灰度圆盘和矩形；输出它们 2 像素宽的轮廓。嵌入和输出头都是 1×1（输出头无偏置），空间操作全在 SAFM 里。",
    task_en="Grey discs and rectangles; output their 2-px outline. Embed and head are 1x1 (head without bias), "
            "so all spatial work happens inside SAFM.",
    metric="edge_r", threshold=0.35,
    checks=(Check("edge_r", 0.35),),
    before_zh="训练前调制图 |M| 与边缘无关：r ≈ 0，边缘/平坦比 ≈ 1。",
    before_en="Before training |M| ignores edges: r ~ 0, edge/flat ratio ~ 1.",
    steps=600, lr=2e-2, batch_size=8, eval_size=32,
    make_model=model_maker(SAFMNet), make_batch=shape_edges, loss=_loss, readout=_readout)
