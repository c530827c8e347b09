"""The annotated shape trace: `note()` marks a step inside `forward`, `trace()` records the steps.

A spec is a space-separated list of dims, one per tensor axis (a subset of jaxtyping's grammar):

* an int literal (``1``) must match exactly;
* a name (``B``, ``C``, ``H'``) binds to the size on first use inside one module call and is
  checked on every later use;
* an expression without spaces (``C//nh``, ``H*W``, ``H//2**i``) is evaluated from the bound
  names and the keyword dims passed to that one ``note`` call, and checked;
* ``_`` is not checked; ``...`` stands for any number of leading (or middle) axes.

With no trace active, ``note`` returns its tensor at once: outputs stay bit-exact and the
blocks stay plain modules for torchview.
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

__all__ = ["note", "trace", "meta_trace", "Trace", "Step", "ShapeError", "LANGS"]

LANGS = ("both", "zh", "en")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_ACTIVE: ContextVar[_Recorder | None] = ContextVar("fusion_edu_trace", default=None)


def note(tensor: Tensor, spec: str, *, zh: str, en: str, key: str | None = None, **dims: int) -> Tensor:
    """Marks one step of a forward pass and returns `tensor` untouched.

    Args:
        tensor: The tensor this step produced.
        spec: Its symbolic shape, e.g. ``"B C H W"`` or ``"B nh H*W hd"``.
        zh: What the step does, in Chinese.
        en: What the step does, in English.
        key: A name under which ``trace(..., keep=True)`` keeps the tensor (for plots).
        **dims: Values for names used in this spec only (e.g. ``i=2`` for ``H//2**i``).
    """
    recorder = _ACTIVE.get()
    if recorder is None:
        return tensor
    recorder.record(tensor, spec, zh, en, key, dims, sys._getframe(1))
    return tensor


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

    @property
    def line(self) -> str:
        return f"{self.file}:{self.lineno}"

    @property
    def concrete(self) -> str:
        return "(" + ", ".join(str(s) for s in self.shape) + ")"


@dataclass
class _Scope:
    path: str
    block: str
    bindings: dict[str, int] = field(default_factory=dict)


class _Recorder:
    def __init__(self, root: nn.Module, strict: bool, keep: bool):
        self.names = {id(m): name for name, m in root.named_modules()}
        self.strict = strict
        self.keep = keep
        self.stack: list[_Scope] = []
        self.scopes: list[_Scope] = []
        self.rows: list[Step] = []
        self.tensors: dict[str, Tensor] = {}

    def enter(self, module: nn.Module, _args: Any) -> None:
        scope = _Scope(self.names.get(id(module), "?"), type(module).__name__)
        self.stack.append(scope)
        self.scopes.append(scope)

    def leave(self, _module: nn.Module, _args: Any, _out: Any) -> None:
        if self.stack:
            self.stack.pop()

    def record(self, tensor, spec, zh, en, key, dims, frame) -> None:
        scope = self.stack[-1] if self.stack else _Scope("", "?")
        shape = tuple(tensor.shape)
        problem = match_spec(spec, shape, scope.bindings, dims)
        filename = _short_name(frame.f_code.co_filename)
        row = Step(len(self.rows) + 1, scope.path, scope.block, zh, en, spec, shape,
                   filename, frame.f_lineno, key, not problem, problem)
        self.rows.append(row)
        if problem and self.strict:
            bound = ", ".join(f"{k}={v}" for k, v in scope.bindings.items())
            raise ShapeError(f"{scope.block}: step {row.index} ({en}) expected \"{spec}\""
                             f" with {bound or 'nothing bound'}"
                             f"; got shape {row.concrete} at {row.line}: {problem}.")
        if key is not None and self.keep:
            self.tensors[f"{scope.path}.{key}" if scope.path else key] = tensor.detach()


@functools.lru_cache(maxsize=256)
def _short_name(filename: str) -> str:
    """A file inside the package as ``blocks/safm.py``; any other file unchanged."""
    if filename.startswith(_PACKAGE_DIR):
        return os.path.relpath(filename, _PACKAGE_DIR).replace(os.sep, "/")
    return filename


class Trace:
    """The recorded steps of one forward pass, shown as a table (HTML) or as text.

    Attributes:
        rows: One `Step` per `note` call, in execution order.
        symbols: Names bound in the traced module's own forward (``{"B": 1, "C": 64, ...}``).
        scopes: Bound names per module path, for composites (``{"": {...}, "msf": {...}}``).
        tensors: Tensors kept by key when traced with ``keep=True``.
        output: The module's output (on meta when built by `meta_trace`).
    """

    def __init__(self, name: str, rows: list[Step], scopes: list[_Scope], tensors: dict[str, Tensor],
                 inputs: list[tuple[int, ...]], output: Any, lang: str = "both"):
        self.name = name
        self.rows = rows
        self.scopes: dict[str, dict[str, int]] = {}
        for scope in scopes:
            if scope.bindings and scope.path not in self.scopes:
                self.scopes[scope.path] = dict(scope.bindings)
        self.symbols = self.scopes.get("", {})
        self.tensors = tensors
        self.inputs = inputs
        self.output = output
        self.lang = lang

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        outs = self.output if isinstance(self.output, (tuple, list)) else [self.output]
        return [tuple(o.shape) for o in outs if isinstance(o, Tensor)]

    def in_lang(self, lang: str) -> Trace:
        """The same trace, displayed in 'zh', 'en' or 'both'."""
        if lang not in LANGS:
            raise ValueError(f"Trace: lang must be one of {LANGS}; got lang={lang!r}. Use 'zh', 'en' or 'both'.")
        view = copy.copy(self)
        view.lang = lang
        return view

    def symbols_line(self) -> str:
        parts = []
        for path, bindings in self.scopes.items():
            text = ", ".join(f"{k}={v}" for k, v in bindings.items())
            parts.append(text if not path else f"[{path}] {text}")
        return "; ".join(parts)

    def _columns(self) -> list[str]:
        return {"both": ["中文", "English"], "zh": ["中文"], "en": ["English"]}[self.lang]

    def _texts(self, row: Step) -> list[str]:
        return {"both": [row.zh, row.en], "zh": [row.zh], "en": [row.en]}[self.lang]

    def to_text(self) -> str:
        head = [f"{self.name}  inputs: " + ", ".join(str(s) for s in self.inputs),
                "symbols: " + (self.symbols_line() or "-")]
        table = [["#", *self._columns(), "symbolic", "concrete", "where"]]
        for r in self.rows:
            where = f"{r.module}  {r.line}" if r.module else r.line
            concrete = r.concrete + ("" if r.ok else "  !! " + r.problem)
            table.append([str(r.index), *self._texts(r), r.spec, concrete, where])
        widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths)).rstrip() for row in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(head + lines)

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<Trace {self.name}: {len(self.rows)} steps, {'ok' if self.ok else 'mismatch'}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        cols = ["#", *self._columns(), "symbolic", "concrete", "where"]
        out = [f"<div class='fusion-edu-trace'><b>{esc(self.name)}</b> &nbsp; inputs: "
               + ", ".join(f"<code>{s}</code>" for s in self.inputs) + "<br>",
               f"symbols: <code>{esc(self.symbols_line() or '-')}</code>",
               "<table><thead><tr>" + "".join(f"<th style='text-align:left'>{c}</th>" for c in cols)
               + "</tr></thead><tbody>"]
        for r in self.rows:
            style = "" if r.ok else " style='background:#fdd'"
            concrete = esc(r.concrete) + ("" if r.ok else f"<br><b>✗ {esc(r.problem)}</b>")
            where = (f"{esc(r.module)} " if r.module else "") + f"<code>{esc(r.line)}</code>"
            cells = [str(r.index), *(esc(t) for t in self._texts(r)), f"<code>{esc(r.spec)}</code>", concrete, where]
            out.append(f"<tr{style}>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table></div>")
        return "".join(out)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# --------------------------------------------------------------------------- entry points

@contextlib.contextmanager
def _recording(module: nn.Module, strict: bool, keep: bool) -> Iterator[_Recorder]:
    recorder = _Recorder(module, strict, keep)
    handles = []
    for m in module.modules():
        handles.append(m.register_forward_pre_hook(recorder.enter))
        handles.append(m.register_forward_hook(recorder.leave))
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)
        for h in handles:
            h.remove()


def trace(module: nn.Module, *inputs: Any, strict: bool = True, keep: bool = False, lang: str = "both") -> Trace:
    """Runs `module(*inputs)` once and records every `note` step.

    Args:
        module: Any module; notes in nested modules are recorded under their paths.
        *inputs: The forward arguments.
        strict: Raise `ShapeError` on a spec mismatch (tests); otherwise flag the row (widgets).
        keep: Keep tensors marked with ``key=`` in ``Trace.tensors``.
        lang: Display language: 'both', 'zh' or 'en'.

    Errors that the block raises for bad input (ValueError, TypeError) pass through unchanged;
    any other failure is re-raised as ``RuntimeError("trace failed after step k: ...")``.
    """
    if lang not in LANGS:
        raise ValueError(f"trace: lang must be one of {LANGS}; got lang={lang!r}. Use 'zh', 'en' or 'both'.")
    with _recording(module, strict, keep) as recorder:
        try:
            output = module(*inputs)
        except (ValueError, TypeError):
            raise
        except Exception as e:
            raise RuntimeError(f"trace failed after step {len(recorder.rows)} of {type(module).__name__}: {e}") from e
    shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in inputs]
    return Trace(type(module).__name__, recorder.rows, recorder.scopes, recorder.tensors, shapes, output, lang)


def meta_trace(key: str, *, strict: bool = True, lang: str = "both", train: bool = True, **values: Any) -> Trace:
    """Traces catalog block `key` on the meta device: shapes only, no tensor memory.

    Args:
        key: A key of `fusion_edu.blocks.BLOCKS`, e.g. ``"osra"``.
        strict: As in `trace`.
        lang: As in `trace`.
        train: Trace in training mode (the mode of a freshly built block) or in eval mode.
        **values: B, C, H, W and the block's hyperparameters by name; the rest take the
            catalog's defaults.

    Example:
        >>> meta_trace("safm", B=64, C=512, H=512, W=512).output_shapes
        [(64, 512, 512, 512)]
    """
    from .blocks import get_spec

    spec = get_spec(key)
    module, inputs = spec.build(device="meta", **values)
    module.train(train)
    result = trace(module, *inputs, strict=strict, lang=lang)
    result.name = f"{result.name} [{key}]"
    return result
