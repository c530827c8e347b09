"""Show the package's own source and docstrings in a notebook, with the real file line numbers.

``source(OSRAttention)`` displays the class as it is in ``fusion_edu/blocks/osra.py``, numbered
like the file, so a trace row that says ``blocks/osra.py:99`` points at line 99 of what the
student sees; the ``note(...)`` calls (the steps of the trace) are highlighted. ``doc(SAFM)``
shows the signature and the Args / Shape sections of the docstring.
"""

from __future__ import annotations

import ast
import html
import inspect
import os
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .errors import type_error

__all__ = ["source", "doc", "Source", "Doc"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_HIGHLIGHT = "#fff3b0"


def _resolve(obj: Any) -> Any:
    """Catalog keys and specs stand for their block class."""
    if isinstance(obj, str):
        from .blocks import get_spec

        return get_spec(obj).cls
    from .blocks import BlockSpec

    return obj.cls if isinstance(obj, BlockSpec) else obj


def _display_path(path: str) -> str:
    path = os.path.abspath(path)
    if path.startswith(_PACKAGE_DIR + os.sep):
        return os.path.relpath(path, _PACKAGE_DIR).replace(os.sep, "/")
    return path


@dataclass
class Source:
    """Source lines of a class or function, numbered as in the file.

    Attributes:
        name: Qualified name of the object.
        file: Path relative to the ``fusion_edu`` package (as in a trace's ``file:line``), or absolute.
        start: File line number of the first line.
        lines: The lines, without their newlines.
        note_lines: File line numbers that belong to a ``note(...)`` call.
        highlight_notes: Whether the displays mark `note_lines`.
    """

    name: str
    file: str
    start: int
    lines: list[str]
    note_lines: set[int] = field(default_factory=set)
    highlight_notes: bool = True

    @property
    def end(self) -> int:
        return self.start + len(self.lines) - 1

    def line(self, lineno: int) -> str:
        """The text of file line `lineno` (it must lie inside this object's source)."""
        if not self.start <= lineno <= self.end:
            raise ValueError(f"Source: line must be in {self.start}..{self.end} ({self.file}); got line={lineno}.")
        return self.lines[lineno - self.start]

    def numbered(self) -> list[tuple[int, str]]:
        return [(self.start + i, text) for i, text in enumerate(self.lines)]

    def to_text(self) -> str:
        head = f"# {self.name}  ({self.file}:{self.start}-{self.end})"
        width = len(str(self.end))
        mark = self.note_lines if self.highlight_notes else set()
        rows = [f"{n:>{width}}{'▶' if n in mark else ' '} {text}" for n, text in self.numbered()]
        return "\n".join([head, *rows])

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<Source {self.name} {self.file}:{self.start}-{self.end}>"

    def _repr_html_(self) -> str:
        notes = ""
        if self.highlight_notes and self.note_lines:
            notes = (f" &nbsp;<span style='background:{_HIGHLIGHT};padding:0 4px'>note(…)</span> "
                     "= 追踪表中的一步 / a step of the trace")
        head = (f"<div style='font-family:monospace;color:#555;margin-bottom:2px'><b>{html.escape(self.name)}</b>"
                f" — <code>{html.escape(self.file)}:{self.start}–{self.end}</code>{notes}</div>")
        return f"<div class='fusion-edu-source'>{head}{self._code_html()}</div>"

    def _code_html(self) -> str:
        code = "\n".join(self.lines) + "\n"
        marked = sorted(n - self.start + 1 for n in self.note_lines) if self.highlight_notes else []
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
            from pygments.styles.default import DefaultStyle
        except ImportError:
            return self._plain_html()

        class Style(DefaultStyle):  # inline styles take the highlight colour from the style, not hl_color
            highlight_color = _HIGHLIGHT

        formatter = HtmlFormatter(linenos="inline", linenostart=self.start, hl_lines=marked, noclasses=True,
                                  lineanchors=f"fe-{self.file.replace('/', '-')}", style=Style)
        return highlight(code, PythonLexer(), formatter)

    def _plain_html(self) -> str:
        width = len(str(self.end))
        rows = []
        for n, text in self.numbered():
            style = f" style='background:{_HIGHLIGHT}'" if self.highlight_notes and n in self.note_lines else ""
            rows.append(f"<span{style}><span style='color:#999'>{n:>{width}}</span>  {html.escape(text)}</span>")
        return "<pre style='line-height:125%'>" + "\n".join(rows) + "</pre>"


def _note_lines(lines: list[str], start: int) -> set[int]:
    """File line numbers covered by ``note(...)`` and ``watch(...)`` calls (trace steps) in the snippet."""
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return {start + i for i, text in enumerate(lines) if re.search(r"\b(note|watch)\(", text)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("note", "watch"):
                found.update(range(start + node.lineno - 1, start + (node.end_lineno or node.lineno)))
    return found


def source(obj: Any, *, highlight_notes: bool = True) -> Source:
    """The source of a class, function or method (or catalog key), numbered with its real file lines.

    Args:
        obj: A block class such as `fusion_edu.blocks.SAFM`, a function or method, or a catalog
            key such as ``"safm"``.
        highlight_notes: Highlight the ``note(...)`` calls, the steps that a trace shows.

    Returns:
        A `Source`: displays as highlighted, numbered code in JupyterLab; ``str()`` gives text.

    Example:
        >>> from fusion_edu.blocks import SAFM
        >>> s = source(SAFM)
        >>> s.file, "note(" in s.line(min(s.note_lines))
        ('blocks/safm.py', True)
    """
    target = _resolve(obj)
    target = inspect.unwrap(target) if callable(target) else target
    try:
        lines, start = inspect.getsourcelines(target)
        path = inspect.getsourcefile(target) or inspect.getfile(target)
    except (TypeError, OSError) as e:
        raise type_error("show.source", "obj must be a class, function or method defined in a Python file",
                         {"type": type(obj).__name__}, f"Pass e.g. SAFM or SAFM.forward ({e}).",
                         zh="obj 必须是在 .py 文件中定义的类、函数或方法",
                         zh_hint="例如传入 SAFM 或 SAFM.forward。") from None
    start = max(start, 1)
    name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
    return Source(name, _display_path(path), start, [line.rstrip("\n") for line in lines],
                  _note_lines(lines, start), highlight_notes)


# --------------------------------------------------------------------------- doc

_SECTIONS = ("Args", "Arguments", "Attributes", "Shape", "Returns", "Yields", "Raises", "Example", "Examples",
             "Note", "Notes", "Differences from source", "Warning")
_SECTION_ZH = {"Args": "参数", "Arguments": "参数", "Attributes": "属性", "Shape": "形状", "Returns": "返回",
               "Yields": "产出", "Raises": "异常", "Example": "示例", "Examples": "示例", "Note": "注意",
               "Notes": "注意", "Differences from source": "与原代码的不同", "Warning": "警告"}
_ITEM = re.compile(r"^(\*{0,2}[A-Za-z_][\w.\[\]', *]*?)(?:\s*\(([^)]*)\))?:\s*(.*)$")


@dataclass
class Doc:
    """A signature and a Google-style docstring split into sections.

    Attributes:
        name: The object's name.
        signature: Its call signature as text (``"(dim, n_levels=4, *, pool='max')"``).
        summary: The text before the first section.
        sections: ``{"Args": [(name, text), ...], "Shape": [...], "Example": "...", ...}``;
            item sections hold (name, text) pairs, free-text sections a string.
    """

    name: str
    signature: str
    summary: str
    sections: dict[str, Any]

    def to_text(self) -> str:
        out = [f"{self.name}{self.signature}", "", self.summary]
        for title, body in self.sections.items():
            out += ["", f"{title}:"]
            if isinstance(body, str):
                out += ["    " + line for line in body.splitlines()]
            else:
                out += [f"    {k}: {v}" for k, v in body]
        return "\n".join(out).rstrip()

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<Doc {self.name}{self.signature}>"

    def _repr_html_(self) -> str:
        def esc(text: str) -> str:
            return re.sub(r"``(.+?)``|`([^`]+)`", lambda m: f"<code>{m.group(1) or m.group(2)}</code>",
                          html.escape(text))

        title = f"<b>{esc(self.name)}</b>{esc(self.signature)}"
        out = ["<div class='fusion-edu-doc'>", f"<div style='font-family:monospace;font-size:1.05em'>{title}</div>"]
        out += [f"<p>{esc(p)}</p>" for p in self.summary.split("\n\n") if p.strip()]
        for title, body in self.sections.items():
            label = f"{_SECTION_ZH.get(title, '')} {title}".strip()
            out.append(f"<div style='margin-top:6px'><b>{esc(label)}</b></div>")
            if isinstance(body, str):
                tag = "pre" if title.startswith("Example") else "p"
                text = html.escape(body) if tag == "pre" else esc(body)
                out.append(f"<{tag} style='margin:2px 0 2px 1.5em'>{text}</{tag}>")
            else:
                rows = "".join(f"<tr><td style='text-align:left;vertical-align:top'><code>{esc(k)}</code></td>"
                               f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in body)
                out.append(f"<table style='margin-left:1em'>{rows}</table>")
        out.append("</div>")
        return "".join(out)


def _signature(target: Any) -> str:
    try:
        return str(inspect.signature(target, eval_str=True))
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate: show it as written
        try:
            return str(inspect.signature(target))
        except (TypeError, ValueError):
            return "(...)"


def _split_sections(text: str) -> tuple[str, dict[str, Any]]:
    header = re.compile(r"^(" + "|".join(re.escape(s) for s in _SECTIONS) + r"):\s*(.*)$")
    summary: list[str] = []
    raw: dict[str, list[str]] = {}
    current: list[str] = summary
    for line in text.splitlines():
        match = header.match(line)
        if match:
            current = raw.setdefault(match.group(1), [])
            if match.group(2):
                current.append("    " + match.group(2))
        else:
            current.append(line)
    sections: dict[str, Any] = {}
    for title, lines in raw.items():
        body = textwrap.dedent("\n".join(lines)).strip("\n")
        if title.startswith("Example") or title in ("Note", "Notes", "Differences from source", "Warning"):
            sections[title] = body
            continue
        items: list[list[str]] = []
        for line in body.splitlines():
            match = _ITEM.match(line) if line and not line[0].isspace() else None
            if match:
                items.append([match.group(1), match.group(3)])
            elif items and line.strip():
                items[-1][1] = (items[-1][1] + " " + line.strip()).strip()
            elif line.strip():
                items.append(["", line.strip()])
        sections[title] = [(k, v) for k, v in items] if items else body
    return "\n".join(summary).strip(), sections


def doc(obj: Any) -> Doc:
    """The signature and docstring of a class, function or method (or catalog key), split into sections.

    Example:
        >>> from fusion_edu.blocks import SAFM
        >>> d = doc(SAFM)
        >>> [k for k, _ in d.sections["Args"]]
        ['dim', 'n_levels', 'pool']
    """
    target = _resolve(obj)
    text = inspect.getdoc(target) or ""
    summary, sections = _split_sections(text)
    name = getattr(target, "__qualname__", getattr(target, "__name__", type(target).__name__))
    signature = _signature(target) if callable(target) else ""
    return Doc(name, signature, summary, sections)
