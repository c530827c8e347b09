"""One CPU-fast training demo per block: a model around the block, a task that needs its mechanism,
and a read-out of the block's own internal quantity before and after training.

Quick use::

    from fusion_edu.learn import run_demo
    result = run_demo("gated_fusion", seed=0)
    result            # a table: metric, before, after, threshold
    result.figure()   # before/after maps on a fixed colour scale

Or step by step (what `run_demo` does)::

    demo = DEMOS["gated_fusion"]                      # the task, in zh and en
    model = demo.make_model(seed=0)                   # a small net around the block: model.block
    test = demo.eval_batch(seed=0)                    # a fixed test batch (a dict of tensors)
    before, maps_before = demo.readout(model, test)   # metrics and maps, read through trace(keep=True)
    history = fit(model, demo.stream(seed=0), demo.steps, demo.lr, demo.loss)
    after, maps_after = demo.readout(model, test)

Read-outs use ``fusion_edu.trace(model, ..., keep=True)``: the block's own ``note(..., key=...)``
steps hand over its gate, weights or attention, so nothing is recomputed here. Metrics are read
in eval mode (BatchNorm uses its running statistics).
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import BLOCKS, MSAA, SAFM, CBAMBlock, GatedFusion, MFEBlock, MSFBlock, OSRAttention, reduced_size
from ..errors import ShapeError, value_error
from ..trace import trace
from . import datasets as ds
from .fit import fit
from .reference import StandardCBAM

__all__ = ["DEMOS", "Demo", "Check", "DemoResult", "run_demo", "osra_sweep", "osra_cost", "OSRASweep", "METRICS",
           "pearson", "erf_map", "marker_mask", "GatedNet", "MSFNet", "MFENet", "SAFMNet", "OSRANet", "MSAANet",
           "CBAMNet"]

Batch = dict[str, Tensor]


# --------------------------------------------------------------------------- helpers

def pearson(a: Tensor, b: Tensor, per_image: bool = False) -> Tensor:
    """Pearson correlation of two maps: over everything, or one value per image (first axis).

    Shape:
        a, b: (n, ...) the same shape; out: () or (n,)
    """
    a, b = a.float(), b.float()
    if per_image:
        a, b = a.flatten(1), b.flatten(1)
    else:
        a, b = a.flatten().unsqueeze(0), b.flatten().unsqueeze(0)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    r = (a * b).sum(1) / ((a.square().sum(1) * b.square().sum(1)).sqrt() + 1e-12)
    return r if per_image else r[0]


def _kept(model: nn.Module, *inputs: Tensor) -> tuple[dict[str, Tensor], Any]:
    """Runs the model once under `trace(keep=True)`: the tensors the blocks marked with a key."""
    with torch.no_grad():
        t = trace(model, *inputs, keep=True)
    return t.tensors, t.output


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- models

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


class MSFNet(nn.Module):
    """MSFBlock over four inputs -> 3x3 conv + ReLU -> global average pool -> linear classifier.

    Shape:
        x0..x3: (B, C, H, W); out: (B, 2) logits
    """

    def __init__(self, channels: int = 8, weighting: str = "sigmoid_softmax"):
        super().__init__()
        self.block = MSFBlock(channels, weighting=weighting)
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2))

    def forward(self, x0: Tensor, x1: Tensor, x2: Tensor, x3: Tensor) -> Tensor:
        return self.head(self.block(x0, x1, x2, x3))


class MFENet(nn.Module):
    """1x1 embed -> MFEBlock -> 1x1 head: every spatial operation happens inside the block.

    Shape:
        x: (B, 1, H, W); out: (B, 1, H, W)
    """

    def __init__(self, channels: int = 8, atrous_rates: tuple[int, int, int] = (2, 4, 8)):
        super().__init__()
        self.embed = nn.Conv2d(1, channels, 1)
        self.block = MFEBlock(channels, list(atrous_rates))
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.embed(x)))


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


class OSRANet(nn.Module):
    """Pointwise MLP embed -> OSRAttention -> 1x1 head with 8 colour classes per pixel.

    OSRA has no output projection and no residual, so the head sees only ``attn @ v``.

    Shape:
        x: (B, 3, H, W); out: (B, 8, H, W) logits
    """

    def __init__(self, sr_ratio: int = 2, dim: int = 16, num_heads: int = 2, classes: int = 8):
        super().__init__()
        self.embed = nn.Sequential(nn.Conv2d(3, dim, 1), nn.GELU(), nn.Conv2d(dim, dim, 1))
        self.block = OSRAttention(dim, num_heads=num_heads, sr_ratio=sr_ratio)
        self.head = nn.Conv2d(dim, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.embed(x)))


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


# --------------------------------------------------------------------------- losses

def _gated_loss(model: nn.Module, b: Batch) -> Tensor:
    return F.mse_loss(model(b["a"], b["b"]), b["clean"])


def _msf_loss(model: nn.Module, b: Batch) -> Tensor:
    return F.cross_entropy(model(*b["xs"]), b["label"])


def _dense_loss(key: str) -> Callable[[nn.Module, Batch], Tensor]:
    def loss(model: nn.Module, b: Batch) -> Tensor:
        return F.mse_loss(model(b["x"]), b[key])
    return loss


def _osra_loss(model: nn.Module, b: Batch) -> Tensor:
    logits = model(b["x"])
    target = b["label"].view(-1, 1, 1).expand(-1, *logits.shape[-2:])
    return F.cross_entropy(logits, target)


def _msaa_loss(model: nn.Module, b: Batch) -> Tensor:
    return F.mse_loss(model(b["x"]), b["x"] * b["mask"])


def _cbam_loss(model: nn.Module, b: Batch) -> Tensor:
    return F.cross_entropy(model(b["x"]), b["label"])


# --------------------------------------------------------------------------- read-outs

def _gated_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, out = _kept(model, b["a"], b["b"])
    z = kept["block.z"].mean(-1)  # channels-last (n, H, W, C) -> mean over C
    mask = b["mask"][:, 0]
    metrics = {"gate_r": pearson(z, mask).item(),
               "gate_contrast": (z[mask == 1].mean() - z[mask == 0].mean()).item(),
               "mse": F.mse_loss(out, b["clean"]).item(),
               "mse_average": F.mse_loss((b["a"] + b["b"]) / 2, b["clean"]).item()}
    return metrics, {"z": z, "out": out[:, 0]}


def _msf_readout(model: nn.Module, b: Batch, informative: int = 2) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, logits = _kept(model, *b["xs"])
    weights = kept["block.weights"][..., 0]  # (n, C, 4)
    per_input = weights.mean(dim=(0, 1))
    others = torch.cat([per_input[:informative], per_input[informative + 1:]])
    metrics = {"w_informative": per_input[informative].item(),
               "w_other": others.mean().item(),
               "accuracy": (logits.argmax(1) == b["label"]).float().mean().item()}
    return metrics, {"weights": per_input, "weights_per_channel": weights.mean(0)}


def erf_map(model: nn.Module, x: Tensor) -> Tensor:
    """Effective receptive field: |d out[centre] / d input|, summed over a batch of inputs.

    Shape:
        x: (n, 1, H, W); out: (H, W), normalised to sum 1
    """
    x = x.clone().requires_grad_(True)
    out = model(x)
    H, W = out.shape[-2:]
    out[:, 0, H // 2, W // 2].sum().backward()
    g = x.grad.abs().sum(dim=(0, 1))
    model.zero_grad(set_to_none=True)
    return g / g.sum()


def _outside_share(erf: Tensor, box: int = 9) -> float:
    H, W = erf.shape
    top, left = H // 2 - box // 2, W // 2 - box // 2
    return 1.0 - erf[top:top + box, left:left + box].sum().item()


def _mfe_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, _ = _kept(model, b["x"])
    w = kept["block.weights"][..., 0].mean(dim=(0, 1))  # (4,)
    erf = erf_map(model, b["x"])
    metrics = {"erf_outside": _outside_share(erf), **{f"w{i}": w[i].item() for i in range(4)}}
    return metrics, {"erf": erf, "weights": w}


def _interior(t: Tensor, border: int = 2) -> Tensor:
    return t[..., border:-border, border:-border]


def _safm_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, out = _kept(model, b["x"])
    m = kept["block.modulation"].abs().mean(1)  # (n, H, W)
    edges = b["edges"][:, 0]
    mi, ei = _interior(m), _interior(edges)
    metrics = {"edge_r": pearson(mi, ei, per_image=True).mean().item(),
               "edge_ratio": (mi[ei == 1].mean() / mi[ei == 0].mean()).item(),
               "edge_iou": _iou(_interior(out[:, 0]) > 0.5, ei == 1)}
    return metrics, {"m": m, "out": out[:, 0]}


def _iou(pred: Tensor, truth: Tensor) -> float:
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float().clamp(min=1)
    return (inter / union).mean().item()


def _near_cells(pos: Tensor, sr: int, cells: int) -> Tensor:
    """(n, cells) 0/1: the key cell(s) whose centre (pixel sr*j) is nearest to each position."""
    centres = sr * torch.arange(cells, dtype=torch.float32)
    dist = (pos.float().view(-1, 1) - centres.view(1, -1)).abs()
    return (dist <= dist.min(1, keepdim=True).values + 1e-6).float()


def marker_mask(pos: Tensor, size: int, sr: int) -> Tensor:
    """0/1 mask of the reduced-grid cell(s) nearest the marker; a marker half-way between two cell
    centres (pixel sr*j is the centre of cell j) counts both.

    Shape:
        pos: (n, 2) as (row, col); out: (n, H', W') with H' = reduced_size(size, sr)
    """
    cells = reduced_size(size, sr)
    return _near_cells(pos[:, 0], sr, cells).unsqueeze(2) * _near_cells(pos[:, 1], sr, cells).unsqueeze(1)


def _osra_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, logits = _kept(model, b["x"])
    attn = kept["block.attn"]  # (n, nh, H*W, H'*W')
    size, sr = b["x"].shape[-1], model.block.sr_ratio
    cells = reduced_size(size, sr)
    grid = attn.mean(dim=(1, 2)).view(-1, cells, cells)  # mean over heads and all queries
    near = marker_mask(b["pos"], size, sr)
    target = b["label"].view(-1, 1, 1)
    metrics = {"marker_mass": (grid * near).sum(dim=(1, 2)).mean().item(),
               "uniform_mass": (near.sum(dim=(1, 2)) / cells**2).mean().item(),
               "accuracy": (logits.argmax(1) == target).float().mean().item()}
    return metrics, {"attn_grid": grid, "near": near}


def _msaa_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, out = _kept(model, b["x"])
    sa = kept["block.fusion_conv.spatial_gate"][:, 0]
    mask = b["mask"][:, 0]
    flat = sa.flatten(1)
    mid = ((flat.min(1).values + flat.max(1).values) / 2).view(-1, 1, 1)
    metrics = {"gate_r": pearson(sa, mask, per_image=True).mean().item(),
               "gate_iou": _iou(sa > mid, mask == 1),
               "gate_contrast": (sa[mask == 1].mean() - sa[mask == 0].mean()).item()}
    return metrics, {"sa": sa, "out": out[:, 0]}


def _cbam_readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    kept, logits = _kept(model, b["x"])
    sw = kept["block.spatial_weight"][:, 0]  # (n, h, w) on the feature grid
    mask = F.adaptive_avg_pool2d(b["mask"], sw.shape[-2:])[:, 0]
    metrics = {"sw_r": pearson(sw, mask, per_image=True).mean().item(),
               "sw_contrast": (sw[mask >= 0.5].mean() - sw[mask == 0].mean()).item(),
               "accuracy": (logits.argmax(1) == b["label"]).float().mean().item()}
    return metrics, {"sw": sw, "mask": mask}


# --------------------------------------------------------------------------- catalog

@dataclass(frozen=True)
class Check:
    """One pass/fail bar on an after-training metric."""

    metric: str
    threshold: float
    op: str = ">="

    def ok(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


# Metric names used in results: (zh, en) labels.
METRICS: dict[str, tuple[str, str]] = {
    "gate_r": ("门控图与掩码的相关系数 r", "Pearson r of the gate map with the mask"),
    "gate_contrast": ("门控对比度：掩码内均值 − 掩码外均值", "gate contrast: mean inside - mean outside"),
    "gate_iou": ("门控图（阈值取中值）与掩码的 IoU", "IoU of the gate (threshold at mid-range) with the mask"),
    "mse": ("重建误差 MSE", "reconstruction MSE"),
    "mse_average": ("直接取 (A+B)/2 的 MSE", "MSE of the plain average (A+B)/2"),
    "w_informative": ("有信息输入的权重", "weight of the informative input"),
    "w_other": ("其余输入的平均权重", "mean weight of the other inputs"),
    "w_informative_softmax": ("有信息输入的权重（plain softmax）", "weight of the informative input (plain softmax)"),
    "w_other_softmax": ("其余输入的平均权重（plain softmax）", "mean weight of the others (plain softmax)"),
    "accuracy": ("准确率", "accuracy"),
    "accuracy_softmax": ("准确率（plain softmax）", "accuracy (plain softmax)"),
    "erf_outside": ("有效感受野落在中心 9×9 之外的比例", "share of the effective receptive field outside 9x9"),
    "erf_outside_control": ("对照任务（半径 1）的该比例", "the same share for the control task (radius 1)"),
    "w0": ("分支 y0（感受野 3）的权重", "weight of branch y0 (receptive field 3)"),
    "w1": ("分支 y1（感受野 7）的权重", "weight of branch y1 (receptive field 7)"),
    "w2": ("分支 y2（感受野 15）的权重", "weight of branch y2 (receptive field 15)"),
    "w3": ("分支 y3（感受野 31）的权重", "weight of branch y3 (receptive field 31)"),
    **{f"w{i}_control": (f"对照任务中 y{i} 的权重", f"weight of y{i} in the control task") for i in range(4)},
    "edge_r": ("|M| 与边缘图的相关系数 r（逐图平均）", "Pearson r of |M| with the edge map (per image)"),
    "edge_ratio": ("|M| 在边缘上 ÷ 平坦处", "|M| on edges / |M| on flat areas"),
    "edge_iou": ("预测边缘的 IoU", "IoU of the predicted edges"),
    "marker_mass": ("注意力落在标记所在缩减格上的质量", "attention mass on the marker's reduced-grid cell"),
    "uniform_mass": ("均匀注意力时的该质量", "the same mass for uniform attention"),
    "sw_r": ("空间权重与物体位置的相关系数 r", "Pearson r of the spatial weight with the object"),
    "sw_contrast": ("空间权重：物体内 − 物体外", "spatial weight inside minus outside the object"),
    "std_sw_r": ("标准 CBAM：空间权重与物体的 r", "standard CBAM: r of its spatial weight with the object"),
    "std_sw_r_new_size": ("标准 CBAM 在新尺寸上的 r", "standard CBAM: r at the new input size"),
    "std_accuracy_new_size": ("标准 CBAM 在新尺寸上的准确率", "standard CBAM: accuracy at the new input size"),
}


@dataclass(frozen=True)
class Demo:
    """How one block's demo is built: data, model, loss, read-out, steps and pass bars.

    ``make_model(seed, **options)``, ``make_batch(n, generator)``, ``loss(model, batch)`` and
    ``readout(model, batch) -> (metrics, maps)`` are the pieces `run_demo` puts together.
    """

    key: str
    task_zh: str
    task_en: str
    metric: str
    threshold: float
    checks: tuple[Check, ...]
    before_zh: str
    before_en: str
    steps: int
    lr: float
    batch_size: int
    eval_size: int
    make_model: Callable[..., nn.Module] = field(repr=False)
    make_batch: Callable[..., Batch] = field(repr=False)
    loss: Callable[[nn.Module, Batch], Tensor] = field(repr=False)
    readout: Callable[[nn.Module, Batch], tuple[dict[str, float], dict[str, Tensor]]] = field(repr=False)
    runner: Callable[..., DemoResult] = field(repr=False)

    @property
    def title_zh(self) -> str:
        return BLOCKS[self.key].title_zh

    @property
    def title_en(self) -> str:
        return BLOCKS[self.key].title_en

    @property
    def metric_zh(self) -> str:
        return METRICS[self.metric][0]

    @property
    def metric_en(self) -> str:
        return METRICS[self.metric][1]

    def _repr_html_(self) -> str:
        esc = html.escape
        bars = ", ".join(esc(str(c)) for c in self.checks)
        return (f"<div><b>{esc(self.title_zh)} — {esc(self.title_en)}</b><br>{esc(self.task_zh)}<br>"
                f"{esc(self.task_en)}<br>指标 metric: {esc(self.metric_zh)} / {esc(self.metric_en)}; "
                f"门槛 bars: <code>{bars}</code>; {self.steps} steps, lr={self.lr:g}, batch {self.batch_size}<br>"
                f"训练前 before: {esc(self.before_zh)} / {esc(self.before_en)}</div>")

    def eval_batch(self, seed: int = 0) -> Batch:
        """The fixed test batch for `seed` (its own generator, seed 1000 + seed)."""
        return self.make_batch(self.eval_size, _generator(1000 + seed))

    def stream(self, seed: int = 0):
        """Endless training batches for `seed`."""
        return ds.batches(self.make_batch, self.batch_size, seed=seed)


@dataclass
class DemoResult:
    """What a demo run gives back: metrics before/after, the trained model(s), maps for figures."""

    key: str
    seed: int
    steps: int
    before: dict[str, float]
    after: dict[str, float]
    checks: tuple[Check, ...]
    model: nn.Module
    history: list[float]
    seconds: float
    maps_before: dict[str, Tensor]
    maps_after: dict[str, Tensor]
    batch: Batch
    models: dict[str, nn.Module] = field(default_factory=dict)
    histories: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.ok(self.after[c.metric]) for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [str(c) for c in self.checks if not c.ok(self.after[c.metric])]

    def figure(self, fig=None):
        """The before/after figure of the block's internal quantity (matplotlib Figure)."""
        from .figures import demo_figure

        return demo_figure(self, fig=fig)

    def _rows(self) -> list[tuple[str, str, str, str, str, str]]:
        bars = {c.metric: c for c in self.checks}
        rows = []
        for name, after in self.after.items():
            zh, en = METRICS.get(name, (name, name))
            before = self.before.get(name)
            check = bars.get(name)
            rows.append((name, zh, en, "-" if before is None else f"{before:.3f}", f"{after:.3f}",
                         "" if check is None else f"{check.op} {check.threshold:g}  "
                         + ("✓" if check.ok(after) else "✗")))
        return rows

    def to_text(self) -> str:
        head = (f"{self.key}  seed={self.seed}  steps={self.steps}  train {self.seconds:.1f} s  "
                + ("PASSED 通过" if self.passed else "NOT PASSED 未通过: " + ", ".join(self.failed)))
        lines = [f"  {en:<58} {before:>8} -> {after:>8}  {bar}" for _, _, en, before, after, bar in self._rows()]
        return "\n".join([head, *lines])

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<DemoResult {self.key} seed={self.seed}: {'passed' if self.passed else 'not passed'}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        status = "✓ 通过 passed" if self.passed else "✗ 未通过 not passed: " + esc(", ".join(self.failed))
        out = [f"<div><b>{esc(self.key)}</b> seed={self.seed}, steps={self.steps}, "
               f"训练 training {self.seconds:.1f} s — {status}",
               "<table><thead><tr><th>指标</th><th>metric</th><th>训练前 before</th><th>训练后 after</th>"
               "<th>门槛 bar</th></tr></thead><tbody>"]
        for _, zh, en, before, after, bar in self._rows():
            out.append(f"<tr><td>{esc(zh)}</td><td>{esc(en)}</td><td>{before}</td><td>{after}</td>"
                       f"<td>{esc(bar)}</td></tr>")
        out.append("</tbody></table></div>")
        return "".join(out)


@dataclass
class _Run:
    model: nn.Module
    history: list[float]
    seconds: float
    before: dict[str, float]
    after: dict[str, float]
    maps_before: dict[str, Tensor]
    maps_after: dict[str, Tensor]


def _train(demo: Demo, seed: int, steps: int, progress: bool, test: Batch, desc: str = "",
           make_batch: Callable[..., Batch] | None = None, **options: Any) -> _Run:
    model = demo.make_model(seed, **options)
    model.eval()
    before, maps_before = demo.readout(model, test)
    stream = ds.batches(make_batch or demo.make_batch, demo.batch_size, seed=seed)
    start = time.perf_counter()
    history = fit(model, stream, steps, demo.lr, demo.loss, progress=progress, desc=desc or demo.key)
    seconds = time.perf_counter() - start
    after, maps_after = demo.readout(model, test)
    return _Run(model, history, seconds, before, after, maps_before, maps_after)


def _single(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    test = demo.eval_batch(seed)
    run = _train(demo, seed, steps, progress, test)
    return DemoResult(demo.key, seed, steps, run.before, run.after, demo.checks, run.model, run.history,
                      run.seconds, run.maps_before, run.maps_after, test, models={"main": run.model},
                      histories={"main": run.history})


def _run_msf(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    test = demo.eval_batch(seed)
    runs = {w: _train(demo, seed, steps, progress, test, desc=f"msf ({w})", weighting=w)
            for w in ("sigmoid_softmax", "softmax")}
    note, plain = runs["sigmoid_softmax"], runs["softmax"]

    def merge(a: dict, b: dict) -> dict:
        return {**a, **{f"{k}_softmax": v for k, v in b.items()}}

    return DemoResult(demo.key, seed, steps, merge(note.before, plain.before), merge(note.after, plain.after),
                      demo.checks, note.model, note.history, note.seconds + plain.seconds,
                      merge(note.maps_before, plain.maps_before), merge(note.maps_after, plain.maps_after), test,
                      models={k: r.model for k, r in runs.items()}, histories={k: r.history for k, r in runs.items()})


def _run_mfe(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    test = demo.eval_batch(seed)
    wide = _train(demo, seed, steps, progress, test, desc="mfe (radius 10)")
    control = _train(demo, seed, steps, progress, test, desc="mfe control (radius 1)",
                     make_batch=_count_control)

    def merge(a: dict, b: dict) -> dict:
        return {**a, **{f"{k}_control": v for k, v in b.items()}}

    before, after = merge(wide.before, control.before), merge(wide.after, control.after)
    return DemoResult(demo.key, seed, steps, before, after, demo.checks, wide.model, wide.history,
                      wide.seconds + control.seconds, merge(wide.maps_before, control.maps_before),
                      merge(wide.maps_after, control.maps_after), test,
                      models={"radius10": wide.model, "radius1": control.model},
                      histories={"radius10": wide.history, "radius1": control.history})


def _run_cbam(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    test = demo.eval_batch(seed)
    joint = _train(demo, seed, steps, progress, test, desc="cbam (joint MLP)", kind="joint")
    standard = _train(demo, seed, steps, progress, test, desc="cbam (standard)", kind="standard")
    bigger = ds.coloured_object(demo.eval_size, _generator(2000 + seed), size=32)
    try:
        joint.model(bigger["x"][:2])
        size_error = ""
    except ShapeError as e:  # the block's own message: built for one H*W
        size_error = str(e)
    std_after_new, std_maps_new = _cbam_readout(standard.model, bigger)
    after = {**joint.after, "std_sw_r": standard.after["sw_r"], "std_sw_r_new_size": std_after_new["sw_r"],
             "std_accuracy_new_size": std_after_new["accuracy"]}
    before = {**joint.before, "std_sw_r": standard.before["sw_r"]}
    extra = {"size_error": size_error, "new_batch": bigger, "std_maps_new_size": std_maps_new,
             "std_maps_after": standard.maps_after, "std_after": standard.after}
    return DemoResult(demo.key, seed, steps, before, after, demo.checks, joint.model, joint.history,
                      joint.seconds + standard.seconds, joint.maps_before, joint.maps_after, test,
                      models={"joint": joint.model, "standard": standard.model},
                      histories={"joint": joint.history, "standard": standard.history}, extra=extra)


def _count_control(n: int, generator: torch.Generator) -> Batch:
    return ds.dot_counts(n, generator, radius=1)


def _count_wide(n: int, generator: torch.Generator) -> Batch:
    return ds.dot_counts(n, generator, radius=10)


def _model(cls: type[nn.Module]) -> Callable[..., nn.Module]:
    def make(seed: int = 0, **options: Any) -> nn.Module:
        return _seeded(seed, lambda: cls(**options))
    make.__doc__ = f"A fresh, seeded {cls.__name__}(**options)."
    return make


DEMOS: dict[str, Demo] = {
    "gated_fusion": Demo(
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
        make_model=_model(GatedNet), make_batch=ds.sensor_pair, loss=_gated_loss, readout=_gated_readout,
        runner=_single),
    "msf": Demo(
        key="msf",
        task_zh="四个噪声输入，只有 x2 带有类别信息（横条纹或竖条纹）。同一任务训练两次：note 的 softmax(sigmoid) "
                "与去掉 sigmoid 的 plain softmax。",
        task_en="Four noise inputs; only x2 carries the class (horizontal or vertical stripes). The same task is "
                "trained twice: the note's softmax over sigmoid, and plain softmax without the sigmoid.",
        metric="w_informative", threshold=0.38,
        checks=(Check("w_informative", 0.38), Check("w_informative_softmax", 0.7)),
        before_zh="训练前四个权重都 ≈ 0.25。note 的写法上限是 e/(e+3) ≈ 0.475。",
        before_en="Before training all four weights are ~0.25. The note's version is capped at e/(e+3) ~ 0.475.",
        steps=400, lr=1e-2, batch_size=32, eval_size=256,
        make_model=_model(MSFNet), make_batch=ds.stripe_inputs, loss=_msf_loss, readout=_msf_readout,
        runner=_run_msf),
    "mfe": Demo(
        key="mfe",
        task_zh="稀疏的点；每个像素要输出半径 10 内的点数（需要大感受野）。对照任务：半径 1（3×3 就够）。",
        task_en="Sparse dots; each pixel must output the number of dots within radius 10 (needs a wide receptive "
                "field). Control task: radius 1 (a 3x3 view is enough).",
        metric="erf_outside", threshold=0.6,
        checks=(Check("erf_outside", 0.6),),
        before_zh="训练前有效感受野大多集中在中心：9×9 之外约 0.2–0.4。分支权重 ≈ 0.25，训练后只变化百分之几，"
                  "而且不同种子的顺序不一样：体现效果的是感受野，而不是权重。",
        before_en="Before training the effective receptive field sits mostly in the centre: ~0.2-0.4 outside "
                  "9x9. Branch weights start at ~0.25 and move only modestly (by a few hundredths, and not in the "
                  "same order for every seed): the receptive field, not the weights, shows the effect.",
        steps=200, lr=2e-2, batch_size=8, eval_size=16,
        make_model=_model(MFENet), make_batch=_count_wide, loss=_dense_loss("target"), readout=_mfe_readout,
        runner=_run_mfe),
    "safm": Demo(
        key="safm",
        task_zh="灰度圆盘和矩形；输出它们 2 像素宽的轮廓。嵌入和输出头都是 1×1（输出头无偏置），空间操作全在 SAFM 里。",
        task_en="Grey discs and rectangles; output their 2-px outline. Embed and head are 1x1 (head without bias), "
                "so all spatial work happens inside SAFM.",
        metric="edge_r", threshold=0.35,
        checks=(Check("edge_r", 0.35),),
        before_zh="训练前调制图 |M| 与边缘无关：r ≈ 0，边缘/平坦比 ≈ 1。",
        before_en="Before training |M| ignores edges: r ~ 0, edge/flat ratio ~ 1.",
        steps=600, lr=2e-2, batch_size=8, eval_size=32,
        make_model=_model(SAFMNet), make_batch=ds.shape_edges, loss=_dense_loss("edges"), readout=_safm_readout,
        runner=_single),
    "osra": Demo(
        key="osra",
        task_zh="噪声中有一个彩色标记像素（8 种颜色）；每个像素都要输出标记的颜色，所以每个 query 都得找到标记。",
        task_en="One coloured marker pixel (8 colours) in noise; every pixel must output the marker's colour, so "
                "every query has to find the marker.",
        metric="marker_mass", threshold=0.4,
        checks=(Check("marker_mass", 0.4),),
        before_zh="训练前注意力近似均匀：标记所在格子的质量 ≈ 格子占比（sr=2 时约 0.03）。",
        before_en="Before training attention is ~uniform: the marker cell's mass ~ its share of cells (~0.03 at "
                  "sr_ratio 2).",
        steps=300, lr=6e-3, batch_size=16, eval_size=64,
        make_model=_model(OSRANet), make_batch=ds.marker_colours, loss=_osra_loss, readout=_osra_readout,
        runner=_single),
    "msaa": Demo(
        key="msaa",
        task_zh="噪声中大小悬殊的圆和方块；输出“抠图”（物体像素保留，背景置零），乘法式的掩码正是空间门 Sa 能做的。",
        task_en="Discs and squares of very different sizes in noise; output a cut-out (object pixels kept, "
                "background zeroed) - a multiplicative mask, which is what the spatial gate Sa can do.",
        metric="gate_r", threshold=0.8,
        checks=(Check("gate_r", 0.8), Check("gate_iou", 0.75)),
        before_zh="训练前 Sa 几乎平坦：物体内外均值差 ≈ 0（r 可能偶然偏高）。",
        before_en="Before training Sa is nearly flat: inside-outside difference ~ 0 (r can be high by chance).",
        steps=300, lr=5e-3, batch_size=8, eval_size=32,
        make_model=_model(MSAANet), make_batch=ds.multiscale_blobs, loss=_msaa_loss, readout=_msaa_readout,
        runner=_single),
    "cbam_joint": Demo(
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
        make_model=_model(CBAMNet), make_batch=ds.coloured_object, loss=_cbam_loss, readout=_cbam_readout,
        runner=_run_cbam),
}


def run_demo(key: str, seed: int = 0, steps: int | None = None, progress: bool = True,
             threads: int | None = 1) -> DemoResult:
    """Trains the demo for block `key` and reads out its mechanism before and after.

    Args:
        key: A block key (``"gated_fusion"``, ``"msf"``, ``"mfe"``, ``"safm"``, ``"osra"``, ``"msaa"``,
            ``"cbam_joint"``).
        seed: Seeds the model, the training batches and the test batch.
        steps: Training steps (default: the demo's own count, which passes its bars).
        progress: Show a progress bar.
        threads: Torch CPU threads for this run only (restored afterwards); None leaves the current setting.
            The default 1 is deliberate: these models are tiny, and on a busy 2-core machine two threads
            were 5-20x slower per step than one (threads wait for each other at every small op).

    Returns:
        A `DemoResult` (``.before``, ``.after``, ``.passed``, ``.model``, ``.history``,
        ``.seconds``, ``.figure()``).
    """
    if key not in DEMOS:
        raise value_error("run_demo", f"key must be one of {list(DEMOS)}", {"key": key},
                          "These are the block keys of fusion_edu.blocks.BLOCKS.")
    demo = DEMOS[key]
    steps = demo.steps if steps is None else steps
    with _threads(threads):
        return demo.runner(demo, seed, steps, progress)


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------- OSRA sweep

@dataclass
class OSRASweep:
    """OSRA at several sr_ratio values: accuracy, attention on the marker, and cost."""

    rows: list[dict[str, Any]]
    results: dict[int, DemoResult]

    def add(self, result: DemoResult) -> None:
        """Adds a trained OSRA demo (e.g. the notebook's own `run_demo("osra")` run) as the row of its sr_ratio."""
        sr = result.model.block.sr_ratio
        self.results[sr] = result
        self.rows = sorted([r for r in self.rows if r["sr_ratio"] != sr] + [_sweep_row(sr, result)],
                           key=lambda r: r["sr_ratio"])

    def _filled(self) -> list[dict[str, Any]]:
        """Rows with every column; a row added by hand may lack the timing columns (shown as '-')."""
        nan = float("nan")
        return [{"seconds": nan, "ms_per_step": nan, **row} for row in self.rows]

    def _repr_html_(self) -> str:
        cols = [("sr_ratio", "sr_ratio"), ("keys", "key 网格 key grid"), ("attn_entries", "注意力元素/头 entries/head"),
                ("attn_mib_64", "64×64 输入、2 头的注意力 MiB / attn MiB, 64x64 input, 2 heads"),
                ("mflops", "MFLOPs (16×16)"),
                ("seconds", "训练秒数 train s"), ("ms_per_step", "毫秒/步 ms/step"), ("accuracy", "准确率 accuracy"),
                ("marker_mass", "标记质量 marker mass"), ("uniform_mass", "均匀基线 uniform")]
        out = ["<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for _, c in cols) + "</tr></thead><tbody>"]
        for row in self._filled():
            cells = [("-" if row[k] != row[k] else f"{row[k]:.3g}") if isinstance(row[k], float)
                     else html.escape(str(row[k])) for k, _ in cols]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return "".join(out) + "</tbody></table>"

    def to_text(self) -> str:
        lines = ["sr  keys   entries/head  attn MiB@64x64  MFLOPs  train s  ms/step  accuracy  marker mass  uniform"]
        for r in self._filled():
            lines.append(f"{r['sr_ratio']:<3} {r['keys']:<6} {r['attn_entries']:>12} {r['attn_mib_64']:>15.2f} "
                         f"{r['mflops']:>7.2f} {r['seconds']:>8.1f} {r['ms_per_step']:>8.1f} {r['accuracy']:>9.3f} "
                         f"{r['marker_mass']:>12.3f} {r['uniform_mass']:>8.3f}")
        return "\n".join(lines)

    __str__ = to_text

    def figure(self, fig=None):
        from .figures import osra_sweep_figure

        return osra_sweep_figure(self, fig=fig)


def osra_cost(sr_ratio: int, size: int = 16, dim: int = 16, num_heads: int = 2) -> dict[str, Any]:
    """Size of OSRA's attention and its FLOPs for one image (counted on the meta device).

    Example:
        >>> osra_cost(2)["keys"]
        '8x8'
    """
    from torch.utils.flop_counter import FlopCounterMode

    cells = reduced_size(size, sr_ratio)
    with torch.device("meta"):
        block = OSRAttention(dim, num_heads=num_heads, sr_ratio=sr_ratio).eval()
        x = torch.empty(1, dim, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        block(x)
    big = reduced_size(64, sr_ratio)
    return {"sr_ratio": sr_ratio, "keys": f"{cells}x{cells}", "attn_entries": size * size * cells * cells,
            "attn_mib_64": 4 * num_heads * 64 * 64 * big * big / 2**20, "mflops": counter.get_total_flops() / 1e6}


def osra_sweep(seed: int = 0, ratios: tuple[int, ...] = (1, 2, 4), steps: int | None = None,
               progress: bool = True, threads: int | None = 1) -> OSRASweep:
    """Trains the OSRA demo once per sr_ratio and tabulates accuracy, attention mass and cost.

    sr_ratio=1 (full N x N attention) is the slow one: about 2x the time per step of sr_ratio=2
    here, which is the point of the comparison. With the demo's 300 steps the three ratios take
    about 25 s on one idle CPU core, and the sr_ratio=2 row equals ``run_demo("osra", seed)``.
    With the same steps, sr_ratio=4's coarse 4x4 key grid learns more slowly: its accuracy varies
    from seed to seed (0.56-1.0 over seeds 0-5), while its attention still finds the marker's cell.

    Args:
        seed: As in `run_demo` (the same test batch for every ratio).
        ratios: The sr_ratio values to compare.
        steps: Training steps per ratio, the same for every ratio so the times compare (default: the
            OSRA demo's own count).
        progress: Show progress bars.
        threads: As in `run_demo`.
    """
    demo = DEMOS["osra"]
    steps = demo.steps if steps is None else steps
    test = demo.eval_batch(seed)
    rows, results = [], {}
    for sr in ratios:
        with _threads(threads):
            run = _train(demo, seed, steps, progress, test, desc=f"osra sr_ratio={sr}", sr_ratio=sr)
        results[sr] = DemoResult("osra", seed, steps, run.before, run.after, demo.checks, run.model, run.history,
                                 run.seconds, run.maps_before, run.maps_after, test)
        rows.append(_sweep_row(sr, results[sr]))
    return OSRASweep(rows, results)


def _sweep_row(sr: int, result: DemoResult) -> dict[str, Any]:
    """One sweep row: the cost of `sr` next to what `result` (trained at that sr_ratio) reached."""
    return {**osra_cost(sr), "seconds": result.seconds, "ms_per_step": 1000 * result.seconds / max(result.steps, 1),
            "accuracy": result.after["accuracy"], "marker_mass": result.after["marker_mass"],
            "uniform_mass": result.after["uniform_mass"]}
