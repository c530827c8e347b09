"""The block explorer widgets: sliders for B, C, H, W and a block's hyperparameters over a live trace.

This is the one module of the package that imports ipywidgets. The page itself comes from
`fusion_edu.render` (a plain function of the slider values), so it is testable and usable without
widgets. Sliders update while they are dragged: a render costs a few milliseconds on meta.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
from torch import nn

from .blocks import BLOCKS, DIMS, get_spec
from .errors import message, type_error
from .lang import pick, resolve
from .predict import predict
from .render import Knob, Rendered, error_box, failed, knobs, render, render_factory
from .trace import Trace

__all__ = ["Rendered", "render", "explore", "explore_all", "Explorer", "ExplorerAll", "ModuleExplorer", "CONTROL_ORDER"]

CONTROL_ORDER = ("H", "W", "C", "B")
"""Order of the dimension sliders: H comes first, so moving the first slider changes the spatial size."""

_LANG_OPTIONS = (("中文", "zh"), ("English", "en"), ("中英 both", "both"))


# --------------------------------------------------------------------------- widgets

_STYLE = {"description_width": "7.5em"}  # the longest names: out_channels, kernel_size


def _wide() -> widgets.Layout:
    return widgets.Layout(width="30em")


def _dim_slider(dim: Any, value: int) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=dim.low, max=dim.high, step=1, continuous_update=True,
                             description=dim.name, style=_STYLE, layout=_wide())


def _hyper_control(hyper: Any) -> widgets.ValueWidget:
    if all(isinstance(c, str) for c in hyper.choices):
        return widgets.ToggleButtons(options=list(hyper.choices), value=hyper.default,
                                     tooltips=[f"{hyper.zh} / {hyper.en}"] * len(hyper.choices),
                                     style={"button_width": "9em"}, layout=widgets.Layout(flex="0 0 auto"))
    return widgets.SelectionSlider(options=list(hyper.choices), value=hyper.default, continuous_update=True,
                                   description=hyper.name, style=_STYLE, layout=_wide())


class _Caption(widgets.HTML):
    """A line of text in the explorer that follows its language toggle."""

    def __init__(self, zh: str, en: str, lang: str, style: str = "color:#555", **kwargs: Any):
        self.zh, self.en, self.css = zh, en, style
        super().__init__(**kwargs)
        self.show(lang)

    def show(self, lang: str) -> None:
        self.value = f"<span style='{self.css}'>{html.escape(pick(self.zh, self.en, lang, ' / '))}</span>"


def _row(control: widgets.Widget, zh: str, en: str, name: str = "", lang: str = "both") -> widgets.HBox:
    """A control with its meaning to the right (and its name to the left for buttons)."""
    label = _Caption(zh, en, lang, layout=widgets.Layout(flex="1 1 auto"))
    parts = [control, label]
    if isinstance(control, widgets.ToggleButtons):  # their own description would sit on a line of its own
        parts.insert(0, widgets.HTML(f"<div style='text-align:right;padding-right:8px'>{html.escape(name)}</div>",
                                     layout=widgets.Layout(width="7.5em")))
    return widgets.HBox(parts, layout=widgets.Layout(align_items="center"))


class PredictPanel(widgets.VBox):
    """Predict, then check, inside an explorer: hides a row's concrete shape until the student's guess is checked.

    With "predict" on, the explorer shows the steps and their symbolic specs with the chosen row's
    concrete shape (and every later one) hidden; the student types the shape and presses "check":
    ✓, or a hint towards the right shape. Moving a slider asks again for the new setting.

    Attributes:
        toggle: Predict mode on or off.
        row: The row to predict (default: the step whose spec says the most).
        guess: The student's shape, e.g. ``(1, 8, 1024, 256)``.
        feedback: The last check's answer.
    """

    def __init__(self, refresh: Any):
        self._refresh = refresh
        self.trace: Trace | None = None
        self.toggle = widgets.ToggleButton(value=False, description="先预测 · predict", icon="question",
                                           layout=widgets.Layout(width="12em"))
        self.row = widgets.Dropdown(options=[], description="#", style={"description_width": "1.5em"},
                                    layout=widgets.Layout(width="24em"))
        self.guess = widgets.Text(placeholder="(B, C, H, W)", continuous_update=False,
                                  layout=widgets.Layout(width="14em"))
        self.button = widgets.Button(description="核对 · check", layout=widgets.Layout(width="9em"))
        self.feedback = widgets.HTML()
        self.inputs = widgets.HBox([self.row, self.guess, self.button], layout=widgets.Layout(display="none"))
        super().__init__([widgets.HBox([self.toggle]), self.inputs, self.feedback])
        self.add_class("fusion-edu-predict-panel")
        self.toggle.observe(self._on_toggle, names="value")
        self._updating = False
        self.row.observe(self._on_row, names="value")
        self.button.on_click(self._on_check)
        self.guess.observe(self._on_check, names="value")  # Enter (or leaving the box) checks too

    @property
    def active(self) -> bool:
        return bool(self.toggle.value)

    def page(self, rendered: Rendered, lang: str) -> str:
        """The explorer's page in predict mode: the steps with the chosen row's shape hidden."""
        self.trace = rendered.trace
        if rendered.trace is None:
            self.inputs.layout.display = "none"
            return rendered.html
        rows = rendered.trace.rows
        options = [(f"{r.index}: {pick(r.zh, r.en, lang)}"[:48], r.index) for r in rows]
        if [v for _, v in self.row.options] != [v for _, v in options]:
            self._updating = True
            try:
                self.row.options = options
                self.row.value = _most_telling(rows)
            finally:
                self._updating = False
        self.inputs.layout.display = ""
        return predict(rendered.trace, rows=[self.row.value], lang=lang)._repr_html_()

    def reset(self) -> None:
        self.feedback.value = ""

    def _on_row(self, _change: dict) -> None:
        if not self._updating:
            self.feedback.value = ""
            self._refresh()

    def _on_toggle(self, _change: dict) -> None:
        self.inputs.layout.display = "" if self.active else "none"
        self.feedback.value = ""
        self._refresh()

    def _on_check(self, _widget: Any) -> None:
        if self.trace is None or self.row.value is None:
            return
        prediction = predict(self.trace, rows=[self.row.value], lang=self.toggle_lang)
        try:
            self.feedback.value = prediction.check({self.row.value: self.guess.value})._repr_html_()
        except (ValueError, TypeError) as e:
            self.feedback.value = error_box(self.toggle_lang, "看不懂这个形状", "Cannot read that shape",
                                            message(e, resolve(self.toggle_lang)))

    toggle_lang: str | None = None


def _relabel(widget: widgets.Widget, lang: str) -> None:
    """Every caption inside `widget` in `lang`."""
    for child in getattr(widget, "children", ()):
        if isinstance(child, _Caption):
            child.show(lang)
        else:
            _relabel(child, lang)


def _most_telling(rows: list[Any]) -> int:
    """The row worth predicting: the spec with the most computed or primed dims (the first of equals)."""
    def weight(spec: str) -> int:
        return sum(spec.count(ch) for ch in "*/+-'")
    return max(rows, key=lambda r: (weight(r.spec), -r.index)).index


class Explorer(widgets.VBox):
    """The explorer for one block: a language toggle, sliders (H, W, C, B, then hyperparameters), the trace.

    Attributes:
        key: Catalog key.
        controls: ``{"H": IntSlider, "W": ..., "C": ..., "B": ..., <hyper name>: ...}``.
        language: The language toggle (values 'zh', 'en', 'both').
        render_output: The HTML widget showing ``render(...).html``.
        last: The latest `Rendered`.
    """

    def __init__(self, key: str, *, lang: str | None = None):
        spec = get_spec(key)
        self.key = spec.key
        dims = {d.name: d for d in DIMS}
        self.controls: dict[str, widgets.ValueWidget] = {
            name: _dim_slider(dims[name], spec.defaults[name]) for name in CONTROL_ORDER}
        for hyper in spec.hypers:
            self.controls[hyper.name] = _hyper_control(hyper)
        self.language = widgets.ToggleButtons(options=list(_LANG_OPTIONS), value=resolve(lang, "explore"),
                                              style={"button_width": "7em"}, layout=widgets.Layout(flex="0 0 auto"))
        self.render_output = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.last: Rendered | None = None
        meanings = {d.name: (d.zh, d.en) for d in DIMS} | {h.name: (h.zh, h.en) for h in spec.hypers}
        start = self.language.value
        rows = [_row(control, *meanings[name], name, start) for name, control in self.controls.items()]
        hint = _Caption("拖动滑块，表格随之更新", "drag a slider: the table follows", start, "color:#666")
        self.predictor = PredictPanel(self.refresh)
        super().__init__([_row(self.language, "语言", "language", "lang", start), *rows, hint, self.predictor,
                          self.render_output])
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
            self.last = failed(self.key, e, "both", values=self.values(), unexpected=True)
        self._show()
        return self.last

    def _show(self) -> None:
        _relabel(self, self.language.value)
        if self.predictor.active:
            self.predictor.toggle_lang = self.language.value
            self.render_output.value = self.predictor.page(self.last, self.language.value)
        else:
            self.render_output.value = self.last.html

    def _on_change(self, _change: dict) -> None:
        self.predictor.reset()
        self.refresh()


class ModuleExplorer(widgets.VBox):
    """The explorer for any module class or factory: B, C, H, W and its constructor's own arguments.

    The arguments come from the signature (`fusion_edu.render.knobs`): ints and floats get sliders
    around their defaults, bools a checkbox, ``Literal[...]`` or Enum annotations buttons. C goes to
    the first positional parameter when it has no default. The trace comes from `autotrace`.

    Attributes:
        factory: The class or function that builds the module.
        controls: ``{"H": IntSlider, ..., <argument name>: widget}``.
        language, render_output, last: As in `Explorer`.
    """

    def __init__(self, factory: Any, *, lang: str | None = None, B: int = 1, C: int = 32, H: int = 32, W: int = 32):
        self.factory = factory
        dims = {d.name: d for d in DIMS}
        start = {"B": B, "C": C, "H": H, "W": W}
        self.controls: dict[str, widgets.ValueWidget] = {
            name: _dim_slider(dims[name], start[name]) for name in CONTROL_ORDER}
        meanings = {d.name: (d.zh, d.en) for d in DIMS}
        for knob in knobs(factory):
            self.controls[knob.name] = _knob_control(knob)
            meanings[knob.name] = ("构造参数", "constructor argument")
        self.language = widgets.ToggleButtons(options=list(_LANG_OPTIONS), value=resolve(lang, "explore"),
                                              style={"button_width": "7em"}, layout=widgets.Layout(flex="0 0 auto"))
        self.render_output = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.last: Rendered | None = None
        start = self.language.value
        rows = [_row(control, *meanings[name], name, start) for name, control in self.controls.items()]
        super().__init__([_row(self.language, "语言", "language", "lang", start), *rows, self.render_output])
        self.add_class("fusion-edu-explorer")
        for control in (*self.controls.values(), self.language):
            control.observe(self._on_change, names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Rendered:
        """Renders the current values into `render_output`; never raises."""
        try:
            self.last = render_factory(self.factory, lang=self.language.value, **self.values())
        except Exception as e:  # noqa: BLE001 - render_factory does not raise; this guards the widget anyway
            self.last = failed(getattr(self.factory, "__name__", "module"), e, "both", values=self.values(),
                               unexpected=True)
        _relabel(self, self.language.value)
        self.render_output.value = self.last.html
        return self.last

    def _on_change(self, _change: dict) -> None:
        self.refresh()


def _knob_control(knob: Knob) -> widgets.ValueWidget:
    if knob.kind == "bool":
        return widgets.Checkbox(value=knob.default, description=knob.name, style=_STYLE, layout=_wide())
    if knob.kind == "choice":
        return widgets.ToggleButtons(options=list(knob.choices), value=knob.default,
                                     style={"button_width": "9em"}, layout=widgets.Layout(flex="0 0 auto"))
    if knob.kind == "int":
        return widgets.IntSlider(value=knob.default, min=int(knob.low), max=int(knob.high), continuous_update=True,
                                 description=knob.name, style=_STYLE, layout=_wide())
    return widgets.FloatSlider(value=knob.default, min=knob.low, max=knob.high, step=(knob.high - knob.low) / 100,
                               continuous_update=True, description=knob.name, style=_STYLE, layout=_wide())


def explore(target: Any, *, lang: str | None = None, **dims: int) -> Explorer | ModuleExplorer:
    """The explorer widget (returned, not displayed) for a catalog key, or for any module class or factory.

    For a key (``explore("osra")``): sliders H, W, C, B (`CONTROL_ORDER`), then one control per
    hyperparameter of ``BLOCKS[key].hypers``. For a class or factory (``explore(MySEBlock)``): the
    same sliders, then its constructor's int / float / bool / choice arguments (`ModuleExplorer`);
    ``dims`` set the starting B, C, H, W. Every change re-renders the trace; an invalid setting
    shows the raised message, never a traceback.
    """
    if isinstance(target, str):
        return Explorer(target, lang=lang)
    if isinstance(target, nn.Module) or not callable(target):
        raise type_error("explore", "explore needs a catalog key, or a module class or factory (not a built module)",
                         {"type": type(target).__name__}, "Example: explore('osra') or explore(MyBlock).",
                         zh="explore 需要目录中的 key，或模块的类 / 工厂函数（而不是已构建的模块）",
                         zh_hint="例如 explore('osra') 或 explore(MyBlock)。")
    return ModuleExplorer(target, lang=lang, **dims)


class ExplorerAll(widgets.VBox):
    """A block picker over the catalog that swaps in each block's `Explorer` (kept per block).

    Attributes:
        picker: The dropdown (values are catalog keys).
        explorers: The explorers built so far, by key.
        current: The explorer on show.
    """

    def __init__(self, *, lang: str | None = None, key: str | None = None):
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
            self.children = [self.picker, widgets.HTML(failed(change["new"], e, "both", unexpected=True).html)]


def explore_all(*, lang: str | None = None) -> ExplorerAll:
    """A dropdown over all seven blocks that shows the chosen block's explorer (for the start-here notebook)."""
    return ExplorerAll(lang=lang)

