"""OSRA: one query's attention over the reduced key grid, and how sr_ratio shrinks that grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from ..blocks.osra import reduced_size
from ..data import to_image
from ..errors import shape_error, value_error
from . import style
from .inputs import checked
from .style import label

__all__ = ["query_attention", "reduction_plot"]


def _key_cell(q: int, sr_ratio: int) -> float:
    """Position on the key grid whose window is centred on input row/column q."""
    if sr_ratio == 1:
        return float(q)
    kernel, pad = sr_ratio + 3, (sr_ratio + 3) // 2
    return (q + pad - (kernel - 1) / 2) / sr_ratio


@style.styled
def query_attention(attn: Tensor | np.ndarray, query: tuple[int, int], *, size: tuple[int, int], sr_ratio: int,
                    image: Tensor | np.ndarray | None = None, heads: Sequence[int] | None = None,
                    relative: bool = True, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """One query pixel's attention over OSRA's reduced key grid H' x W', per head and head-averaged.

    The first panel marks the query on the input (``image``, e.g. the photo). Each map is a row
    of ``attn`` reshaped to (H', W'); a cross marks the key cell whose window is centred on the
    query. With ``relative=True`` (default) a map shows attention * M, i.e. relative to the uniform
    1/M, on a fixed log scale 1/10..10 (white = uniform, red = preferred, blue = avoided; values
    beyond are clipped, see the arrows of the colour bar). With ``relative=False`` it shows the
    probabilities on one shared scale from 0. An untrained block attends almost uniformly: the maps
    stay pale, with mild preferences that come from the photo features.

    Shape:
        attn: (B, nh, H*W, H'*W') as kept under trace key ``"attn"`` (batch item 0)
        query: (row, col) in input pixels; size: (H, W) of the input
    """
    a = checked(attn, "query_attention", "attn", {4: "(B, nh, H*W, H'*W')", 3: "(nh, H*W, H'*W')"})
    a = a[0] if a.ndim == 4 else a
    H, W = size
    Hr, Wr = reduced_size(H, sr_ratio), reduced_size(W, sr_ratio)
    if a.shape[1:] != (H * W, Hr * Wr):
        raise shape_error("query_attention", f"attn must be (nh, {H * W}, {Hr * Wr}) for size=({H}, {W}) and "
                          f"sr_ratio={sr_ratio}", {"attn.shape": tuple(a.shape)},
                          "Pass the input's size and the block's sr_ratio.",
                          zh=f"size=({H}, {W})、sr_ratio={sr_ratio} 时 attn 必须是 (nh, {H * W}, {Hr * Wr})",
                          zh_hint="请传入输入的尺寸和模块的 sr_ratio。")
    qy, qx = query
    if not (0 <= qy < H and 0 <= qx < W):
        raise value_error("query_attention", f"query must lie inside the {H}x{W} input", {"query": (qy, qx)},
                          f"Try query=({H // 2}, {W // 2}).", zh=f"query 必须落在 {H}x{W} 的输入内",
                          zh_hint=f"例如 query=({H // 2}, {W // 2})。")
    M = Hr * Wr
    heads = list(range(a.shape[0])) if heads is None else list(heads)
    rows = a[:, qy * W + qx].reshape(a.shape[0], Hr, Wr)
    mean = rows[heads].mean(axis=0)
    maps = [(rows[h], label(f"头 {h}：最大 {rows[h].max():.4f}", f"head {h}: max {rows[h].max():.4f}")) for h in heads]
    maps.append((mean, label(f"各头平均：最大 {mean.max():.4f}", f"mean of heads: max {mean.max():.4f}")))
    panels = len(maps) + 1
    ncols = min(panels, 5)
    nrows = math.ceil(panels / ncols)
    fig = style.new_figure(fig, 1.75 * ncols + 0.9, 1.9 * nrows + 0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    if image is not None:
        axes[0].imshow(to_image(image), interpolation="nearest")
    else:
        axes[0].imshow(np.full((H, W), 0.85), cmap="gray", vmin=0, vmax=1)
    axes[0].plot(qx, qy, "x", color="cyan", markersize=8, markeredgewidth=2)
    style.decorate(axes[0], label(f"查询 ({qy}, {qx})，共 {H}x{W}", f"query ({qy}, {qx}) of {H}x{W}"), image=True)
    if relative:
        norm, cmap = colors.LogNorm(0.1, 10, clip=False), style.SIGNED_CMAP
        text = label("注意力 × M（1 = 均匀的 1/M）", "attention x M  (1 = uniform 1/M)")
    else:
        norm = colors.Normalize(0, max(float(m.max()) for m, _ in maps))
        cmap, text = style.POSITIVE_CMAP, label("注意力概率", "attention probability")
    ky, kx = _key_cell(qy, sr_ratio), _key_cell(qx, sr_ratio)
    for ax, (m, text) in zip(axes[1:], maps):
        mappable = style.image(ax, m * M if relative else m, text, cmap=cmap, norm=norm)
        ax.plot(kx, ky, "+", color="k" if relative else "cyan", markersize=7, markeredgewidth=1.5)
    for ax in axes[panels:]:
        ax.set_axis_off()
    # relative: values outside 0.1..10 take the end colours, which the colour bar's arrows show
    bar = style.colorbar(mappable, list(axes[1:panels]), text, extend="both" if relative else "neither")
    if not relative:
        bar.ax.axhline(1.0 / M, color="cyan", linewidth=1.5)
    style.suptitle(fig, label(f"键网格 {Hr}x{Wr}（M = {M} 个键，均匀时每个 1/M = {1 / M:.4f}）",
                              f"key grid {Hr}x{Wr} (M = {M} keys, uniform 1/M = {1 / M:.4f})"))
    return fig


@style.styled
def reduction_plot(size: int = 32, ratios: Sequence[int] = tuple(range(1, 9)), *, ax: Axes | None = None) -> Axes:
    """Side H' of OSRA's key grid against sr_ratio r, for an input of size x size.

    The strided conv (kernel r+3, padding (r+3)//2) gives ceil(H/r) for even r and H//r + 1 for
    odd r; the dashed line is H/r. Labels give H' x W' and the number of keys M per query.
    """
    ax = style.new_axes(ax, 4.6, 2.8)
    rs = [int(r) for r in ratios]
    sides = [reduced_size(size, r) for r in rs]
    ax.bar(rs, sides, color="tab:green", alpha=0.7, width=0.6, label=label("H'（键网格边长）", "H' (key grid side)"))
    fine = np.linspace(min(rs), max(rs), 200)
    ax.plot(fine, size / fine, "k--", linewidth=1, label=f"{size}/r")
    for r, s in zip(rs, sides):
        ax.text(r, s + size * 0.03, f"{s}x{s}\nM={s * s}", ha="center", va="bottom", fontsize=style.size("small"),
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))
    ax.set_xticks(rs)
    ax.set_ylim(0, size * 1.3)
    style.legend(ax, loc="upper right")
    style.decorate(ax, label(f"H = W = {size} 时的键网格：N = {size * size} 个查询，每个看 M 个键",
                             f"key grid for H = W = {size}: N = {size * size} queries, M keys each"),
                   xlabel="sr_ratio r", ylabel="H'")
    return ax
