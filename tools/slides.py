"""Slide metadata for the notebooks, and `make slides`: static reveal.js decks, code hidden, no server.

    python tools/slides.py tag [NOTEBOOK ...]     # set slideshow metadata from the cell structure
    python tools/slides.py check [NOTEBOOK ...]   # exit 1 if a notebook's metadata is out of date
    python tools/slides.py build [NOTEBOOK ...]   # execute and convert: artifacts/slides/<name>.slides.html

Without notebooks, `tag` and `check` cover every notebook in notebooks/, and `build` covers the block
notebooks (01-07), one deck each.

The convention (notebook writers: follow it, and `tag` keeps the metadata in step):

* A markdown cell that starts with a ``#`` or ``##`` heading starts a slide (``slide``).
* A markdown cell that starts with a ``###`` heading starts a sub-slide below it (``subslide``).
* Other markdown continues the current slide (``-``).
* A code cell that shows something continues the slide (``-``). If its slide already shows an output,
  it goes on a sub-slide of its own (``subslide``), so one slide holds one figure or table. A cell
  shows something when its last statement is an expression (with or without ``;``), or when it calls
  print/display, pyplot (``plt.``), `fusion_edu.plots`, `fusion_edu.show` or ``.figure(``.
* A code cell that only computes (imports, assignments, asserts) is ``skip``.
* The notebook's final check cell (the last code cell, with an ``assert``) is ``skip``.
* A cell tagged ``raises-exception`` is ``skip``: its traceback is not slide material.
* A tag ``slide:<type>`` (``slide:slide``, ``slide:subslide``, ``slide:fragment``, ``slide:skip``,
  ``slide:notes``, ``slide:-``) overrides all of the above for its cell.

Decks hide every code input (``--no-input``). Markdown images are embedded, and slides scroll when they
are long. The page loads reveal.js from nbconvert's default CDN when it is opened.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "artifacts" / "slides"
TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
_SHOWS = re.compile(r"\b(print|display|HTML|Markdown)\s*\(|\b(plt|plots|show)\.|\.figure\(")


def block_notebooks() -> list[Path]:
    """The block notebooks (01_... to 07_...): one deck each."""
    return sorted(p for p in NOTEBOOKS.glob("0[1-7]_*.ipynb"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def shows_output(source: str) -> bool:
    """Whether a code cell displays something (see the module docstring for the rule)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return True  # cell magics and the like: keep them visible rather than guess
    if not tree.body:
        return False
    if isinstance(tree.body[-1], ast.Expr):
        return True
    return bool(_SHOWS.search(source))


def _has_assert(source: str) -> bool:
    try:
        return any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source)))
    except SyntaxError:
        return False


def slide_types(nb: dict) -> list[str]:
    """The slide type of every cell of notebook `nb` (a dict as in the .ipynb file) under the convention."""
    cells = nb["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    last_code = code[-1] if code else -1
    types: list[str] = []
    slide_has_output = False
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        forced = [t.split(":", 1)[1] for t in tags if t.startswith("slide:") and t.split(":", 1)[1] in TYPES]
        source = _source(cell)
        first = source.lstrip().splitlines()[0] if source.strip() else ""
        if cell["cell_type"] == "markdown":
            if re.match(r"#{1,2}\s", first):
                kind = "slide"
            elif re.match(r"###\s", first):
                kind = "subslide"
            else:
                kind = "-"
        elif cell["cell_type"] != "code":
            kind = "skip"
        elif "raises-exception" in tags or (i == last_code and _has_assert(source)) or not shows_output(source):
            kind = "skip"
        else:
            kind = "subslide" if slide_has_output else "-"
        if forced:
            kind = forced[0]
        if kind in ("slide", "subslide"):
            slide_has_output = False
        if cell["cell_type"] == "code" and kind not in ("skip", "notes"):
            slide_has_output = True
        types.append(kind)
    if types and types[0] == "-":
        types[0] = "slide"  # a deck starts with a slide
    return types


def tag(path: Path, write: bool = True) -> bool:
    """Sets every cell's ``slideshow.slide_type``; returns whether anything changed (written if `write`)."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    changed = False
    for cell, kind in zip(nb["cells"], slide_types(nb)):
        meta = cell.setdefault("metadata", {})
        if meta.get("slideshow", {}).get("slide_type") != kind:
            meta["slideshow"] = {**meta.get("slideshow", {}), "slide_type": kind}
            changed = True
    if changed and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def deck_path(notebook: Path, out: Path = OUT) -> Path:
    return out / f"{notebook.stem}.slides.html"


def build(notebook: Path, out: Path = OUT, timeout: int = 600) -> Path:
    """Executes `notebook` in a fresh kernel and writes its reveal.js deck (code hidden) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "nbconvert", "--to", "slides", "--execute", "--no-input", str(notebook),
           "--output-dir", str(out), f"--ExecutePreprocessor.timeout={timeout}",
           "--ExecutePreprocessor.store_widget_state=True", "--SlidesExporter.reveal_scroll=True",
           "--HTMLExporter.embed_images=True"]
    subprocess.run(cmd, check=True, cwd=notebook.parent)
    return deck_path(notebook, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("tag", "check", "build"))
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.command == "build":
        for notebook in args.notebooks or block_notebooks():
            print(f"wrote {build(notebook.resolve(), args.out)}", flush=True)
        return 0
    stale = []
    for notebook in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
        if tag(notebook, write=args.command == "tag"):
            stale.append(notebook.name)
    if args.command == "check" and stale:
        print(f"slide metadata out of date in {stale}: run python tools/slides.py tag")
        return 1
    print(("tagged: " if args.command == "tag" else "in step: ") + (", ".join(stale) or "nothing to change"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
