"""SAFM: its levels after upsampling, and the modulation map M = GELU(aggr(levels)) that multiplies x."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from ..blocks.safm import SAFM
from ..errors import value_error
from ..trace import trace
from . import style
from .inputs import channel_mean, checked
from .style import GELU_MIN, label

__all__ = ["safm_level_maps", "modulation_map", "modulation_histogram", "safm_modulation", "line_response",
           "safm_aliasing"]


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


def line_response(size: int, level: int = 2, n_levels: int = 4) -> Tensor:
    """What SAFM's pooling and nearest upsampling alone make of a 1-px vertical line at each column.

    A SAFM(n_levels, n_levels) (one channel per level) with every depthwise conv set to the identity
    (centre tap 1) gets, as batch item j, a vertical line at column j; the answer is row 0 of level
    `level` after upsampling. With `size` divisible by 2**level each line lights exactly its own
    2**level-px block; otherwise the adaptive pool's windows are uneven and overlap, and some lines
    light two blocks.

    Shape:
        out: (size, size): row j = the line at column j, column = output pixel
    """
    if not 0 < level < n_levels:
        raise value_error("line_response", "level must be a pooled level, 1..n_levels-1",
                          {"level": level, "n_levels": n_levels}, "Level 0 is not pooled; try level=2.",
                          zh="level 必须是被池化的层：1..n_levels-1", zh_hint="第 0 层不池化；可试 level=2。")
    block = SAFM(n_levels, n_levels).eval()
    with torch.no_grad():
        for conv in block.mfr:
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = 1.0
            conv.bias.zero_()
        lines = torch.zeros(size, n_levels, size, size)
        lines[torch.arange(size), :, :, torch.arange(size)] = 1.0
        levels = trace(block, lines, keep=True).tensors["levels"]
    return levels[:, level, 0, :]


@style.styled
def safm_aliasing(sizes: Sequence[int] = (32, 30), *, level: int = 2, n_levels: int = 4,
                  fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """A 1-px line moved across SAFM's pooled level `level`: clean blocks when H is divisible by 2**level, aliasing
    when it is not.

    One panel per size shows `line_response` (dark = the output pixel the line reaches; an arrow marks
    each line that lights two blocks); the last panel counts the pixels each line reaches: 2**level
    everywhere for a divisible size, jumping where the adaptive pool's windows overlap for the others.
    """
    fig = style.new_figure(fig, 3.6 * len(sizes) + 4.2, 3.6)
    axes = fig.subplots(1, len(sizes) + 1, width_ratios=[1] * len(sizes) + [1.25])
    colours = ("tab:blue", "tab:red", "tab:green", "tab:purple")
    for ax, side, colour in zip(axes, sizes, colours):
        reached = line_response(side, level, n_levels).numpy()
        ax.imshow(reached > 0, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        widest = -(-side // (side // 2**level))  # the widest upsampled block
        twice = np.flatnonzero((reached > 0).sum(axis=1) > widest)  # lines that light two blocks
        ax.plot(np.full(len(twice), -1.2), twice, ">", color=colour, markersize=4, clip_on=False)
        ax.set_xlim(-1.8, side - 0.5)
        style.decorate(ax, label(f"H = W = {side}：尺度 {level} 池化到 {side // 2**level}",
                                 f"H = W = {side}: scale {level} pooled to {side // 2**level}"),
                       xlabel=label("输出像素的位置", "output pixel"), ylabel=label("线的位置", "column of the line"))
        axes[-1].step(range(side), (reached > 0).sum(axis=1), where="mid", color=colour, label=f"H = W = {side}")
    axes[-1].set_ylim(0, 2.6 * 2**level)
    style.legend(axes[-1], loc="upper right")
    style.decorate(axes[-1], label("线所到的像素个数", "pixels one line reaches"),
                   xlabel=label("线的位置", "column of the line"), ylabel=label("像素个数", "pixels"))
    style.suptitle(fig, label(f"1 像素宽的线在尺度 {level}：池化到 1/{2**level} 后放大",
                              f"A 1-px line through scale {level}: pooled to 1/{2**level}, then upsampled (nearest)"))
    return fig
