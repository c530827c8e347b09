"""The classroom dashboard: one screen per block for a projector, served code-free by Voilà (`make present`).

``dashboard()`` returns the widget. A row of block buttons picks the block and a toggle picks the
language. Each block's page has its sliders on the left (H, W, C, B and the block's hyperparameters;
they update while dragging) and the compact trace on the right. Below the sliders are three tabs: the
graph, the block's map on a real photo, and what it learns (the cached before/after figure, plus a
"train live" button with a progress bar). An invalid setting shows the block's own message. A block whose
constructor depends on H and W (the CBAM variant's joint MLP) gets a "keep H×W fixed" toggle: the
block stays built for the current size while H and W move, so its own fixed-size message shows live.

How the page stays live:

* The trace re-renders on the meta device in a few milliseconds on every slider event.
* The graph and the photo map cost more: they are redrawn on the kernel's event loop 0.35 s after
  the last change, and only for the tab on show. While a slider moves they wait.
* Live training runs in a background thread with one torch thread, so the kernel's main thread stays
  free for slider events. The graph waits while training runs: torchview patches
  ``nn.Module.__call__`` for the whole process while it draws.
* Importing this module starts a daemon thread that runs one tiny meta convolution. The first meta op
  in a fresh process imports ``torch._dynamo`` (about 2 s), and the thread does that while the
  kernel builds the widgets.
* "What it learns" shows the demo result the package ships (`fusion_edu.learn.cached`), and "train live"
  runs `fusion_edu.learn.run_demo` with a step callback for the progress bar. Figures use the
  package's figure style at a projector scale (`fusion_edu.plots.style.scaled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import ipywidgets as widgets
import torch

from . import learn
from .blocks import BLOCKS, DIMS, get_spec
from .errors import value_error
from .explore import CONTROL_ORDER
from .lang import get_lang, pick, resolve, set_lang
from .plots import style
from .render import Rendered, error_box, failed, render, render_module

__all__ = ["dashboard", "Dashboard", "BlockPage", "dashboard_css", "size_bound", "fixed_size_render",
           "photo_figure", "photo_png", "graph_html", "metrics_html", "SHORT_NAMES", "FONT_PX", "warm_meta"]

FONT_PX = 20
"""Base text size of the dashboard (px). Text the render sets to 0.9 em is then 18 px, the projector minimum."""

FIGURE_SCALE = 1.6
"""Figure text scale asked of `fusion_edu.plots.style` for the dashboard's figures."""

SHORT_NAMES = {"gated_fusion": ("门控融合", "Gated"), "msf": ("MSF", "MSF"), "mfe": ("MFE", "MFE"),
               "safm": ("SAFM", "SAFM"), "osra": ("OSRA", "OSRA"), "msaa": ("MSAA", "MSAA"),
               "cbam_joint": ("CBAM 变体", "CBAM variant")}
"""Button labels of the block picker (zh, en)."""

_DEBOUNCE_S = 0.35
_STYLE = {"description_width": "7.5em"}  # the longest names: out_channels, kernel_size


def _slider_layout() -> widgets.Layout:
    return widgets.Layout(min_width="12em")
_LANGS = (("中文", "zh"), ("English", "en"))


# --------------------------------------------------------------------------- warm-up

def _warm() -> None:
    render("gated_fusion", B=1, C=2, H=2, W=2)


def warm_meta(background: bool = True) -> threading.Thread | None:
    """Renders one tiny block, which pays the one-off cost of the shape-only meta path (a ~2 s import).

    With ``background=True`` it runs in a daemon thread, returned so a caller can join it.
    """
    if not background:
        _warm()
        return None
    thread = threading.Thread(target=_warm, name="fusion-edu-warm-meta", daemon=True)
    thread.start()
    return thread


_WARMING = warm_meta()


# --------------------------------------------------------------------------- pure parts

def dashboard_css(font_px: int = FONT_PX) -> str:
    """The dashboard's stylesheet: large text and widgets for a projector, scoped to ``.fe-present``."""
    small = round(font_px * 0.9)
    return f"""<style>
.fe-present {{ font-size:{font_px}px; line-height:1.35; --jp-widgets-font-size:{font_px}px;
  --jp-ui-font-size1:{font_px}px; --jp-ui-font-size2:{font_px}px; --jp-content-font-size1:{font_px}px;
  --jp-code-font-size:{small}px; --jp-widgets-inline-height:{round(font_px * 1.9)}px;
  --jp-widgets-inline-label-width:4em; --jp-widgets-slider-handle-size:{round(font_px * 0.9)}px; }}
.fe-present .widget-label, .fe-present .widget-readout, .fe-present .widget-html-content,
.fe-present button, .fe-present .lm-TabBar-tab, .fe-present .widget-inline-hbox {{ font-size:{font_px}px; }}
.fe-present .widget-readout {{ min-width:3em; }}
.fe-present code, .fe-present pre {{ font-size:{small}px; }}
.fe-present .widget-html-content {{ line-height:1.35; }}
.fe-present .fe-shapes {{ white-space:normal !important; }}
.fe-present .fe-shapes code {{ white-space:nowrap; }}
.fe-present .fusion-edu-trace table {{ font-size:{font_px}px; }}
.fe-present .fe-meaning {{ color:#444; padding-left:0.3em; font-size:{small}px; line-height:1.2; }}
.fe-present .fe-graph {{ max-height:560px; overflow:auto; border:1px solid #ddd; }}
.fe-present .fe-graph svg {{ max-width:none; }}
.fe-present .fe-figure img {{ max-width:100%; height:auto; }}
.fe-present .fe-note {{ color:#444; }}
.fe-present .fe-metrics td, .fe-present .fe-metrics th {{ padding:2px 10px; text-align:left; }}
.fe-present .lm-TabBar-tab {{ min-height:2em; padding:4px 14px; }}
</style>"""


def size_bound(key: str) -> bool:
    """Whether block `key` is built for one H and W: its constructor arguments change with them.

    Example:
        >>> size_bound("cbam_joint"), size_bound("osra")
        (True, False)
    """
    spec = get_spec(key)
    small = spec.configure(H=8, W=8)[0]
    return spec.configure(H=16, W=8)[0] != small or spec.configure(H=8, W=16)[0] != small


def fixed_size_render(key: str, built_hw: tuple[int, int], *, lang: str | None = None, **values: Any) -> Rendered:
    """The explorer's page for block `key` built for ``H, W = built_hw`` and fed inputs of ``values``'s H and W.

    For a size-bound block (`size_bound`) at another size this shows the block's own message, live.
    Never raises.

    Example:
        >>> fixed_size_render("cbam_joint", (7, 7), H=7, W=7).ok
        True
        >>> r = fixed_size_render("cbam_joint", (7, 7), H=8, W=7, lang="en")
        >>> r.ok, r.error.startswith("CBAMBlock: built for")
        (False, True)
    """
    lang = resolve(lang, "present")
    try:
        spec = get_spec(key)
        merged = spec.values(**values)
        kwargs, _ = spec.configure(**{**merged, "H": built_hw[0], "W": built_hw[1]})
        _, shapes = spec.configure(**merged)
        module, inputs = spec.instantiate(kwargs, shapes, device="meta")
    except (ValueError, TypeError) as e:
        return failed(str(key), e, lang, values=values)
    title = pick(spec.title_zh, spec.title_en, lang)
    built = pick(f"按 H×W = {built_hw[0]}×{built_hw[1]} 构建（H、W 固定）",
                 f"built for H×W = {built_hw[0]}×{built_hw[1]} (H, W kept fixed)", lang)
    head = (f"<div class='fe-head'><b>{html.escape(title)}</b> &nbsp;<code>{spec.cls.__name__}</code></div>"
            f"<div class='fe-fixed' style='color:#8a4b00'>{html.escape(built)}</div>")
    rendered = render_module(module, inputs, name=f"{spec.cls.__name__} [{key}]", input_names=spec.inputs,
                             head=head, lang=lang)
    rendered.key, rendered.values = spec.key, merged
    return rendered


def metrics_html(before: dict[str, float], after: dict[str, float], lang: str | None = None) -> str:
    """A small table of a demo's metrics before and after training, in one language."""
    from .learn import METRICS

    if not after:
        return ""
    rows = []
    for name, value in after.items():
        label = pick(*METRICS.get(name, (name, name)), lang)
        was = before.get(name)
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{'-' if was is None else f'{was:.3g}'}</td>"
                    f"<td><b>{value:.3g}</b></td></tr>")
    head = "".join(f"<th>{pick(zh, en, lang)}</th>" for zh, en in (("指标", "metric"), ("训练前", "before"),
                                                                    ("训练后", "after")))
    return f"<table class='fe-metrics'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def photo_figure(key: str, lang: str | None = None, **hypers: Any) -> Any:
    """The block's map on a real photo: an untrained, seeded block run on the photo's features.

    A matplotlib ``Figure`` made without pyplot, so drawing it in a kernel never shows it by itself.

    Args:
        key: A catalog key.
        lang: Language of the panel titles.
        **hypers: The block's hyperparameters (B, C, H and W are the photo demo's own).
    """
    from matplotlib.figure import Figure

    from . import data, plots
    from .trace import trace

    lang = resolve(lang, "present")
    spec = get_spec(key)
    hypers = {k: v for k, v in hypers.items() if k in {h.name for h in spec.hypers}}
    model, inputs = data.block_for_photo(key, **hypers)
    with torch.no_grad():
        kept = trace(model, *inputs, keep=True).tensors
    side = inputs[0].shape[-2] if key != "gated_fusion" else inputs[0].shape[1]
    image = data.photo(size=side)
    t = lambda zh, en: pick(zh, en, lang)  # noqa: E731 - a short alias keeps the panels readable
    if key == "osra":
        fig = Figure(figsize=(9, 3.4), layout="constrained")
        plots.query_attention(kept["attn"], (side // 3, side // 2), size=(side, side), sr_ratio=model.sr_ratio,
                              image=image, heads=(0, 1, 2), fig=fig)
        return fig
    wide = key in ("msf", "mfe", "cbam_joint")
    fig = Figure(figsize=(9, 3.6) if wide else (7.5, 3.6), layout="constrained")
    axes = fig.subplots(1, 3 if key == "cbam_joint" else 2,
                        width_ratios=[1, 1.3, 1.7] if key == "cbam_joint" else ([1, 1.6] if wide else [1, 1.25]))
    axes[0].imshow(data.to_image(image))
    axes[0].set_title(t(f"照片 {side}×{side}", f"photo {side}x{side}"))
    axes[0].axis("off")
    if key == "gated_fusion":
        plots.gate_mean_map(kept["z"], ax=axes[1])
        axes[1].set_title(t("门控 z 的通道均值（两路各有损坏块）", "gate z, channel mean (views corrupted in blocks)"))
    elif key in ("msf", "mfe"):
        plots.scale_weight_heatmap(kept["weights"], ax=axes[1])
        axes[1].set_title(t("每个通道的尺度权重", "scale weights per channel"))
    elif key == "safm":
        plots.modulation_map(kept["modulation"], ax=axes[1])
        axes[1].set_title(t("调制图 M 的通道均值", "modulation M, channel mean"))
    elif key == "msaa":
        plots.spatial_gate_map(kept["fusion_conv.spatial_gate"], image=image, ax=axes[1],
                               title=t("空间门控，叠在照片上", "spatial gate over the photo"))
    elif key == "cbam_joint":
        plots.spatial_gate_map(kept["spatial_weight"], image=image, ax=axes[1], title=t("空间权重", "spatial weight"))
        plots.channel_gate_bars(kept["channel_weight"], ax=axes[2], title=t("通道权重", "channel weight"))
    return fig


@lru_cache(maxsize=64)
def _photo_png(key: str, lang: str, hypers: tuple[tuple[str, Any], ...]) -> bytes:
    with style.scaled(FIGURE_SCALE):
        return _png(photo_figure(key, lang, **dict(hypers)))


def photo_png(key: str, lang: str | None = None, **hypers: Any) -> bytes:
    """`photo_figure` as PNG bytes (cached per block, language and hyperparameters)."""
    return _photo_png(key, resolve(lang, "present"), tuple(sorted(hypers.items())))


@lru_cache(maxsize=32)
def _graph_html(key: str, values: tuple[tuple[str, Any], ...]) -> str:
    from .graph import draw

    return draw(key, **dict(values)).html()


def graph_html(key: str, lang: str | None = None, **values: Any) -> str:
    """The block's graph for `values` as HTML (SVG, or a hint and the trace without ``dot``); never raises."""
    lang = resolve(lang, "present")
    try:
        get_spec(key).configure(**values)
        return _graph_html(key, tuple(sorted(values.items())))
    except (ValueError, TypeError) as e:
        return failed(str(key), e, lang).html
    except Exception as e:  # noqa: BLE001 - a page shows every failure instead of a traceback
        return failed(str(key), e, lang, unexpected=True).html


def _img(png: bytes | None) -> str:
    import base64

    if not png:
        return ""
    return f"<div class='fe-figure'><img src='data:image/png;base64,{base64.b64encode(png).decode()}'></div>"


# --------------------------------------------------------------------------- widgets

def _call_later(delay: float, func: Callable[[], None]) -> Any:
    """Schedules `func` on the running event loop (the kernel's); runs it at once where no loop runs."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        func()
        return None
    return loop.call_later(delay, func)


_TRAINING = threading.Lock()  # one live training per kernel: fit's bar is swapped process-wide


class BlockPage(widgets.HBox):
    """One block's page: sliders over graph, photo and training tabs on the left; the live trace on the right.

    Attributes:
        key: Catalog key.
        controls: ``{"H": IntSlider, ..., <hyper name>: ...}`` in `CONTROL_ORDER`, then hyperparameters.
        fixed: The "keep H×W fixed" toggle (None for blocks that are not size-bound).
        trace_out: The HTML widget with the render (its text changes while a slider is dragged).
        tabs: Graph, photo, training.
        last: The latest `Rendered`.
    """

    def __init__(self, key: str, *, defer: bool = True):
        spec = get_spec(key)
        self.key, self.spec, self.defer = spec.key, spec, defer
        self._labels: list[tuple[widgets.HTML, str, str]] = []
        self._pending: Any = None
        self._stale = {0: True, 1: True}
        self.built_hw: tuple[int, int] | None = None
        dims = {d.name: d for d in DIMS}
        self.controls: dict[str, widgets.ValueWidget] = {}
        rows = []
        for name in CONTROL_ORDER:
            d = dims[name]
            self.controls[name] = widgets.IntSlider(value=spec.defaults[name], min=d.low, max=d.high,
                                                    continuous_update=True, description=name, style=_STYLE,
                                                    layout=_slider_layout())
            rows.append(self._row(self.controls[name], d.zh, d.en))
        for hyper in spec.hypers:
            if all(isinstance(c, str) for c in hyper.choices):
                control = widgets.ToggleButtons(options=list(hyper.choices), value=hyper.default,
                                                style={"button_width": "auto"}, layout=widgets.Layout(flex="0 0 auto"))
            else:
                control = widgets.SelectionSlider(options=list(hyper.choices), value=hyper.default,
                                                  continuous_update=True, description=hyper.name, style=_STYLE,
                                                  layout=_slider_layout())
            self.controls[hyper.name] = control
            rows.append(self._row(control, hyper.zh, hyper.en, hyper.name))
        self.fixed: widgets.ToggleButton | None = None
        if size_bound(key):
            self.fixed = widgets.ToggleButton(value=False, icon="lock", layout=widgets.Layout(width="auto"))
            self.fixed.add_class("fe-fixed-toggle")
            rows.append(self._row(self.fixed, "模块按当前 H×W 构建；再移动 H 或 W 就会看到它的报错",
                                  "the block stays built for this H×W; move H or W to see its message"))
        self.trace_out = widgets.HTML()
        self.trace_out.add_class("fe-trace-out")
        self.graph_out = widgets.HTML()
        self.graph_out.add_class("fe-graph")
        self.photo_out = widgets.HTML()
        self.photo_out.add_class("fe-photo")
        self.train_button = widgets.Button(icon="play", button_style="primary", layout=widgets.Layout(width="auto"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="60%"))
        self.progress.layout.visibility = "hidden"
        self.progress_text = widgets.HTML()
        self.learn_out = widgets.HTML()
        self.learn_out.add_class("fe-learn")
        learn_box = widgets.VBox([widgets.HBox([self.train_button, self.progress],
                                               layout=widgets.Layout(align_items="center")),
                                  self.progress_text, self.learn_out])
        self.tabs = widgets.Tab(children=[self.graph_out, self.photo_out, learn_box])
        self.tabs.add_class("fe-tabs")
        left = widgets.VBox([*rows, self.tabs], layout=widgets.Layout(width="40%", min_width="0"))
        right = widgets.VBox([self.trace_out], layout=widgets.Layout(width="60%", min_width="0",
                                                                      padding="0 0 0 16px"))
        super().__init__([left, right], layout=widgets.Layout(width="100%", align_items="flex-start"))
        self.add_class("fusion-edu-explorer")  # the explorer's hooks (browser helpers) find the sliders here
        self.add_class(f"fe-page-{self.key}")
        self.last: Rendered | None = None
        self.lang = ""
        self._result_html = ""
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        if self.fixed is not None:
            self.fixed.observe(self._on_fixed, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.train_button.on_click(self._on_train)
        self.relabel()

    # ----------------------------------------------------------------------- layout helpers

    def _row(self, control: widgets.Widget, zh: str, en: str, control_name: str = "") -> widgets.HBox:
        label = widgets.HTML(layout=widgets.Layout(flex="1 1 0", min_width="0"))
        label.add_class("fe-meaning")
        self._labels.append((label, zh, en))
        parts = [control, label]
        if isinstance(control, widgets.ToggleButtons):  # its own description would take a line of its own
            name = widgets.HTML(f"<div style='text-align:right;padding-right:8px'>{html.escape(control_name)}</div>",
                                layout=widgets.Layout(width=_STYLE["description_width"], flex="0 0 auto"))
            parts.insert(0, name)
        else:
            control.layout.flex = "0 0 68%"
        return widgets.HBox(parts, layout=widgets.Layout(width="100%", align_items="center"))

    def relabel(self) -> None:
        """Sets every text of the page in the current language and redraws what shows text."""
        self.lang = lang = _page_lang()
        for label, zh, en in self._labels:
            label.value = f"<span class='fe-meaning'>{html.escape(pick(zh, en, lang))}</span>"
        self.tabs.titles = (pick("结构图", "graph", lang), pick("照片上的效果", "on a photo", lang),
                            pick("训练前后", "what it learns", lang))
        self.train_button.description = pick("现场训练", "train live", lang)
        if self.fixed is not None:
            self.fixed.description = pick("固定 H×W", "keep H×W fixed", lang)
        self._stale = {0: True, 1: True}
        self._show_learned()
        self.refresh()

    # ----------------------------------------------------------------------- the live trace

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Rendered:
        """Renders the trace for the current values (fast, on meta) and schedules the slow views. Never raises."""
        values, lang = self.values(), _page_lang()
        try:
            if self.built_hw is not None:
                self.last = fixed_size_render(self.key, self.built_hw, lang=lang, **values)
            else:
                self.last = render(self.key, lang=lang, **values)
        except Exception as e:  # noqa: BLE001 - render does not raise; this guards the page anyway
            self.last = failed(self.key, e, lang, values=values, unexpected=True)
        self.trace_out.value = self.last.html
        self._stale = {0: True, 1: True}
        self._schedule()
        return self.last

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def _on_fixed(self, change: dict) -> None:
        self.built_hw = (self.controls["H"].value, self.controls["W"].value) if change["new"] else None
        self.refresh()

    # ----------------------------------------------------------------------- slow views

    def _schedule(self) -> None:
        if not self.defer:
            self.update_views()
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = _call_later(_DEBOUNCE_S, self.update_views)

    def _on_tab(self, _change: dict) -> None:
        self.update_views()

    def update_views(self) -> None:
        """Redraws the graph or the photo map if it is on show and out of date."""
        self._pending = None
        tab = self.tabs.selected_index
        if not self._stale.get(tab, False):
            return
        lang = _page_lang()
        if tab == 0:
            if _TRAINING.locked():  # torchview would patch nn.Module.__call__ under the training thread
                text = pick("训练结束后更新结构图…", "the graph updates after training…", lang)
                self.graph_out.value = f"<p class='fe-note'>{text}</p>"
                return
            values = self.values()
            if self.built_hw is not None:
                values.update(H=self.built_hw[0], W=self.built_hw[1])
            self.graph_out.value = graph_html(self.key, lang, **values)
        elif tab == 1:
            hypers = {h.name: self.controls[h.name].value for h in self.spec.hypers}
            try:
                body = _img(photo_png(self.key, lang, **hypers))
            except (ValueError, TypeError) as e:
                body = failed(self.key, e, lang).html
            note = pick("未训练、固定种子的模块作用在真实照片的特征上（尺寸为照片演示的默认值，超参数随滑块）",
                        "an untrained, seeded block on a real photo's features (the photo demo's sizes; "
                        "hyperparameters follow the sliders)", lang)
            self.photo_out.value = f"<p class='fe-note'>{html.escape(note)}</p>{body}"
        self._stale[tab] = False

    # ----------------------------------------------------------------------- training

    def _show_learned(self) -> None:
        lang = _page_lang()
        if self._result_html:
            self.learn_out.value = self._result_html
            return
        try:
            cached = learn.cached(self.key, lang)
        except (LookupError, OSError, ValueError):  # a checkout without `make cache`: train live instead
            text = pick("还没有缓存的训练结果：点“现场训练”（约 10 秒）",
                        "no cached result yet: press “train live” (~10 s)", lang)
            self.learn_out.value = f"<p class='fe-note'>{html.escape(text)}</p>"
            return
        note = pick(f"缓存的训练结果（种子 0，{cached.steps} 步）", f"cached result (seed 0, {cached.steps} steps)",
                    lang)
        self.learn_out.value = (f"<p class='fe-note'>{html.escape(note)}</p>"
                                f"{metrics_html(cached.before, cached.after, lang)}{_img(cached.png)}")

    def _on_train(self, _button: Any) -> None:
        lang = _page_lang()
        if not _TRAINING.acquire(blocking=False):
            self.progress_text.value = pick("另一个训练正在进行", "another training is running", lang)
            return
        self.train_button.disabled = True
        self.progress.value, self.progress.max = 0, 1
        self.progress.layout.visibility = "visible"
        self.progress_text.value = pick("开始训练…", "starting…", lang)
        loop = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._train, args=(lang, loop), name=f"fusion-edu-train-{self.key}",
                                  daemon=True)
        thread.start()

    def _train(self, lang: str, loop: asyncio.AbstractEventLoop | None) -> None:
        """The training thread: run_demo with one torch thread, reporting steps to the progress bar."""
        last = [0.0]
        runs: list[str] = []

        def report(step: int, total: int, desc: str) -> None:
            if desc not in runs:
                runs.append(desc)
            now = time.monotonic()
            if step not in (0, total) and now - last[0] < 0.1:
                return
            last[0] = now
            self.progress.max = max(total, 1)
            self.progress.value = step
            run = f" ({len(runs)})" if len(runs) > 1 else ""
            self.progress_text.value = pick(f"训练中{run}：第 {step}/{total} 步", f"training{run}: step {step}/{total}",
                                            lang)

        try:
            result = learn.run_demo(self.key, seed=0, progress=report, threads=1)
            png = _result_png(result)
            status = pick("通过", "passed", lang) if result.passed else pick("未通过", "not passed", lang)
            note = pick(f"现场训练：种子 0，{result.steps} 步，{result.seconds:.1f} 秒，{status}",
                        f"live run: seed 0, {result.steps} steps, {result.seconds:.1f} s, {status}", lang)
            self._result_html = (f"<p class='fe-note'>{html.escape(note)}</p>"
                                 f"{metrics_html(result.before, result.after, lang)}{_img(png)}")
            self.learn_out.value = self._result_html
            self.progress_text.value = pick("完成", "done", lang)
        except Exception as e:  # noqa: BLE001 - a thread's exception would vanish; show it on the page
            self.learn_out.value = error_box(lang, "训练失败", "Training failed", f"{type(e).__name__}: {e}")
            self.progress_text.value = ""
        finally:
            self.train_button.disabled = False
            self.progress.layout.visibility = "hidden"
            _TRAINING.release()
            self._stale[0] = True
            if loop is not None:
                loop.call_soon_threadsafe(self.update_views)


_PYPLOT = threading.Lock()


def _result_png(result: Any) -> bytes:
    """The before/after figure of a live `DemoResult` as PNG (pyplot figure closed at once, never shown)."""
    import matplotlib.pyplot as plt

    with _PYPLOT, style.scaled(FIGURE_SCALE):
        fig = result.figure()
        try:
            return _png(fig)
        finally:
            plt.close(fig)


def _page_lang() -> str:
    """The dashboard shows one language: 'both' shows Chinese (the course's first language)."""
    lang = get_lang()
    return "en" if lang == "en" else "zh"


class Dashboard(widgets.VBox):
    """The classroom dashboard: a block picker, a language toggle and one `BlockPage` per block (built on demand).

    Attributes:
        picker: Buttons for the seven blocks (values are catalog keys).
        language: The language toggle ('zh' or 'en'); it sets the course language of this kernel.
        pages: The pages built so far, by key.
        page: The page on show.
    """

    def __init__(self, key: str | None = None, *, lang: str | None = None, defer: bool = True):
        if lang is not None:
            set_lang(resolve(lang, "dashboard"))
        keys = list(BLOCKS)
        key = key or keys[0]
        if key not in BLOCKS:
            raise value_error("dashboard", f"key must be one of {keys}", {"key": key}, "Try dashboard('osra').",
                              zh=f"key 只能是 {keys} 之一", zh_hint="例如 dashboard('osra')。")
        self.defer = defer
        self.picker = widgets.ToggleButtons(options=[(SHORT_NAMES[k][0], k) for k in keys], value=key,
                                            tooltips=[f"{BLOCKS[k].title_zh} / {BLOCKS[k].title_en} [{k}]"
                                                      for k in keys],
                                            style={"button_width": "auto"})
        self.picker.add_class("fe-picker")
        self.language = widgets.ToggleButtons(options=list(_LANGS), value=_page_lang(), style={"button_width": "auto"})
        self.language.add_class("fe-language")
        self.pages: dict[str, BlockPage] = {}
        self.page = self._page(key)
        top = widgets.HBox([self.picker, self.language],
                           layout=widgets.Layout(justify_content="space-between", flex_flow="row wrap",
                                                 align_items="center", width="100%"))
        super().__init__([widgets.HTML(dashboard_css()), top, self.page], layout=widgets.Layout(width="100%"))
        self.add_class("fe-present")
        self.language.observe(self._on_language, names="value")
        self.picker.observe(self._on_pick, names="value")
        self._relabel_picker()

    def _page(self, key: str) -> BlockPage:
        if key not in self.pages:
            self.pages[key] = BlockPage(key, defer=self.defer)
        return self.pages[key]

    def _relabel_picker(self) -> None:
        index = 0 if _page_lang() == "zh" else 1
        value = self.picker.value
        self.picker.unobserve(self._on_pick, names="value")  # new options reset the value for a moment
        try:
            self.picker.options = [(SHORT_NAMES[k][index], k) for k in BLOCKS]
            self.picker.value = value
        finally:
            self.picker.observe(self._on_pick, names="value")

    def _on_pick(self, change: dict) -> None:
        try:
            self.page = self._page(change["new"])
            if self.page.lang != _page_lang():
                self.page.relabel()
        except Exception as e:  # noqa: BLE001 - show the problem instead of raising in a callback
            self.children = [*self.children[:2], widgets.HTML(failed(change["new"], e, _page_lang(),
                                                                     unexpected=True).html)]
            return
        self.children = [*self.children[:2], self.page]

    def _on_language(self, change: dict) -> None:
        set_lang(change["new"])
        self._relabel_picker()
        for page in self.pages.values():
            page.relabel()


def dashboard(key: str | None = None, *, lang: str | None = None) -> Dashboard:
    """The classroom dashboard (returned, not displayed): ``dashboard()`` in the last line of a cell shows it.

    Args:
        key: The block shown first (default: the first of the catalog).
        lang: ``"zh"`` or ``"en"`` (None: the course language, `FUSION_EDU_LANG`). The dashboard's own
            language toggle sets the course language of the kernel.
    """
    return Dashboard(key, lang=lang)
