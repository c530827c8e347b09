"""The one figure style of the package: colour maps, font sizes, language, the CJK font and shared helpers.

Every figure function of `fusion_edu.plots` and `fusion_edu.learn.figures` takes its colours,
sizes and text from here:

* **Colour maps** with a fixed meaning: `GATE_CMAP` for 0..1 gates and weights, `MIX_CMAP` for
  gated fusion's z (0.5, an even mix, in the neutral middle), `SIGNED_CMAP` for maps symmetric
  about 0, `POSITIVE_CMAP` for maps that cannot be negative; `BEFORE`, `AFTER`, `AFTER2` colour
  the bars of before/after comparisons. MSF's bounds come from `fusion_edu.blocks.NOTE_BOUNDS`.
* **One scale** for a projector: ``set_scale(1.6)`` (or ``with scaled(1.6):``) makes every font
  1.6 times larger; narrow figures grow with it, wide ones keep their width so the text is
  larger relative to the picture. Nothing edits the global rcParams: figures are drawn inside
  ``matplotlib.rc_context`` and pass their font sizes explicitly.
* **Language**: every title, axis label, legend and colour-bar label is ``label(zh, en)``, so
  ``fusion_edu.lang.set_lang("en")`` gives English figures, ``"zh"`` Chinese and ``"both"`` both
  (Chinese above English).
* **CJK font**: Chinese needs a font with its glyphs. A system font is used when there is one
  (Noto Sans CJK SC, Source Han Sans SC, ...); otherwise the package's own subset of Noto Sans SC
  (``plots/fonts``, SIL Open Font License), registered with matplotlib at the first figure.

Example:
    >>> previous = set_scale(1.5)
    >>> size("title") == 1.5 * BASE_SIZES["title"]
    True
    >>> _ = set_scale(previous)
    >>> label("门控", "gate", "en")
    'gate'
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import unicodedata
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
from matplotlib import colors, font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from ..blocks import NOTE_BOUNDS
from ..errors import value_error
from ..lang import get_lang, pick, resolve, set_lang

__all__ = ["GATE_CMAP", "MIX_CMAP", "SIGNED_CMAP", "POSITIVE_CMAP", "BEFORE", "AFTER", "AFTER2", "MSF_BOUNDS",
           "GELU_MIN", "BASE_SIZES", "set_scale", "get_scale", "scaled", "size", "figsize", "label", "language",
           "cjk_family", "context", "styled", "new_figure", "new_axes", "title", "suptitle", "decorate", "image",
           "colorbar", "legend", "wrap", "map_row", "FONT_FILE", "FONT_FAMILY", "SYSTEM_CJK_FAMILIES"]

# --------------------------------------------------------------------------- colours and constants

GATE_CMAP = "viridis"  # 0..1 gates and weights
MIX_CMAP = "coolwarm"  # gated fusion's z: 0.5 (an even mix) is the neutral middle
SIGNED_CMAP = "RdBu_r"  # signed maps, symmetric about 0
POSITIVE_CMAP = "magma"  # maps that cannot be negative (after ReLU, attention, |gradient|)
BEFORE, AFTER, AFTER2 = "#9e9e9e", "#1f77b4", "#ff7f0e"  # bars: untrained, trained, trained (second model)

MSF_BOUNDS = NOTE_BOUNDS  # softmax over 4 sigmoid outputs: one weight lies in (0.109, 0.475)
GELU_MIN = -0.1700  # min of x * Phi(x), reached at x = -0.752

# --------------------------------------------------------------------------- sizes and the projector scale

BASE_SIZES = {"title": 9.0, "suptitle": 10.0, "label": 8.0, "tick": 7.0, "legend": 7.0, "small": 6.0}
"""Font sizes in points at scale 1: panel titles, figure titles, axis labels, ticks, legends, small notes."""

_MAX_WIDTH = 12.5  # inches: a figure this wide already fills a notebook column, so it keeps its width
_scale = 1.0


def set_scale(factor: float) -> float:
    """Multiplies every figure font size by `factor` (1 = notebook, about 1.6 = projector); returns the old one."""
    global _scale
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.5 <= factor <= 4:
        raise value_error("set_scale", "factor must be a number from 0.5 to 4", {"factor": factor},
                          "Use 1 for a notebook and about 1.6 for a projector.", zh="factor 必须是 0.5 到 4 之间的数",
                          zh_hint="笔记本用 1，投影仪用 1.6 左右。")
    previous, _scale = _scale, float(factor)
    return previous


def get_scale() -> float:
    """The current figure scale (1 unless `set_scale` changed it)."""
    return _scale


@contextlib.contextmanager
def scaled(factor: float) -> Iterator[None]:
    """Figures drawn inside use font scale `factor`; the previous scale comes back afterwards."""
    previous = set_scale(factor)
    try:
        yield
    finally:
        set_scale(previous)


def size(role: str) -> float:
    """Font size in points for `role` ('title', 'suptitle', 'label', 'tick', 'legend', 'small') at the current scale."""
    return BASE_SIZES[role] * _scale


def figsize(width: float, height: float) -> tuple[float, float]:
    """A figure size for the current scale: grows with the fonts up to a notebook's width.

    A figure narrower than a notebook column is shown at its own size, so it grows with the scale
    (its text grows as much). A wide one is shrunk to the column anyway: it keeps its width, so its
    text becomes larger relative to it, and it gets a little taller for the larger titles. With the
    language 'both' every figure is a fifth taller for its two-line text.
    """
    grow = min(_scale, max(1.0, _MAX_WIDTH / width))
    taller = 1.2 if get_lang() == "both" else 1.0  # two-line titles and labels
    return width * grow, height * max(grow, 1 + 0.3 * (_scale - 1)) * taller


# --------------------------------------------------------------------------- language

def label(zh: str, en: str, lang: str | None = None) -> str:
    """Figure text in the course language: `zh`, `en`, or both on two lines (Chinese first).

    `lang` None means the course language (`fusion_edu.lang.get_lang`).
    """
    return pick(zh, en, lang, sep="\n")


@contextlib.contextmanager
def language(lang: str | None) -> Iterator[None]:
    """Draws in `lang` ('zh', 'en', 'both') inside the block, then restores the course language (None: no change)."""
    if lang is None:
        yield
        return
    previous = set_lang(resolve(lang, "language"))
    try:
        yield
    finally:
        set_lang(previous)


# --------------------------------------------------------------------------- the CJK font

FONT_FILE = Path(__file__).with_name("fonts") / "FusionEduSansSC-Regular.ttf"
"""The shipped subset of Noto Sans SC: the characters the package draws in figures (``make font``)."""
FONT_FAMILY = "Fusion Edu Sans SC"
SYSTEM_CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN",
                       "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "WenQuanYi Zen Hei",
                       "WenQuanYi Micro Hei", "Droid Sans Fallback")


@functools.cache
def cjk_family() -> str:
    """The font family that draws Chinese: a system CJK font if one is installed, else the shipped subset.

    The shipped font is registered with matplotlib's font manager the first time this is called.
    """
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK_FAMILIES:
        if family in installed:
            return family
    font_manager.fontManager.addfont(str(FONT_FILE))
    return FONT_FAMILY


def _families() -> list[str]:
    """The user's font family first (Latin text looks as usual), then the CJK font for Chinese glyphs."""
    families = list(matplotlib.rcParams["font.family"])
    cjk = cjk_family()
    return families if cjk in families else [*families, cjk]


@contextlib.contextmanager
def context() -> Iterator[None]:
    """``matplotlib.rc_context`` with the CJK-capable font family and the scaled sizes, for drawing a figure.

    Text keeps the family it was created with, so a figure built inside draws Chinese afterwards too.
    The interactive mode a backend switches on while drawing (JupyterLab's inline backend does, at the
    first figure of a kernel) is kept afterwards, so later figures show as well.
    """
    with matplotlib.rc_context({
            "font.family": _families(), "font.size": size("label"), "axes.titlesize": size("title"),
            "axes.labelsize": size("label"), "xtick.labelsize": size("tick"), "ytick.labelsize": size("tick"),
            "legend.fontsize": size("legend"), "figure.titlesize": size("suptitle")}):
        yield
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


FigureFunction = TypeVar("FigureFunction", bound=Callable[..., Any])


def styled(func: FigureFunction) -> FigureFunction:
    """Decorates a figure function: it draws inside `context` and takes a keyword ``lang`` ('zh', 'en', 'both')."""
    @functools.wraps(func)
    def draw(*args: Any, lang: str | None = None, **kwargs: Any) -> Any:
        with language(lang), context():
            drawn = func(*args, **kwargs)
            _chinese_in_cjk_font(drawn)
            _fit_titles(drawn)
            return drawn

    signature = inspect.signature(func)
    if "lang" not in signature.parameters:
        lang = inspect.Parameter("lang", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None")
        params = list(signature.parameters.values())
        at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
        draw.__signature__ = signature.replace(parameters=[*params[:at], lang, *params[at:]])  # type: ignore[attr-defined]
    return draw  # type: ignore[return-value]


# --------------------------------------------------------------------------- text that fits

_NO_LINE_START = set("，。、：；！？）》」』】,.;:!?)%")


def _em(char: str) -> float:
    """Approximate advance width of `char` in em: full width for CJK, about 0.6 for Latin."""
    if _wide(char):
        return 1.0
    return 0.3 if char in " .,:;'|!il()[]" else 0.62 if char.isupper() or char.isdigit() else 0.55


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokens(line: str) -> list[str]:
    """Latin words, spaces and single CJK characters; closing punctuation sticks to the token before it."""
    out: list[str] = []
    for char in line:
        if out and char in _NO_LINE_START:
            out[-1] += char
        elif out and char != " " and not _wide(char) and out[-1] != " " and not _wide(out[-1][-1]):
            out[-1] += char
        else:
            out.append(char)
    return out


_SOFT_BREAK = set("，。、：；！？,;:)）·")


def _break_at(tokens: list[str], limit: float) -> int:
    """Where to end a full line of `tokens`: after the last space or punctuation past half the line, else at the end."""
    used = 0.0
    best = len(tokens)
    for i, token in enumerate(tokens):
        used += sum(_em(c) for c in token)
        if used >= limit / 2 and (token == " " or token[-1] in _SOFT_BREAK):
            best = i + 1
    return best


def wrap(text: str, width: float, fontsize: float) -> str:
    """Breaks `text` into lines no wider than `width` inches at `fontsize` points.

    CJK-aware: lines break between Chinese characters, preferably after a space or punctuation
    (never before closing punctuation); explicit newlines are kept.
    """
    limit = max(width, 0.3) * 72 / fontsize  # in em
    lines = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        used = 0.0
        for token in _tokens(paragraph):
            w = sum(_em(c) for c in token)
            if line and used + w > limit and token != " ":
                cut = _break_at(line, limit)
                lines.append("".join(line[:cut]).strip())
                line = line[cut:]
                used = sum(_em(c) for t in line for c in t)
            if token == " " and not line:
                continue
            line.append(token)
            used += w
        lines.append("".join(line).strip())
    return "\n".join(lines)


def _width(target: Axes | Figure | SubFigure) -> float:
    """Width in inches; for an axes of a grid, its share of the (sub)figure (the layout is not done yet)."""
    if not isinstance(target, Axes):
        return target.bbox.width / target.dpi
    spec = target.get_subplotspec()
    if spec is None:
        return target.bbox.width / target.figure.dpi
    grid = spec.get_gridspec()
    ratios = grid.get_width_ratios() or [1] * grid.ncols
    share = sum(ratios[c] for c in spec.colspan) / sum(ratios)
    return 0.9 * share * _width(target.figure)


def _height(axes: Sequence[Axes]) -> float:
    """Height in inches of the grid rows that `axes` span, as a share of their (sub)figure (before the layout)."""
    first = axes[0]
    spec = first.get_subplotspec()
    if spec is None:
        return first.bbox.height / first.figure.dpi
    grid = spec.get_gridspec()
    ratios = grid.get_height_ratios() or [1] * grid.nrows
    rows = {r for ax in axes if ax.get_subplotspec() is not None for r in ax.get_subplotspec().rowspan}
    owner = first.figure
    return 0.85 * sum(ratios[r] for r in rows) / sum(ratios) * owner.bbox.height / owner.dpi


_TITLES: weakref.WeakKeyDictionary[Axes, tuple[str, float]] = weakref.WeakKeyDictionary()


def title(ax: Axes, text: str) -> None:
    """A panel title at the title size, wrapped to the panel's width.

    The width is estimated now and measured once the figure function returns (see `styled`): panels
    of square images are often narrower than their grid column.
    """
    if text:
        ax.set_title(wrap(text, _width(ax), size("title")), fontsize=size("title"))
        _TITLES[ax] = (text, size("title"))


def _chinese_in_cjk_font(drawn: Any) -> None:
    """Every text with Chinese in it gets the CJK-capable family, also on axes made before the figure function
    ran (their title and label texts were created with the family of that moment)."""
    root = _root(drawn)
    if root is None:
        return
    for text in root.findobj(matplotlib.text.Text):
        if any(_wide(char) for char in text.get_text()):
            text.set_fontfamily(_families())


def _root(drawn: Any) -> Figure | None:
    figure = drawn.figure if isinstance(drawn, Axes) else drawn
    while isinstance(figure, SubFigure):
        figure = figure.figure
    return figure if isinstance(figure, Figure) else None


def _fit_titles(drawn: Any) -> None:
    """Lays the figure out once and re-wraps the panel titles to the panels' real widths."""
    root = _root(drawn)
    engine = root.get_layout_engine() if root is not None else None
    if engine is None:
        return
    axes = [ax for ax in root.findobj(Axes) if ax in _TITLES]
    if not axes:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a first layout with unwrapped titles may not fit; the final one does
        engine.execute(root)
    for ax in axes:
        text, fontsize = _TITLES[ax]
        ax.set_title(wrap(text, ax.bbox.width / root.dpi, fontsize), fontsize=fontsize)


def suptitle(fig: Figure | SubFigure, text: str) -> None:
    """A figure title at the figure-title size, wrapped to the figure's width."""
    if text:
        fig.suptitle(wrap(text, 0.95 * _width(fig), size("suptitle")), fontsize=size("suptitle"))


# --------------------------------------------------------------------------- figures and axes

def new_figure(fig: Figure | SubFigure | None, width: float, height: float) -> Figure | SubFigure:
    """`fig`, or a new constrained-layout figure of `figsize(width, height)` (through pyplot, so notebooks show it)."""
    return plt.figure(figsize=figsize(width, height), layout="constrained") if fig is None else fig


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    """`ax`, or the axes of a new constrained-layout figure of `figsize(width, height)`."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize(width, height), layout="constrained")
    return ax


def decorate(ax: Axes, text: str = "", *, xlabel: str = "", ylabel: str = "", image: bool = False) -> Axes:
    """Title, axis labels and tick labels at the style's sizes; ``image=True`` hides the ticks."""
    ax.tick_params(labelsize=size("tick"))
    if xlabel:
        ax.set_xlabel(wrap(xlabel, _width(ax), size("label")), fontsize=size("label"))
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=size("label"))
    if image:
        ax.set_xticks([])
        ax.set_yticks([])
    title(ax, text)
    return ax


def image(ax: Axes, data: Any, text: str = "", **kwargs: Any):
    """Draws a map with square pixels (no smoothing, no ticks) and a title; returns the image."""
    shown = ax.imshow(np.asarray(data), interpolation="nearest", **kwargs)
    decorate(ax, text, image=True)
    return shown


def colorbar(mappable: Any, axes: Axes | Sequence[Axes], text: str = "", *, ticks: Sequence[float] | None = None,
             fig: Figure | SubFigure | None = None, shrink: float = 0.85, **kwargs: Any):
    """A colour bar beside `axes`, with its label and ticks at the style's sizes; returns it."""
    parent = axes if isinstance(axes, Axes) else list(np.ravel(axes))
    owner = fig if fig is not None else (parent if isinstance(parent, Axes) else parent[0]).figure
    bar = owner.colorbar(mappable, ax=parent, shrink=shrink, ticks=ticks, **kwargs)
    bar.ax.tick_params(labelsize=size("tick"))
    if text:
        length = shrink * _height([parent] if isinstance(parent, Axes) else parent)
        bar.set_label(wrap(text, length, size("label")), fontsize=size("label"))
    return bar


def legend(ax: Axes, *, small: bool = False, share: float = 0.6, **kwargs: Any):
    """The axes' legend at the legend size (or the small size), entries wrapped to `share` of the axes' width.

    Keyword arguments go to ``Axes.legend``.
    """
    fontsize = size("small" if small else "legend")
    handles, labels = ax.get_legend_handles_labels()
    labels = [wrap(text, share * _width(ax), fontsize) for text in labels]
    return ax.legend(handles, labels, fontsize=fontsize, **kwargs)


def map_row(maps: Sequence[np.ndarray], titles: Sequence[str], fig: Figure | SubFigure | None, text: str,
            suptitle_text: str = "") -> Figure | SubFigure:
    """One row of H x W maps on one colour scale: 0..max if none is negative, else symmetric about 0."""
    fig = new_figure(fig, 1.9 * len(maps) + 0.9, 2.3)
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    low = min(float(m.min()) for m in maps)
    high = max(float(np.abs(m).max()) for m in maps) or 1.0
    norm = colors.Normalize(0, high) if low >= 0 else colors.Normalize(-high, high)
    cmap = POSITIVE_CMAP if low >= 0 else SIGNED_CMAP
    for ax, m, text_i in zip(axes, maps, titles):
        shown = image(ax, m, text_i, cmap=cmap, norm=norm)
    colorbar(shown, axes, text)
    suptitle(fig, suptitle_text)
    return fig
