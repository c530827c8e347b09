"""Figures of what the blocks compute, drawn from ``trace(block, *inputs, keep=True).tensors``.

Every function draws one quantity: single-panel functions take ``ax=None`` and return the Axes,
multi-panel ones take ``fig=None`` (a Figure or SubFigure to fill) and return it. With None they
create a new figure through pyplot, so a notebook shows it (end the line with ``;``). Nothing here
calls ``plt.show()`` or changes the global rcParams. Text follows the course language
(``fusion_edu.lang.set_lang``, or ``lang=`` on any function), and ``style.set_scale(1.6)`` makes all
figure text large for a projector: see `fusion_edu.plots.style`.

Colour scales are fixed wherever the quantity has fixed bounds (gates and weights: 0..1), and
shared between the panels of one figure otherwise, so a colour means the same value everywhere
and noise is not stretched into structure. With an untrained block several maps are close to
constant or to noise; the docstrings say which, and the fixed scales show it honestly.

Modules: `style` (colours, sizes, language, font, helpers), `fusion` (gated fusion), `scales`
(MSF/MFE weights and receptive fields), `safm`, `osra`, `gates` (MSAA and the CBAM variant).

Typical use::

    from fusion_edu import data, plots, trace
    model, inputs = data.block_for_photo("safm")
    t = trace(model, *inputs, keep=True)
    plots.safm_level_maps(t.tensors["levels"], n_levels=model.n_levels)
"""

from . import style
from .fusion import fusion_panels, gate_channel_maps, gate_histogram, gate_mean_map
from .gates import cbam_basis_maps, channel_gate_bars, kernel_responses, spatial_gate_map
from .osra import query_attention, reduction_plot
from .safm import (
    line_response,
    modulation_histogram,
    modulation_map,
    safm_aliasing,
    safm_level_maps,
    safm_modulation,
)
from .scales import branch_maps, erf_maps, msf_weight_limits, scale_weight_bars, scale_weight_heatmap, scale_weights
from .style import GELU_MIN, MSF_BOUNDS

__all__ = ["style", "MSF_BOUNDS", "GELU_MIN", "gate_mean_map", "gate_channel_maps", "gate_histogram",
           "fusion_panels", "scale_weight_heatmap", "scale_weight_bars", "scale_weights", "msf_weight_limits",
           "branch_maps", "erf_maps", "safm_level_maps", "modulation_map", "modulation_histogram", "safm_modulation",
           "safm_aliasing", "line_response",
           "query_attention", "reduction_plot", "channel_gate_bars", "spatial_gate_map", "kernel_responses",
           "cbam_basis_maps"]
