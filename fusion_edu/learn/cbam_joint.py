"""The CBAM variant's demo: find a small coloured square with the joint MLP's spatial weight, then
change the input size, which the joint MLP cannot follow and standard CBAM can.

The data (`coloured_object`), the model around the block (`CBAMNet`, joint variant or standard
CBAM), the loss, the read-out of the spatial weight, the two-model runner and the `DEMO` entry.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import CBAMBlock
from ..errors import ShapeError, message, value_error
from .demo import (
    Batch,
    Check,
    Demo,
    DemoResult,
    integers,
    kept,
    model_maker,
    normal,
    pearson,
    pixel_grid,
    result_from,
    rng,
    train,
)
from .reference import StandardCBAM

__all__ = ["coloured_object", "CBAMNet", "DEMO"]


def coloured_object(n: int, generator: torch.Generator, size: int = 16, classes: int = 3, side: int = 4) -> Batch:
    """An RGB noise image with one small square whose colour is the class.

    The square adds +1 in every channel (it is brighter) and +2 more in its class channel.

    Shape:
        x: (n, 3, size, size); label: (n,) in 0..classes-1; mask: (n, 1, size, size) in {0, 1}
    """
    if classes > 3:
        raise value_error("coloured_object", "classes must be <= 3 (one per RGB channel)", {"classes": classes})
    x = normal(generator, n, 3, size, size)
    label = integers(generator, 0, classes, n)
    top = integers(generator, 0, size - side + 1, n, 2)
    rows, cols = pixel_grid(size)
    mask = ((rows >= top[:, 0, None, None]) & (rows < top[:, 0, None, None] + side)
            & (cols >= top[:, 1, None, None]) & (cols < top[:, 1, None, None] + side)).float().unsqueeze(1)
    colour = 1.0 + 2.0 * F.one_hot(label, 3).float()
    x = x + mask * colour.view(n, 3, 1, 1)
    return {"x": x, "label": label, "mask": mask}


class CBAMNet(nn.Module):
    """Linear stride-2 stem -> CBAM (joint variant or standard) -> L2-normalised GAP -> classifier.

    The joint variant's spatial output ``out2 = x * Sw`` is the only path to the classifier.
    L2-normalising the pooled vector makes a uniform gate useless, so Sw has to *localise*.

    Shape:
        x: (B, 3, H, W); out: (B, classes) logits
    """

    def __init__(self, kind: str = "joint", dim: int = 16, classes: int = 3, feature_hw: int = 64):
        super().__init__()
        if kind not in ("joint", "standard"):
            raise value_error("CBAMNet", "kind must be 'joint' or 'standard'", {"kind": kind})
        self.kind = kind
        self.stem = nn.Conv2d(3, dim, 2, stride=2, bias=False)
        if kind == "joint":
            self.block = CBAMBlock(dim, reduction=1, kernel_size=7, HW=feature_hw)
        else:
            self.block = StandardCBAM(dim, reduction=1, kernel_size=7)
        self.tau = nn.Parameter(torch.tensor(5.0))
        self.fc = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        f = self.stem(x)
        out = self.block(f)[1] if self.kind == "joint" else self.block(f)
        z = F.normalize(out.mean(dim=(2, 3)), dim=1)
        return self.fc(self.tau * z)


def _loss(model: nn.Module, b: Batch) -> Tensor:
    return F.cross_entropy(model(b["x"]), b["label"])


def _readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, logits = kept(model, b["x"])
    sw = tensors["block.spatial_weight"][:, 0]  # (n, h, w) on the feature grid
    mask = F.adaptive_avg_pool2d(b["mask"], sw.shape[-2:])[:, 0]
    metrics = {"sw_r": pearson(sw, mask, per_image=True).mean().item(),
               "sw_contrast": (sw[mask >= 0.5].mean() - sw[mask == 0].mean()).item(),
               "accuracy": (logits.argmax(1) == b["label"]).float().mean().item()}
    return metrics, {"sw": sw, "mask": mask}


def _run(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    """Trains the joint variant (the main model) and standard CBAM, then tries both on 32x32 inputs."""
    test = demo.eval_batch(seed)
    runs = {"joint": train(demo, seed, steps, progress, test, desc="cbam (joint MLP)", kind="joint"),
            "standard": train(demo, seed, steps, progress, test, desc="cbam (standard)", kind="standard")}
    joint, standard = runs["joint"], runs["standard"]
    bigger = coloured_object(demo.eval_size, rng(2000 + seed), size=32)
    try:
        joint.model(bigger["x"][:2])
        size_error = size_error_zh = ""
    except ShapeError as e:  # the block's own message: built for one H*W
        size_error, size_error_zh = str(e), message(e, "zh")
    std_after_new, std_maps_new = _readout(standard.model, bigger)
    after = {**joint.after, "std_sw_r": standard.after["sw_r"], "std_sw_r_new_size": std_after_new["sw_r"],
             "std_accuracy_new_size": std_after_new["accuracy"]}
    before = {**joint.before, "std_sw_r": standard.before["sw_r"]}
    extra = {"size_error": size_error, "size_error_zh": size_error_zh, "new_batch": bigger,
             "std_maps_new_size": std_maps_new, "std_maps_after": standard.maps_after, "std_after": standard.after}
    return result_from(demo, seed, steps, test, runs, before=before, after=after, extra=extra)


DEMO = Demo(
    key="cbam_joint",
    task_zh="噪声中一个 4×4 彩色方块，分类它的颜色；分类器只读 out2 = x·Sw，且池化后做 L2 归一化，"
            "所以空间权重 Sw 必须找到物体。之后换一个输入尺寸：联合 MLP 跟不上，标准 CBAM 可以。",
    task_en="Classify the colour of one 4x4 square in noise. The classifier reads only out2 = x*Sw, L2-normalised "
            "after pooling, so the spatial weight Sw must find the object. Then change the input size: the "
            "joint MLP cannot follow, standard CBAM can.",
    metric="sw_r", threshold=0.5,
    checks=(Check("sw_r", 0.5), Check("sw_contrast", 0.4)),
    before_zh="训练前 Sw ≈ 0.5 处处相同：物体内外差 ≈ 0。",
    before_en="Before training Sw ~ 0.5 everywhere: inside-outside difference ~ 0.",
    steps=600, lr=6e-3, batch_size=64, eval_size=256,
    make_model=model_maker(CBAMNet), make_batch=coloured_object, loss=_loss, readout=_readout, runner=_run)
