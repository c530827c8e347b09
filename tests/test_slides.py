"""Slide metadata (tools/slides.py's convention) and `make slides`: one static deck per block notebook, code hidden."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import slides  # noqa: E402


def md(text, **meta):
    return {"cell_type": "markdown", "metadata": meta, "source": text}


def code(text, **meta):
    return {"cell_type": "code", "metadata": meta, "source": text, "outputs": [], "execution_count": None}


def test_the_convention_on_a_small_notebook():
    nb = {"cells": [
        md("# Title\nidea"),
        code("import torch\nx = torch.ones(2)"),  # only computes
        md("## The trace"),
        code("t = trace(model, x)\nt"),  # last line is an expression: shows
        md("Some words"),
        code("plots.safm_modulation(m);"),  # a second output on this slide: its own sub-slide
        md("### A detail"),
        code("print(x.shape)"),
        code("SAFM(38)", tags=["raises-exception"]),  # a traceback is not slide material
        code("y = 2", tags=["slide:fragment"]),  # a tag overrides
        md("## Checks"),
        code("assert x.shape == (2,)\nprint('ok')"),  # the final check cell
    ]}
    assert slides.slide_types(nb) == ["slide", "skip", "slide", "-", "-", "subslide", "subslide", "-", "skip",
                                      "fragment", "slide", "skip"]


def test_a_deck_starts_with_a_slide():
    assert slides.slide_types({"cells": [md("no heading"), code("x")]})[0] == "slide"


def test_shows_output():
    assert slides.shows_output("fig = plots.gate_mean_map(z)")
    assert slides.shows_output("result")
    assert slides.shows_output("display(t)\nx = 1")
    assert not slides.shows_output("x = 1\ny = x + 1")
    assert not slides.shows_output("from fusion_edu import plots\nimport torch")


@pytest.mark.parametrize("path", slides.block_notebooks(), ids=lambda p: p.name)
def test_every_block_notebook_carries_up_to_date_slide_metadata(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    types = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in nb["cells"]]
    assert None not in types, f"{path.name}: cells without slide metadata (python tools/slides.py tag)"
    assert types[0] == "slide" and types.count("slide") >= 5
    assert not slides.tag(path, write=False), f"{path.name}: metadata out of date (python tools/slides.py tag)"
    shown = [c for c, t in zip(nb["cells"], types) if c["cell_type"] == "code" and t != "skip"]
    assert shown, f"{path.name}: no code cell shows anything on a slide"


def test_one_deck_per_block_notebook():
    names = [p.name for p in slides.block_notebooks()]
    assert [n[:2] for n in names] == ["01", "02", "03", "04", "05", "06", "07"]
    decks = {slides.deck_path(p).name for p in slides.block_notebooks()}
    assert len(decks) == 7 and all(d.endswith(".slides.html") for d in decks)
    assert slides.OUT.relative_to(ROOT).parts[0] == "artifacts"  # git-ignored
    assert "/artifacts/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_build_writes_a_deck_without_code(tmp_path):
    nb = {"cells": [md("# Deck title"), code("secret_name = 6 * 7"), md("## Result"), code("print(f'answer={secret_name}')"),
                    code("assert secret_name == 42")],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for cell, kind in zip(nb["cells"], slides.slide_types(nb)):
        cell["metadata"]["slideshow"] = {"slide_type": kind}
    path = tmp_path / "small.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    deck = slides.build(path, tmp_path / "out", timeout=120)
    assert deck == tmp_path / "out" / "small.slides.html"
    text = deck.read_text(encoding="utf-8")
    assert "reveal" in text.lower() and "Deck title" in text
    assert "answer=42" in text  # the executed output
    assert "secret_name" not in text  # no code input, and the skipped cells are gone
