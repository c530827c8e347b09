"""OSRA's demo: every pixel must report the colour of one marker pixel, so every query has to find it by
attention; and the sr_ratio sweep, which sets the cost of the attention against what it still finds.

The data (`marker_colours`), the model around the block (`OSRANet`), the loss, the read-out of the
attention on the reduced key grid, the `DEMO` entry, and `osra_cost` / `osra_sweep` / `OSRASweep`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import OSRAttention, reduced_size
from ..shapeonly import count_flops
from .demo import Batch, Check, Demo, DemoResult, integers, kept, model_maker, normal, result_from, torch_threads, train

__all__ = ["CORNERS", "marker_colours", "marker_mask", "OSRANet", "DEMO", "OSRASweep", "osra_cost", "osra_sweep"]

# The 8 corners of the colour cube: class k has colour bit b of k -> +1 or -1 in channel b.
CORNERS = torch.tensor([[1.0 if (k >> b) & 1 else -1.0 for b in range(3)] for k in range(8)])


def marker_colours(n: int, generator: torch.Generator, size: int = 16, noise: float = 0.3,
                   brightness: float = 1.5) -> Batch:
    """Noise with one bright marker pixel; every pixel's target is the marker's colour (8 classes).

    The marker moves from image to image, and global averaging drowns it in noise, so each
    query pixel has to *find* it by attention.

    Shape:
        x: (n, 3, size, size); label: (n,) in 0..7; pos: (n, 2) as (row, col)
    """
    x = noise * normal(generator, n, 3, size, size)
    label = integers(generator, 0, 8, n)
    pos = integers(generator, 0, size, n, 2)
    x[torch.arange(n), :, pos[:, 0], pos[:, 1]] = brightness * CORNERS[label]
    return {"x": x, "label": label, "pos": pos}


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


def _loss(model: nn.Module, b: Batch) -> Tensor:
    logits = model(b["x"])
    target = b["label"].view(-1, 1, 1).expand(-1, *logits.shape[-2:])
    return F.cross_entropy(logits, target)


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


def _readout(model: nn.Module, b: Batch) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, logits = kept(model, b["x"])
    attn = tensors["block.attn"]  # (n, nh, H*W, H'*W')
    size, sr = b["x"].shape[-1], model.block.sr_ratio
    cells = reduced_size(size, sr)
    grid = attn.mean(dim=(1, 2)).view(-1, cells, cells)  # mean over heads and all queries
    near = marker_mask(b["pos"], size, sr)
    target = b["label"].view(-1, 1, 1)
    metrics = {"marker_mass": (grid * near).sum(dim=(1, 2)).mean().item(),
               "uniform_mass": (near.sum(dim=(1, 2)) / cells**2).mean().item(),
               "accuracy": (logits.argmax(1) == target).float().mean().item()}
    return metrics, {"attn_grid": grid, "near": near}


DEMO = Demo(
    key="osra",
    task_zh="噪声中有一个彩色标记像素（8 种颜色）；每个像素都要输出标记的颜色，所以每个 query 都得找到标记。",
    task_en="One coloured marker pixel (8 colours) in noise; every pixel must output the marker's colour, so "
            "every query has to find the marker.",
    metric="marker_mass", threshold=0.4,
    checks=(Check("marker_mass", 0.4),),
    before_zh="训练前注意力近似均匀：标记所在格子分到的注意力 ≈ 这个格子的占比（sr=2 时约 0.03）。",
    before_en="Before training attention is ~uniform: the marker cell's mass ~ its share of cells (~0.03 at "
              "sr_ratio 2).",
    steps=300, lr=6e-3, batch_size=16, eval_size=64,
    make_model=model_maker(OSRANet), make_batch=marker_colours, loss=_loss, readout=_readout)


# --------------------------------------------------------------------------- the sr_ratio sweep

def osra_cost(sr_ratio: int, size: int = 16, dim: int = 16, num_heads: int = 2) -> dict[str, Any]:
    """Size of OSRA's attention and its FLOPs for one image (counted shape-only on the meta device).

    Example:
        >>> osra_cost(2)["keys"]
        '8x8'
    """
    cells = reduced_size(size, sr_ratio)
    with torch.device("meta"):
        block = OSRAttention(dim, num_heads=num_heads, sr_ratio=sr_ratio).eval()
        x = torch.empty(1, dim, size, size)
    big = reduced_size(64, sr_ratio)
    return {"sr_ratio": sr_ratio, "keys": f"{cells}x{cells}", "attn_entries": size * size * cells * cells,
            "attn_mib_64": 4 * num_heads * 64 * 64 * big * big / 2**20, "mflops": count_flops(block, x) / 1e6}


def _sweep_row(sr: int, result: DemoResult) -> dict[str, Any]:
    """One sweep row: the cost of `sr` next to what `result` (trained at that sr_ratio) reached."""
    return {**osra_cost(sr), "seconds": result.seconds, "ms_per_step": 1000 * result.seconds / max(result.steps, 1),
            "accuracy": result.after["accuracy"], "marker_mass": result.after["marker_mass"],
            "uniform_mass": result.after["uniform_mass"]}


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
                ("marker_mass", "标记占比 marker mass"), ("uniform_mass", "均匀基线 uniform")]
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

    def figure(self, fig=None, lang: str | None = None):
        """Cost against quality per sr_ratio (a matplotlib Figure); `lang` as in `DemoResult.figure`."""
        from .figures import osra_sweep_figure

        return osra_sweep_figure(self, fig=fig, lang=lang)


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
    steps = DEMO.steps if steps is None else steps
    test = DEMO.eval_batch(seed)
    rows, results = [], {}
    for sr in ratios:
        with torch_threads(threads):
            run = train(DEMO, seed, steps, progress, test, desc=f"osra sr_ratio={sr}", sr_ratio=sr)
        results[sr] = result_from(DEMO, seed, steps, test, {"main": run})
        rows.append(_sweep_row(sr, results[sr]))
    return OSRASweep(rows, results)
