"""Redrawing a remix ("重新画个图"): its torchview graph at a chosen depth, saved as SVG and PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import value_error
from .recipe import as_recipe

__all__ = ["draw", "export_diagram", "FORMATS"]

FORMATS = ("svg", "png")


def draw(item: Any, *, depth: int | None = 2, B: int = 1, C: int = 8, H: int = 16, W: int = 16) -> Any:
    """The graph of a remix (module, recipe, builder or key), built on the meta device.

    Returns `fusion_edu.graph.draw`'s `Graph` (``save(path)``, ``_repr_svg_``). A built module is
    drawn from a copy, so the original is never moved or changed. Depth 1 shows the composite's
    own parts (branches, fusion, the residual add); 2 opens each block one level; 3+ gets large.

    Args:
        item: Anything `as_recipe` takes.
        depth: How many levels of nested modules to open (1: only the composite's own parts).
        B, C, H, W: Dims of the example input (small: the graph does not depend on them).
    """
    from .. import graph

    module, inputs = as_recipe(item).build(B=B, C=C, H=H, W=W, device="meta")
    return graph.draw(module.eval(), inputs, depth=depth)


def export_diagram(item: Any, path_stem: str | Path, *, depth: int | None = 2, formats: tuple[str, ...] = FORMATS,
                   B: int = 1, C: int = 8, H: int = 16, W: int = 16) -> list[Path]:
    """Saves the graph of a remix as ``<path_stem>.svg`` and/or ``.png``; returns the paths written.

    Example: ``export_diagram(Residual(Parallel(SAFM(8), MFEBlock(8, [2, 4, 8]), fuse="msf")), "my_block", depth=2)``.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise value_error("export_diagram", f"formats must be a non-empty tuple from {FORMATS}", {"formats": formats},
                          "Example: formats=('svg', 'png').", zh=f"formats 只能取 {FORMATS} 中的值",
                          zh_hint="例如 formats=('svg', 'png')。")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    drawn = draw(item, depth=depth, B=B, C=C, H=H, W=W)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        drawn.save(path)
        paths.append(path)
    return paths
