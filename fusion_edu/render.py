"""The explorer's page: a block's trace, parameters, FLOPs and shapes as HTML, with no widget library.

`render(key, **values)` builds catalog block `key` on the meta device for the given B, C, H, W and
hyperparameters, traces it, counts parameters and FLOPs and returns a `Rendered` with the HTML an
explorer shows. `render_module(module, inputs)` does the same for any module. Neither ever raises:
an invalid setting gives ``ok=False`` and a box with the block's own message.

Everything runs on meta with `fusion_edu.shapeonly.ShapeOnlyMode`, so the cost does not grow with
B, C, H or W (a few milliseconds at B=64, C=512, H=W=512; see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ast
import enum
import functools
import html
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .blocks import BlockSpec, get_spec
from .blocks.spec import construct, example_inputs
from .errors import message, require_int
from .lang import pick, resolve
from .shapeonly import ShapeOnlyMode, count_flops
from .trace import Trace, trace

__all__ = ["Rendered", "render", "render_module", "render_factory", "knobs", "Knob", "channel_parameter", "failed",
           "error_box", "shape_text", "flops_text"]


@dataclass
class Rendered:
    """What an explorer shows for one setting.

    Attributes:
        key: Catalog key (or the name of a module that is not in the catalog).
        values: All dims and hyperparameters used (the given ones over the catalog defaults).
        ok: True when the block ran and every traced shape matched its annotation.
        trace: The shape trace, or None when the setting is invalid.
        params: Number of parameters of the block built for this setting (0 when invalid).
        flops: FLOPs of one forward pass (convolutions and matrix products; one multiply-add
            counts as 2 FLOPs).
        error: The block's own message for an invalid setting ('' when valid), in the page's language.
        html: The full HTML the explorer displays.
    """

    key: str
    values: dict[str, Any]
    ok: bool
    trace: Trace | None
    params: int
    flops: int
    error: str
    html: str = field(repr=False)

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return self.trace.output_shapes if self.trace is not None else []

    def _repr_html_(self) -> str:
        return self.html


def render(key: str, *, lang: str | None = None, fast: bool = True, compact: bool = True,
           **values: Any) -> Rendered:
    """Traces catalog block `key` on meta, counts its parameters and FLOPs, and renders HTML.

    Equivalent to ``meta_trace(key, strict=False, **values)`` plus the counts, in one forward pass.

    Args:
        key: A key of `fusion_edu.blocks.BLOCKS`, e.g. ``"osra"``.
        lang: Language of labels and messages (``"zh"``, ``"en"``, ``"both"``; None: the course setting).
        fast: Answer slow meta ops shape-only; ``False`` runs every real meta kernel (same result).
        compact: Show the compact trace (one language, one shape column) instead of the full table.
        **values: B, C, H, W and the block's hyperparameters by name.

    Example:
        >>> r = render("safm", B=64, C=512, H=512, W=512)
        >>> r.ok, r.output_shapes, r.params
        (True, [(64, 512, 512, 512)], 267776)
        >>> render("safm", C=38).ok
        False
    """
    try:
        lang = resolve(lang, "render")
    except ValueError as e:
        return failed(str(key), e, "both", values=values)
    try:
        spec = get_spec(key)
    except (ValueError, TypeError) as e:
        return failed(str(key), e, lang, values=values)
    head = _header(spec, lang)
    try:
        merged = spec.values(**values)
        kwargs, shapes = spec.configure(**merged)
        module, inputs = _meta_block(spec.key, kwargs), example_inputs(shapes, "meta")
    except (ValueError, TypeError) as e:
        return failed(spec.key, e, lang, head=head, values=values)
    dims_note = pick(spec.dims_note_zh or spec.dims_note, spec.dims_note, lang, " / ")
    note = f"<div style='color:#777;font-size:0.9em'>{html.escape(dims_note)}</div>" if dims_note else ""
    rendered = render_module(module, inputs, name=f"{spec.cls.__name__} [{key}]", input_names=spec.inputs,
                             head=head + note, lang=lang, fast=fast, compact=compact)
    rendered.key, rendered.values = spec.key, merged
    return rendered


def render_module(module: nn.Module, inputs: list[Any], *, name: str | None = None,
                  input_names: tuple[str, ...] = (), head: str = "", lang: str | None = None, fast: bool = True,
                  compact: bool = True, tracer: Callable[..., Trace] | None = None) -> Rendered:
    """The page for any module and inputs (best on meta): trace, parameters, FLOPs, shapes. Never raises.

    Args:
        module: The module to trace.
        inputs: Its forward arguments.
        name: The trace's title (default: the class name).
        input_names: Names shown for the inputs (default: x1, x2, ...).
        head: HTML shown above the counts (a title).
        lang: As in `render`.
        fast: As in `render`.
        compact: As in `render`.
        tracer: ``tracer(module, *inputs, lang=...) -> Trace``; default: `fusion_edu.trace` (lenient).
    """
    lang = resolve(lang, "render")
    name = name or type(module).__name__
    try:
        with torch.no_grad(), ShapeOnlyMode(answer=fast) as mode:
            if tracer is None:
                result = trace(module, *inputs, strict=False, lang=lang, name=name)
            else:
                result = tracer(module, *inputs, lang=lang)
    except (ValueError, TypeError) as e:
        return failed(name, e, lang, head=head)
    except Exception as e:  # noqa: BLE001 - a page shows every failure instead of a traceback
        return failed(name, e, lang, head=head, unexpected=True)
    params = sum(p.numel() for p in module.parameters())
    flops = mode.flops if tracer is None else count_flops(module, *inputs)  # a tracer may run its own mode
    page = _page(head, lang, params, flops, result, input_names, compact)
    return Rendered(name, {}, result.ok, result, params, flops, "", page)


def _meta_block(key: str, kwargs: dict[str, Any]) -> nn.Module:
    """Block `key` built on meta; dragging B, H or W keeps its constructor arguments, so it is built once."""
    # The type is part of the key: 2 and 2.0 (or 1 and True) are equal, but a block may accept only one.
    frozen = tuple(sorted((name, tuple(v) if isinstance(v, list) else v, type(v).__name__)
                          for name, v in kwargs.items()))
    try:
        hash(frozen)
    except TypeError:  # an argument that cannot be a cache key: build afresh
        return get_spec(key).instantiate(kwargs, [], "meta")[0]
    return _cached_meta_block(key, frozen)


@functools.lru_cache(maxsize=32)
def _cached_meta_block(key: str, frozen: tuple[tuple[str, Any, str], ...]) -> nn.Module:
    # Meta modules hold no data, and trace removes its hooks when it ends, so one module serves every page.
    # A list argument (MFE's atrous_rates) was frozen into a tuple for the key; the block gets its list back.
    kwargs = {name: list(v) if kind == "list" else v for name, v, kind in frozen}
    return get_spec(key).instantiate(kwargs, [], "meta")[0]


# --------------------------------------------------------------------------- HTML

def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def flops_text(flops: int) -> str:
    return f"{flops:,} ({flops / 1e9:,.2f} GFLOPs)"


def _header(spec: BlockSpec, lang: str) -> str:
    title = pick(spec.title_zh, spec.title_en, lang, " / ")
    fuses = pick(spec.fuses_zh, spec.fuses_en, lang)
    return (f"<div class='fe-head' style='font-size:1.1em'><b>{html.escape(title)}</b> &nbsp;"
            f"<code>{spec.cls.__name__}</code> <span style='color:#666'>({spec.key})</span></div>"
            f"<div class='fe-fuses' style='color:#555'>{pick('融合', 'fuses', lang, ' / ')}: "
            f"{html.escape(fuses)}</div>")


def _page(head: str, lang: str, params: int, flops: int, result: Trace, input_names: tuple[str, ...],
          compact: bool) -> str:
    scope = pick("只计卷积和矩阵乘，一次乘加 = 2 FLOPs", "convs and matmuls only; multiply-add = 2 FLOPs", lang, " / ")
    counts = (f"<div class='fe-counts'>{pick('参数量', 'params', lang)}: <b>{params:,}</b> &nbsp;|&nbsp; "
              f"{pick('计算量', 'FLOPs', lang)}: <b>{flops_text(flops)}</b> "
              f"<span style='color:#777;font-size:0.9em'>({scope})</span></div>")
    names = input_names or tuple(f"x{i}" for i in range(1, len(result.inputs) + 1))
    ins = ", ".join(f"{html.escape(n)} <code>{shape_text(s)}</code>" for n, s in zip(names, result.inputs))
    outs = ", ".join(f"<code>{shape_text(s)}</code>" for s in result.output_shapes)
    shapes = (f"<div class='fe-shapes' style='white-space:nowrap'>{pick('输入', 'inputs', lang)}: {ins} &nbsp;→&nbsp; "
              f"{pick('输出', 'output', lang)}: <span class='fe-output'>{outs}</span></div>")
    mismatch = ""
    if not result.ok:
        mismatch = error_box(lang, "形状与注释不符", "Shape does not match its annotation",
                             "; ".join(f"{r.line}: {r.problem}" for r in result.rows if not r.ok))
    table = result.as_compact(lang) if compact else result.in_lang(lang)
    return "<div class='fusion-edu-render'>" + head + counts + shapes + mismatch + table._repr_html_() + "</div>"


def error_box(lang: str | None, zh: str, en: str, text: str) -> str:
    """A red box with a heading in `lang` and `text` (a block's message) below it."""
    heading = pick(zh, en, lang, " / ")
    return ("<div class='fusion-edu-error' style='border:2px solid #c62828;background:#fdecea;color:#222;"
            "padding:8px 12px;margin:6px 0;border-radius:6px'>"
            f"<b style='color:#b71c1c'>⚠ {html.escape(heading)}</b>"
            f"<div style='white-space:pre-wrap;font-family:monospace;margin-top:4px'>{html.escape(text)}</div></div>")


def failed(name: str, error: BaseException, lang: str | None, *, head: str = "", values: dict[str, Any] | None = None,
           unexpected: bool = False) -> Rendered:
    """The page for a setting that did not run: the block's message (or the exception) in a box."""
    if unexpected:
        text = f"{type(error).__name__}: {error}"
        box = error_box(lang, "出错了", "Unexpected error", text)
    else:
        text = message(error, resolve(lang))
        box = error_box(lang, "设置无效", "Invalid setting", text)
    head = head or f"<div class='fe-head'><b>{html.escape(str(name))}</b></div>"
    return Rendered(str(name), dict(values or {}), False, None, 0, 0, text,
                    "<div class='fusion-edu-render'>" + head + box + "</div>")


# --------------------------------------------------------------------------- any module: knobs and page

@dataclass(frozen=True)
class Knob:
    """One constructor argument an explorer can set, read from the signature and its default.

    Attributes:
        name: The parameter's name.
        kind: ``"int"``, ``"float"``, ``"bool"`` or ``"choice"``.
        default: Its default value.
        choices: For ``"choice"``: the allowed values (from a ``Literal[...]`` or an Enum annotation).
        low, high: For numbers: a slider range around the default.
    """

    name: str
    kind: str
    default: Any
    choices: tuple = ()
    low: float = 0
    high: float = 0


def channel_parameter(factory: Callable[..., nn.Module]) -> str | None:
    """The parameter that receives C: the first positional one without a default (``None`` if there is none)."""
    params = [p for p in _parameters(factory) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    first = params[0] if params else None
    return first.name if first is not None and first.default is inspect.Parameter.empty else None


def knobs(factory: Callable[..., nn.Module]) -> list[Knob]:
    """The constructor arguments of `factory` an explorer can offer: ints, floats, bools and choices with defaults.

    Example:
        >>> from fusion_edu.blocks import OSRAttention
        >>> [(k.name, k.kind, k.default) for k in knobs(OSRAttention)]
        [('num_heads', 'int', 8), ('attn_drop', 'float', 0.0), ('sr_ratio', 'int', 2)]
    """
    out = []
    for p in _parameters(factory):
        if p.default is inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        choices = _choices(p.annotation)
        if choices and p.default in choices:
            out.append(Knob(p.name, "choice", p.default, choices))
        elif isinstance(p.default, bool):
            out.append(Knob(p.name, "bool", p.default))
        elif isinstance(p.default, int) and p.annotation not in (float, "float"):
            out.append(Knob(p.name, "int", p.default, low=max(0, min(1, p.default)), high=max(4 * p.default, 16)))
        elif isinstance(p.default, (int, float)):
            out.append(Knob(p.name, "float", float(p.default), low=0.0, high=max(1.0, 4.0 * p.default)))
    return out


def _parameters(factory: Callable[..., nn.Module]) -> list[inspect.Parameter]:
    for evaluate in (True, False):  # annotations as objects when they can be evaluated, else as text
        try:
            return list(inspect.signature(factory, eval_str=evaluate).parameters.values())
        except (TypeError, ValueError, NameError, SyntaxError):
            continue
    return []


def _choices(annotation: Any) -> tuple:
    if isinstance(annotation, str):  # postponed annotations: only Literal[...] can be read without a namespace
        found = re.fullmatch(r"Literal\[(.*)\]", annotation.replace("typing.", ""))
        if not found:
            return ()
        try:
            return tuple(ast.literal_eval(f"({found.group(1)},)"))
        except (ValueError, SyntaxError):
            return ()
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(annotation)
    return ()


def render_factory(factory: Callable[..., nn.Module], *, lang: str | None = None, compact: bool = True, B: int = 1,
                   C: int = 32, H: int = 32, W: int = 32, **kwargs: Any) -> Rendered:
    """The page for a module class or factory built with `kwargs` at (B, C, H, W), traced by `autotrace`.

    C goes to the factory's first positional parameter when it has no default (`channel_parameter`);
    the input is (B, C, H, W). Never raises: a constructor or forward that rejects the setting shows
    its own message.
    """
    from .autotrace import autotrace

    name = getattr(factory, "__name__", type(factory).__name__)
    head = f"<div class='fe-head' style='font-size:1.1em'><b>{html.escape(name)}</b></div>"
    values = {"B": B, "C": C, "H": H, "W": W, **kwargs}
    channel = channel_parameter(factory)

    def build(C: int) -> nn.Module:  # autotrace rebuilds it at other C, so C becomes a symbol
        return factory(C, **kwargs) if channel else factory(**kwargs)

    try:
        for dim, value in (("B", B), ("C", C), ("H", H), ("W", W)):
            require_int(name, dim, value)
        module = construct(lambda: build(C), "meta")
    except (ValueError, TypeError) as e:
        return failed(name, e, lang, head=head, values=values)
    except Exception as e:  # noqa: BLE001 - a page shows every failure instead of a traceback
        return failed(name, e, lang, head=head, values=values, unexpected=True)
    x = torch.empty(B, C, H, W, device="meta")

    def tracer(_module: nn.Module, *inputs: Any, lang: str) -> Trace:
        try:
            return autotrace(build, *inputs, lang=lang)
        except RuntimeError as e:  # the block's own message, when it rejected the input
            if isinstance(e.__cause__, (ValueError, TypeError)):
                raise e.__cause__ from None
            raise

    rendered = render_module(module, [x], name=name, head=head, lang=lang, compact=compact, tracer=tracer)
    rendered.values = values
    return rendered
