"""torchview graphs: every block draws, the caller's module never moves, SVG/PNG export, life without `dot`."""

import shutil
import xml.etree.ElementTree as ET

import pytest
import torch

from fusion_edu import BLOCKS
from fusion_edu.graph import DEPTHS, INSTALL_HINT, Graph, GraphvizNotFoundError, draw
from fusion_edu.lang import set_lang

KEYS = list(BLOCKS)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")

# Labels that show each block's structure (branches, gates, attention) in the DOT text.
STRUCTURE = {
    "gated_fusion": ["fc1", "fc2", "sigmoid", "__rsub__", "input x1", "input x2"],
    "msf": ["SE1: OneConv", "SE4: OneConv", "Sigmoid", "Softmax", "project: Sequential", "input x3"],
    "mfe": ["layer1", "ASPPConv 3x3 d2", "ASPPConv 3x3 d4", "ASPPConv 3x3 d8", "SE4"],
    "safm": ["mfr.0", "mfr.3", "adaptive_max_pool2d", "interpolate", "aggr", "GELU"],
    "osra": ["sr: Sequential", "Conv2d 5x5 s2 dw", "local_conv", "kv", "matmul", "softmax"],
    "msaa": ["channel_attention: ChannelAttentionModule", "spatial_attention: SpatialAttentionModule",
             "conv_3x3", "conv_5x5", "conv_7x7", "input x4"],
    "cbam_joint": ["ChannelAttention", "SpatialAttention", "MLP: Sequential", "(1, 113, 1, 1)"],
}


@pytest.mark.parametrize("key", KEYS)
def test_every_block_draws_its_structure(key):
    g = draw(key)
    assert isinstance(g, Graph) and g.key == key and key in DEPTHS
    assert BLOCKS[key].cls.__name__ in g.title
    source = g.source
    for label in STRUCTURE[key]:
        assert label in source, f"{label!r} missing from the {key} graph"
    assert "depth:" not in source and "input-tensor" not in source


@pytest.mark.parametrize("key", ["osra", "msaa"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_drawing_a_module_never_moves_or_changes_it(key, mode):
    model, inputs = BLOCKS[key].demo()
    getattr(model, mode)()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = draw(model, inputs)
    assert g.key == key
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(b.device.type == "cpu" for b in model.buffers())
    assert all(x.device.type == "cpu" for x in inputs)
    assert model.training == (mode == "train")
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with torch.no_grad():
        assert model(*inputs).device.type == "cpu"  # and it still runs where it was


def test_a_module_outside_the_catalog_draws_too():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    g = draw(model, torch.randn(1, 3, 8, 8))
    assert g.key is None and "Conv2d 3x3" in g.source
    assert next(model.parameters()).device.type == "cpu"


def test_depth_and_sizes_are_passed_through():
    shallow, deep = draw("osra", depth=1), draw("osra", depth=2)
    assert "sr.0" not in shallow.source and "sr.0" in deep.source
    assert "(2, 16, 20, 20)" in draw("osra", B=2, C=16, H=20, W=20).source


@pytest.mark.parametrize("call,error,match", [
    (lambda: draw(BLOCKS["osra"].demo()[0]), ValueError, "inputs are required"),
    (lambda: draw("osra", [torch.randn(1, 64, 7, 7)]), ValueError, "inputs are built from the catalog"),
    (lambda: draw(BLOCKS["osra"].demo()[0], BLOCKS["osra"].demo()[1], C=8), ValueError, "apply to a catalog key"),
    (lambda: draw(42), TypeError, "catalog key or an nn.Module"),
    (lambda: draw("nope"), ValueError, "block key must be one of"),
])
def test_bad_arguments_get_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@needs_dot
def test_save_writes_a_valid_svg_and_png(tmp_path):
    g = draw("cbam_joint")
    written = g.save(tmp_path / "cbam")
    assert [p.suffix for p in written] == [".svg", ".png"]
    root = ET.parse(written[0]).getroot()
    assert root.tag.endswith("svg")
    assert "MLP" in written[0].read_text()
    assert written[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    single = g.save(tmp_path / "one.svg")
    assert single == [tmp_path / "one.svg"] and single[0].exists()
    with pytest.raises(ValueError, match="must end in .svg or .png"):
        g.save(tmp_path / "graph.pdf")


@needs_dot
def test_displays_as_svg_in_jupyter():
    g = draw("safm")
    svg = g._repr_svg_()
    assert svg is not None and ET.fromstring(svg.encode()).tag.endswith("svg")
    assert g._repr_html_() is None  # the SVG is the display; no second copy as HTML


def check_fallback(g):
    assert g._repr_svg_() is None
    page = g._repr_html_()
    for hint in ("sudo apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz"):
        assert hint in page
    assert "fusion-edu-trace" in page and "(1, 36, 64, 64)" in page  # the trace table instead
    assert "Traceback" not in page
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        g.save("/tmp/never-written.svg")


def test_without_dot_on_path_it_falls_back_to_the_trace(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without `dot`
    check_fallback(draw("safm"))


def test_without_dot_even_if_which_finds_one(monkeypatch, tmp_path):
    # `which` says yes but running dot fails: graphviz raises ExecutableNotFound, which is caught
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/dot")
    check_fallback(draw("safm"))


def test_install_hint_names_the_three_routes():
    assert INSTALL_HINT.count("install") == 3


def test_the_graph_title_follows_the_course_language():
    assert draw("safm", C=8, H=16, W=16).title == f"{BLOCKS['safm'].title_zh} · SAFM"
    set_lang("en")
    assert draw("safm", C=8, H=16, W=16).title == f"{BLOCKS['safm'].title_en} · SAFM"
