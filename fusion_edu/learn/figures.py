"""Before/after figures of each demo: the block's own internal quantity, on a fixed colour scale.

Every function takes a `DemoResult` (or `OSRASweep`) and ``fig=None`` (a Figure or SubFigure to
fill; None creates one through pyplot, so end the notebook line with ``;``) and returns the
figure. Nothing calls ``plt.show()`` or changes rcParams; text inside figures is English (the
notebook's markdown carries the Chinese captions).

Gates and weights are drawn on their full range 0..1 and other maps on one scale shared by the
before and after panels, so an untrained block's nearly flat map *looks* flat.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Circle, Rectangle
from torch import Tensor

from ..errors import value_error

if TYPE_CHECKING:
    from .demos import DemoResult, OSRASweep

__all__ = ["demo_figure", "gated_figure", "msf_figure", "mfe_figure", "safm_figure", "osra_figure", "msaa_figure",
           "cbam_figure", "osra_sweep_figure", "loss_curve"]

GATE_CMAP = "viridis"  # 0..1 gates and weights
MIX_CMAP = "coolwarm"  # gated fusion's z: 0.5 (an even mix) is the neutral middle
POSITIVE_CMAP = "magma"  # maps that cannot be negative
MSF_BOUNDS = (1 / (1 + 3 * math.e), math.e / (math.e + 3))
_TITLE = 9
BEFORE, AFTER, AFTER2 = "#9e9e9e", "#1f77b4", "#ff7f0e"

Fig = Figure | SubFigure


# --------------------------------------------------------------------------- helpers

def _new_figure(fig: Fig | None, figsize: tuple[float, float]) -> Fig:
    return plt.figure(figsize=figsize, layout="constrained") if fig is None else fig


def _np(t: Tensor | np.ndarray) -> np.ndarray:
    return t.detach().float().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t, dtype=np.float32)


def _image(ax: Axes, img: Any, title: str = "", **kwargs: Any):
    shown = ax.imshow(_np(img), interpolation="nearest", **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=_TITLE)
    return shown


def _rgb(x: Tensor) -> np.ndarray:
    """(3, H, W) -> (H, W, 3) in [0, 1], one linear stretch per image."""
    a = _np(x).transpose(1, 2, 0)
    return (a - a.min()) / max(float(a.max() - a.min()), 1e-6)


def _colorbar(fig: Fig, mappable: Any, axes: Sequence[Axes] | Axes, label: str) -> None:
    bar = fig.colorbar(mappable, ax=axes, shrink=0.8)
    bar.ax.tick_params(labelsize=7)
    bar.set_label(label, fontsize=8)


def _outline(ax: Axes, mask: Tensor, scale: float = 1.0, colour: str = "red") -> None:
    """Draws the bounding box of a (H, W) 0/1 pixel mask on a map that is `scale` times smaller."""
    rows, cols = mask.nonzero(as_tuple=True)
    if len(rows) == 0:
        return
    top, left = rows.min().item() / scale - 0.5, cols.min().item() / scale - 0.5
    height, width = (rows.max().item() + 1) / scale - 0.5 - top, (cols.max().item() + 1) / scale - 0.5 - left
    ax.add_patch(Rectangle((left, top), width, height, fill=False, ec=colour, lw=1.0))


def _arrow(result: Any, metric: str) -> str:
    """'before -> after' of one metric, for titles."""
    return f"{result.before[metric]:.2f} -> {result.after[metric]:.2f}"


def _examples(result: Any, n: int) -> list[int]:
    return list(range(min(n, len(next(iter(result.batch.values()))))))


# --------------------------------------------------------------------------- one figure per demo

def gated_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Sensors A and B, the mask 'A is clean', the gate z (mean over C) before and after, the output."""
    b = result.batch
    balance = (b["mask"].mean(dim=(1, 2, 3)) - 0.5).abs()  # show images where both sensors matter
    rows = balance.argsort()[:examples].tolist()
    fig = _new_figure(fig, (12.5, 2.1 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 7, squeeze=False)
    for r, i in enumerate(rows):
        first = r == 0
        signal = dict(cmap="gray", vmin=-3, vmax=3)
        _image(axes[r, 0], b["a"][i, 0], "sensor A" if first else "", **signal)
        _image(axes[r, 1], b["b"][i, 0], "sensor B" if first else "", **signal)
        _image(axes[r, 2], b["mask"][i, 0], "mask: A is clean" if first else "", cmap=MIX_CMAP, vmin=0, vmax=1)
        _image(axes[r, 3], result.maps_before["z"][i], "gate z, before" if first else "", cmap=MIX_CMAP, vmin=0,
               vmax=1)
        z = _image(axes[r, 4], result.maps_after["z"][i], "gate z, after" if first else "", cmap=MIX_CMAP, vmin=0,
                   vmax=1)
        _image(axes[r, 5], result.maps_after["out"][i], "output, after" if first else "", **signal)
        _image(axes[r, 6], b["clean"][i, 0], "clean signal (target)" if first else "", **signal)
    _colorbar(fig, z, axes[:, 2:5], "z (1 = trust A, 0 = trust B)")
    fig.suptitle(f"Gated fusion: the gate learns where each sensor is clean  (r {_arrow(result, 'gate_r')}, "
                 f"contrast {_arrow(result, 'gate_contrast')})", fontsize=10)
    return fig


def msf_figure(result: DemoResult, fig: Fig | None = None) -> Fig:
    """Mean weight per input before/after for the note's softmax(sigmoid) and plain softmax, plus C x 4 maps."""
    fig = _new_figure(fig, (11, 3.4))
    ax_bar, ax_note, ax_soft = fig.subplots(1, 3, width_ratios=[1.6, 1, 1])
    names = ["x0", "x1", "x2", "x3"]
    pos = np.arange(4)
    width = 0.27
    ax_bar.bar(pos - width, _np(result.maps_before["weights"]), width, color=BEFORE, label="before")
    ax_bar.bar(pos, _np(result.maps_after["weights"]), width, color=AFTER, label="after, softmax(sigmoid) (note)")
    ax_bar.bar(pos + width, _np(result.maps_after["weights_softmax"]), width, color=AFTER2,
               label="after, plain softmax")
    for i, bound in enumerate(MSF_BOUNDS):
        ax_bar.axhline(bound, color=AFTER, ls="--", lw=0.8,
                       label=f"note's bounds {MSF_BOUNDS[0]:.3f} / {MSF_BOUNDS[1]:.3f}" if i else None)
    ax_bar.set_xticks(pos, [n + (" (informative)" if n == "x2" else "") for n in names], fontsize=8)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_ylabel("mean weight", fontsize=8)
    ax_bar.legend(fontsize=7, loc="upper right")
    ax_bar.set_title("weight of each input (mean over batch and channels)", fontsize=_TITLE)
    for ax, key, title in ((ax_note, "weights_per_channel", "after: softmax(sigmoid)"),
                           (ax_soft, "weights_per_channel_softmax", "after: plain softmax")):
        shown = ax.imshow(_np(result.maps_after[key]), cmap=GATE_CMAP, vmin=0, vmax=1, aspect="auto",
                          interpolation="nearest")
        ax.set_xticks(pos, names, fontsize=8)
        ax.set_ylabel("channel", fontsize=8)
        ax.set_title(title, fontsize=_TITLE)
    _colorbar(fig, shown, [ax_note, ax_soft], "weight")
    fig.suptitle(f"MSF: weight of the informative input x2: note {_arrow(result, 'w_informative')} (capped), "
                 f"plain softmax {_arrow(result, 'w_informative_softmax')}", fontsize=10)
    return fig


def mfe_figure(result: DemoResult, fig: Fig | None = None) -> Fig:
    """Effective receptive field before/after (radius-10 task) and after the control, plus branch weights."""
    fig = _new_figure(fig, (12, 3.3))
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.4])
    maps = [result.maps_before["erf"], result.maps_after["erf"], result.maps_after["erf_control"]]
    titles = [f"ERF before\n(outside 9x9: {result.before['erf_outside']:.2f})",
              f"ERF after, radius-10 task\n(outside 9x9: {result.after['erf_outside']:.2f})",
              f"ERF after, control radius 1\n(outside 9x9: {result.after['erf_outside_control']:.2f})"]
    vmax = max(float(_np(m).max()) for m in maps)
    norm = colors.PowerNorm(0.4, vmin=0, vmax=vmax)
    for ax, m, title in zip(axes[:3], maps, titles):
        shown = _image(ax, m, title, cmap=POSITIVE_CMAP, norm=norm)
        H, W = _np(m).shape
        ax.add_patch(Rectangle((W // 2 - 4.5, H // 2 - 4.5), 9, 9, fill=False, ec="white", lw=0.8, ls="--"))
        ax.add_patch(Circle((W // 2, H // 2), 10, fill=False, ec="cyan", lw=0.8))
    _colorbar(fig, shown, list(axes[:3]), "share of |gradient| (one scale, gamma 0.4)")
    ax = axes[3]
    pos = np.arange(4)
    width = 0.27
    ax.bar(pos - width, _np(result.maps_before["weights"]), width, color=BEFORE, label="before")
    ax.bar(pos, _np(result.maps_after["weights"]), width, color=AFTER, label="after, radius 10")
    ax.bar(pos + width, _np(result.maps_after["weights_control"]), width, color=AFTER2, label="after, radius 1")
    ax.axhline(0.25, color="k", lw=0.6, ls=":")
    ax.set_xticks(pos, ["y0\nRF 3", "y1\nRF 7", "y2\nRF 15", "y3\nRF 31"], fontsize=8)
    ax.set_ylim(0, 0.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("branch weights (move only modestly)", fontsize=_TITLE)
    fig.suptitle("MFE: the radius-10 task widens the effective receptive field (dashed box: 9x9, circle: radius 10)",
                 fontsize=10)
    return fig


def safm_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Input, target edges, mean |M| before and after (one shared scale), output."""
    rows = _examples(result, examples)
    fig = _new_figure(fig, (10, 2.1 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 5, squeeze=False)
    vmax = float(np.percentile(_np(result.maps_after["m"][rows]), 99))
    vmax = max(vmax, float(np.percentile(_np(result.maps_before["m"][rows]), 99)))
    for r, i in enumerate(rows):
        first = r == 0
        _image(axes[r, 0], result.batch["x"][i, 0], "input" if first else "", cmap="gray", vmin=0, vmax=1)
        _image(axes[r, 1], result.batch["edges"][i, 0], "target: edges" if first else "", cmap="gray", vmin=0,
               vmax=1)
        _image(axes[r, 2], result.maps_before["m"][i], "mean |M|, before" if first else "", cmap=POSITIVE_CMAP,
               vmin=0, vmax=vmax)
        m = _image(axes[r, 3], result.maps_after["m"][i], "mean |M|, after" if first else "", cmap=POSITIVE_CMAP,
                   vmin=0, vmax=vmax)
        _image(axes[r, 4], result.maps_after["out"][i], "output, after" if first else "", cmap="gray", vmin=0,
               vmax=1)
    _colorbar(fig, m, axes[:, 2:4], "mean over C of |M| (shared scale)")
    fig.suptitle(f"SAFM: the modulation map M lines up with edges  (r {_arrow(result, 'edge_r')}, "
                 f"edge/flat {_arrow(result, 'edge_ratio')})", fontsize=10)
    return fig


def osra_figure(result: DemoResult, fig: Fig | None = None, examples: int = 3) -> Fig:
    """Input with the marker, and the attention on the reduced key grid (mean over heads and queries)."""
    rows = _examples(result, examples)
    fig = _new_figure(fig, (7.5, 2.2 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    sr = result.model.block.sr_ratio
    for r, i in enumerate(rows):
        first = r == 0
        y, x = (int(v) for v in result.batch["pos"][i])
        _image(axes[r, 0], _rgb(result.batch["x"][i]), "input (marker circled)" if first else "")
        axes[r, 0].add_patch(Circle((x, y), 1.5, fill=False, ec="white", lw=1.2))
        for c, (maps, label) in enumerate(((result.maps_before, "before"), (result.maps_after, "after")), start=1):
            shown = _image(axes[r, c], maps["attn_grid"][i], f"attention on key grid, {label}" if first else "",
                           cmap=GATE_CMAP, vmin=0, vmax=1)
            axes[r, c].add_patch(Circle((x / sr, y / sr), 0.6, fill=False, ec="red", lw=1.0))
    _colorbar(fig, shown, axes[:, 1:], "attention mass per key cell")
    fig.suptitle(f"OSRA (sr_ratio={sr}): every query finds the marker  (mass on its cell "
                 f"{_arrow(result, 'marker_mass')})", fontsize=10)
    return fig


def msaa_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Input, object mask, spatial gate Sa before and after (0..1), cut-out output."""
    rows = _examples(result, examples)
    fig = _new_figure(fig, (10, 2.1 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 5, squeeze=False)
    for r, i in enumerate(rows):
        first = r == 0
        _image(axes[r, 0], result.batch["x"][i, 0], "input" if first else "", cmap="gray", vmin=-1.5, vmax=2.5)
        _image(axes[r, 1], result.batch["mask"][i, 0], "objects" if first else "", cmap=GATE_CMAP, vmin=0, vmax=1)
        _image(axes[r, 2], result.maps_before["sa"][i], "gate Sa, before" if first else "", cmap=GATE_CMAP, vmin=0,
               vmax=1)
        sa = _image(axes[r, 3], result.maps_after["sa"][i], "gate Sa, after" if first else "", cmap=GATE_CMAP,
                    vmin=0, vmax=1)
        _image(axes[r, 4], result.maps_after["out"][i], "cut-out, after" if first else "", cmap="gray", vmin=-1.5,
               vmax=2.5)
    _colorbar(fig, sa, axes[:, 1:4], "Sa")
    fig.suptitle(f"MSAA: the spatial gate covers objects of every size  (r {_arrow(result, 'gate_r')}, "
                 f"IoU {_arrow(result, 'gate_iou')})", fontsize=10)
    return fig


def cbam_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Joint-MLP spatial weight before/after; then a larger input: the joint block's error vs standard CBAM."""
    rows = _examples(result, examples)
    fig = _new_figure(fig, (11, 2.2 * (len(rows) + 1) + 0.6))
    top, bottom = fig.subfigures(2, 1, height_ratios=[len(rows), 1.15])
    axes = top.subplots(len(rows), 5, squeeze=False)
    std = result.extra["std_maps_after"]
    for r, i in enumerate(rows):
        first = r == 0
        _image(axes[r, 0], _rgb(result.batch["x"][i]), "input 16x16" if first else "")
        _image(axes[r, 1], result.maps_after["mask"][i], "object (on 8x8 features)" if first else "",
               cmap=GATE_CMAP, vmin=0, vmax=1)
        _image(axes[r, 2], result.maps_before["sw"][i], "joint Sw, before" if first else "", cmap=GATE_CMAP, vmin=0,
               vmax=1)
        _image(axes[r, 3], result.maps_after["sw"][i], "joint Sw, after" if first else "", cmap=GATE_CMAP, vmin=0,
               vmax=1)
        sw = _image(axes[r, 4], std["sw"][i], "standard CBAM Ms, after" if first else "", cmap=GATE_CMAP, vmin=0,
                    vmax=1)
        for ax in axes[r, 2:]:
            _outline(ax, result.batch["mask"][i, 0], scale=2)
    _colorbar(top, sw, axes[:, 1:], "spatial weight")
    top.suptitle(f"CBAM variant: the joint MLP's spatial weight finds the object (red box)  (r "
                 f"{_arrow(result, 'sw_r')}; standard CBAM r "
                 f"{result.after['std_sw_r']:.2f})", fontsize=10)
    ax_in, ax_std, ax_msg = bottom.subplots(1, 3, width_ratios=[1, 1, 3])
    big = result.extra["new_batch"]
    new = result.extra["std_maps_new_size"]
    _image(ax_in, _rgb(big["x"][0]), "new size: 32x32 input")
    _image(ax_std, new["sw"][0], "standard CBAM Ms (16x16)", cmap=GATE_CMAP, vmin=0, vmax=1)
    _outline(ax_std, big["mask"][0, 0], scale=2)
    ax_msg.axis("off")
    message = result.extra["size_error"] or "(no error raised)"
    ax_msg.text(0, 0.95, "joint-MLP CBAMBlock on the same input:\n\n" + "\n".join(textwrap.wrap(message, 70)),
                va="top", fontsize=8, family="monospace", color="#b00020")
    bottom.suptitle(f"Another input size: standard CBAM still localises (r {result.after['std_sw_r_new_size']:.2f}),"
                    " the joint MLP cannot run", fontsize=10)
    return fig


_FIGURES = {"gated_fusion": gated_figure, "msf": msf_figure, "mfe": mfe_figure, "safm": safm_figure,
            "osra": osra_figure, "msaa": msaa_figure, "cbam_joint": cbam_figure}


def demo_figure(result: DemoResult, fig: Fig | None = None) -> Fig:
    """The before/after figure for any `DemoResult` (dispatches on ``result.key``)."""
    if result.key not in _FIGURES:
        raise value_error("demo_figure", f"result.key must be one of {list(_FIGURES)}", {"key": result.key})
    return _FIGURES[result.key](result, fig=fig)


def osra_sweep_figure(sweep: OSRASweep, fig: Fig | None = None) -> Fig:
    """OSRA at sr_ratio 1, 2, 4: the attention size (log scale) against accuracy and marker mass."""
    fig = _new_figure(fig, (9, 3.2))
    ax_cost, ax_quality = fig.subplots(1, 2)
    labels = [f"sr={r['sr_ratio']}\n{r['keys']} keys" for r in sweep.rows]
    pos = np.arange(len(labels))
    entries = [r["attn_entries"] for r in sweep.rows]
    ax_cost.bar(pos, entries, color=BEFORE)
    ax_cost.set_yscale("log")
    ax_cost.set_ylim(min(entries) / 4, max(entries) * 8)
    ax_cost.set_xticks(pos, labels, fontsize=8)
    ax_cost.set_title("cost: attention entries per head and image (16x16 input)", fontsize=_TITLE)
    for p, r in zip(pos, sweep.rows):
        timing = f"\n{r['ms_per_step']:.0f} ms/step" if "ms_per_step" in r else ""
        ax_cost.text(p, r["attn_entries"] * 1.15, f"{r['attn_entries']:,} entries\n{r['mflops']:.1f} MFLOPs{timing}",
                     ha="center", va="bottom", fontsize=7)
    width = 0.35
    ax_quality.bar(pos - width / 2, [r["accuracy"] for r in sweep.rows], width, color=AFTER, label="pixel accuracy")
    ax_quality.bar(pos + width / 2, [r["marker_mass"] for r in sweep.rows], width, color=AFTER2,
                   label="attention on marker cell")
    ax_quality.scatter(pos + width / 2, [r["uniform_mass"] for r in sweep.rows], color="k", marker="_", s=200,
                       label="uniform attention", zorder=3)
    ax_quality.set_xticks(pos, labels, fontsize=8)
    ax_quality.set_ylim(0, 1.4)
    ax_quality.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax_quality.legend(fontsize=7, loc="upper center", ncol=2)
    ax_quality.set_title("quality after training", fontsize=_TITLE)
    fig.suptitle("OSRA: a coarser key grid costs far less attention and still finds the marker", fontsize=10)
    return fig


def loss_curve(result: DemoResult, ax: Axes | None = None) -> Axes:
    """The training loss of every model the demo trained (log scale)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    histories = result.histories or {"main": result.history}
    for name, losses in histories.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.8, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("loss", fontsize=8)
    ax.set_title(f"{result.key}: training loss", fontsize=_TITLE)
    if len(histories) > 1:
        ax.legend(fontsize=7)
    return ax
