"""SAFM: its levels after upsampling, and the modulation map M = GELU(aggr(levels)) that multiplies x."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from ..errors import value_error
from . import style
from .inputs import channel_mean, checked
from .style import GELU_MIN, label

__all__ = ["safm_level_maps", "modulation_map", "modulation_histogram", "safm_modulation"]


@style.styled
def safm_level_maps(levels: Tensor | np.ndarray, n_levels: int = 4, *,
                    fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel mean of each SAFM level after upsampling: level i is blocky in 2**i px squares.

    Level 0 keeps full resolution; level i was pooled to 1/2**i and upsampled by nearest
    neighbour. The blockiness is architectural and shows with an untrained block; the values are
    a random depthwise filter of the photo features. One shared, symmetric colour scale.

    Shape:
        levels: (B, C, H, W) as kept under trace key ``"levels"`` (the L levels concatenated on C)
    """
    a = checked(levels, "safm_level_maps", "levels", {4: "(B, C, H, W)", 3: "(C, H, W)"})
    a = a[0] if a.ndim == 4 else a
    if n_levels < 1 or a.shape[0] % n_levels:
        raise value_error("safm_level_maps", "the channels of levels must split into n_levels equal groups",
                          {"C": a.shape[0], "n_levels": n_levels}, "Pass n_levels=block.n_levels.",
                          zh="levels 的通道数必须能均分成 n_levels 组", zh_hint="请传入 n_levels=block.n_levels。")
    maps = [chunk.mean(axis=0) for chunk in np.split(a, n_levels, axis=0)]
    titles = [label(f"第 {i} 级：{2**i} 像素的方块", f"level {i}: {2**i} px blocks") for i in range(n_levels)]
    return style.map_row(maps, titles, fig, label("该级各通道的平均", "mean over the level's channels"))


def _modulation(m: Tensor | np.ndarray, func: str) -> np.ndarray:
    return checked(m, func, "modulation", {4: "(B, C, H, W)", 3: "(C, H, W)"})


@style.styled
def modulation_map(modulation: Tensor | np.ndarray, *, ax: Axes | None = None) -> Axes:
    """Channel mean of SAFM's modulation map M = GELU(aggr(levels)), the factor that multiplies x.

    Colours: white is 0 (the feature is switched off), red amplifies, blue flips the sign. The
    scale is symmetric about 0 and reaches at least GELU's minimum -0.17 (marked on the colour bar),
    further only if M does (M has no upper bound). Untrained, M is a random 1x1 mix of the levels:
    close to 0 with faint photo structure.

    Shape:
        modulation: (B, C, H, W) as kept under trace key ``"modulation"`` (batch item 0)
    """
    m = channel_mean(_modulation(modulation, "modulation_map"), "modulation_map", "modulation")
    ax = style.new_axes(ax, 3.2, 2.7)
    high = max(-GELU_MIN, float(np.abs(m).max()))
    shown = style.image(ax, m, label(f"M（通道平均）：{m.min():.2f}..{m.max():.2f}",
                                     f"M, mean over C: {m.min():.2f}..{m.max():.2f}"),
                        cmap=style.SIGNED_CMAP, vmin=-high, vmax=high)
    bar = style.colorbar(shown, ax, "M")
    bar.ax.axhline(GELU_MIN, color="k", linewidth=1.5)
    return ax


@style.styled
def modulation_histogram(modulation: Tensor | np.ndarray, *, ax: Axes | None = None, bins: int = 60) -> Axes:
    """Histogram of every value of M, negative bins in blue, with 0 and GELU's minimum -0.17 marked.

    M is not a [0, 1] attention: it is unbounded above and dips below zero, so some features are
    amplified and some flipped (slightly). The title gives the share of negative values.

    Shape:
        modulation: any shape, e.g. (B, C, H, W)
    """
    v = _modulation(modulation, "modulation_histogram").ravel()
    ax = style.new_axes(ax, 3.4, 2.6)
    low = min(GELU_MIN - 0.05, float(v.min()))
    _, edges, patches = ax.hist(v, bins=bins, range=(low, float(v.max())), color="tab:red")
    for patch, left in zip(patches, edges[:-1]):
        if left < 0:
            patch.set_facecolor("tab:blue")
    ax.axvline(0, color="k", linewidth=1)
    ax.axvline(GELU_MIN, color="k", linestyle="--", linewidth=1,
               label=label(f"GELU 最小值 {GELU_MIN:.2f}", f"GELU min {GELU_MIN:.2f}"))
    style.legend(ax, loc="upper right")
    negative = 100 * (v < 0).mean()
    style.decorate(ax, label(f"M 的取值：{negative:.0f}% 为负，最大 {v.max():.2f}",
                             f"M values: {negative:.0f}% negative, max {v.max():.2f}"),
                   xlabel="M", ylabel=label("个数", "count"))
    return ax


@style.styled
def safm_modulation(modulation: Tensor | np.ndarray, *, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """`modulation_map` and `modulation_histogram` side by side.

    Shape:
        modulation: (B, C, H, W)
    """
    fig = style.new_figure(fig, 7.0, 2.8)
    ax_map, ax_hist = fig.subplots(1, 2, width_ratios=[1, 1.2])
    modulation_map(modulation, ax=ax_map)
    modulation_histogram(modulation, ax=ax_hist)
    return fig
