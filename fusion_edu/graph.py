"""torchview graphs of the blocks, with project defaults, that never touch the caller's module.

``draw("osra")`` builds the block from the catalog on the meta device; ``draw(model, inputs)``
draws a meta twin of `model` (same structure, parameters replaced by empty meta tensors), so the
caller's module stays on its device, in its train/eval mode, with its weights. The result shows
itself in JupyterLab as SVG; ``save("osra.svg")`` / ``save("osra.png")`` write files. Rendering
needs the Graphviz ``dot`` program: without it the result shows one line with install hints and
the shape trace instead of a traceback.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .blocks import BLOCKS, get_spec
from .errors import type_error, value_error
from .lang import pick
from .shapeonly import meta_twin
from .trace import Trace, trace

__all__ = ["draw", "Graph", "DEPTHS", "INSTALL_HINT", "GraphvizNotFoundError", "dot_available"]

# How deep each block's graph goes: deep enough to show the branches, gates and attention
# steps, shallow enough to stay readable (checked by eye on the rendered PNGs).
DEPTHS: dict[str, int] = {
    "gated_fusion": 1,  # fc1, fc2, the gate and the two products: everything is at depth 1
    "msf": 2,  # opens `project` (conv, BN, ReLU); the four SE_i convs and the weighting stay visible
    "mfe": 1,  # the cascade layer1..layer4 with their dilations; depth 2 doubles the height for little
    "safm": 1,  # the L levels side by side: pool, depthwise conv, upsample
    "osra": 2,  # opens `sr`, the overlapping strided conv that shrinks keys and values
    "msaa": 3,  # opens the channel gate and the spatial gate inside fusion_conv
    "cbam_joint": 2,  # opens both descriptors and the joint MLP over C + H*W
}
DEFAULT_DEPTH = 2

INSTALL_HINT = "sudo apt-get install graphviz | brew install graphviz | conda install -c conda-forge graphviz"
_NOT_FOUND = "未找到 Graphviz 的 dot 程序 / Graphviz `dot` was not found. Install: " + INSTALL_HINT
_MISSING_ZH = "未找到 Graphviz 的 dot 程序，下面改为显示形状追踪表。安装："
_MISSING_EN = "Graphviz `dot` was not found; the shape trace is shown instead. Install: "


def _missing_line() -> str:
    """The hint shown in place of a graph, in the course language."""
    return pick(_MISSING_ZH, _MISSING_EN) + INSTALL_HINT


class GraphvizNotFoundError(RuntimeError):
    """Raised by `Graph.save` when the Graphviz ``dot`` program is not installed."""



def _meta_inputs(inputs: Any) -> list[Any]:
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    if not isinstance(inputs, Sequence):
        raise type_error("graph.draw", "inputs must be a tensor or a list of tensors", {"type": type(inputs).__name__},
                         "Example: model, inputs = BLOCKS['osra'].demo(); draw(model, inputs).",
                         zh="inputs 必须是张量或张量列表", zh_hint="例如 model, inputs = BLOCKS['osra'].demo()。")
    return [torch.empty_like(x, device="meta") if isinstance(x, Tensor) else x for x in inputs]


def _key_of(module: nn.Module) -> str | None:
    return next((k for k, s in BLOCKS.items() if type(module) is s.cls), None)


def draw(key_or_module: str | nn.Module, inputs: Any = None, *, depth: int | None = None,
         **values: Any) -> Graph:
    """Draws a block's computation graph with torchview (on meta, so any size is instant).

    Args:
        key_or_module: A catalog key (``"osra"``), built with `values` over the catalog defaults;
            or a module, drawn as a meta twin so that the module itself is never moved.
        inputs: The forward inputs when a module is given (a tensor or a list; only their shapes
            are used). Not used with a key.
        depth: How many levels of submodules to open; default `DEPTHS[key]`.
        **values: With a key: B, C, H, W and hyperparameters, as in ``BLOCKS[key].build``.

    Returns:
        A `Graph`; it displays as SVG in JupyterLab and has ``save(path)`` and ``source`` (DOT).

    Example:
        >>> g = draw("safm", C=8, H=16, W=16)
        >>> "SAFM" in g.source
        True
    """
    if isinstance(key_or_module, str):
        spec = get_spec(key_or_module)
        if inputs is not None:
            raise value_error("graph.draw", "inputs are built from the catalog when a key is given",
                              {"inputs": type(inputs).__name__},
                              f"Pass sizes instead, e.g. draw({spec.key!r}, C=16, H=32), or pass a module.",
                              zh="给定模块名时输入由目录生成", zh_hint=f"请改传尺寸，例如 draw({spec.key!r}, C=16)。")
        module, meta_inputs = spec.build(device="meta", **values)
        key = spec.key
    elif isinstance(key_or_module, nn.Module):
        if values:
            raise value_error("graph.draw", "sizes and hyperparameters apply to a catalog key, not to a module",
                              {"values": sorted(values)}, "Build the module you want and pass it with its inputs.",
                              zh="尺寸与超参数只能配合模块名使用", zh_hint="请先构建想要的模块，再连同输入一起传入。")
        if inputs is None:
            raise value_error("graph.draw", "inputs are required when a module is given", {"inputs": None},
                              "Example: model, inputs = BLOCKS['osra'].demo(); draw(model, inputs).",
                              zh="传入模块时必须同时给出 inputs",
                              zh_hint="例如 model, inputs = BLOCKS['osra'].demo()。")
        module, meta_inputs = meta_twin(key_or_module), _meta_inputs(inputs)
        key = _key_of(key_or_module)
    else:
        raise type_error("graph.draw", "the first argument must be a catalog key or an nn.Module",
                         {"type": type(key_or_module).__name__}, f"Keys: {list(BLOCKS)}.",
                         zh="第一个参数必须是模块名或 nn.Module", zh_hint=f"可用的模块名：{list(BLOCKS)}。")
    if depth is None:
        depth = DEPTHS.get(key, DEFAULT_DEPTH)
    title = _title(key, module)
    import torchview

    try:
        graph = torchview.draw_graph(module, input_data=list(meta_inputs), device="meta", depth=depth,
                                     graph_name=title, expand_nested=True, roll=False, hide_inner_tensors=True,
                                     hide_module_functions=True, mode="train" if module.training else "eval")
    except (ValueError, TypeError):
        raise
    except Exception as e:
        raise RuntimeError(f"graph.draw: torchview failed on {type(module).__name__}: {e}") from e
    names = BLOCKS[key].inputs if key is not None else ()
    _relabel(graph, module, names, title)
    return Graph(graph, module, list(meta_inputs), key, title)


def _relabel(graph: Any, module: nn.Module, input_names: Sequence[str], title: str) -> None:
    """Makes torchview's labels read like the source: attribute names, conv shapes, input names, no depth.

    torchview labels a module node with its class only (OSRA shows three plain ``Conv2d`` boxes);
    this puts the attribute name on top (``q``, ``kv``, ``local_conv``, relative to the dashed box
    around it) and the kernel, stride, dilation and groups of convolutions after the class
    (``Conv2d 5x5 s2 dw``). It edits the finished DOT text, and keeps torchview's own labels if
    anything about torchview's internals is not as expected.
    """
    try:
        paths = {id(m): name for name, m in module.named_modules() if name}
        modules = dict(module.named_modules())
        found: list[tuple[Any, str]] = []
        stack: list[Any] = [graph.node_hierarchy]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for node, children in item.items():
                    stack.append(node)
                    stack.extend(children)
            elif getattr(item, "compute_unit_id", None) in paths:
                found.append((item, paths[item.compute_unit_id]))
        clusters = {f"cluster_{graph.subgraph_dict[n.node_id]}": (n, p) for n, p in found
                    if n.node_id in graph.subgraph_dict}
        shown = {line.strip().split()[1] for line in graph.visual_graph.body
                 if line.strip().startswith("subgraph cluster_")}
        boxes = sorted((clusters[c][1] for c in shown if c in clusters), key=len, reverse=True)

        def short(path: str) -> str:
            outer = next((b for b in boxes if path.startswith(b + ".")), None)
            if outer is None:
                return path
            rest = path[len(outer) + 1:]
            return f"{outer.rsplit('.', 1)[-1]}.{rest}" if rest.split(".")[0].isdigit() else rest

        def name_line(node: Any, path: str) -> str:
            cls = node.name
            detail = _detail(modules[path])
            attr = short(path)
            head = "" if attr.rsplit(".", 1)[-1].lower() == cls.lower() else html.escape(attr) + "<BR/>"
            return head + html.escape(cls + (f" {detail}" if detail else ""))

        node_labels = {str(graph.id_dict[n.node_id]): (f">{n.name}<BR/>depth:{n.depth}<", f">{name_line(n, p)}<")
                       for n, p in found if n.node_id in graph.id_dict}
        roots = list(graph.root_container)
        for name, root in zip(input_names, roots):
            if root.node_id in graph.id_dict:
                node_labels[str(graph.id_dict[root.node_id])] = (">input-tensor<BR/>depth:0<", f">input {name}<")
        cluster_labels = {c: n.name if short(p).rsplit(".", 1)[-1] == n.name else f"{short(p)}: {n.name}"
                          for c, (n, p) in clusters.items()}
        body, current = [], None
        for line in graph.visual_graph.body:
            stripped = line.strip()
            if stripped.startswith("subgraph cluster_"):
                current = stripped.split()[1]
            elif current and "labeljust=" in stripped:
                if current in cluster_labels:
                    label = cluster_labels[current].replace('"', "'")
                    line = re.sub(r'label=("[^"]*"|\S+)', lambda _m, label=label: f'label="{label}"', line, count=1)
                current = None
            else:
                first = stripped.split(" ", 1)[0]
                if first in node_labels:
                    line = line.replace(*node_labels[first])
                line = re.sub(r"<BR/>depth:-?\d+", "", line).replace(">output-tensor<", ">output<")
            body.append(line)
    except Exception:  # noqa: BLE001 - labels are cosmetic; keep torchview's own
        return
    ids = [str(graph.id_dict[r.node_id]) for r in roots if r.node_id in graph.id_dict]
    if len(ids) > 1:  # keep the inputs left to right in argument order
        body.append("\t{rank=same; " + " -> ".join(ids) + " [style=invis]}\n")
    graph.visual_graph.body[:] = body
    graph.visual_graph.attr(label=title, labelloc="t", fontsize="14")


def _conv_detail(conv: nn.Conv2d) -> str:
    kh, kw = conv.kernel_size
    text = f"{kh}x{kw}"
    if conv.stride != (1, 1):
        text += f" s{conv.stride[0]}" if conv.stride[0] == conv.stride[1] else f" s{conv.stride}"
    if conv.dilation != (1, 1):
        text += f" d{conv.dilation[0]}" if conv.dilation[0] == conv.dilation[1] else f" d{conv.dilation}"
    if conv.groups > 1:
        text += " dw" if conv.groups == conv.in_channels == conv.out_channels else f" g{conv.groups}"
    return text


def _detail(module: nn.Module) -> str:
    """Kernel/stride/dilation/groups of a conv, or of the one or two convs inside a small container."""
    if isinstance(module, nn.Conv2d):
        return _conv_detail(module)
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if 1 <= len(convs) <= 2 and len(list(module.modules())) <= 6:
        return " → ".join(_conv_detail(c) for c in convs)
    return ""


def _title(key: str | None, module: nn.Module) -> str:
    if key is None:
        return type(module).__name__
    spec = BLOCKS[key]
    return f"{pick(spec.title_zh, spec.title_en)} · {spec.cls.__name__}"


def dot_available() -> bool:
    """Whether the Graphviz ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


class Graph:
    """A drawn graph: shows as SVG in JupyterLab, or, without Graphviz, as one hint line plus the trace.

    It displays through ``_repr_svg_`` (image/svg+xml, shown as an image even in untrusted
    notebooks); ``_repr_html_`` answers only when ``dot`` is missing.

    Attributes:
        graph: torchview's ``ComputationGraph``.
        digraph: The ``graphviz.Digraph`` (``graph.visual_graph``).
        source: The DOT text.
        key: Catalog key, or None for a module outside the catalog.
        title: The graph's name (block title and class).
    """

    def __init__(self, graph: Any, module: nn.Module, inputs: list[Any], key: str | None, title: str):
        self.graph = graph
        self.digraph = graph.visual_graph
        self.key = key
        self.title = title
        self._module = module  # the meta twin, used for the fallback trace
        self._inputs = inputs
        self._svg: str | None = None

    @property
    def source(self) -> str:
        return self.digraph.source

    def svg(self) -> str:
        """The SVG text (needs ``dot``; raises `GraphvizNotFoundError` without it)."""
        if self._svg is None:
            self._svg = self._pipe("svg").decode("utf-8")
        return self._svg

    def _pipe(self, fmt: str) -> bytes:
        import graphviz

        if not dot_available():
            raise GraphvizNotFoundError(_NOT_FOUND)
        try:
            return self.digraph.pipe(format=fmt)
        except graphviz.backend.ExecutableNotFound:
            raise GraphvizNotFoundError(_NOT_FOUND) from None

    def save(self, path: str | os.PathLike) -> list[Path]:
        """Writes the graph as ``.svg`` or ``.png`` (by suffix), or both when `path` has no suffix.

        Returns the written paths. Raises `GraphvizNotFoundError` (with install hints) without ``dot``.
        """
        path = Path(path)
        if path.suffix.lower() in (".svg", ".png"):
            targets = [path]
        elif path.suffix:
            raise value_error("Graph.save", "the file must end in .svg or .png (or have no suffix for both)",
                              {"path": str(path)}, f"Try {path.with_suffix('.svg')}.",
                              zh="文件名须以 .svg 或 .png 结尾（不带后缀则两种都写）",
                              zh_hint=f"可试 {path.with_suffix('.svg')}。")
        else:
            targets = [path.with_suffix(".svg"), path.with_suffix(".png")]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._pipe(target.suffix[1:].lower()))
        return targets

    def trace(self) -> Trace:
        """The shape trace of the drawn module and inputs (lenient, on meta)."""
        with torch.no_grad():
            return trace(self._module, *self._inputs, strict=False)

    def html(self, missing: str | None = None) -> str:
        """The graph as HTML to place in a page: the ``<svg>`` element, or without ``dot`` a hint and the trace.

        Unlike `svg` it never raises for a missing Graphviz, so a page built from it (two graphs side by
        side, say) shows on a machine without ``dot`` too. `missing` replaces the default hint line.
        """
        try:
            svg = self.svg()
        except GraphvizNotFoundError:
            return self._fallback_html(missing or _missing_line())
        return svg[svg.find("<svg"):]

    def _fallback_html(self, line: str | None = None) -> str:
        line = line or _missing_line()
        try:
            table = self.trace()._repr_html_()
        except Exception as e:  # noqa: BLE001 - the fallback itself must not raise
            table = f"<code>{html.escape(type(e).__name__)}: {html.escape(str(e))}</code>"
        return (f"<div class='fusion-edu-graph-missing'><p style='color:#b26a00'>⚠ {html.escape(line)}"
                f"</p>{table}</div>")

    def _repr_svg_(self) -> str | None:
        try:
            return self.svg()
        except GraphvizNotFoundError:
            return None

    def _repr_html_(self) -> str | None:
        """Only without Graphviz: the hint line and the trace (with Graphviz the SVG is the display)."""
        try:
            self.svg()
        except GraphvizNotFoundError:
            return self._fallback_html()
        return None

    def __repr__(self) -> str:
        return f"<Graph {self.title}: {len(self.source.splitlines())} DOT lines>"
