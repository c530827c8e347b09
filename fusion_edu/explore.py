"""The block explorer: sliders for B, C, H, W and a block's hyperparameters, and a live shape trace.

`render(key, **values)` is a plain function (trace + parameter count + FLOPs + HTML) that tests
and notebooks can call directly; `explore(key)` wires ipywidgets controls to it and
`explore_all()` adds a block picker. Everything runs on the meta device: no tensor memory, and
the cost does not grow with B, C, H or W.

Speed. A meta forward pass spends its time in PyTorch's Python reference kernels: a training-mode
BatchNorm costs about 3 ms, a ReLU or a broadcast add 0.2-0.5 ms, whatever the tensor size. While
rendering, `_ShapeOnlyMode` answers the pointwise ops, reductions, BatchNorm, addmm and convs that
are slow on meta with an empty tensor of the right shape, dtype and strides (falling back to the
real kernel for anything unusual), and the meta module is cached by its constructor kwargs.
FLOP-bearing ops are counted with `FlopCounterMode`'s own formulas before they are answered
(addmm, plain convolutions), so FLOP counts are exact.
``render(..., fast=False)`` runs every real kernel under `FlopCounterMode`; tests check that both
give the same page and FLOPs, and that every shape-only answer equals the real kernel's shape,
dtype and strides.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from .blocks import BLOCKS, DIMS, BlockSpec, get_spec
from .errors import message
from .trace import LANGS, Trace, trace

__all__ = ["Rendered", "render", "explore", "explore_all", "Explorer", "ExplorerAll", "CONTROL_ORDER"]

CONTROL_ORDER = ("H", "W", "C", "B")
"""Order of the dimension sliders: H comes first, so moving the first slider changes the spatial size."""

_LANG_OPTIONS = (("中文", "zh"), ("English", "en"), ("中英 both", "both"))


# --------------------------------------------------------------------------- render (no widgets)

@dataclass
class Rendered:
    """What the explorer shows for one setting.

    Attributes:
        key: Catalog key of the block.
        values: All dims and hyperparameters used (the given ones over the catalog defaults).
        ok: True when the block ran and every traced shape matched its annotation.
        trace: The shape trace, or None when the setting is invalid.
        params: Number of parameters of the block built for this setting (0 when invalid).
        flops: FLOPs of one forward pass, counted with the formulas of `torch.utils.flop_counter`
            (convolutions and matrix products; one multiply-add counts as 2 FLOPs).
        error: The block's own message for an invalid setting ('' when valid), in `lang`.
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


def render(key: str, *, lang: str = "both", fast: bool = True, **values: Any) -> Rendered:
    """Traces catalog block `key` on the meta device, counts its parameters and FLOPs, and renders HTML.

    Equivalent to ``meta_trace(key, strict=False, lang=lang, **values)`` plus the counts, in one
    forward pass. Never raises: an invalid setting (any ValueError or TypeError from the block or
    the catalog) gives ``ok=False`` and a box with the block's own message; any other failure a
    box with the exception's type and message.

    Args:
        key: A key of `fusion_edu.blocks.BLOCKS`, e.g. ``"osra"``.
        lang: Language of labels and messages: ``"both"``, ``"zh"`` or ``"en"``.
        fast: Answer the ops that are slow on meta with shape-only results (see the module
            docstring). ``False`` runs every real meta kernel; the results are the same.
        **values: B, C, H, W and the block's hyperparameters by name.

    Example:
        >>> r = render("safm", B=64, C=512, H=512, W=512)
        >>> r.ok, r.output_shapes, r.params
        (True, [(64, 512, 512, 512)], 267776)
        >>> render("safm", C=38).ok
        False
    """
    if lang not in LANGS:
        bad = ValueError(f"render: lang must be one of {LANGS}; got lang={lang!r}. Use 'zh', 'en' or 'both'.")
        return _failed(key, None, values, "both", bad)
    try:
        spec = get_spec(key)
    except (ValueError, TypeError) as e:
        return _failed(key, None, values, lang, e)
    try:
        merged = spec.values(**values)
        kwargs, shapes = spec.make(**merged)
        module, params = _meta_module(spec.key, _freeze(kwargs))
        inputs = [torch.empty(s, device="meta") for s in shapes]
        if fast:
            with torch.no_grad(), _ShapeOnlyMode(count_flops=True) as mode:
                result = trace(module, *inputs, strict=False, lang=lang)
            flops = mode.flops
        else:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                result = trace(module, *inputs, strict=False, lang=lang)
            flops = counter.get_total_flops()
    except (ValueError, TypeError) as e:
        return _failed(key, spec, values, lang, e)
    except Exception as e:  # noqa: BLE001 - the widget must show every failure instead of a traceback
        return _failed(key, spec, values, lang, e, unexpected=True)
    result.name = f"{result.name} [{key}]"
    page = _page(spec, lang, params, flops, result)
    return Rendered(key, merged, result.ok, result, params, flops, "", page)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(frozen: tuple) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in frozen}


@functools.lru_cache(maxsize=64)
def _meta_module(key: str, frozen_kwargs: tuple) -> tuple[torch.nn.Module, int]:
    """The block built on meta for these constructor kwargs (cached), and its parameter count."""
    with torch.device("meta"):
        module = BLOCKS[key].cls(**_thaw(frozen_kwargs))
    return module, sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- shape-only fast path

_aten = torch.ops.aten
_POINTWISE = {_aten.add.Tensor, _aten.sub.Tensor, _aten.mul.Tensor, _aten.div.Tensor, _aten.rsub.Scalar,
              _aten.add.Scalar, _aten.sub.Scalar, _aten.mul.Scalar, _aten.div.Scalar,
              _aten.relu.default, _aten.gelu.default, _aten.sigmoid.default, _aten.tanh.default}
_FLOAT_ONLY = {_aten.div.Tensor, _aten.div.Scalar, _aten.sigmoid.default, _aten.gelu.default, _aten.tanh.default}
_PYTHON_KEYS = torch._C.DispatchKeySet(torch._C.DispatchKey.Python) | torch._C.DispatchKeySet(
    torch._C.DispatchKey.PythonTLSSnapshot)
_BATCH_NORM = {_aten.native_batch_norm.default, _aten._native_batch_norm_legit.default}


def _contiguous_meta(args: tuple) -> bool:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(
        (t.device.type == "meta" or t.ndim == 0) and not t.is_complex() and (t.ndim == 0 or t.is_contiguous())
        for t in tensors)


def _pointwise_dtype(operands: tuple) -> torch.dtype:
    tensors = [a for a in operands if isinstance(a, torch.Tensor)]
    first = tensors[0].dtype
    if (first.is_floating_point and all(t.dtype == first and t.ndim > 0 for t in tensors)
            and all(isinstance(a, (torch.Tensor, int, float)) and not isinstance(a, bool) for a in operands)):
        return first  # a Python int or float does not promote a floating tensor
    return torch.result_type(*operands) if len(operands) == 2 else first


def _broadcast(shapes: list[torch.Size]) -> list[int]:
    out = [1] * max(len(s) for s in shapes)
    for shape in shapes:
        for i, size in enumerate(shape, len(out) - len(shape)):
            if size != 1:
                if out[i] not in (1, size):
                    raise ValueError("shapes do not broadcast")
                out[i] = size
    return out


def _conv_shape(x: torch.Tensor, weight: torch.Tensor, bias: Any, stride: list, padding: list, dilation: list,
                transposed: bool, output_padding: list, groups: int) -> Any:
    """Output shape of a plain (not transposed) 2-D convolution of a contiguous input, else NotImplemented."""
    if (transposed or x.ndim != 4 or weight.ndim != 4 or not x.is_contiguous() or x.dtype != weight.dtype
            or x.device.type != "meta" or weight.device.type != "meta"
            or not x.dtype.is_floating_point or x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups):
        return NotImplemented
    size = [(n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(x.shape[2:], weight.shape[2:], stride, padding, dilation)]
    if len(size) != 2 or min(size) < 1:
        return NotImplemented
    return [(x.shape[0], weight.shape[0], *size)], x.dtype


def _shape_only(func: Any, args: tuple, kwargs: dict) -> Any:
    """``(shapes, dtype)`` of `func`'s outputs when it is answered shape-only, else NotImplemented."""
    if kwargs.get("out") is not None:
        return NotImplemented
    if func is _aten.addmm.default:
        bias, mat1, mat2 = args[:3]
        if not (mat1.ndim == mat2.ndim == 2 and mat1.dtype == mat2.dtype == bias.dtype
                and mat1.device.type == mat2.device.type == bias.device.type == "meta"
                and mat1.dtype.is_floating_point and mat1.shape[1] == mat2.shape[0]):
            return NotImplemented
        _broadcast([bias.shape, (mat1.shape[0], mat2.shape[1])])
        return [(mat1.shape[0], mat2.shape[1])], mat1.dtype  # mm's output is contiguous whatever the inputs
    if func is _aten.convolution.default:
        return _conv_shape(*args[:9])
    if func is _aten.cat.default:
        tensors, dim = args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0)
        first = tensors[0]
        if (not _contiguous_meta(tuple(tensors)) or any(t.ndim != first.ndim or t.dtype != first.dtype or
                                                       t.numel() == 0 for t in tensors) or first.ndim == 0):
            return NotImplemented
        dim %= first.ndim
        shape = list(first.shape)
        if any(t.shape[:dim] != first.shape[:dim] or t.shape[dim + 1:] != first.shape[dim + 1:] for t in tensors):
            return NotImplemented
        shape[dim] = sum(t.shape[dim] for t in tensors)
        return [shape], first.dtype
    if not _contiguous_meta(args):
        return NotImplemented
    if func in _POINTWISE:
        dtype = _pointwise_dtype(args[:2])
        if func in _FLOAT_ONLY and not dtype.is_floating_point:
            return NotImplemented
        return [_broadcast([a.shape for a in args if isinstance(a, torch.Tensor)])], dtype
    if func is _aten.mean.dim:
        x, dims = args[0], args[1] if len(args) > 1 else kwargs.get("dim")
        keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        if not x.dtype.is_floating_point or kwargs.get("dtype") is not None or x.ndim == 0:
            return NotImplemented
        axes = {d % x.ndim for d in (dims if dims else range(x.ndim))}
        return [[1 if i in axes else s for i, s in enumerate(x.shape) if keepdim or i not in axes]], x.dtype
    if func in _BATCH_NORM:
        x = args[0]
        if x.ndim < 2 or not x.dtype.is_floating_point:
            return NotImplemented
        # out, save_mean, save_invstd (one per channel, in training and in eval alike)
        return [x.shape, (x.shape[1],), (x.shape[1],)], x.dtype
    return NotImplemented


def _as_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.shape
    if isinstance(value, (list, tuple)):
        return type(value)(_as_shapes(v) for v in value)
    return value


def _flops(func: Any, args: tuple, kwargs: dict, out: Any) -> int:
    """`FlopCounterMode`'s count for one op: its registered formula, applied to the shapes."""
    formula = flop_registry[func._overloadpacket]
    inner = getattr(formula, "__wrapped__", None)  # the formula on shapes, under torch's tree-mapping wrapper
    if inner is None:
        return formula(*args, **kwargs, out_val=out)
    return inner(*_as_shapes(args), **{k: _as_shapes(v) for k, v in kwargs.items()}, out_shape=_as_shapes(out))


class _ShapeOnlyMode(TorchDispatchMode):
    """Answers pointwise ops, cat, mean, BatchNorm, addmm and conv on contiguous meta tensors with empty results.

    Those ops keep every contiguous input's layout, so an empty contiguous tensor of the
    broadcast (or reduced) shape has the same shape, dtype and strides as the real meta kernel's
    output; anything else (views with odd strides, integer dtypes, ``out=``) runs the real kernel.

    addmm's meta kernel is a slow Python decomposition, so answering it matters most.

    With ``count_flops=True`` (what `render` uses) it also counts FLOPs with the formulas of
    `torch.utils.flop_counter.flop_registry`, the ones `FlopCounterMode` applies; a stacked
    `FlopCounterMode` would add a module tracker and pytree work per op that cost more than the
    forward pass itself here. Tests check that both counts agree.
    With ``check=True`` it also runs every real kernel it answers for and records differences.
    """

    def __init__(self, check: bool = False, count_flops: bool = False):
        super().__init__()
        self.check = check
        self.count_flops = count_flops
        self.flops = 0  # with count_flops=True: FLOPs of the ops seen so far
        self.answered: list[str] = []  # with check=True: the ops answered shape-only
        self.mismatches: list[str] = []  # with check=True: where a shape-only answer differs from the kernel

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            answer = _shape_only(func, args, kwargs)
        except Exception:  # noqa: BLE001 - let the real kernel raise its own error
            answer = NotImplemented
        with torch._C._ExcludeDispatchKeyGuard(_PYTHON_KEYS):
            if answer is NotImplemented:
                out = func(*args, **kwargs)
            else:
                shapes, dtype = answer
                out = [torch.empty(shape, dtype=dtype, device="meta") for shape in shapes]
                out = out[0] if len(out) == 1 else tuple(out)
                if self.check:
                    self._compare(func, out, func(*args, **kwargs))
        if self.count_flops and func._overloadpacket in flop_registry:
            self.flops += _flops(func, args, kwargs, out)
        return out

    def _compare(self, func: Any, fast: Any, real: Any) -> None:
        self.answered.append(str(func))
        fast = fast if isinstance(fast, tuple) else (fast,)
        real = real if isinstance(real, tuple) else (real,)
        for a, b in zip(fast, real):
            if (a.shape, a.dtype, a.stride(), a.device) != (b.shape, b.dtype, b.stride(), b.device):
                self.mismatches.append(f"{func}: shape-only {tuple(a.shape)} {a.dtype} {a.stride()} "
                                       f"vs kernel {tuple(b.shape)} {b.dtype} {b.stride()}")


# --------------------------------------------------------------------------- HTML

def _label(lang: str, zh: str, en: str, sep: str = " ") -> str:
    return {"zh": zh, "en": en}.get(lang, f"{zh}{sep}{en}")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _flops_text(flops: int) -> str:
    return f"{flops:,} ({flops / 1e9:,.2f} GFLOPs)"


def _header(spec: BlockSpec | None, key: str, lang: str) -> str:
    if spec is None:
        return f"<div class='fe-head'><b>{html.escape(str(key))}</b></div>"
    title = {"zh": spec.title_zh, "en": spec.title_en}.get(lang, f"{spec.title_zh} / {spec.title_en}")
    fuses = {"zh": spec.fuses_zh, "en": spec.fuses_en}.get(lang, f"{spec.fuses_zh} · {spec.fuses_en}")
    return (f"<div class='fe-head' style='font-size:1.1em'><b>{html.escape(title)}</b> &nbsp;"
            f"<code>{spec.cls.__name__}</code> <span style='color:#666'>({spec.key})</span></div>"
            f"<div class='fe-fuses' style='color:#555'>{_label(lang, '融合', 'fuses', ' / ')}: "
            f"{html.escape(fuses)}</div>")


def _page(spec: BlockSpec, lang: str, params: int, flops: int, result: Trace) -> str:
    scope = _label(lang, "只计卷积和矩阵乘，一次乘加 = 2 FLOPs", "convs and matmuls only; multiply-add = 2 FLOPs",
                   " / ")
    counts = (f"<div class='fe-counts'>{_label(lang, '参数量', 'params')}: <b>{params:,}</b> &nbsp;|&nbsp; "
              f"{_label(lang, '计算量', 'FLOPs')}: <b>{_flops_text(flops)}</b> "
              f"<span style='color:#777;font-size:0.9em'>({scope})</span></div>")
    ins = ", ".join(f"{html.escape(name)} <code>{_shape_text(s)}</code>"
                    for name, s in zip(spec.inputs, result.inputs))
    outs = ", ".join(f"<code>{_shape_text(s)}</code>" for s in result.output_shapes)
    shapes = (f"<div class='fe-shapes'>{_label(lang, '输入', 'inputs')}: {ins} &nbsp;→&nbsp; "
              f"{_label(lang, '输出', 'output')}: <span class='fe-output'>{outs}</span></div>")
    note = ""
    if spec.dims_note and lang != "zh":
        note = f"<div style='color:#777;font-size:0.9em'>{html.escape(spec.dims_note)}</div>"
    mismatch = ""
    if not result.ok:
        mismatch = _box(lang, "形状与注释不符", "Shape does not match its annotation",
                        "; ".join(f"{r.line}: {r.problem}" for r in result.rows if not r.ok))
    return ("<div class='fusion-edu-render'>" + _header(spec, spec.key, lang) + counts + shapes + note + mismatch
            + result.in_lang(lang)._repr_html_() + "</div>")


def _box(lang: str, zh: str, en: str, text: str) -> str:
    heading = {"zh": zh, "en": en}.get(lang, f"{zh} / {en}")
    return ("<div class='fusion-edu-error' style='border:2px solid #c62828;background:#fdecea;color:#222;"
            "padding:8px 12px;margin:6px 0;border-radius:6px'>"
            f"<b style='color:#b71c1c'>⚠ {html.escape(heading)}</b>"
            f"<div style='white-space:pre-wrap;font-family:monospace;margin-top:4px'>{html.escape(text)}</div></div>")


def _failed(key: str, spec: BlockSpec | None, values: dict[str, Any], lang: str, error: BaseException,
            unexpected: bool = False) -> Rendered:
    if unexpected:
        text = f"{type(error).__name__}: {error}"
        box = _box(lang, "出错了", "Unexpected error", text)
    else:
        text = message(error, lang)
        box = _box(lang, "设置无效", "Invalid setting", text)
    page = "<div class='fusion-edu-render'>" + _header(spec, key, lang) + box + "</div>"
    return Rendered(str(key), dict(values), False, None, 0, 0, text, page)


# --------------------------------------------------------------------------- widgets

_STYLE = {"description_width": "6em"}


def _wide() -> widgets.Layout:
    return widgets.Layout(width="30em")


def _dim_slider(dim: Any, value: int) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=dim.low, max=dim.high, step=1, continuous_update=False,
                             description=dim.name, style=_STYLE, layout=_wide())


def _hyper_control(hyper: Any) -> widgets.ValueWidget:
    if all(isinstance(c, str) for c in hyper.choices):
        return widgets.ToggleButtons(options=list(hyper.choices), value=hyper.default,
                                     tooltips=[f"{hyper.zh} / {hyper.en}"] * len(hyper.choices),
                                     style={"button_width": "9em"}, layout=widgets.Layout(flex="0 0 auto"))
    return widgets.SelectionSlider(options=list(hyper.choices), value=hyper.default, continuous_update=False,
                                   description=hyper.name, style=_STYLE, layout=_wide())


def _row(control: widgets.Widget, zh: str, en: str, name: str = "") -> widgets.HBox:
    """A control with its meaning in Chinese and English to the right (and its name to the left for buttons)."""
    label = widgets.HTML(f"<span style='color:#555'>{html.escape(zh)} / {html.escape(en)}</span>",
                         layout=widgets.Layout(flex="1 1 auto"))
    parts = [control, label]
    if isinstance(control, widgets.ToggleButtons):  # their own description would sit on a line of its own
        parts.insert(0, widgets.HTML(f"<div style='text-align:right;padding-right:8px'>{html.escape(name)}</div>",
                                     layout=widgets.Layout(width="6em")))
    return widgets.HBox(parts, layout=widgets.Layout(align_items="center"))


class Explorer(widgets.VBox):
    """The explorer for one block: a language toggle, sliders (H, W, C, B, then hyperparameters), the trace.

    Attributes:
        key: Catalog key.
        controls: ``{"H": IntSlider, "W": ..., "C": ..., "B": ..., <hyper name>: ...}``.
        language: The language toggle (values 'zh', 'en', 'both').
        render_output: The HTML widget showing ``render(...).html``.
        last: The latest `Rendered`.
    """

    def __init__(self, key: str, *, lang: str = "both"):
        spec = get_spec(key)
        self.key = spec.key
        dims = {d.name: d for d in DIMS}
        self.controls: dict[str, widgets.ValueWidget] = {
            name: _dim_slider(dims[name], spec.defaults[name]) for name in CONTROL_ORDER}
        for hyper in spec.hypers:
            self.controls[hyper.name] = _hyper_control(hyper)
        self.language = widgets.ToggleButtons(options=list(_LANG_OPTIONS), value=lang if lang in LANGS else "both",
                                              style={"button_width": "7em"}, layout=widgets.Layout(flex="0 0 auto"))
        self.render_output = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.last: Rendered | None = None
        meanings = {d.name: (d.zh, d.en) for d in DIMS} | {h.name: (h.zh, h.en) for h in spec.hypers}
        rows = [_row(control, *meanings[name], name) for name, control in self.controls.items()]
        hint = widgets.HTML("<span style='color:#666'>拖动滑块后松开即更新 / release a slider to update</span>")
        super().__init__([_row(self.language, "语言", "language", "lang"), *rows, hint, self.render_output])
        self.add_class("fusion-edu-explorer")
        self.add_class(f"fusion-edu-explorer-{self.key}")
        for control in (*self.controls.values(), self.language):
            control.observe(self._on_change, names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Rendered:
        """Renders the current control values into `render_output`; never raises."""
        try:
            self.last = render(self.key, lang=self.language.value, **self.values())
        except Exception as e:  # noqa: BLE001 - render does not raise; this guards the widget anyway
            self.last = _failed(self.key, None, self.values(), "both", e, unexpected=True)
        self.render_output.value = self.last.html
        return self.last

    def _on_change(self, _change: dict) -> None:
        self.refresh()


def explore(key: str, *, lang: str = "both") -> Explorer:
    """The explorer widget for catalog block `key` (returned, not displayed).

    The dimension sliders come first, in the order H, W, C, B (`CONTROL_ORDER`), then one
    control per hyperparameter of ``BLOCKS[key].hypers``; every change re-renders the trace.
    """
    return Explorer(key, lang=lang)


class ExplorerAll(widgets.VBox):
    """A block picker over the catalog that swaps in each block's `Explorer` (kept per block).

    Attributes:
        picker: The dropdown (values are catalog keys).
        explorers: The explorers built so far, by key.
        current: The explorer on show.
    """

    def __init__(self, *, lang: str = "both", key: str | None = None):
        keys = list(BLOCKS)
        self.lang = lang
        self.picker = widgets.Dropdown(options=[(f"{s.title_zh} / {s.title_en}", k) for k, s in BLOCKS.items()],
                                       value=key or keys[0], description="模块 block",
                                       style=_STYLE, layout=widgets.Layout(width="40em"))
        self.explorers: dict[str, Explorer] = {}
        self.current = self._explorer(self.picker.value)
        super().__init__([self.picker, self.current])
        self.add_class("fusion-edu-explorer-all")
        self.picker.observe(self._on_pick, names="value")

    def _explorer(self, key: str) -> Explorer:
        if key not in self.explorers:
            self.explorers[key] = Explorer(key, lang=self.lang)
        return self.explorers[key]

    def _on_pick(self, change: dict) -> None:
        try:
            self.current = self._explorer(change["new"])
            self.children = [self.picker, self.current]
        except Exception as e:  # noqa: BLE001 - show the problem instead of raising in a callback
            self.children = [self.picker, widgets.HTML(_failed(change["new"], None, {}, "both", e, True).html)]


def explore_all(*, lang: str = "both") -> ExplorerAll:
    """A dropdown over all seven blocks that shows the chosen block's explorer (for the start-here notebook)."""
    return ExplorerAll(lang=lang)

