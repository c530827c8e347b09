"""Figures of what the blocks compute, drawn from ``trace(block, *inputs, keep=True).tensors``.

Every function draws one quantity: single-panel functions take ``ax=None`` and return the Axes,
multi-panel ones take ``fig=None`` (a Figure or SubFigure to fill) and return it. With None they
create a new figure through pyplot, so a notebook shows it (end the line with ``;``). Nothing here
calls ``plt.show()`` or changes rcParams, and text inside figures is English (captions in Chinese
belong in the notebook's markdown).

Colour scales are fixed wherever the quantity has fixed bounds (gates and weights: 0..1), and
shared between the panels of one figure otherwise, so a colour means the same value everywhere
and noise is not stretched into structure. With an untrained block several maps are close to
constant or to noise; the docstrings say which, and the fixed scales show it honestly.

Typical use::

    from fusion_edu import data, plots, trace
    model, inputs = data.block_for_photo("safm")
    t = trace(model, *inputs, keep=True)
    plots.safm_level_maps(t.tensors["levels"], n_levels=model.n_levels)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from .blocks.osra import reduced_size
from .data import to_image
from .errors import shape_error, type_error, value_error

__all__ = ["MSF_BOUNDS", "GELU_MIN", "gate_mean_map", "gate_channel_maps", "gate_histogram", "fusion_panels",
           "scale_weight_heatmap", "scale_weight_bars", "scale_weights", "msf_weight_limits", "branch_maps",
           "branch_erf", "erf_radius", "erf_theory", "erf_maps", "safm_level_maps", "modulation_map",
           "modulation_histogram", "safm_modulation", "query_attention", "reduction_plot", "channel_gate_bars",
           "spatial_gate_map", "kernel_responses", "cbam_basis_maps"]

# softmax over 4 sigmoid outputs: one weight ranges over (1/(1+3e), e/(e+3)) = (0.109, 0.475)
MSF_BOUNDS = (1 / (1 + 3 * math.e), math.e / (math.e + 3))
GELU_MIN = -0.1700  # min of x * Phi(x), reached at x = -0.752

GATE_CMAP = "viridis"  # 0..1 gates and weights
MIX_CMAP = "coolwarm"  # gated fusion's z: 0.5 (an even mix) is the neutral middle
SIGNED_CMAP = "RdBu_r"  # signed maps, symmetric about 0
POSITIVE_CMAP = "magma"  # maps that cannot be negative (after ReLU, attention, |gradient|)
_TITLE = 9
_TICKS = 7


# --------------------------------------------------------------------------- helpers

def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _new_figure(fig: Figure | SubFigure | None, figsize: tuple[float, float]) -> Figure | SubFigure:
    if fig is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
    return fig


def _style(ax: Axes, title: str = "", *, image: bool = False) -> None:
    if title:
        ax.set_title(title, fontsize=_TITLE)
    ax.tick_params(labelsize=_TICKS)
    if image:
        ax.set_xticks([])
        ax.set_yticks([])


def _colorbar(mappable: Any, ax: Axes | Sequence[Axes], label: str = "", ticks: Sequence[float] | None = None,
              **kwargs: Any):
    parent = ax if isinstance(ax, Axes) else list(ax)
    figure = parent.figure if isinstance(parent, Axes) else parent[0].figure
    bar = figure.colorbar(mappable, ax=parent, shrink=0.85, ticks=ticks, **kwargs)
    bar.ax.tick_params(labelsize=_TICKS)
    if label:
        bar.set_label(label, fontsize=_TICKS + 1)
    return bar


def _array(t: Tensor | np.ndarray, func: str, name: str) -> np.ndarray:
    if isinstance(t, Tensor):
        return t.detach().float().cpu().numpy()
    if isinstance(t, np.ndarray):
        return t.astype(np.float32)
    raise type_error(func, f"{name} must be a torch.Tensor", {f"type({name})": type(t).__name__},
                     "Pass a tensor from trace(..., keep=True).tensors.")


def _ndim(t: Tensor | np.ndarray, func: str, name: str, allowed: dict[int, str]) -> np.ndarray:
    """`t` as an array; raises a ShapeError naming `func` unless t.ndim is a key of `allowed`."""
    a = _array(t, func, name)
    if a.ndim not in allowed:
        layouts = " or ".join(allowed.values())
        raise shape_error(func, f"{name} must be {layouts}", {f"{name}.shape": tuple(a.shape)},
                          "Take it from trace(..., keep=True).tensors; batch item 0 is drawn.")
    return a


def _pick(tensors: Mapping[str, Tensor] | Sequence[Tensor], names: Sequence[str], func: str) -> list[Tensor]:
    """Tensors by key from a trace's ``tensors`` dict (a key may carry a module prefix) or a sequence."""
    if isinstance(tensors, Mapping):
        out = []
        for name in names:
            hits = [v for k, v in tensors.items() if k == name or k.endswith("." + name)]
            if not hits:
                raise value_error(func, f"tensors must hold the keys {list(names)}", {"keys": list(tensors)},
                                  "Trace the block with keep=True and pass trace.tensors.")
            out.append(hits[0])
        return out
    tensors = list(tensors)
    if len(tensors) != len(names):
        raise value_error(func, f"expected {len(names)} tensors ({', '.join(names)})", {"len": len(tensors)},
                          "Pass trace.tensors or a list in that order.")
    return tensors


def _channel_mean(t: Tensor | np.ndarray, func: str, name: str) -> np.ndarray:
    a = _ndim(t, func, name, {4: "(B, C, H, W)", 3: "(C, H, W)"})
    return (a[0] if a.ndim == 4 else a).mean(axis=0)


def _shared_maps(maps: Sequence[np.ndarray], titles: Sequence[str], fig: Figure | SubFigure | None,
                 label: str, suptitle: str = "") -> Figure | SubFigure:
    """One row of H x W maps on one colour scale: 0..max if none is negative, else symmetric about 0."""
    fig = _new_figure(fig, (1.9 * len(maps) + 0.9, 2.3))
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    low = min(float(m.min()) for m in maps)
    high = max(float(np.abs(m).max()) for m in maps) or 1.0
    norm = colors.Normalize(0, high) if low >= 0 else colors.Normalize(-high, high)
    cmap = POSITIVE_CMAP if low >= 0 else SIGNED_CMAP
    for ax, m, title in zip(axes, maps, titles):
        image = ax.imshow(m, cmap=cmap, norm=norm, interpolation="nearest")
        _style(ax, title, image=True)
    _colorbar(image, axes, label)
    if suptitle:
        fig.suptitle(suptitle, fontsize=_TITLE)
    return fig


def _grey(image: Tensor | np.ndarray) -> np.ndarray:
    rgb = to_image(image)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


# --------------------------------------------------------------------------- gated fusion

def _gate_z(z: Tensor | np.ndarray, func: str) -> np.ndarray:
    a = _ndim(z, func, "z", {4: "(B, H, W, C) channels-last", 3: "(H, W, C)"})
    return a[0] if a.ndim == 4 else a


def gate_mean_map(z: Tensor | np.ndarray, *, ax: Axes | None = None, colorbar: bool = True) -> Axes:
    """Where gated fusion trusts x1 (z near 1) or x2 (z near 0): z averaged over channels.

    Fixed colour scale 0..1 with 0.5 (an even mix) in the neutral middle. An untrained gate sits
    near 0.5 everywhere with faint photo structure from fc1/fc2; after training on `gated_views`
    it reproduces the checkerboard of clean blocks.

    Shape:
        z: (B, H, W, C) channels-last, as kept under trace key ``"z"`` (batch item 0 drawn), or (H, W, C)
    """
    zz = _gate_z(z, "gate_mean_map").mean(axis=-1)
    ax = _new_axes(ax, (3.2, 2.7))
    image = ax.imshow(zz, cmap=MIX_CMAP, vmin=0, vmax=1, interpolation="nearest")
    _style(ax, f"z, mean over C: {zz.min():.2f}..{zz.max():.2f}", image=True)
    if colorbar:
        _colorbar(image, ax, "z   (1: x1, 0: x2)", ticks=[0, 0.25, 0.5, 0.75, 1])
    return ax


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
                          "Try channels=(0, 1, 2, 3).")
    fig = _new_figure(fig, (1.9 * len(channels) + 0.9, 2.3))
    axes = fig.subplots(1, len(channels), squeeze=False)[0]
    for ax, c in zip(axes, channels):
        image = ax.imshow(zz[..., c], cmap=MIX_CMAP, vmin=0, vmax=1, interpolation="nearest")
        _style(ax, f"z, channel {c}", image=True)
    _colorbar(image, axes, "z", ticks=[0, 0.5, 1])
    return fig


def gate_histogram(z: Tensor | np.ndarray, *, ax: Axes | None = None, bins: int = 50) -> Axes:
    """Histogram of all gate values on the fixed range 0..1, with the even mix 0.5 marked.

    An untrained gate piles up around 0.5; a trained one splits towards 0 and 1.

    Shape:
        z: any shape (every value counts), e.g. (B, H, W, C)
    """
    values = _array(z, "gate_histogram", "z").ravel()
    ax = _new_axes(ax, (3.4, 2.4))
    ax.hist(values, bins=bins, range=(0, 1), color="tab:purple")
    ax.axvline(0.5, color="k", linestyle=":", linewidth=1, label="0.5: even mix")
    ax.set_xlim(0, 1)
    ax.set_xlabel("z", fontsize=_TICKS + 1)
    ax.set_ylabel("count", fontsize=_TICKS + 1)
    ax.legend(fontsize=_TICKS, loc="upper right")
    _style(ax, f"gate values: mean {values.mean():.2f}, std {values.std():.3f}")
    return ax


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
                          "Use the layout the block was built with.")
    arrays = []
    for name, t in (("x1", x1), ("x2", x2), ("out", out)):
        a = _ndim(t, "fusion_panels", name, {4: "a 4-D tensor"})[0]
        arrays.append(a if layout == "channels_last" else a.transpose(1, 2, 0))
    rgb = arrays[0].shape[-1] >= 3
    shown = [a[..., :3] if rgb else a.mean(axis=-1) for a in arrays]
    low, high = min(float(s.min()) for s in shown), max(float(s.max()) for s in shown)
    scale = (high - low) or 1.0
    panels = [(np.clip((s - low) / scale, 0, 1), t) for s, t in
              zip(shown, ("x1", "x2", "out = z*x1 + (1-z)*x2"))]
    if mask is not None:
        panels.append((_array(mask, "fusion_panels", "mask"), "mask: 1 where x1 is clean"))
    fig = _new_figure(fig, (2.1 * len(panels), 2.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(image, cmap=None if image.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
        _style(ax, title, image=True)
    return fig


# --------------------------------------------------------------------------- MSF / MFE scale weights

def _weights(weights: Tensor | np.ndarray, func: str) -> np.ndarray:
    a = _ndim(weights, func, "weights", {4: "(B, C, 4, 1)", 2: "(C, 4)"})
    a = a[0, :, :, 0] if a.ndim == 4 else a
    if a.shape[-1] != 4:
        raise shape_error(func, "weights must have 4 scales on dim 2", {"weights.shape": tuple(a.shape)},
                          "Pass trace.tensors['weights'] of MSF or MFE: (B, C, 4, 1).")
    return a


def scale_weight_heatmap(weights: Tensor | np.ndarray, *, ax: Axes | None = None, colorbar: bool = True,
                         labels: Sequence[str] = ("x0", "x1", "x2", "x3")) -> Axes:
    """The per-channel, per-scale weights as a C x 4 heat map on the fixed scale 0..1.

    Every row sums to 1. Under the note's sigmoid-then-softmax no cell can leave (0.109, 0.475),
    so the map stays mid-coloured; with ``weighting="softmax"`` cells can reach 0 or 1.

    Shape:
        weights: (B, C, 4, 1) as kept under trace key ``"weights"`` (batch item 0), or (C, 4)
    """
    w = _weights(weights, "scale_weight_heatmap")
    ax = _new_axes(ax, (2.6, 3.2))
    image = ax.imshow(w, cmap=GATE_CMAP, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(4), labels)
    ax.set_ylabel("channel", fontsize=_TICKS + 1)
    _style(ax, "weight per channel and scale")
    if colorbar:
        bar = _colorbar(image, ax, ticks=[0, MSF_BOUNDS[0], 0.25, MSF_BOUNDS[1], 1])
        bar.ax.set_yticklabels(["0", f"{MSF_BOUNDS[0]:.3f}", "0.25", f"{MSF_BOUNDS[1]:.3f}", "1"])
    return ax


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
    ax = _new_axes(ax, (3.4, 2.6))
    ax.bar(range(4), w.mean(axis=0), color="tab:blue", alpha=0.45, width=0.6, label="mean over channels")
    offsets = np.linspace(-0.18, 0.18, w.shape[0]) if w.shape[0] > 1 else np.zeros(1)
    for i in range(4):
        ax.plot(i + offsets, w[:, i], ".", color="tab:blue", markersize=3)
    ax.axhline(MSF_BOUNDS[0], color="tab:red", linestyle="--", linewidth=1,
               label=f"bounds {MSF_BOUNDS[0]:.3f}, {MSF_BOUNDS[1]:.3f}")
    ax.axhline(MSF_BOUNDS[1], color="tab:red", linestyle="--", linewidth=1)
    ax.axhline(0.25, color="k", linestyle=":", linewidth=1, label="uniform 0.25")
    ax.set_xticks(range(4), labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("weight", fontsize=_TICKS + 1)
    ax.legend(fontsize=_TICKS - 1, loc="upper right")
    _style(ax, title or f"weights: {w.min():.3f} .. {w.max():.3f}")
    return ax


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
    fig = _new_figure(fig, (6.4, 2.9 * len(items)))
    axes = fig.subplots(len(items), 2, squeeze=False, width_ratios=[1, 1.6])
    for (name, w), (ax_map, ax_bar) in zip(items, axes):
        scale_weight_heatmap(w, ax=ax_map, labels=labels)
        values = _weights(w, "scale_weights")
        scale_weight_bars(w, ax=ax_bar, labels=labels,
                          title=f"{name + ': ' if name else ''}{values.min():.3f} .. {values.max():.3f}")
    return fig


def msf_weight_limits(*, ax: Axes | None = None, margin: float = 8.0) -> Axes:
    """How far training can push one scale weight: the note's softmax(sigmoid) against plain softmax.

    One input's logit is +m and the other three are -m. Plain softmax sends the winner to 1 and
    the losers to 0; after the sigmoid the winner stops at e/(e+3) = 0.475 and the losers at
    1/(e+3) = 0.175 (the lower bound 0.109 needs three winners). A property of the formula, not of
    any weights, so it holds for untrained and trained blocks alike.
    """
    m = np.linspace(0, margin, 200)
    sig = 1 / (1 + np.exp(-m))
    curves = {
        "note: softmax(sigmoid)": (np.e**sig, np.e ** (1 - sig)),
        "plain softmax": (np.exp(m), np.exp(-m)),
    }
    ax = _new_axes(ax, (3.8, 2.7))
    for (name, (win, lose)), style in zip(curves.items(), ("-", "--")):
        total = win + 3 * lose
        ax.plot(m, win / total, style, color="tab:blue", label=f"winner ({name})")
        ax.plot(m, lose / total, style, color="tab:orange", label=f"each loser ({name})")
    for bound in MSF_BOUNDS:
        ax.axhline(bound, color="tab:red", linestyle=":", linewidth=1)
    ax.text(margin, MSF_BOUNDS[1] + 0.02, "0.475", color="tab:red", ha="right", fontsize=_TICKS)
    ax.text(margin, MSF_BOUNDS[0] - 0.06, "0.109", color="tab:red", ha="right", fontsize=_TICKS)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, margin)
    ax.set_xlabel("logit margin m (winner +m, others -m)", fontsize=_TICKS + 1)
    ax.set_ylabel("weight", fontsize=_TICKS + 1)
    ax.legend(fontsize=_TICKS - 1, loc="upper right", bbox_to_anchor=(1, 0.93))
    _style(ax, "how far one weight can go")
    return ax


# --------------------------------------------------------------------------- MFE branches and receptive fields

def branch_maps(branches: Mapping[str, Tensor] | Sequence[Tensor], *,
                fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel means of MFE's four branch maps y0..y3 on one shared colour scale.

    Each branch sees a wider window (3, 7, 15, 31 px with rates 2, 4, 8), so even untrained the
    maps get smoother from y0 to y3.

    Shape:
        branches: trace.tensors (keys ``"y0"`` .. ``"y3"``) or 4 tensors (B, C, H, W); batch item 0
    """
    ys = _pick(branches, ("y0", "y1", "y2", "y3"), "branch_maps")
    maps = [_channel_mean(y, "branch_maps", f"y{i}") for i, y in enumerate(ys)]
    return _shared_maps(maps, [f"y{i} (mean over C)" for i in range(4)], fig, "mean over C")


def _mfe_layers(block: nn.Module, func: str) -> list[nn.Module]:
    layers = [getattr(block, f"layer{i}", None) for i in range(1, 5)]
    if not isinstance(block, nn.Module) or any(layer is None for layer in layers):
        raise type_error(func, "block must be an MFEBlock (with layer1..layer4)", {"type(block)": type(block).__name__},
                         "Build one with data.block_for_photo('mfe') or MFEBlock(C, [2, 4, 8]).")
    return layers


def branch_erf(block: nn.Module, x: Tensor, *, centre: tuple[int, int] | None = None) -> Tensor:
    """Effective receptive field of each MFE branch: |d y_i[centre] / d x|, summed over channels.

    Runs the block once (in eval mode, restored afterwards, so BatchNorm uses running statistics
    and one pixel's output depends only on its window) with forward hooks on ``layer1..layer4``,
    whose outputs are y0..y3, and back-propagates the sum over channels of each branch's centre
    pixel. A pixel is nonzero only inside the branch's window, so the maps grow with the rates:
    radius 1, 1 + r1, 1 + r1 + r2, ... (1, 3, 7, 15 px for rates 2, 4, 8). This holds for an
    untrained block: the extent comes from the architecture, the values inside from the weights.

    Shape:
        x: (B, C, H, W) (batch item 0 used)
        out: (4, H, W), non-negative
    """
    layers = _mfe_layers(block, "branch_erf")
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise shape_error("branch_erf", "x must be (B, C, H, W)", {"x": got}, "Use data.block_inputs('mfe')[0].")
    H, W = x.shape[-2:]
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    if not (0 <= cy < H and 0 <= cx < W):
        raise value_error("branch_erf", f"centre must lie inside the {H}x{W} map", {"centre": (cy, cx)},
                          "Leave centre=None for the middle pixel.")
    outs: dict[int, Tensor] = {}
    hooks = [layer.register_forward_hook(lambda _m, _i, o, k=k: outs.__setitem__(k, o))
             for k, layer in enumerate(layers)]
    was_training = block.training
    try:
        block.eval()
        xg = x[:1].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            block(xg)
            maps = []
            for k in range(4):
                (grad,) = torch.autograd.grad(outs[k][0, :, cy, cx].sum(), xg, retain_graph=k < 3)
                maps.append(grad[0].abs().sum(dim=0))
    finally:
        for hook in hooks:
            hook.remove()
        block.train(was_training)
    return torch.stack(maps).detach()


def erf_radius(erf: Tensor | np.ndarray, *, centre: tuple[int, int] | None = None, rel: float = 0.0) -> list[int]:
    """Measured radius of each receptive field: the farthest pixel (in max(|dy|, |dx|)) above rel * max.

    Shape:
        erf: (K, H, W), e.g. from `branch_erf`
    """
    a = _ndim(erf, "erf_radius", "erf", {3: "(K, H, W)"})
    H, W = a.shape[-2:]
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    yy, xx = np.mgrid[0:H, 0:W]
    dist = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    return [int(dist[m > rel * m.max()].max()) if m.max() > 0 else 0 for m in a]


def erf_theory(atrous_rates: Sequence[int]) -> list[int]:
    """Receptive-field radius of MFE's branches: 1, then + each rate (cascaded 3x3 convs)."""
    radii = [1]
    for rate in atrous_rates:
        radii.append(radii[-1] + int(rate))
    return radii


def erf_maps(erf: Tensor | np.ndarray, *, atrous_rates: Sequence[int] | None = (2, 4, 8),
             centre: tuple[int, int] | None = None, log: bool = True,
             fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """The four receptive fields from `branch_erf`, each divided by its own maximum.

    Fixed scale: 1e-3..1 on a log axis (``log=True``, so weak outer taps stay visible) or 0..1.
    The dashed square is the theoretical window from ``atrous_rates``; titles give the measured
    radius. The dilated taps show as a grid of dots with gaps of the rate.

    Shape:
        erf: (4, H, W)
    """
    a = _ndim(erf, "erf_maps", "erf", {3: "(4, H, W)"})
    H, W = a.shape[-2:]
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    measured = erf_radius(a, centre=(cy, cx))
    theory = erf_theory(atrous_rates) if atrous_rates is not None else [None] * len(a)
    norm = colors.LogNorm(1e-3, 1, clip=True) if log else colors.Normalize(0, 1)
    fig = _new_figure(fig, (1.9 * len(a) + 0.9, 2.4))
    axes = fig.subplots(1, len(a), squeeze=False)[0]
    for i, (ax, m) in enumerate(zip(axes, a)):
        shown = m / m.max() if m.max() > 0 else m
        image = ax.imshow(np.maximum(shown, 1e-6) if log else shown, cmap=POSITIVE_CMAP, norm=norm,
                          interpolation="nearest")
        if theory[i] is not None:
            r = theory[i]
            ax.add_patch(Rectangle((cx - r - 0.5, cy - r - 0.5), 2 * r + 1, 2 * r + 1, fill=False,
                                   edgecolor="tab:cyan", linestyle="--", linewidth=1))
        text = f"y{i}: radius {measured[i]} px" + (f" (theory {theory[i]})" if theory[i] is not None else "")
        _style(ax, text, image=True)
    _colorbar(image, axes, "|grad| / max" + (" (log)" if log else ""))
    return fig


# --------------------------------------------------------------------------- SAFM

def safm_level_maps(levels: Tensor | np.ndarray, n_levels: int = 4, *,
                    fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel mean of each SAFM level after upsampling: level i is blocky in 2**i px squares.

    Level 0 keeps full resolution; level i was pooled to 1/2**i and upsampled by nearest
    neighbour. The blockiness is architectural and shows with an untrained block; the values are
    a random depthwise filter of the photo features. One shared, symmetric colour scale.

    Shape:
        levels: (B, C, H, W) as kept under trace key ``"levels"`` (the L levels concatenated on C)
    """
    a = _ndim(levels, "safm_level_maps", "levels", {4: "(B, C, H, W)", 3: "(C, H, W)"})
    a = a[0] if a.ndim == 4 else a
    if n_levels < 1 or a.shape[0] % n_levels:
        raise value_error("safm_level_maps", "the channels of levels must split into n_levels equal groups",
                          {"C": a.shape[0], "n_levels": n_levels}, "Pass n_levels=block.n_levels.")
    maps = [chunk.mean(axis=0) for chunk in np.split(a, n_levels, axis=0)]
    titles = [f"level {i}: {2**i} px blocks" for i in range(n_levels)]
    return _shared_maps(maps, titles, fig, "mean over the level's channels")


def _modulation(m: Tensor | np.ndarray, func: str) -> np.ndarray:
    return _ndim(m, func, "modulation", {4: "(B, C, H, W)", 3: "(C, H, W)"})


def modulation_map(modulation: Tensor | np.ndarray, *, ax: Axes | None = None) -> Axes:
    """Channel mean of SAFM's modulation map M = GELU(aggr(levels)), the factor that multiplies x.

    Colours: white is 0 (the feature is switched off), red amplifies, blue flips the sign. The
    scale is symmetric about 0 and reaches at least GELU's minimum -0.17 (marked on the colour bar),
    further only if M does (M has no upper bound). Untrained, M is a random 1x1 mix of the levels:
    close to 0 with faint photo structure.

    Shape:
        modulation: (B, C, H, W) as kept under trace key ``"modulation"`` (batch item 0)
    """
    m = _channel_mean(_modulation(modulation, "modulation_map"), "modulation_map", "modulation")
    ax = _new_axes(ax, (3.2, 2.7))
    high = max(-GELU_MIN, float(np.abs(m).max()))
    image = ax.imshow(m, cmap=SIGNED_CMAP, vmin=-high, vmax=high, interpolation="nearest")
    _style(ax, f"M, mean over C: {m.min():.2f}..{m.max():.2f}", image=True)
    bar = _colorbar(image, ax, "M")
    bar.ax.axhline(GELU_MIN, color="k", linewidth=1.5)
    return ax


def modulation_histogram(modulation: Tensor | np.ndarray, *, ax: Axes | None = None, bins: int = 60) -> Axes:
    """Histogram of every value of M, negative bins in blue, with 0 and GELU's minimum -0.17 marked.

    M is not a [0, 1] attention: it is unbounded above and dips below zero, so some features are
    amplified and some flipped (slightly). The title gives the share of negative values.

    Shape:
        modulation: any shape, e.g. (B, C, H, W)
    """
    v = _modulation(modulation, "modulation_histogram").ravel()
    ax = _new_axes(ax, (3.4, 2.6))
    low = min(GELU_MIN - 0.05, float(v.min()))
    counts, edges, patches = ax.hist(v, bins=bins, range=(low, float(v.max())), color="tab:red")
    for patch, left in zip(patches, edges[:-1]):
        if left < 0:
            patch.set_facecolor("tab:blue")
    ax.axvline(0, color="k", linewidth=1)
    ax.axvline(GELU_MIN, color="k", linestyle="--", linewidth=1, label=f"GELU min {GELU_MIN:.2f}")
    ax.set_xlabel("M", fontsize=_TICKS + 1)
    ax.set_ylabel("count", fontsize=_TICKS + 1)
    ax.legend(fontsize=_TICKS, loc="upper right")
    _style(ax, f"M values: {100 * (v < 0).mean():.0f}% negative, max {v.max():.2f}")
    return ax


def safm_modulation(modulation: Tensor | np.ndarray, *, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """`modulation_map` and `modulation_histogram` side by side.

    Shape:
        modulation: (B, C, H, W)
    """
    fig = _new_figure(fig, (7.0, 2.8))
    ax_map, ax_hist = fig.subplots(1, 2, width_ratios=[1, 1.2])
    modulation_map(modulation, ax=ax_map)
    modulation_histogram(modulation, ax=ax_hist)
    return fig


# --------------------------------------------------------------------------- OSRA

def _key_cell(q: int, sr_ratio: int) -> float:
    """Position on the key grid whose window is centred on input row/column q."""
    if sr_ratio == 1:
        return float(q)
    kernel, pad = sr_ratio + 3, (sr_ratio + 3) // 2
    return (q + pad - (kernel - 1) / 2) / sr_ratio


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
    a = _ndim(attn, "query_attention", "attn", {4: "(B, nh, H*W, H'*W')", 3: "(nh, H*W, H'*W')"})
    a = a[0] if a.ndim == 4 else a
    H, W = size
    Hr, Wr = reduced_size(H, sr_ratio), reduced_size(W, sr_ratio)
    if a.shape[1:] != (H * W, Hr * Wr):
        raise shape_error("query_attention", f"attn must be (nh, {H * W}, {Hr * Wr}) for size=({H}, {W}) and "
                          f"sr_ratio={sr_ratio}", {"attn.shape": tuple(a.shape)},
                          "Pass the input's size and the block's sr_ratio.")
    qy, qx = query
    if not (0 <= qy < H and 0 <= qx < W):
        raise value_error("query_attention", f"query must lie inside the {H}x{W} input", {"query": (qy, qx)},
                          f"Try query=({H // 2}, {W // 2}).")
    M = Hr * Wr
    heads = list(range(a.shape[0])) if heads is None else list(heads)
    rows = a[:, qy * W + qx].reshape(a.shape[0], Hr, Wr)
    maps = [(rows[h], f"head {h}") for h in heads] + [(rows[heads].mean(axis=0), "mean of heads")]
    panels = len(maps) + 1
    ncols = min(panels, 5)
    nrows = math.ceil(panels / ncols)
    fig = _new_figure(fig, (1.75 * ncols + 0.9, 1.9 * nrows + 0.3))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    if image is not None:
        axes[0].imshow(to_image(image), interpolation="nearest")
    else:
        axes[0].imshow(np.full((H, W), 0.85), cmap="gray", vmin=0, vmax=1)
    axes[0].plot(qx, qy, "x", color="cyan", markersize=8, markeredgewidth=2)
    _style(axes[0], f"query ({qy}, {qx}) of {H}x{W}", image=True)
    if relative:
        norm, cmap, label = colors.LogNorm(0.1, 10, clip=False), SIGNED_CMAP, "attention x M  (1 = uniform 1/M)"
    else:
        norm = colors.Normalize(0, max(float(m.max()) for m, _ in maps))
        cmap, label = POSITIVE_CMAP, "attention probability"
    ky, kx = _key_cell(qy, sr_ratio), _key_cell(qx, sr_ratio)
    for ax, (m, title) in zip(axes[1:], maps):
        shown = m * M if relative else m
        mappable = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
        ax.plot(kx, ky, "+", color="k" if relative else "cyan", markersize=7, markeredgewidth=1.5)
        _style(ax, f"{title}: max {m.max():.4f}", image=True)
    for ax in axes[panels:]:
        ax.set_axis_off()
    # relative: values outside 0.1..10 take the end colours, which the colour bar's arrows show
    bar = _colorbar(mappable, list(axes[1:panels]), label, extend="both" if relative else "neither")
    if not relative:
        bar.ax.axhline(1.0 / M, color="cyan", linewidth=1.5)
    fig.suptitle(f"key grid {Hr}x{Wr} (M = {M} keys, uniform 1/M = {1 / M:.4f})", fontsize=_TITLE)
    return fig


def reduction_plot(size: int = 32, ratios: Sequence[int] = tuple(range(1, 9)), *, ax: Axes | None = None) -> Axes:
    """Side H' of OSRA's key grid against sr_ratio r, for an input of size x size.

    The strided conv (kernel r+3, padding (r+3)//2) gives ceil(H/r) for even r and H//r + 1 for
    odd r; the dashed line is H/r. Labels give H' x W' and the number of keys M per query.
    """
    ax = _new_axes(ax, (4.6, 2.8))
    rs = [int(r) for r in ratios]
    sides = [reduced_size(size, r) for r in rs]
    ax.bar(rs, sides, color="tab:green", alpha=0.7, width=0.6, label="H' (key grid side)")
    fine = np.linspace(min(rs), max(rs), 200)
    ax.plot(fine, size / fine, "k--", linewidth=1, label=f"{size}/r")
    for r, s in zip(rs, sides):
        ax.text(r, s + size * 0.03, f"{s}x{s}\nM={s * s}", ha="center", va="bottom", fontsize=_TICKS - 1,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))
    ax.set_xticks(rs)
    ax.set_xlabel("sr_ratio r", fontsize=_TICKS + 1)
    ax.set_ylabel("H'", fontsize=_TICKS + 1)
    ax.set_ylim(0, size * 1.3)
    ax.legend(fontsize=_TICKS, loc="upper right")
    _style(ax, f"key grid for H = W = {size}: N = {size * size} queries, M keys each")
    return ax


# --------------------------------------------------------------------------- MSAA and the CBAM variant

def channel_gate_bars(gate: Tensor | np.ndarray, *, ax: Axes | None = None, title: str = "channel gate") -> Axes:
    """A sigmoid channel gate as bars on the fixed range 0..1 (dotted: 0.5 = sigmoid(0)).

    Works for MSAA's ``"fusion_conv.channel_gate"`` (B, D, 1, 1) and the CBAM variant's
    ``"channel_weight"`` (B, C, 1, 1). Untrained, the bars scatter around 0.5.

    Shape:
        gate: (B, D, 1, 1) (batch item 0) or (D,)
    """
    g = _ndim(gate, "channel_gate_bars", "gate", {4: "(B, D, 1, 1)", 1: "(D,)"})
    g = g[0, :, 0, 0] if g.ndim == 4 else g
    ax = _new_axes(ax, (3.6, 2.4))
    ax.bar(range(len(g)), g, color="tab:orange", width=0.8)
    ax.axhline(0.5, color="k", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.7, len(g) - 0.3)
    ax.set_xlabel("channel", fontsize=_TICKS + 1)
    ax.set_ylabel("weight", fontsize=_TICKS + 1)
    _style(ax, f"{title}: {g.min():.2f} .. {g.max():.2f}")
    return ax


def spatial_gate_map(gate: Tensor | np.ndarray, *, image: Tensor | np.ndarray | None = None,
                     ax: Axes | None = None, alpha: float = 0.7, title: str = "spatial gate") -> Axes:
    """A sigmoid spatial gate on the fixed scale 0..1, optionally over the photo (grey underneath).

    Works for MSAA's ``"fusion_conv.spatial_gate"`` and the CBAM variant's ``"spatial_weight"``.
    Untrained, both sit near 0.5: MSAA's (a 7x7 conv of channel statistics) with faint photo
    structure, the CBAM variant's (a joint MLP over all positions) almost flat. Training spreads them.

    Shape:
        gate: (B, 1, H, W) (batch item 0) or (H, W); image: (1, 3, H, W) or (3, H, W)
    """
    g = _ndim(gate, "spatial_gate_map", "gate", {4: "(B, 1, H, W)", 2: "(H, W)"})
    g = g[0, 0] if g.ndim == 4 else g
    ax = _new_axes(ax, (3.2, 2.7))
    if image is not None:
        ax.imshow(_grey(image), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    mappable = ax.imshow(g, cmap=GATE_CMAP, vmin=0, vmax=1, alpha=alpha if image is not None else 1.0,
                         interpolation="nearest")
    _style(ax, f"{title}: {g.min():.2f} .. {g.max():.2f}", image=True)
    _colorbar(plt.cm.ScalarMappable(norm=mappable.norm, cmap=mappable.cmap), ax, "weight", ticks=[0, 0.5, 1])
    return ax


def kernel_responses(responses: Mapping[str, Tensor] | Sequence[Tensor], *,
                     fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Channel means of MSAA's 3x3, 5x5 and 7x7 branch responses on one shared, symmetric scale.

    Their sum S feeds the spatial gate. Untrained, the three differ mainly in smoothness.

    Shape:
        responses: trace.tensors (keys ``"fusion_conv.r3"``, ``.r5``, ``.r7``) or 3 tensors (B, D, H, W)
    """
    rs = _pick(responses, ("r3", "r5", "r7"), "kernel_responses")
    maps = [_channel_mean(r, "kernel_responses", n) for r, n in zip(rs, ("r3", "r5", "r7"))]
    return _shared_maps(maps, ["3x3 branch", "5x5 branch", "7x7 branch"], fig, "mean over D")


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
                         {"type(block)": type(block).__name__}, "Build one with data.block_for_photo('cbam_joint').")
    weight = block.MLP[2].weight.detach().float().cpu()[block.channel:, :, 0, 0]
    HW, hidden = weight.shape
    if hw is None:
        side = math.isqrt(HW)
        if side * side != HW:
            raise value_error("cbam_basis_maps", "hw=(H, W) is needed when H*W is not a square", {"HW": HW},
                              "Pass hw=(H, W) of the block's input.")
        hw = (side, side)
    if hw[0] * hw[1] != HW:
        raise value_error("cbam_basis_maps", f"hw must multiply to the block's HW={HW}", {"hw": hw},
                          "Pass the H and W the block was built for.")
    maps = weight.T.reshape(hidden, *hw).numpy()
    ncols = max(1, min(ncols, hidden))
    nrows = math.ceil(hidden / ncols)
    fig = _new_figure(fig, (1.05 * ncols + 0.9, 1.25 * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    high = float(np.abs(maps).max()) or 1.0
    for k, ax in enumerate(axes):
        if k < hidden:
            image = ax.imshow(maps[k], cmap=SIGNED_CMAP, vmin=-high, vmax=high, interpolation="nearest")
            _style(ax, f"unit {k}", image=True)
        else:
            ax.set_axis_off()
    _colorbar(image, list(axes[:hidden]), "weight")
    fig.suptitle(f"{hidden} spatial basis maps ({hw[0]}x{hw[1]}) of the joint MLP", fontsize=_TITLE)
    return fig
