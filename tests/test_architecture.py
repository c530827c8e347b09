"""The walls of the package, read from its import graph (every import, also the ones inside functions).

* The trace knows no block; blocks know no widget, figure, renderer or remix.
* ipywidgets is imported only by the widget modules; the explorer's page (render) needs none.
* remix is a library: it imports neither the widgets nor learn (exercises live in learn).
* No module reaches into another package's private names or private modules.
* `import fusion_edu`, `meta_trace` and `render` work with ipywidgets and matplotlib absent.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fusion_edu"
WIDGET_MODULES = {"fusion_edu.explore", "fusion_edu.present"}

# Layers, low to high: a module may import its own layer and the layers below it, never one above.
LAYERS = [
    {"fusion_edu.lang", "fusion_edu.errors", "fusion_edu.trace", "fusion_edu.shapeonly"},
    {"fusion_edu.blocks"},
    {"fusion_edu.render", "fusion_edu.graph", "fusion_edu.data", "fusion_edu.show", "fusion_edu.autotrace",
     "fusion_edu.receptive_field", "fusion_edu.predict",
     "fusion_edu.compare"},
    {"fusion_edu.remix", "fusion_edu.plots"},
    {"fusion_edu.learn"},
    {"fusion_edu.explore", "fusion_edu.present", "fusion_edu.__main__", "fusion_edu"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import statement in module `name`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [a.name for a in node.names]
            # `from . import x` imports the module `x` when it is one
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            found += [(sub, [], node.lineno) for sub in subs] or [(base, names, node.lineno)]
    return found


def layer_of(name: str) -> int:
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (i, prefix)
    assert best is not None, f"{name} belongs to no layer: add it to LAYERS"
    return best[0]


def own_imports(name: str) -> list[tuple[str, list[str], int]]:
    return [(m, n, line) for m, n, line in imports(name) if m == "fusion_edu" or m.startswith("fusion_edu.")]


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_higher_layer(name):
    mine = layer_of(name)
    wrong = [f"line {line}: {target}" for target, _, line in own_imports(name) if layer_of(target) > mine]
    assert not wrong, f"{name} (layer {mine}) imports from a higher layer: {wrong}"


def test_the_trace_knows_no_block():
    targets = {target for target, _, _ in own_imports("fusion_edu.trace")}
    assert targets <= {"fusion_edu.errors", "fusion_edu.lang"}, targets


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("fusion_edu.blocks")))
def test_blocks_know_no_widget_figure_renderer_or_remix(name):
    allowed = ("fusion_edu.blocks", "fusion_edu.trace", "fusion_edu.errors", "fusion_edu.lang")
    outside = [t for t, _, _ in imports(name) if t.split(".")[0] in ("ipywidgets", "matplotlib", "torchview",
                                                                    "graphviz", "IPython")]
    foreign = [t for t, _, _ in own_imports(name) if not t.startswith(allowed)]
    assert not outside and not foreign, (outside, foreign)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_widget_modules_import_ipywidgets(name):
    uses = any(t.split(".")[0] == "ipywidgets" for t, _, _ in imports(name))
    assert not uses or name in WIDGET_MODULES, f"{name} imports ipywidgets"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("fusion_edu.remix")))
def test_remix_is_a_library_without_widgets_or_exercises(name):
    bad = [t for t, _, _ in own_imports(name) if t.startswith(("fusion_edu.explore", "fusion_edu.present",
                                                                "fusion_edu.learn"))]
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_reaching_into_another_packages_private_names(name):
    home = name.rsplit(".", 1)[0] if MODULES[name].name != "__init__.py" else name
    wrong = []
    for target, names, line in own_imports(name):
        target_home = target.rsplit(".", 1)[0] if target in MODULES and MODULES[target].name != "__init__.py" \
            else target
        if target_home == home or target.startswith(name + "."):
            continue
        private_module = any(part.startswith("_") and part != "__main__" for part in target.split("."))
        private_names = [n for n in names if n.startswith("_")]
        if private_module or private_names:
            wrong.append(f"line {line}: from {target} import {', '.join(names)}")
    assert not wrong, f"{name} reaches into private parts: {wrong}"


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("ipywidgets", "matplotlib", "torchview", "graphviz"):
            raise ImportError(f"{name} is blocked for this test")
sys.meta_path.insert(0, Block())
"""


def test_core_works_without_ipywidgets_matplotlib_and_torchview():
    code = BLOCKER + """
import fusion_edu
from fusion_edu import meta_trace, trace, BLOCKS
from fusion_edu.render import render
from fusion_edu import remix
t = meta_trace("osra", B=64, C=512, H=512, W=512)
r = render("msaa", lang="en")
assert t.ok and r.ok and "MSAA" in r.html, r.html
print("ok", sorted(m for m in sys.modules if m.split(".")[0] in ("ipywidgets", "matplotlib", "torchview")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok []"
