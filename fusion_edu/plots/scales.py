"""MSF and MFE: the per-channel scale weights, how far the note's softmax(sigmoid) lets one weight go,
MFE's four branch maps and their receptive fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle
from torch import Tensor

from ..errors import shape_error
from ..receptive_field import erf_radius, erf_theory
from . import style
from .inputs import channel_mean, checked, pick_tensors
from .style import MSF_BOUNDS, label

__all__ = ["scale_weight_heatmap", "scale_weight_bars", "scale_weights", "msf_weight_limits", "branch_maps",
           "erf_maps"]


def _weights(weights: Tensor | np.ndarray, func: str) -> np.ndarray:
    a = checked(weights, func, "weights", {4: "(B, C, 4, 1)", 2: "(C, 4)"})
    a = a[0, :, :, 0] if a.ndim == 4 else a
    if a.shape[-1] != 4:
        raise shape_error(func, "weights must have 4 scales on dim 2", {"weights.shape": tuple(a.shape)},
                          "Pass trace.tensors['weights'] of MSF or MFE: (B, C, 4, 1).",
                          zh="weights 的第 2 维必须是 4 个尺度",
                          zh_hint="请传入 MSF 或 MFE 的 trace.tensors['weights']：(B, C, 4, 1)。")
    return a


@style.styled
def scale_weight_heatmap(weights: Tensor | np.ndarray, *, ax: Axes | None = None, colorbar: bool = True,
                         labels: Sequence[str] = ("x0", "x1", "x2", "x3")) -> Axes:
    """The per-channel, per-scale weights as a C x 4 heat map on the fixed scale 0..1.

    Every row sums to 1. Under the note's sigmoid-then-softmax no cell can leave (0.109, 0.475),
    so the map stays mid-coloured; with ``weighting="softmax"`` cells can reach 0 or 1.

    Shape:
        weights: (B, C, 4, 1) as kept under trace key ``"weights"`` (batch item 0), or (C, 4)
    """
    w = _weights(weights, "scale_weight_heatmap")
    ax = style.new_axes(ax, 2.6, 3.2)
    shown = ax.imshow(w, cmap=style.GATE_CMAP, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(4), labels)
    style.decorate(ax, label("每个通道、每个尺度的权重", "weight per channel and scale"),
                   ylabel=label("通道", "channel"))
    if colorbar:
        bar = style.colorbar(shown, ax, ticks=[0, MSF_BOUNDS[0], 0.25, MSF_BOUNDS[1], 1])
        bar.ax.set_yticklabels(["0", f"{MSF_BOUNDS[0]:.3f}", "0.25", f"{MSF_BOUNDS[1]:.3f}", "1"])
    return ax


@style.styled
def scale_weight_bars(weights: Tensor | np.ndarray, *, ax: Axes | None = None,
                      labels: Sequence[str] = ("x0", "x1", "x2", "x3"), title: str = "") -> Axes:
    """Mean weight per scale (bars) with every channel's weight as a dot and the note's bounds as lines.

    The dashed lines are 1/(1+3e) = 0.109 and e/(e+3) = 0.475, the only range a weight can take
    under softmax(sigmoid(.)); the dotted line is the uniform 1/4. Means always sit near 0.25
    (each channel's 4 weights sum to 1), so look at the spread of the dots.

    Shape:
        weights: (B, C, 4, 1) or (C, 4)
    """
    w = _weights(weights, "scale_weight_bars")
    ax = style.new_axes(ax, 3.4, 2.6)
    ax.bar(range(4), w.mean(axis=0), color="tab:blue", alpha=0.45, width=0.6,
           label=label("通道平均", "mean over channels"))
    offsets = np.linspace(-0.18, 0.18, w.shape[0]) if w.shape[0] > 1 else np.zeros(1)
    for i in range(4):
        ax.plot(i + offsets, w[:, i], ".", color="tab:blue", markersize=3)
    ax.axhline(MSF_BOUNDS[0], color="tab:red", linestyle="--", linewidth=1,
               label=label(f"上下界 {MSF_BOUNDS[0]:.3f}, {MSF_BOUNDS[1]:.3f}",
                           f"bounds {MSF_BOUNDS[0]:.3f}, {MSF_BOUNDS[1]:.3f}"))
    ax.axhline(MSF_BOUNDS[1], color="tab:red", linestyle="--", linewidth=1)
    ax.axhline(0.25, color="k", linestyle=":", linewidth=1, label=label("均匀 0.25", "uniform 0.25"))
    ax.set_xticks(range(4), labels)
    ax.set_ylim(0, 1)
    style.legend(ax, small=True, loc="upper right")
    spread = f"{w.min():.3f} .. {w.max():.3f}"
    style.decorate(ax, title or label(f"权重：{spread}", f"weights: {spread}"), ylabel=label("权重", "weight"))
    return ax


@style.styled
def scale_weights(weights: Tensor | Mapping[str, Tensor], *, fig: Figure | SubFigure | None = None,
                  labels: Sequence[str] = ("x0", "x1", "x2", "x3")) -> Figure | SubFigure:
    """Heat map and bars of the scale weights, one row per variant (e.g. the note vs plain softmax).

    Pass ``{"softmax(sigmoid) (note)": w_note, "softmax": w_plain}`` to see the compression: the
    note's dots never leave the band between the dashed lines. With untrained SE convs the spread
    is small either way; training makes the difference large (the band caps the winner at 0.475).

    Shape:
        weights: (B, C, 4, 1) or a mapping of names to such tensors
    """
    items = list(weights.items()) if isinstance(weights, Mapping) else [("", weights)]
    fig = style.new_figure(fig, 6.4, 2.9 * len(items))
    axes = fig.subplots(len(items), 2, squeeze=False, width_ratios=[1, 1.6])
    for (name, w), (ax_map, ax_bar) in zip(items, axes):
        scale_weight_heatmap(w, ax=ax_map, labels=labels)
        values = _weights(w, "scale_weights")
        scale_weight_bars(w, ax=ax_bar, labels=labels,
                          title=f"{name + ': ' if name else ''}{values.min():.3f} .. {values.max():.3f}")
    return fig


@style.styled
def msf_weight_limits(*, ax: Axes | None = None, margin: float = 8.0) -> Axes:
    """How far training can push one scale weight: the note's softmax(sigmoid) against plain softmax.

    One input's logit is +m and the other three are -m. Plain softmax sends the winner to 1 and
    the losers to 0; after the sigmoid the winner stops at e/(e+3) = 0.475 and the losers at
    1/(e+3) = 0.175 (the lower bound 0.109 needs three winners). A property of the formula, not of
    any weights, so it holds for untrained and trained blocks alike.
    """
    m = np.linspace(0, margin, 200)
    sig = 1 / (1 + np.exp(-m))
    curves = (
        (label("胜者（笔记：softmax(sigmoid)）", "winner (note: softmax(sigmoid))"),
         label("每个落败者（笔记：softmax(sigmoid)）", "each loser (note: softmax(sigmoid))"),
         np.e**sig, np.e ** (1 - sig)),
        (label("胜者（plain softmax）", "winner (plain softmax)"),
         label("每个落败者（plain softmax）", "each loser (plain softmax)"), np.exp(m), np.exp(-m)),
    )
    ax = style.new_axes(ax, 3.8, 2.7)
    for (win_text, lose_text, win, lose), dash in zip(curves, ("-", "--")):
        total = win + 3 * lose
        ax.plot(m, win / total, dash, color="tab:blue", label=win_text)
        ax.plot(m, lose / total, dash, color="tab:orange", label=lose_text)
    for bound in MSF_BOUNDS:
        ax.axhline(bound, color="tab:red", linestyle=":", linewidth=1)
    ax.text(margin, MSF_BOUNDS[1] + 0.02, "0.475", color="tab:red", ha="right", fontsize=style.size("tick"))
    ax.text(margin, MSF_BOUNDS[0] - 0.06, "0.109", color="tab:red", ha="right", fontsize=style.size("tick"))
    ax.set_ylim(0, 1)
    ax.set_xlim(0, margin)
    style.legend(ax, small=True, loc="upper right", bbox_to_anchor=(1, 0.93))
    style.decorate(ax, label("一个权重最多能走多远", "how far one weight can go"),
                   xlabel=label("logit 差距 m（胜者 +m，其余 −m）", "logit margin m (winner +m, others -m)"),
                   ylabel=label("权重", "weight"))
    return ax


@style.styled
def branch_maps(branches: Mapping[str, Tensor] | Sequence[Tensor], *,
                fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel means of MFE's four branch maps y0..y3 on one shared colour scale.

    Each branch sees a wider window (3, 7, 15, 31 px with rates 2, 4, 8), so even untrained the
    maps get smoother from y0 to y3.

    Shape:
        branches: trace.tensors (keys ``"y0"`` .. ``"y3"``) or 4 tensors (B, C, H, W); batch item 0
    """
    ys = pick_tensors(branches, ("y0", "y1", "y2", "y3"), "branch_maps")
    maps = [channel_mean(y, "branch_maps", f"y{i}") for i, y in enumerate(ys)]
    titles = [label(f"y{i}（通道平均）", f"y{i} (mean over C)") for i in range(4)]
    return style.map_row(maps, titles, fig, label("通道平均", "mean over C"))


@style.styled
def erf_maps(erf: Tensor | np.ndarray, *, atrous_rates: Sequence[int] | None = (2, 4, 8),
             centre: tuple[int, int] | None = None, log: bool = True,
             fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """The four receptive fields from `fusion_edu.receptive_field.branch_erf`, each divided by its own maximum.

    Fixed scale: 1e-3..1 on a log axis (``log=True``, so weak outer taps stay visible) or 0..1.
    The dashed square is the theoretical window from ``atrous_rates``; titles give the measured
    radius. The dilated taps show as a grid of dots with gaps of the rate.

    Shape:
        erf: (4, H, W)
    """
    a = checked(erf, "erf_maps", "erf", {3: "(4, H, W)"})
    H, W = a.shape[-2:]
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    measured = erf_radius(a, centre=(cy, cx))
    theory = erf_theory(atrous_rates) if atrous_rates is not None else [None] * len(a)
    norm = colors.LogNorm(1e-3, 1, clip=True) if log else colors.Normalize(0, 1)
    fig = style.new_figure(fig, 1.9 * len(a) + 0.9, 2.4)
    axes = fig.subplots(1, len(a), squeeze=False)[0]
    for i, (ax, m) in enumerate(zip(axes, a)):
        shown = m / m.max() if m.max() > 0 else m
        picture = style.image(ax, np.maximum(shown, 1e-6) if log else shown, "", cmap=style.POSITIVE_CMAP, norm=norm)
        if theory[i] is not None:
            r = theory[i]
            ax.add_patch(Rectangle((cx - r - 0.5, cy - r - 0.5), 2 * r + 1, 2 * r + 1, fill=False,
                                   edgecolor="tab:cyan", linestyle="--", linewidth=1))
        known = theory[i] is not None
        style.title(ax, label(f"y{i}：半径 {measured[i]} 像素" + (f"（理论 {theory[i]}）" if known else ""),
                              f"y{i}: radius {measured[i]} px" + (f" (theory {theory[i]})" if known else "")))
    style.colorbar(picture, axes, label("|梯度| / 最大值" + ("（对数）" if log else ""),
                                        "|grad| / max" + (" (log)" if log else "")))
    return fig
