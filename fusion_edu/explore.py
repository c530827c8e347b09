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

from .blocks import BLOCKS, DIMS, BlockSpec, get_spec
from .errors import message
from .shapeonly import ShapeOnlyMode
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
        with torch.no_grad(), ShapeOnlyMode(answer=fast) as mode:
            result = trace(module, *inputs, strict=False, lang=lang)
        flops = mode.flops
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

