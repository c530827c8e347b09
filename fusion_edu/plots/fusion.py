"""Gated fusion: where the gate z trusts x1 or x2, per channel, as a histogram, and the fused output."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from ..errors import value_error
from . import style
from .inputs import checked, to_numpy
from .style import label

__all__ = ["gate_mean_map", "gate_channel_maps", "gate_histogram", "fusion_panels"]


def _gate_z(z: Tensor | np.ndarray, func: str) -> np.ndarray:
    a = checked(z, func, "z", {4: "(B, H, W, C) channels-last", 3: "(H, W, C)"})
    return a[0] if a.ndim == 4 else a


@style.styled
def gate_mean_map(z: Tensor | np.ndarray, *, ax: Axes | None = None, colorbar: bool = True) -> Axes:
    """Where gated fusion trusts x1 (z near 1) or x2 (z near 0): z averaged over channels.

    Fixed colour scale 0..1 with 0.5 (an even mix) in the neutral middle. An untrained gate sits
    near 0.5 everywhere with faint photo structure from fc1/fc2; after training on `gated_views`
    it reproduces the checkerboard of clean blocks.

    Shape:
        z: (B, H, W, C) channels-last, as kept under trace key ``"z"`` (batch item 0 drawn), or (H, W, C)
    """
    zz = _gate_z(z, "gate_mean_map").mean(axis=-1)
    ax = style.new_axes(ax, 3.2, 2.7)
    shown = style.image(ax, zz, label(f"z（通道平均）：{zz.min():.2f}..{zz.max():.2f}",
                                      f"z, mean over C: {zz.min():.2f}..{zz.max():.2f}"),
                        cmap=style.MIX_CMAP, vmin=0, vmax=1)
    if colorbar:
        style.colorbar(shown, ax, label("z（1：信 x1，0：信 x2）", "z   (1: x1, 0: x2)"), ticks=[0, 0.25, 0.5, 0.75, 1])
    return ax


@style.styled
def gate_channel_maps(z: Tensor | np.ndarray, *, channels: Sequence[int] = (0, 1, 2, 3),
                      fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Single-channel gate maps z[..., c]: every channel has its own H x W gate (fixed 0..1 scale).

    Shape:
        z: (B, H, W, C) or (H, W, C)
    """
    zz = _gate_z(z, "gate_channel_maps")
    C = zz.shape[-1]
    bad = [c for c in channels if not 0 <= c < C]
    if bad or not channels:
        raise value_error("gate_channel_maps", f"channels must be indices in 0..{C - 1}", {"channels": list(channels)},
                          "Try channels=(0, 1, 2, 3).", zh=f"channels 必须是 0..{C - 1} 之间的下标",
                          zh_hint="例如 channels=(0, 1, 2, 3)。")
    fig = style.new_figure(fig, 1.9 * len(channels) + 0.9, 2.3)
    axes = fig.subplots(1, len(channels), squeeze=False)[0]
    for ax, c in zip(axes, channels):
        shown = style.image(ax, zz[..., c], label(f"z，通道 {c}", f"z, channel {c}"), cmap=style.MIX_CMAP,
                            vmin=0, vmax=1)
    style.colorbar(shown, axes, "z", ticks=[0, 0.5, 1])
    return fig


@style.styled
def gate_histogram(z: Tensor | np.ndarray, *, ax: Axes | None = None, bins: int = 50) -> Axes:
    """Histogram of all gate values on the fixed range 0..1, with the even mix 0.5 marked.

    An untrained gate piles up around 0.5; a trained one splits towards 0 and 1.

    Shape:
        z: any shape (every value counts), e.g. (B, H, W, C)
    """
    values = to_numpy(z, "gate_histogram", "z").ravel()
    ax = style.new_axes(ax, 3.4, 2.4)
    ax.hist(values, bins=bins, range=(0, 1), color="tab:purple")
    ax.axvline(0.5, color="k", linestyle=":", linewidth=1, label=label("0.5：两路各一半", "0.5: even mix"))
    ax.set_xlim(0, 1)
    style.legend(ax, loc="upper right")
    style.decorate(ax, label(f"门控值：均值 {values.mean():.2f}，标准差 {values.std():.3f}",
                             f"gate values: mean {values.mean():.2f}, std {values.std():.3f}"),
                   xlabel="z", ylabel=label("个数", "count"))
    return ax


@style.styled
def fusion_panels(x1: Tensor, x2: Tensor, out: Tensor, *, mask: Tensor | np.ndarray | None = None,
                  layout: str = "channels_last", fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """x1, x2 and the fused output side by side (plus the clean-block mask when given).

    With C >= 3 the first three channels are drawn as RGB (for `fusion_edu.data` features they
    are the photo's red, green, blue), all panels on one shared linear scale; otherwise the channel
    mean in grey.

    Shape:
        x1, x2, out: (B, H, W, C) channels-last (``layout="nchw"``: (B, C, H, W)); batch item 0 drawn
        mask: (H, W), 1 where x1 is clean
    """
    if layout not in ("channels_last", "nchw"):
        raise value_error("fusion_panels", "layout must be 'channels_last' or 'nchw'", {"layout": layout},
                          "Use the layout the block was built with.", zh="layout 只能是 'channels_last' 或 'nchw'",
                          zh_hint="请用构建模块时的那种布局。")
    arrays = []
    for name, t in (("x1", x1), ("x2", x2), ("out", out)):
        a = checked(t, "fusion_panels", name, {4: "a 4-D tensor"})[0]
        arrays.append(a if layout == "channels_last" else a.transpose(1, 2, 0))
    rgb = arrays[0].shape[-1] >= 3
    shown = [a[..., :3] if rgb else a.mean(axis=-1) for a in arrays]
    low, high = min(float(s.min()) for s in shown), max(float(s.max()) for s in shown)
    spread = (high - low) or 1.0
    titles = ("x1", "x2", label("输出 = z·x1 + (1−z)·x2", "out = z*x1 + (1-z)*x2"))
    panels = [(np.clip((s - low) / spread, 0, 1), t) for s, t in zip(shown, titles)]
    if mask is not None:
        text = label("掩码：x1 干净处为 1", "mask: 1 where x1 is clean")
        panels.append((to_numpy(mask, "fusion_panels", "mask"), text))
    fig = style.new_figure(fig, 2.1 * len(panels), 2.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (picture, text) in zip(axes, panels):
        style.image(ax, picture, text, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=1)
    return fig
