"""MSAA's demo: cut objects of very different sizes out of noise, which is what its spatial gate Sa can do.

The data (`multiscale_blobs`), the model around the block (`MSAANet`), the loss, the read-out of
Sa against the object mask and the `DEMO` entry of `fusion_edu.learn.DEMOS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import MSAA
from .demo import Batch, Check, Demo, iou, kept, model_maker, normal, pearson, pixel_grid, uniform

__all__ = ["multiscale_blobs", "MSAANet", "DEMO"]


def multiscale_blobs(n: int, generator: torch.Generator, size: int = 32, objects: int = 3,
                     noise: float = 0.5) -> Batch:
    """Discs and squares of very different sizes (mostly small, some large) in noise.

    Shape:
        x: (n, 1, size, size) = mask + noise; mask: (n, 1, size, size) in {0, 1}
    """
    rows, cols = pixel_grid(size)
    mask = torch.zeros(n, size, size, dtype=torch.bool)
    for _ in range(objects):
        cy, cx = uniform(generator, n, 1, 1) * size, uniform(generator, n, 1, 1) * size
        radius = 1.5 + 8 * uniform(generator, n, 1, 1) ** 2
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        square = ((rows - cy).abs() <= radius) & ((cols - cx).abs() <= radius)
        mask |= torch.where(uniform(generator, n, 1, 1) < 0.5, disc, square)
    mask = mask.float().unsqueeze(1)
    return {"x": mask + noise * normal(generator, n, 1, size, size), "mask": mask}


class MSAANet(nn.Module):
    """Three scale branches (full, 1/2, 1/4 resolution, upsampled back) -> MSAA -> 1x1 head.

    Shape:
        x: (B, 1, H, W) with H, W divisible by 4; out: (B, 1, H, W)
    """

    def __init__(self, width: int = 8, out_channels: int = 16):
        super().__init__()
        self.b1, self.b2, self.b4 = (nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU()) for _ in range(3))
        self.block = MSAA(3 * width, out_channels)
        self.head = nn.Conv2d(out_channels, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        f1 = self.b1(x)
        f2 = F.interpolate(self.b2(F.avg_pool2d(x, 2)), size=size, mode="bilinear", align_corners=False)
        f4 = F.interpolate(self.b4(F.avg_pool2d(x, 4)), size=size, mode="bilinear", align_corners=False)
        return self.head(self.block(f1, f2, f4))


def _loss(model: nn.Module, b: Batch) -> Tensor:
    return F.mse_loss(model(b["x"]), b["x"] * b["mask"])


def _readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, out = kept(model, b["x"])
    sa = tensors["block.fusion_conv.spatial_gate"][:, 0]
    mask = b["mask"][:, 0]
    flat = sa.flatten(1)
    mid = ((flat.min(1).values + flat.max(1).values) / 2).view(-1, 1, 1)
    metrics = {"gate_r": pearson(sa, mask, per_image=True).mean().item(),
               "gate_iou": iou(sa > mid, mask == 1),
               "gate_contrast": (sa[mask == 1].mean() - sa[mask == 0].mean()).item()}
    return metrics, {"sa": sa, "out": out[:, 0]}


DEMO = Demo(
    key="msaa",
    task_zh="噪声中大小悬殊的圆和方块；输出“抠图”（物体像素保留，背景置零），乘法式的掩码正是空间门 Sa 能做的。",
    task_en="Discs and squares of very different sizes in noise; output a cut-out (object pixels kept, "
            "background zeroed) - a multiplicative mask, which is what the spatial gate Sa can do.",
    metric="gate_r", threshold=0.8,
    checks=(Check("gate_r", 0.8), Check("gate_iou", 0.75)),
    before_zh="训练前 Sa 几乎平坦：物体内外均值差 ≈ 0（r 可能偶然偏高）。",
    before_en="Before training Sa is nearly flat: inside-outside difference ~ 0 (r can be high by chance).",
    steps=300, lr=5e-3, batch_size=8, eval_size=32,
    make_model=model_maker(MSAANet), make_batch=multiscale_blobs, loss=_loss, readout=_readout)
