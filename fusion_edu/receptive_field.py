"""Effective receptive fields: which input pixels move one output pixel, measured with autograd.

`erf` is the one computation: ``|d out[:, :, centre] / d x|`` summed over the batch and the input
channels, for each output of a function. The MFE figures use it through `branch_erf` (one map per
branch y0..y3 of an MFEBlock), and the MFE training demo on its whole model (`fusion_edu.learn.mfe`).
`erf_radius` measures how far a map reaches and `erf_theory` says how far MFE's cascade should reach.

Example:
    >>> import torch
    >>> conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> field = erf(conv, torch.randn(1, 1, 9, 9))
    >>> field.shape, erf_radius(field[None])
    (torch.Size([9, 9]), [1])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .errors import shape_error, type_error, value_error

__all__ = ["erf", "branch_erf", "erf_radius", "erf_theory"]


def _centre(func: str, size: tuple[int, int], centre: tuple[int, int] | None) -> tuple[int, int]:
    H, W = size
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    if not (0 <= cy < H and 0 <= cx < W):
        raise value_error(func, f"centre must lie inside the {H}x{W} map", {"centre": (cy, cx)},
                          "Leave centre=None for the middle pixel.", zh=f"centre 必须落在 {H}x{W} 的图内",
                          zh_hint="不传 centre 就取中心像素。")
    return cy, cx


def erf(forward: Callable[[Tensor], Tensor | Sequence[Tensor]], x: Tensor, *,
        centre: tuple[int, int] | None = None) -> Tensor:
    """Effective receptive field of each output of ``forward(x)`` at one output pixel.

    For every output ``out`` (a tensor, or each tensor of a sequence), back-propagates the sum over
    the batch and channels of ``out[:, :, cy, cx]`` and returns ``|d/dx|`` summed over the batch
    and the input channels. Gradients go to `x` only: the parameters' ``.grad`` are left alone.

    Args:
        forward: A module or function of one (n, C, H, W) tensor.
        x: The input; it is copied, so its own ``requires_grad`` does not matter.
        centre: (row, col) of the output pixel (default: the middle of each output).

    Shape:
        x: (n, C, H, W); outputs: (n, C', H', W')
        out: (H, W) for one output, (K, H, W) for K outputs; non-negative
    """
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise shape_error("erf", "x must be (n, C, H, W)", {"x": got}, "Pass a batch of images.",
                          zh="x 必须是 (n, C, H, W)", zh_hint="请传入一批图像。")
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        outs = forward(xg)
        single = isinstance(outs, Tensor)
        outs = [outs] if single else list(outs)
        maps = []
        for k, out in enumerate(outs):
            cy, cx = _centre("erf", tuple(out.shape[-2:]), centre)
            (grad,) = torch.autograd.grad(out[:, :, cy, cx].sum(), xg, retain_graph=k < len(outs) - 1)
            maps.append(grad.abs().sum(dim=(0, 1)))
    return maps[0] if single else torch.stack(maps)


def _mfe_layers(block: nn.Module, func: str) -> list[nn.Module]:
    layers = [getattr(block, f"layer{i}", None) for i in range(1, 5)]
    if not isinstance(block, nn.Module) or any(layer is None for layer in layers):
        raise type_error(func, "block must be an MFEBlock (with layer1..layer4)", {"type(block)": type(block).__name__},
                         "Build one with data.block_for_photo('mfe') or MFEBlock(C, [2, 4, 8]).",
                         zh="block 必须是 MFEBlock（带 layer1..layer4）",
                         zh_hint="可用 data.block_for_photo('mfe') 或 MFEBlock(C, [2, 4, 8]) 构建。")
    return layers


def branch_erf(block: nn.Module, x: Tensor, *, centre: tuple[int, int] | None = None) -> Tensor:
    """Effective receptive field of each MFE branch: `erf` of y0..y3 for batch item 0.

    Runs the block once in eval mode (restored afterwards, so BatchNorm uses running statistics and
    one pixel's output depends only on its window) with forward hooks on ``layer1..layer4``, whose
    outputs are y0..y3. A pixel is nonzero only inside the branch's window, so the maps grow with
    the rates: radius 1, 1 + r1, 1 + r1 + r2, ... (1, 3, 7, 15 px for rates 2, 4, 8). This holds for
    an untrained block: the extent comes from the architecture, the values inside from the weights.

    Shape:
        x: (B, C, H, W) (batch item 0 used)
        out: (4, H, W), non-negative
    """
    layers = _mfe_layers(block, "branch_erf")
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise shape_error("branch_erf", "x must be (B, C, H, W)", {"x": got}, "Use data.block_inputs('mfe')[0].",
                          zh="x 必须是 (B, C, H, W)", zh_hint="可用 data.block_inputs('mfe')[0]。")
    _centre("branch_erf", tuple(x.shape[-2:]), centre)

    def branches(inp: Tensor) -> list[Tensor]:
        outs: dict[int, Tensor] = {}
        hooks = [layer.register_forward_hook(lambda _m, _i, o, k=k: outs.__setitem__(k, o))
                 for k, layer in enumerate(layers)]
        try:
            block(inp)
        finally:
            for hook in hooks:
                hook.remove()
        return [outs[k] for k in range(4)]

    was_training = block.training
    try:
        block.eval()
        return erf(branches, x[:1], centre=centre).detach()
    finally:
        block.train(was_training)


def erf_radius(field: Tensor | np.ndarray, *, centre: tuple[int, int] | None = None, rel: float = 0.0) -> list[int]:
    """Measured radius of each receptive field: the farthest pixel (in max(|dy|, |dx|)) above rel * max.

    Shape:
        field: (K, H, W), e.g. from `branch_erf`
    """
    a = field.detach().float().cpu().numpy() if isinstance(field, Tensor) else np.asarray(field, dtype=np.float32)
    if a.ndim != 3:
        raise shape_error("erf_radius", "field must be (K, H, W)", {"field.shape": tuple(a.shape)},
                          "Pass the output of branch_erf, or field[None] for one map.",
                          zh="field 必须是 (K, H, W)", zh_hint="传入 branch_erf 的结果；单张图用 field[None]。")
    H, W = a.shape[-2:]
    cy, cx = centre if centre is not None else (H // 2, W // 2)
    yy, xx = np.mgrid[0:H, 0:W]
    dist = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    return [int(dist[m > rel * m.max()].max()) if m.max() > 0 else 0 for m in a]


def erf_theory(atrous_rates: Sequence[int]) -> list[int]:
    """Receptive-field radius of MFE's branches: 1, then + each rate (cascaded 3x3 convs).

    Example:
        >>> erf_theory([2, 4, 8])
        [1, 3, 7, 15]
    """
    radii = [1]
    for rate in atrous_rates:
        radii.append(radii[-1] + int(rate))
    return radii
