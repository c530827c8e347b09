"""MSAA and the CBAM variant: sigmoid channel and spatial gates, MSAA's kernel responses, and the CBAM
variant's spatial basis maps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor, nn

from ..errors import type_error, value_error
from . import style
from .inputs import channel_mean, checked, grey, pick_tensors
from .style import label

__all__ = ["channel_gate_bars", "spatial_gate_map", "kernel_responses", "cbam_basis_maps"]


@style.styled
def channel_gate_bars(gate: Tensor | np.ndarray, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A sigmoid channel gate as bars on the fixed range 0..1 (dotted: 0.5 = sigmoid(0)).

    Works for MSAA's ``"fusion_conv.channel_gate"`` (B, D, 1, 1) and the CBAM variant's
    ``"channel_weight"`` (B, C, 1, 1). Untrained, the bars scatter around 0.5.

    Shape:
        gate: (B, D, 1, 1) (batch item 0) or (D,)
    """
    g = checked(gate, "channel_gate_bars", "gate", {4: "(B, D, 1, 1)", 1: "(D,)"})
    g = g[0, :, 0, 0] if g.ndim == 4 else g
    ax = style.new_axes(ax, 3.6, 2.4)
    ax.bar(range(len(g)), g, color="tab:orange", width=0.8)
    ax.axhline(0.5, color="k", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.7, len(g) - 0.3)
    name = title if title is not None else label("通道门", "channel gate")
    style.decorate(ax, f"{name}: {g.min():.2f} .. {g.max():.2f}", xlabel=label("通道", "channel"),
                   ylabel=label("权重", "weight"))
    return ax


@style.styled
def spatial_gate_map(gate: Tensor | np.ndarray, *, image: Tensor | np.ndarray | None = None,
                     ax: Axes | None = None, alpha: float = 0.7, title: str | None = None) -> Axes:
    """A sigmoid spatial gate on the fixed scale 0..1, optionally over the photo (grey underneath).

    Works for MSAA's ``"fusion_conv.spatial_gate"`` and the CBAM variant's ``"spatial_weight"``.
    Untrained, both sit near 0.5: MSAA's (a 7x7 conv of channel statistics) with faint photo
    structure, the CBAM variant's (a joint MLP over all positions) almost flat. Training spreads them.

    Shape:
        gate: (B, 1, H, W) (batch item 0) or (H, W); image: (1, 3, H, W) or (3, H, W)
    """
    g = checked(gate, "spatial_gate_map", "gate", {4: "(B, 1, H, W)", 2: "(H, W)"})
    g = g[0, 0] if g.ndim == 4 else g
    ax = style.new_axes(ax, 3.2, 2.7)
    if image is not None:
        ax.imshow(grey(image), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    name = title if title is not None else label("空间门", "spatial gate")
    shown = style.image(ax, g, f"{name}: {g.min():.2f} .. {g.max():.2f}", cmap=style.GATE_CMAP, vmin=0, vmax=1,
                        alpha=alpha if image is not None else 1.0)
    style.colorbar(plt.cm.ScalarMappable(norm=shown.norm, cmap=shown.cmap), ax, label("权重", "weight"),
                   ticks=[0, 0.5, 1])
    return ax


@style.styled
def kernel_responses(responses: Mapping[str, Tensor] | Sequence[Tensor], *,
                     fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel means of MSAA's 3x3, 5x5 and 7x7 branch responses on one shared, symmetric scale.

    Their sum S feeds the spatial gate. Untrained, the three differ mainly in smoothness.

    Shape:
        responses: trace.tensors (keys ``"fusion_conv.r3"``, ``.r5``, ``.r7``) or 3 tensors (B, D, H, W)
    """
    rs = pick_tensors(responses, ("r3", "r5", "r7"), "kernel_responses")
    maps = [channel_mean(r, "kernel_responses", n) for r, n in zip(rs, ("r3", "r5", "r7"))]
    titles = [label(f"{k}×{k} 分支", f"{k}x{k} branch") for k in (3, 5, 7)]
    return style.map_row(maps, titles, fig, label("D 个通道的平均", "mean over D"))


@style.styled
def cbam_basis_maps(block: nn.Module, *, hw: tuple[int, int] | None = None, ncols: int = 8,
                    fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """The CBAM variant's C/r spatial basis maps: every spatial weight map is built from these.

    The joint MLP's second conv maps C/r hidden units to C + H*W outputs; its last H*W rows
    (``MLP[2].weight[C:, :, 0, 0]``, shape (H*W, C/r)) are, per hidden unit, one H x W image, and
    every spatial logit map is a weighted sum of them (weights = the ReLU'd hidden code). Untrained
    they are uniform noise: that is honest, and it is also the block's limit (C/r images, tied to
    absolute positions). One shared, symmetric colour scale.

    Shape:
        block.MLP[2].weight: (C + H*W, C/r, 1, 1); out: one H x W map per hidden unit
    """
    if not (hasattr(block, "MLP") and hasattr(block, "channel")):
        raise type_error("cbam_basis_maps", "block must be a CBAMBlock (with MLP and channel)",
                         {"type(block)": type(block).__name__}, "Build one with data.block_for_photo('cbam_joint').",
                         zh="block 必须是 CBAMBlock（带 MLP 和 channel）",
                         zh_hint="可用 data.block_for_photo('cbam_joint') 构建。")
    weight = block.MLP[2].weight.detach().float().cpu()[block.channel:, :, 0, 0]
    HW, hidden = weight.shape
    if hw is None:
        side = math.isqrt(HW)
        if side * side != HW:
            raise value_error("cbam_basis_maps", "hw=(H, W) is needed when H*W is not a square", {"HW": HW},
                              "Pass hw=(H, W) of the block's input.", zh="H*W 不是平方数时必须给出 hw=(H, W)",
                              zh_hint="请传入模块输入的 hw=(H, W)。")
        hw = (side, side)
    if hw[0] * hw[1] != HW:
        raise value_error("cbam_basis_maps", f"hw must multiply to the block's HW={HW}", {"hw": hw},
                          "Pass the H and W the block was built for.", zh=f"hw 的乘积必须等于模块的 HW={HW}",
                          zh_hint="请传入构建模块时的 H 和 W。")
    maps = weight.T.reshape(hidden, *hw).numpy()
    ncols = max(1, min(ncols, hidden))
    nrows = math.ceil(hidden / ncols)
    fig = style.new_figure(fig, 1.05 * ncols + 0.9, 1.25 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    high = float(np.abs(maps).max()) or 1.0
    for k, ax in enumerate(axes):
        if k < hidden:
            shown = style.image(ax, maps[k], label(f"单元 {k}", f"unit {k}"), cmap=style.SIGNED_CMAP, vmin=-high,
                                vmax=high)
        else:
            ax.set_axis_off()
    style.colorbar(shown, list(axes[:hidden]), label("权重", "weight"))
    style.suptitle(fig, label(f"联合 MLP 的 {hidden} 张空间基图（{hw[0]}x{hw[1]}）",
                              f"{hidden} spatial basis maps ({hw[0]}x{hw[1]}) of the joint MLP"))
    return fig
