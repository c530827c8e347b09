"""Remix the note's blocks (增删改查): wire them, swap their parts, measure and redraw the result.

* 增 add: `Residual` (skip connection), `Series`, `Parallel` with ``fuse="add" | "concat" | "gated" |
  "msf"`` or any fusion module; adapters `ChannelAdapter`, `ChannelsLast`, `ToChannelsLast`,
  `ToNCHW`, `CBAMCombine`, `Pick`, `AtScale` (pool down, run, upsample back).
* 改 modify: `variant(key, **swaps)` and `VARIANTS` (SAFM pooling, MFE conv type, MSF/MFE scale
  weighting incl. coordinate attention, channel-only gates); the classes `MFEVariant`,
  `MSFCoord`, `CoordScaleWeights`, `MSAAChannelOnly`, `CBAMChannelOnly`.
* 删 delete: the channel-only variants; `param_diff(base, variant)` says what went.
* 查 look: `fusion_edu.trace(composite, x)`, `meta_trace(recipe, C=...)`, `compare([...])`,
  `plot_comparison`, `render` (HTML for an explorer), `draw` / `export_diagram` (SVG, PNG).

Example:
    >>> import torch
    >>> from fusion_edu.blocks import SAFM, MFEBlock
    >>> from fusion_edu import remix
    >>> block = remix.Residual(remix.Parallel(SAFM(8), MFEBlock(8, [2, 4, 8]), fuse="msf"))
    >>> block.eval()(torch.randn(1, 8, 16, 16)).shape
    torch.Size([1, 8, 16, 16])
"""

from .adapters import CBAM_MODES, AtScale, CBAMCombine, ChannelAdapter, ChannelsLast, Pick, ToChannelsLast, ToNCHW
from .composites import FUSIONS, MSF_PADS, Parallel, Residual, Series
from .diagram import draw, export_diagram
from .hosts import SmallHost, resnet18
from .measure import Comparison, ParamDiff, compare, count, param_diff, param_table, plot_comparison, render
from .ports import Ports, ports
from .recipe import SWAPS, VARIANTS, Recipe, as_recipe, meta_trace, variant
from .stitch import Stitched, StitchPoint, stitch
from .variants import (
    CONVS,
    SCALE_WEIGHTINGS,
    CBAMChannelOnly,
    CoordScaleWeights,
    DepthwiseSeparableConv,
    MFEVariant,
    MSAAChannelOnly,
    MSFCoord,
)

__all__ = [
    "Residual", "Series", "Parallel", "ChannelAdapter", "ChannelsLast", "ToChannelsLast", "ToNCHW", "CBAMCombine",
    "Pick", "AtScale", "Ports", "ports", "FUSIONS", "MSF_PADS", "CBAM_MODES",
    "MFEVariant", "MSFCoord", "CoordScaleWeights", "DepthwiseSeparableConv", "MSAAChannelOnly", "CBAMChannelOnly",
    "CONVS", "SCALE_WEIGHTINGS", "Recipe", "as_recipe", "variant", "VARIANTS", "SWAPS", "meta_trace",
    "ParamDiff", "param_diff", "param_table", "count", "Comparison", "compare", "plot_comparison",
    "render", "draw", "export_diagram", "stitch", "Stitched", "StitchPoint", "resnet18", "SmallHost",
]
