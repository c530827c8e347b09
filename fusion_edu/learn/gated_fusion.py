"""Gated fusion's demo: two noisy sensors, each clean where the other is noisy; the gate z must pick.

The data (`sensor_pair`), the model around the block (`GatedNet`), the loss, the read-out of the
gate and the `DEMO` entry of `fusion_edu.learn.DEMOS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import GatedFusion
from ..errors import require_int
from .demo import Batch, Check, Demo, kept, model_maker, normal, pearson, uniform

__all__ = ["sensor_pair", "GatedNet", "DEMO"]


def sensor_pair(n: int, generator: torch.Generator, size: int = 24, noise: float = 1.0) -> Batch:
    """Two noisy copies of one smooth signal; each is clean exactly where the other is noisy.

    A random grid of 8x8-pixel cells decides, cell by cell, which sensor is clean. Averaging
    the two halves the noise everywhere; only a per-position choice removes it, which is what
    gated fusion's gate z can do.

    Shape:
        a, b, clean, mask: (n, 1, size, size); mask = 1 where sensor a is clean
    """
    require_int("sensor_pair", "size", size, minimum=8)
    cells = size // 8
    clean = F.interpolate(normal(generator, n, 1, 4, 4), size=(size, size), mode="bicubic", align_corners=False)
    mask = (uniform(generator, n, 1, cells, cells) < 0.5).float()
    mask = F.interpolate(mask, size=(size, size), mode="nearest")
    a = clean + noise * normal(generator, n, 1, size, size) * (1 - mask)
    b = clean + noise * normal(generator, n, 1, size, size) * mask
    return {"a": a, "b": b, "clean": clean, "mask": mask}


class GatedNet(nn.Module):
    """Shared conv encoder for both sensors -> GatedFusion -> 1x1 decoder.

    The encoder (three 3x3 convs, receptive field 7x7) lets the per-pixel gate see local noise
    energy; on raw pixels a per-pixel linear gate could not tell noise from signal.

    Shape:
        a, b: (B, 1, H, W); out: (B, 1, H, W)
    """

    def __init__(self, channels: int = 8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.block = GatedFusion(channels, layout="nchw")
        self.decoder = nn.Conv2d(channels, 1, 1)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        fa, fb = self.encoder(torch.cat([a, b])).chunk(2)  # one shared encoder, both sensors in one call
        return self.decoder(self.block(fa, fb))


def _loss(model: nn.Module, b: Batch) -> Tensor:
    return F.mse_loss(model(b["a"], b["b"]), b["clean"])


def _readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, out = kept(model, b["a"], b["b"])
    z = tensors["block.z"].mean(-1)  # channels-last (n, H, W, C) -> mean over C
    mask = b["mask"][:, 0]
    metrics = {"gate_r": pearson(z, mask).item(),
               "gate_contrast": (z[mask == 1].mean() - z[mask == 0].mean()).item(),
               "mse": F.mse_loss(out, b["clean"]).item(),
               "mse_average": F.mse_loss((b["a"] + b["b"]) / 2, b["clean"]).item()}
    return metrics, {"z": z, "out": out[:, 0]}


DEMO = Demo(
    key="gated_fusion",
    task_zh="两个“传感器”看同一个平滑信号：随机选出的 8×8 方块里 A 干净、B 有噪声，其余方块反过来。"
            "网络要重建干净信号：门控 z 必须学会在每个位置选择干净的那一路。",
    task_en="Two 'sensors' see one smooth signal: on a random set of 8x8 cells A is clean and B is noisy, on the "
            "other cells the reverse. The network must reconstruct the clean signal, so the gate z has to pick "
            "the clean sensor at every position.",
    metric="gate_r", threshold=0.85,
    checks=(Check("gate_r", 0.85), Check("gate_contrast", 0.25)),
    before_zh="训练前 z ≈ 0.5 且几乎处处相同：对比度 ≈ 0（r 对尺度不敏感，可能偶然偏高，所以看对比度）。",
    before_en="Before training z ~ 0.5 nearly everywhere: contrast ~ 0 (r ignores scale and can be high by "
              "chance, so read the contrast).",
    steps=600, lr=1e-2, batch_size=16, eval_size=64,
    make_model=model_maker(GatedNet), make_batch=sensor_pair, loss=_loss, readout=_readout)
