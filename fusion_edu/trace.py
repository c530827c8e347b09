"""The annotated shape trace: `note()` marks a step inside `forward`, `trace()` records the steps.

A spec is a space-separated list of dims, one per tensor axis (a subset of jaxtyping's grammar):

* an int literal (``1``) must match exactly;
* a name (``B``, ``C``, ``H'``) binds to the size on first use inside one module call and is
  checked on every later use;
* an expression without spaces (``C//nh``, ``H*W``, ``H//2**i``) is evaluated from the bound
  names and the keyword dims passed to that one ``note`` call, and checked;
* ``_`` is not checked; ``...`` stands for any number of leading (or middle) axes.

`section()` starts a phase of a forward pass (the note's 多特征提取 → 多尺度融合): the rows after it
are shown under that heading. Rows of a submodule's own forward are grouped under the submodule.

With no trace active, ``note`` and ``section`` return at once: outputs stay bit-exact and the
blocks stay plain modules for torchview. This module knows no block.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import html
import os
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from .errors import ShapeError
from .lang import LANGS, pick, resolve

__all__ = ["note", "section", "watch", "trace", "Trace", "Step", "Group", "short_path", "text_width", "pad",
           "ShapeError", "LANGS", "parse_spec", "match_spec"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_ACTIVE: ContextVar[_Recorder | None] = ContextVar("fusion_edu_trace", default=None)


def note(tensor: Tensor, spec: str, zh: str, en: str, *, key: str | None = None, **dims: int) -> Tensor:
    """Marks one step of a forward pass and returns `tensor` untouched.

    Args:
        tensor: The tensor this step produced.
        spec: Its symbolic shape, e.g. ``"B C H W"`` or ``"B nh H*W hd"``.
        zh: What the step does, in Chinese.
        en: What the step does, in English.
        key: A name under which ``trace(..., keep=True)`` keeps the tensor (for plots).
        **dims: Values for names used in this spec only (e.g. ``i=2`` for ``H//2**i``); a label may
            show them too (``"scale {i}"``).
    """
    recorder = _ACTIVE.get()
    if recorder is None:
        return tensor
    frame = sys._getframe(1)
    recorder.record(tensor, spec, zh, en, key, dims, recorder.current(), frame.f_code.co_filename, frame.f_lineno)
    return tensor


def watch(module: nn.Module, spec: str, zh: str, en: str, *, key: str | None = None, **dims: int) -> None:
    """Marks the output of `module`'s next call as a step, for a step hidden inside a container.

    ``watch(self.MLP[1], "B M 1 1", ...)`` before ``self.MLP(x)`` gives the bottleneck of the
    MLP its own row, while the code keeps calling the container as the source does. The row
    belongs to the calling forward (its names, its section) and points at the ``watch`` line.
    """
    recorder = _ACTIVE.get()
    if recorder is not None:
        frame = sys._getframe(1)
        recorder.watches[id(module)] = (spec, zh, en, key, dims, recorder.current(), frame.f_code.co_filename,
                                        frame.f_lineno)


def section(zh: str, en: str) -> None:
    """Starts a phase of the current forward pass; the rows that follow are shown under it."""
    recorder = _ACTIVE.get()
    if recorder is not None and recorder.stack:
        recorder.stack[-1].section = (zh, en)


# --------------------------------------------------------------------------- spec grammar

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*")
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
            ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub)


def _py_name(name: str) -> str:
    return name.replace("'", "_prime_")


@dataclass(frozen=True)
class _Dim:
    text: str
    kind: str  # "int" | "name" | "expr" | "skip" | "ellipsis"
    value: Any = None  # int for "int", the Python name for "name", a code object for "expr"
    names: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1024)
def parse_spec(spec: str) -> tuple[_Dim, ...]:
    """Parses a spec string into dims; raises ValueError for a malformed spec."""
    dims = []
    for text in spec.split():
        if text == "...":
            dims.append(_Dim(text, "ellipsis"))
        elif text == "_":
            dims.append(_Dim(text, "skip"))
        elif text.isdigit():
            dims.append(_Dim(text, "int", int(text)))
        elif _NAME.fullmatch(text):
            dims.append(_Dim(text, "name", text))
        else:
            names = tuple(dict.fromkeys(_NAME.findall(text)))
            source = text
            for name in sorted(names, key=len, reverse=True):
                source = source.replace(name, _py_name(name))
            try:
                tree = ast.parse(source, mode="eval")
            except SyntaxError as e:
                raise ValueError(f"trace: cannot read the dim {text!r} in spec {spec!r}") from e
            if not all(isinstance(node, _ALLOWED) for node in ast.walk(tree)):
                raise ValueError(f"trace: only + - * // % ** on names and ints are allowed; got {text!r} in {spec!r}")
            dims.append(_Dim(text, "expr", compile(tree, "<spec>", "eval"), names))
    if sum(d.kind == "ellipsis" for d in dims) > 1:
        raise ValueError(f"trace: a spec may hold one '...'; got {spec!r}")
    return tuple(dims)


def match_spec(spec: str, shape: tuple[int, ...], bindings: dict[str, int], dims: dict[str, int]) -> str:
    """Checks `shape` against `spec`, binding new names into `bindings`. Returns '' or a problem."""
    parsed = parse_spec(spec)
    if any(d.kind == "ellipsis" for d in parsed):
        cut = next(i for i, d in enumerate(parsed) if d.kind == "ellipsis")
        front, back = parsed[:cut], parsed[cut + 1:]
        if len(shape) < len(front) + len(back):
            return f"expected at least {len(front) + len(back)} axes for {spec!r}, got {len(shape)}"
        pairs = list(zip(front, shape)) + list(zip(back, shape[len(shape) - len(back):]))
    else:
        if len(shape) != len(parsed):
            return f"expected {len(parsed)} axes for {spec!r}, got {len(shape)}"
        pairs = list(zip(parsed, shape))
    for dim, size in pairs:
        if dim.kind == "skip":
            continue
        if dim.kind == "int":
            expected = dim.value
        elif dim.kind == "name":
            if dim.value in dims:
                expected = dims[dim.value]
            elif dim.value in bindings:
                expected = bindings[dim.value]
            else:
                bindings[dim.value] = size
                continue
        else:
            env = {_py_name(k): v for k, v in {**bindings, **dims}.items()}
            missing = [n for n in dim.names if _py_name(n) not in env]
            if missing:
                return f"cannot evaluate {dim.text!r}: {', '.join(missing)} not bound yet"
            expected = eval(dim.value, {"__builtins__": {}}, env)  # noqa: S307 - ast-checked arithmetic
        if size != expected:
            return f"{dim.text} should be {expected}, got {size}"
    return ""


# --------------------------------------------------------------------------- records

@dataclass
class Step:
    """One row of a trace: a step that `note` marked inside a forward pass."""

    index: int
    module: str  # dotted path inside the traced module ("" for the module itself)
    block: str  # class name of the module whose forward wrote the note
    zh: str
    en: str
    spec: str
    shape: tuple[int, ...]
    file: str
    lineno: int
    key: str | None = None
    ok: bool = True
    problem: str = ""
    section: tuple[str, str] | None = None  # (zh, en) of the phase this row belongs to
    dims: dict[str, int] = field(default_factory=dict)  # keyword dims of this one note (L=4, i=2)
    # (path, block, section) of each calling forward that had a section open when this row was written
    outer: tuple[tuple[str, str, tuple[str, str]], ...] = ()

    @property
    def line(self) -> str:
        return f"{self.file}:{self.lineno}"

    @property
    def concrete(self) -> str:
        return "(" + ", ".join(str(s) for s in self.shape) + ")"

    @property
    def depth(self) -> int:
        return self.module.count(".") + 1 if self.module else 0


@dataclass
class _Scope:
    path: str
    block: str
    bindings: dict[str, int] = field(default_factory=dict)
    section: tuple[str, str] | None = None


class _Recorder:
    def __init__(self, root: nn.Module, strict: bool, keep: bool):
        self.names = {id(m): name for name, m in root.named_modules()}
        self.strict = strict
        self.keep = keep
        self.stack: list[_Scope] = []
        self.scopes: list[_Scope] = []
        self.rows: list[Step] = []
        self.tensors: dict[str, Tensor] = {}
        self.watches: dict[int, tuple] = {}

    def enter(self, module: nn.Module, _args: Any) -> None:
        scope = _Scope(self.names.get(id(module), "?"), type(module).__name__)
        self.stack.append(scope)
        self.scopes.append(scope)

    def leave(self, module: nn.Module, _args: Any, out: Any) -> None:
        if self.stack:
            self.stack.pop()
        watched = self.watches.pop(id(module), None)
        if watched is not None and isinstance(out, Tensor):
            self.record(out, *watched)

    def current(self) -> _Scope:
        return self.stack[-1] if self.stack else _Scope("", "?")

    def bindings(self) -> dict[str, dict[str, int]]:
        """Bound names per module path, in call order (the first call of a path wins)."""
        out: dict[str, dict[str, int]] = {}
        for scope in self.scopes:
            if scope.bindings:
                out.setdefault(scope.path, dict(scope.bindings))
        return out

    def record(self, tensor, spec, zh, en, key, dims, scope, filename, lineno) -> None:
        shape = tuple(tensor.shape)
        problem = match_spec(spec, shape, scope.bindings, dims)
        if dims:
            zh, en = _fill(zh, dims), _fill(en, dims)
        callers = self.stack[:self.stack.index(scope)] if scope in self.stack else []
        outer = tuple((s.path, s.block, s.section) for s in callers if s.section is not None)
        row = Step(len(self.rows) + 1, scope.path, scope.block, zh, en, spec, shape,
                   short_path(filename), lineno, key, not problem, problem, scope.section, dict(dims), outer)
        self.rows.append(row)
        if problem and self.strict:
            bound = ", ".join(f"{k}={v}" for k, v in scope.bindings.items())
            raise ShapeError(f"{scope.block}: step {row.index} ({en}) expected \"{spec}\""
                             f" with {bound or 'nothing bound'}"
                             f"; got shape {row.concrete} at {row.line}: {problem}.")
        if key is not None and self.keep:
            self.tensors[f"{scope.path}.{key}" if scope.path else key] = tensor.detach()


def _fill(label: str, dims: dict[str, int]) -> str:
    """``"scale {i}"`` with ``i=2`` -> ``"scale 2"``; a label without such fields stays as it is."""
    try:
        return label.format(**dims)
    except (KeyError, IndexError, ValueError):
        return label


@functools.lru_cache(maxsize=256)
def short_path(filename: str) -> str:
    """The trace's ``where``: ``blocks/safm.py`` inside the package, ``cell`` for code typed in a notebook,
    any other file as it is."""
    if filename.startswith(_PACKAGE_DIR):
        return os.path.relpath(filename, _PACKAGE_DIR).replace(os.sep, "/")
    if "ipykernel_" in filename or filename.startswith("<ipython-input"):
        return "cell"
    return filename


# --------------------------------------------------------------------------- the trace and its views

@dataclass
class Group:
    """Consecutive rows of one module call and one section: what a display folds together.

    A group without rows is a heading only: a section of a calling forward whose first rows come from a
    submodule (MSAA's channel path opens with the channel-attention module's rows). ``continued`` marks a
    section that resumes after a submodule's rows.
    """

    module: str
    block: str
    section: tuple[str, str] | None
    rows: list[Step]
    continued: bool = False

    @property
    def depth(self) -> int:
        return self.module.count(".") + 1 if self.module else 0

    def title(self, lang: str) -> str:
        where = self.module if self.module.rsplit(".", 1)[-1] == self.block else f"{self.module} · {self.block}"
        where = where if self.module else ""
        if self.section is None:
            return where
        phase = pick(*self.section, lang) + (pick("（续）", " (cont.)", lang) if self.continued else "")
        return f"{where} — {phase}" if where else phase


class Trace:
    """The recorded steps of one forward pass, shown as a table (HTML) or as text.

    Attributes:
        rows: One `Step` per `note` call, in execution order.
        symbols: Names bound in the traced module's own forward (``{"B": 1, "C": 64, ...}``).
        scopes: Bound names per module path, for composites (``{"": {...}, "msf": {...}}``).
        tensors: Tensors kept by key when traced with ``keep=True``.
        output: The module's output (on meta when traced on meta).
        remarks: Extra ``(zh, en)`` lines shown under the header.
        lang: Display language; None follows `fusion_edu.lang.get_lang()` at display time.
        compact: Display one language, no ``where`` column, symbolic and concrete in one column.
    """

    def __init__(self, name: str, rows: list[Step], scopes: dict[str, dict[str, int]], tensors: dict[str, Tensor],
                 inputs: list[Any], output: Any, lang: str | None = None, remarks: list[tuple[str, str]] = ()):
        self.name = name
        self.rows = rows
        self.scopes = scopes
        self.symbols = scopes.get("", {})
        self.tensors = tensors
        self.inputs = inputs
        self.output = output
        self.lang = None if lang is None else resolve(lang, "Trace")
        self.remarks = list(remarks)
        self.compact = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        outs = self.output if isinstance(self.output, (tuple, list)) else [self.output]
        return [tuple(o.shape) for o in outs if isinstance(o, Tensor)]

    def in_lang(self, lang: str | None) -> Trace:
        """The same trace, displayed in 'zh', 'en' or 'both' (None: follow the course setting)."""
        view = copy.copy(self)
        view.lang = None if lang is None else resolve(lang, "Trace")
        return view

    def as_compact(self, lang: str | None = None) -> Trace:
        """The compact view for the explorer and a projector: one language, no ``where``, one shape column."""
        view = self.in_lang(lang if lang is not None else self.lang)
        view.compact = True
        return view

    def groups(self) -> list[Group]:
        """The rows cut into runs of one module call and one section, in order.

        A caller's section is headed before its submodule's rows even when the caller has written no row yet.
        """
        out: list[Group] = []
        shown: dict[int, tuple[str, Any]] = {}  # depth -> (module, section) of the heading open there

        def head(module: str, block: str, section: Any, rows: list[Step]) -> None:
            group = Group(module, block, section, rows)
            group.continued = section is not None and shown.get(group.depth) == (module, section)
            out.append(group)
            for depth in [d for d in shown if d >= group.depth]:
                del shown[depth]
            shown[group.depth] = (module, section)

        for row in self.rows:
            for module, block, section in row.outer:
                if shown.get(module.count(".") + 1 if module else 0) != (module, section):
                    head(module, block, section, [])
            last = out[-1] if out else None
            if last is not None and last.rows and (last.module, last.section) == (row.module, row.section):
                last.rows.append(row)
            else:
                head(row.module, row.block, row.section, [row])
        return out

    def symbols_line(self) -> str:
        parts = []
        for path, bindings in self.scopes.items():
            text = ", ".join(f"{k}={v}" for k, v in bindings.items())
            parts.append(text if not path else f"[{path}] {text}")
        return "; ".join(parts)

    def _lang(self) -> str:
        lang = resolve(self.lang)
        return ("en" if lang == "en" else "zh") if self.compact else lang

    def _texts(self, row: Step, lang: str) -> list[str]:
        return {"both": [row.zh, row.en], "zh": [row.zh], "en": [row.en]}[lang]

    @staticmethod
    def _columns(lang: str) -> list[str]:
        return {"both": ["中文", "English"], "zh": ["步骤"], "en": ["step"]}[lang]

    def _head_lines(self, lang: str) -> list[str]:
        inputs = ", ".join(str(s) for s in self.inputs)
        lines = [f"{self.name}  {pick('输入', 'inputs', lang)}: {inputs}",
                 f"{pick('符号', 'symbols', lang)}: {self.symbols_line() or '-'}"]
        return lines + [pick(zh, en, lang) for zh, en in self.remarks]

    # ----------------------------------------------------------------------- text

    def to_text(self, *, where: bool = True) -> str:
        """The table as plain text (CLI, golden files). Submodule and section rows are indented under a heading."""
        lang = self._lang()
        where = where and not self.compact
        if self.compact:
            head = ["#", pick("步骤", "step", lang), pick("形状", "shape", lang)]
        else:
            head = ["#", *self._columns(lang), *(pick(zh, en, lang) for zh, en in _SHAPE_HEADS)]
            head += [pick(*_WHERE_HEAD, lang)] if where else []
        table: list[list[str] | str] = [head]
        for group in self.groups():
            indent = "  " * group.depth
            if group.module or group.section:
                table.append(indent + "▸ " + group.title(lang))
            for r in group.rows:
                problem = "" if r.ok else "  !! " + r.problem
                if self.compact:
                    cells = [indent + str(r.index), self._texts(r, lang)[0], f"{r.spec} = {r.concrete}{problem}"]
                else:
                    cells = [indent + str(r.index), *self._texts(r, lang), r.spec, r.concrete + problem]
                    if where:
                        cells.append(r.line)
                table.append(cells)
        rows = [t for t in table if isinstance(t, list)]
        widths = [max(text_width(row[i]) for row in rows) for i in range(len(head))]
        lines = []
        for item in table:
            if isinstance(item, str):
                lines.append(item)
            else:
                lines.append("  ".join(pad(cell, w) for cell, w in zip(item, widths)).rstrip())
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(self._head_lines(lang) + lines)

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<Trace {self.name}: {len(self.rows)} steps, {'ok' if self.ok else 'mismatch'}>"

    # ----------------------------------------------------------------------- HTML

    def _repr_html_(self) -> str:
        lang = self._lang()
        esc = html.escape
        inputs = ", ".join(f"<code>{esc(str(s))}</code>" for s in self.inputs)
        remarks = "".join(f"<div style='color:#555'>{esc(pick(zh, en, lang))}</div>" for zh, en in self.remarks)
        head = (f"<div><b>{esc(self.name)}</b> &nbsp; {pick('输入', 'inputs', lang)}: {inputs}</div>"
                f"<div>{pick('符号', 'symbols', lang)}: <code>{esc(self.symbols_line() or '-')}</code></div>{remarks}")
        colgroup, header = self._html_columns(lang)
        parts = [f"<div class='fusion-edu-trace{' fe-compact' if self.compact else ''}'>", head]
        for group in self.groups():
            indent = 1.2 * group.depth
            if not group.rows:
                parts.append(f"<div style='margin-left:{indent}em;color:#1f4e79'><b>{esc(group.title(lang))}</b></div>")
                continue
            body = "".join(self._html_row(r, lang) for r in group.rows)
            table = (f"<table style='{_TABLE}'>{colgroup}{header}<tbody>{body}</tbody></table>")
            header = ""  # the column headings appear once, on the first table
            if group.module or group.section:
                parts.append(f"<details open style='margin-left:{indent}em'><summary style='cursor:pointer;"
                             f"color:#1f4e79'><b>{esc(group.title(lang))}</b></summary>{table}</details>")
            else:
                parts.append(table)
        parts.append("</div>")
        return "".join(parts)

    def _html_columns(self, lang: str) -> tuple[str, str]:
        """Column headings, and widths that fit the longest shape (fixed, so every group's table lines up)."""
        def fit(texts: list[str]) -> str:  # monospace: about 0.6 em a character, plus the paddings
            return f"{0.62 * max(map(len, texts), default=4) + 2:.1f}em"

        specs, concretes = [r.spec for r in self.rows], [r.concrete for r in self.rows]
        number = fit([str(len(self.rows)) + "  "])
        if self.compact:
            shapes = [f"{a} = {b}" for a, b in zip(specs, concretes)]
            cols = [("#", number), (pick("步骤", "step", lang), "auto"), (pick("形状", "shape", lang), fit(shapes))]
        else:
            text_cols = [(c, "auto") for c in self._columns(lang)]
            spec_head, concrete_head = (pick(zh, en, lang) for zh, en in _SHAPE_HEADS)
            where_head = pick(*_WHERE_HEAD, lang)
            cols = [("#", number), *text_cols, (spec_head, fit(specs + [spec_head])),
                    (concrete_head, fit(concretes + [concrete_head])), (where_head, fit([r.line for r in self.rows]))]
        colgroup = "<colgroup>" + "".join(f"<col style='width:{w}'>" for _, w in cols) + "</colgroup>"
        cells = "".join(f"<th style='{_CELL}'>{html.escape(c)}</th>" for c, _ in cols)
        return colgroup, f"<thead><tr>{cells}</tr></thead>"

    def _html_row(self, r: Step, lang: str) -> str:
        esc = html.escape
        bad = "" if r.ok else f"<br><b style='white-space:normal'>✗ {esc(r.problem)}</b>"
        texts = "".join(f"<td style='{_CELL};{_WRAP}'>{esc(t)}</td>" for t in self._texts(r, lang))
        if self.compact:
            texts = f"<td style='{_CELL};{_WRAP}'>{esc(self._texts(r, lang)[0])}</td>"
            shape = (f"<td style='{_CELL};{_NOWRAP}'><code style='{_NOWRAP}'>{esc(r.spec)}</code> = "
                     f"<code style='{_NOWRAP}'>{esc(r.concrete)}</code>{bad}</td>")
            cells = f"<td style='{_CELL}'>{r.index}</td>{texts}{shape}"
        else:
            cells = (f"<td style='{_CELL}'>{r.index}</td>{texts}"
                     f"<td style='{_CELL};{_NOWRAP}'><code style='{_NOWRAP}'>{esc(r.spec)}</code></td>"
                     f"<td style='{_CELL};{_NOWRAP}'><code style='{_NOWRAP}'>{esc(r.concrete)}</code>{bad}</td>"
                     f"<td style='{_CELL};{_NOWRAP};color:#777;font-size:0.85em'>{esc(r.line)}</td>")
        style = "" if r.ok else " style='background:#fdd'"
        return f"<tr{style}>{cells}</tr>"


_SHAPE_HEADS = (("符号形状", "symbolic"), ("具体形状", "concrete"))
_WHERE_HEAD = ("位置", "where")
_TABLE = "table-layout:fixed;width:100%;border-collapse:collapse;margin:2px 0"
_CELL = "text-align:left;vertical-align:top;padding:2px 6px"
_WRAP = "white-space:normal;overflow-wrap:anywhere"
_NOWRAP = "white-space:nowrap"


def text_width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - text_width(text))


# --------------------------------------------------------------------------- entry points

@contextlib.contextmanager
def _recording(module: nn.Module, strict: bool, keep: bool) -> Iterator[_Recorder]:
    recorder = _Recorder(module, strict, keep)
    handles = []
    try:
        for m in module.modules():
            handles.append(m.register_forward_pre_hook(recorder.enter))
            handles.append(m.register_forward_hook(recorder.leave))
        token = _ACTIVE.set(recorder)
        try:
            yield recorder
        finally:
            _ACTIVE.reset(token)
    finally:
        for h in handles:
            h.remove()


def trace(module: nn.Module, *inputs: Any, strict: bool = True, keep: bool = False, lang: str | None = None,
          name: str | None = None) -> Trace:
    """Runs `module(*inputs)` once and records every `note` step.

    Args:
        module: Any module; notes in nested modules are recorded under their paths.
        *inputs: The forward arguments.
        strict: Raise `ShapeError` on a spec mismatch (tests); otherwise flag the row (widgets).
        keep: Keep tensors marked with ``key=`` in ``Trace.tensors``.
        lang: Display language 'zh', 'en' or 'both'; None follows `fusion_edu.lang.get_lang()`.
        name: What the table is called (default: the module's class name).

    Errors that the block raises for bad input (ValueError, TypeError) pass through unchanged;
    any other failure is re-raised as ``RuntimeError("trace failed after step k: ...")``.
    """
    lang = None if lang is None else resolve(lang, "trace")
    with _recording(module, strict, keep) as recorder:
        try:
            output = module(*inputs)
        except (ValueError, TypeError):
            raise
        except Exception as e:
            raise RuntimeError(f"trace failed after step {len(recorder.rows)} of {type(module).__name__}: {e}") from e
    shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in inputs]
    title = type(module).__name__ if name is None else name
    return Trace(title, recorder.rows, recorder.bindings(), recorder.tensors, shapes, output, lang)
