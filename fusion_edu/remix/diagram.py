"""Redrawing a remix ("重新画个图"): its torchview graph at a chosen depth, saved as SVG and PNG.

Pictures need the Graphviz ``dot`` program. Without it `export_diagram` still writes the graph's DOT
source (``.gv``, which any Graphviz install or online viewer turns into a picture later), skips the
pictures and says so, instead of raising.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import value_error
from ..lang import pick
from .recipe import as_recipe

__all__ = ["draw", "export_diagram", "DiagramFiles", "FORMATS"]

FORMATS = ("svg", "png")  # the default: pictures, drawn by Graphviz's `dot`
_ALL_FORMATS = (*FORMATS, "gv")  # "gv": the DOT source, written without `dot`


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


class DiagramFiles(list):
    """The files `export_diagram` wrote, in order (a list of paths), and the formats it had to skip.

    In JupyterLab it shows the diagram; without Graphviz's ``dot``, one line that says what was
    written and how to install Graphviz (zh + en), then the shape trace in place of the picture.

    Attributes:
        skipped: The requested picture formats not written because ``dot`` is missing; empty when
            every requested file was written.
        graph: The drawn `fusion_edu.graph.Graph`.
    """

    def __init__(self, paths: list[Path], *, skipped: tuple[str, ...], graph: Any):
        super().__init__(paths)
        self.skipped = skipped
        self.graph = graph

    def _repr_html_(self) -> str:
        from ..graph import INSTALL_HINT

        names = ", ".join(p.name for p in self) or "-"
        skipped = [f.upper() for f in self.skipped]
        line = pick(f"未找到 Graphviz 的 dot 程序：已写出 {names}，未生成 {'、'.join(skipped)}，"
                    "下面改为显示形状追踪表。"
                    f"安装：{INSTALL_HINT}",
                    f"Graphviz `dot` was not found: wrote {names}, skipped {', '.join(skipped)}; the shape trace is "
                    f"shown instead. Install: {INSTALL_HINT}")
        return self.graph.html(missing=line if self.skipped else None)

    def __repr__(self) -> str:
        return f"DiagramFiles({list.__repr__(self)}, skipped={self.skipped!r})"


def export_diagram(item: Any, path_stem: str | Path, *, depth: int | None = 2, formats: tuple[str, ...] = FORMATS,
                   B: int = 1, C: int = 8, H: int = 16, W: int = 16) -> DiagramFiles:
    """Saves the graph of a remix as ``<path_stem>.svg`` and/or ``.png`` (or ``.gv``, the DOT source).

    Without the Graphviz ``dot`` program the pictures are skipped, not raised on: the DOT source
    ``<path_stem>.gv`` is written instead, and the result's ``skipped`` names what is missing.

    Args:
        item: Anything `as_recipe` takes (module, recipe, builder or catalog key).
        path_stem: The file name without suffix; its folder is created.
        depth: How many levels of nested modules to open.
        formats: Any of ``"svg"``, ``"png"``, ``"gv"``.
        B, C, H, W: Dims of the example input.

    Returns:
        `DiagramFiles`: the paths written (a list) with ``skipped`` and ``graph``; in JupyterLab it
        shows the diagram, or the install hint and the shape trace.

    Example: ``export_diagram(Residual(Parallel(SAFM(8), MFEBlock(8, [2, 4, 8]), fuse="msf")), "my_block", depth=2)``.
    """
    from ..graph import GraphvizNotFoundError

    if isinstance(formats, str) or not formats or any(f not in _ALL_FORMATS for f in formats):
        raise value_error("export_diagram", f"formats must be a non-empty tuple from {_ALL_FORMATS}",
                          {"formats": formats}, "Example: formats=('svg', 'png').",
                          zh=f"formats 只能取 {_ALL_FORMATS} 中的值", zh_hint="例如 formats=('svg', 'png')。")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    drawn = draw(item, depth=depth, B=B, C=C, H=H, W=W)
    written: list[Path] = []
    skipped: list[str] = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "gv":
            path.write_text(drawn.source, encoding="utf-8")
        else:
            try:
                drawn.save(path)
            except GraphvizNotFoundError:
                skipped.append(fmt)
                continue
        written.append(path)
    if skipped and "gv" not in formats:
        path = stem.with_name(f"{stem.name}.gv")
        path.write_text(drawn.source, encoding="utf-8")
        written.append(path)
    return DiagramFiles(written, skipped=tuple(skipped), graph=drawn)

