"""The fresh-machine promise: without Graphviz's `dot`, diagrams degrade to the DOT source and a hint, never raise.

"No dot" is simulated by pointing PATH at an empty folder (or by a `which` that finds a `dot` that cannot run),
never by uninstalling anything. `tools/without_dot.sh` does the same for a whole `make test`.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fusion_edu import graph
from fusion_edu.blocks import SAFM, MFEBlock
from fusion_edu.remix import Parallel, Residual, export_diagram

ROOT = Path(__file__).resolve().parents[1]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
HINTS = ("sudo apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz")


def _block():
    return Residual(Parallel(SAFM(8), MFEBlock(8, [2, 4, 8]), fuse="msf"))


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not graph.dot_available()


def _check_dot_source_instead_of_pictures(files, folder):
    assert [p.name for p in files] == ["my_block.gv"]
    assert files.skipped == ("svg", "png")
    assert sorted(p.name for p in folder.iterdir()) == ["my_block.gv"]  # no empty or broken pictures
    source = files[0].read_text(encoding="utf-8")
    assert "digraph" in source and "SAFM" in source and "MFEBlock" in source and "MSFBlock" in source
    page = files._repr_html_()
    assert "my_block.gv" in page and "SVG" in page and "PNG" in page
    assert "未找到 Graphviz" in page and "was not found" not in page  # one line, in the course language
    assert all(hint in page for hint in HINTS)
    assert "fusion-edu-trace" in page and "(1, 8, 16, 16)" in page  # the shape trace stands in for the picture
    assert "Traceback" not in page


def test_export_without_dot_writes_the_dot_source_and_says_what_it_skipped(no_dot, tmp_path):
    files = export_diagram(_block(), tmp_path / "out" / "my_block", depth=2)
    _check_dot_source_instead_of_pictures(files, tmp_path / "out")


def test_export_without_dot_even_if_which_finds_one(no_dot, monkeypatch, tmp_path):
    # `which` says yes, but running dot fails inside graphviz (ExecutableNotFound): the same fallback
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/dot")
    files = export_diagram(_block(), tmp_path / "out" / "my_block", depth=2)
    _check_dot_source_instead_of_pictures(files, tmp_path / "out")


def test_the_dot_source_needs_no_dot_when_asked_for(no_dot, tmp_path):
    files = export_diagram(_block(), tmp_path / "my_block", formats=("gv",))
    assert [p.name for p in files] == ["my_block.gv"] and files.skipped == ()
    assert files[0].read_text(encoding="utf-8") == files.graph.source


@needs_dot
def test_with_dot_the_pictures_are_written_and_nothing_else(tmp_path):
    files = export_diagram(_block(), tmp_path / "my_block", depth=2)
    assert [p.name for p in files] == ["my_block.svg", "my_block.png"] and files.skipped == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_block.png", "my_block.svg"]  # no .gv
    page = files._repr_html_()
    assert page.startswith("<svg") and "not found" not in page


@needs_dot
def test_with_dot_the_dot_source_can_come_with_the_pictures(tmp_path):
    files = export_diagram(_block(), tmp_path / "my_block", formats=("svg", "gv"))
    assert [p.suffix for p in files] == [".svg", ".gv"] and files.skipped == ()


@pytest.mark.parametrize("formats", [("pdf",), (), "svg"])
def test_export_rejects_formats_it_cannot_write(formats, tmp_path):
    with pytest.raises(ValueError, match=r"export_diagram: formats must be a non-empty tuple from .*got formats="):
        export_diagram(_block(), tmp_path / "my_block", formats=formats)
    assert not list(tmp_path.iterdir())


def test_graph_html_without_dot_is_the_hint_and_the_trace(no_dot):
    page = graph.draw("safm").html()
    assert all(hint in page for hint in HINTS)
    assert "fusion-edu-trace" in page and "(1, 36, 64, 64)" in page
    custom = graph.draw("safm").html(missing="nothing to see")
    assert "nothing to see" in custom and HINTS[0] not in custom


@needs_dot
def test_graph_html_with_dot_is_the_bare_svg_element():
    page = graph.draw("safm").html()
    assert page.startswith("<svg") and page.rstrip().endswith("</svg>")
    assert "<?xml" not in page  # embeddable inside a <div>


# --------------------------------------------------------------------------- tools/without_dot.sh

def _without_dot(*command, **env):
    return subprocess.run(["bash", str(ROOT / "tools" / "without_dot.sh"), *command], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_without_dot_hides_dot_and_keeps_every_other_program():
    done = _without_dot("bash", "-c", "command -v dot || echo no-dot; command -v git; command -v make")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "no-dot"
    assert lines[1].endswith("/git") and lines[2].endswith("/make")


def test_without_dot_refuses_to_run_when_dot_is_still_found():
    # an exported shell function called `dot` is still found by `command -v`: the script must stop, not run
    done = _without_dot("bash", "-c", "echo ran", **{"BASH_FUNC_dot%%": "() { :; }"})
    assert done.returncode != 0
    assert "still" in done.stderr and "ran" not in done.stdout


def test_without_dot_passes_the_exit_code_through():
    assert _without_dot("bash", "-c", "exit 3").returncode == 3
