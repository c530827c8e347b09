"""The explorer: render() for every block (valid and invalid settings), the widgets, the shape-only fast path."""

import html

import ipywidgets as widgets
import pytest
import torch

from fusion_edu import BLOCKS, meta_trace, trace
from fusion_edu.blocks import DIMS, reduced_size
from fusion_edu.errors import message
from fusion_edu.explore import CONTROL_ORDER, explore, explore_all, render
from fusion_edu.shapeonly import ShapeOnlyMode

KEYS = list(BLOCKS)
LARGEST = {d.name: d.high for d in DIMS}  # B=64, C=512, H=512, W=512


def expected_outputs(key, values):
    kwargs, shapes = BLOCKS[key].configure(**values)
    if key == "msaa":
        B, _, H, W = shapes[0]
        return [(B, kwargs["out_channels"], H, W)]
    if key == "cbam_joint":
        return [shapes[0], shapes[0]]
    return [shapes[0]]


def cpu_params(key, values):
    """Parameters of the block built on the CPU for these settings (module only: the inputs would be huge)."""
    kwargs, _ = BLOCKS[key].configure(**values)
    module = BLOCKS[key].cls(**kwargs)
    assert next(module.parameters()).device.type == "cpu"
    return sum(p.numel() for p in module.parameters())


def shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("size", ["defaults", "largest"])
def test_render_is_ok_with_right_shapes_params_and_flops(key, size):
    values = {} if size == "defaults" else LARGEST
    r = render(key, **values)
    assert r.ok and r.error == "" and r.trace is not None
    assert r.output_shapes == expected_outputs(key, values)
    assert r.flops > 0
    assert r.params == cpu_params(key, values)
    # the page shows the counts and the concrete shapes
    assert f"{r.params:,}" in r.html and f"{r.flops:,}" in r.html
    for shape in r.output_shapes:
        assert shape_text(shape) in r.html
    assert "Traceback" not in r.html


def test_render_flops_match_a_hand_count():
    # gated fusion: two C x C linear maps over B*H*W positions, 2 FLOPs per multiply-add
    B, C, H, W = 2, 8, 5, 7
    r = render("gated_fusion", B=B, C=C, H=H, W=W)
    assert r.flops == 2 * (2 * B * H * W * C * C)


def test_render_labels_follow_the_language():
    zh = render("osra", lang="zh").html
    en = render("osra", lang="en").html
    both = render("osra").html
    assert "参数量" in zh and "params" not in zh
    assert "params" in en and "参数量" not in en
    assert "参数量" in both and "params" in both
    assert BLOCKS["osra"].title_zh in zh and BLOCKS["osra"].title_en not in zh


INVALID = [
    ("gated_fusion", {"B": 0}, "B (batch size) must be a positive int"),
    ("msf", {"B": 1, "H": 1, "W": 1}, "needs more than one value per channel"),
    ("mfe", {"B": 1, "H": 1, "W": 1}, "needs more than one value per channel"),
    ("safm", {"C": 38, "n_levels": 4}, "dim must be divisible by n_levels"),
    ("safm", {"H": 4, "n_levels": 4}, "H and W must be >= 2**(n_levels-1)"),
    ("osra", {"C": 60, "num_heads": 8}, "dim must be divisible by num_heads"),
    ("msaa", {"out_channels": 8}, "out_channels must be >= 16"),
    ("cbam_joint", {"kernel_size": 4}, "kernel_size must be odd"),
    ("cbam_joint", {"C": 4, "reduction": 8}, "reduction must be <= channel"),
]


def raised(key, values):
    """The exception the block itself raises for these settings (built and run on meta)."""
    try:
        module, inputs = BLOCKS[key].build(device="meta", **values)
        module(*inputs)
    except (ValueError, TypeError) as e:
        return e
    raise AssertionError(f"{key} {values} did not raise")


@pytest.mark.parametrize("key,values,fragment", INVALID, ids=[f"{k}-{v}" for k, v, _ in INVALID])
def test_invalid_settings_show_the_blocks_own_message(key, values, fragment):
    r = render(key, lang="en", **values)
    assert not r.ok and r.trace is None and r.params == 0
    assert fragment in r.error
    assert r.error == str(raised(key, values))
    assert html.escape(r.error) in r.html
    assert "Invalid setting" in r.html and "fusion-edu-error" in r.html
    assert "Traceback" not in r.html


@pytest.mark.parametrize("key,values,fragment", INVALID, ids=[f"{k}-{v}" for k, v, _ in INVALID])
def test_invalid_settings_in_chinese(key, values, fragment):
    error = raised(key, values)
    r = render(key, lang="zh", **values)
    assert r.error == message(error, "zh")
    assert html.escape(r.error) in r.html
    assert "设置无效" in r.html and "Invalid setting" not in r.html
    if getattr(error, "zh", ""):
        assert fragment not in r.html  # the English message is not shown in the zh view


def test_invalid_setting_in_both_languages_shows_both():
    r = render("safm", C=38)
    error = raised("safm", {"C": 38})
    assert "设置无效 / Invalid setting" in r.html
    assert html.escape(str(error)) in r.html


def test_unexpected_failures_become_a_box(monkeypatch):
    import fusion_edu.explore as explore_module

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(explore_module, "trace", boom)
    r = render("osra")
    assert not r.ok and "RuntimeError: boom" in r.html and "Unexpected error" in r.html


@pytest.mark.parametrize("call", [lambda: render("nope"), lambda: render("osra", lang="fr"),
                                  lambda: render("osra", heads=3), lambda: render("osra", H="big")])
def test_bad_arguments_never_raise(call):
    r = call()
    assert not r.ok and r.error and "fusion-edu-error" in r.html


SETTINGS = [(key, values) for key in KEYS for values in ({}, LARGEST, {"B": 3, "C": 48, "H": 17, "W": 9})]
SETTINGS += [("osra", {"sr_ratio": 3, "act": "gelu"}), ("safm", {"n_levels": 3, "pool": "avg", "C": 24}),
             ("mfe", {"weighting": "softmax", "rate3": 16}), ("gated_fusion", {"layout": "nchw"}),
             ("msf", {"weighting": "softmax"}), ("cbam_joint", {"reduction": 1, "kernel_size": 49})]


@pytest.mark.parametrize("key,values", SETTINGS, ids=[f"{k}-{v}" for k, v in SETTINGS])
def test_fast_path_gives_the_same_page_as_the_real_kernels(key, values):
    fast, exact = render(key, **values), render(key, fast=False, **values)
    assert fast.ok and exact.ok
    reference = meta_trace(key, strict=False, **values)  # what render claims to be equivalent to
    assert [(r.spec, r.shape, r.line) for r in fast.trace.rows] == [(r.spec, r.shape, r.line) for r in reference.rows]
    assert fast.output_shapes == reference.output_shapes and fast.trace.symbols == reference.symbols
    assert [(r.spec, r.shape, r.ok) for r in fast.trace.rows] == [(r.spec, r.shape, r.ok) for r in exact.trace.rows]
    assert fast.flops == exact.flops and fast.params == exact.params
    assert fast.html == exact.html


CHECKS = [(k, v, "train") for k, v in SETTINGS] + [(k, v, "eval") for k, v in SETTINGS if k in ("msf", "mfe", "osra")]


@pytest.mark.parametrize("key,values,mode", CHECKS, ids=[f"{k}-{v}-{m}" for k, v, m in CHECKS])
def test_every_shape_only_answer_matches_the_kernel(key, values, mode):
    """Eval mode matters only where BatchNorm runs (MSF, MFE, OSRA)."""
    module, inputs = BLOCKS[key].build(device="meta", **values)
    getattr(module, mode)()
    checker = ShapeOnlyMode(check=True)
    with torch.no_grad(), checker:
        trace(module, *inputs, strict=False)
    assert checker.answered, "the fast path answered nothing: the check would be empty"
    assert checker.mismatches == []


def test_shape_only_mode_leaves_odd_layouts_to_the_kernel():
    x = torch.empty(2, 3, 4, 5, device="meta").transpose(1, 3)  # not contiguous
    checker = ShapeOnlyMode(check=True)
    with checker:
        y = torch.relu(x) + x
    assert checker.answered == [] and y.stride() == (torch.relu(x) + x).stride()


# --------------------------------------------------------------------------- widgets

def sliders(widget):
    """Every slider inside `widget`, in display order."""
    found = []
    for child in getattr(widget, "children", ()):
        if isinstance(child, (widgets.IntSlider, widgets.SelectionSlider)):
            found.append(child)
        found += sliders(child)
    return found


@pytest.mark.parametrize("key", KEYS)
def test_explorer_builds_with_h_first_and_every_hyperparameter(key):
    w = explore(key)
    spec = BLOCKS[key]
    assert isinstance(w, widgets.VBox) and "fusion-edu-explorer" in w._dom_classes
    assert list(w.controls)[:4] == list(CONTROL_ORDER) == ["H", "W", "C", "B"]
    assert sliders(w)[0] is w.controls["H"]
    assert [h.name for h in spec.hypers] == list(w.controls)[4:]
    for name in CONTROL_ORDER:
        assert w.controls[name].value == spec.defaults[name]
        assert w.controls[name].continuous_update is False
    assert w.render_output.value == w.last.html and w.last.ok


@pytest.mark.parametrize("key", KEYS)
def test_moving_h_changes_the_concrete_shapes(key):
    w = explore(key)
    before = w.render_output.value
    old_shape = shape_text(BLOCKS[key].configure(**w.values())[1][0])
    h = w.controls["H"].value
    w.controls["H"].value = 2 * h
    after = w.render_output.value
    new_shape = shape_text(BLOCKS[key].configure(**w.values())[1][0])
    assert w.last.values["H"] == 2 * h
    assert old_shape in before and old_shape not in after
    assert new_shape in after
    assert w.last.output_shapes == expected_outputs(key, w.values())


def test_invalid_setting_in_the_widget_shows_the_message_and_recovers():
    w = explore("safm", lang="en")
    w.controls["C"].value = 38
    assert not w.last.ok and "dim must be divisible by n_levels" in w.render_output.value
    w.controls["C"].value = 40
    assert w.last.ok and "(1, 40, 64, 64)" in w.render_output.value


def test_hyperparameter_controls_drive_the_block():
    w = explore("osra")
    assert isinstance(w.controls["act"], widgets.ToggleButtons)
    w.controls["sr_ratio"].value = 4
    assert w.last.trace.symbols["H'"] == reduced_size(32, 4) == 8  # kernel 7, stride 4, padding 3
    w.controls["act"].value = "gelu"
    assert w.last.ok and w.last.values["act"] == "gelu"


def test_language_toggle_rerenders():
    w = explore("cbam_joint")
    w.language.value = "zh"
    assert "参数量" in w.render_output.value and "params" not in w.render_output.value
    w.language.value = "en"
    assert "params" in w.render_output.value and "参数量" not in w.render_output.value


def test_explore_all_switches_blocks_and_keeps_each_explorer():
    a = explore_all()
    assert [v for _, v in a.picker.options] == KEYS
    first = a.current
    a.picker.value = "osra"
    assert a.current.key == "osra" and a.children[1] is a.current
    assert "OSRAttention" in a.current.render_output.value
    a.current.controls["H"].value = 48
    a.picker.value = KEYS[0]
    assert a.current is first
    a.picker.value = "osra"
    assert a.current.controls["H"].value == 48


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_count_flops_agrees_with_pytorchs_flop_counter(key, device):
    from torch.utils.flop_counter import FlopCounterMode

    from fusion_edu.shapeonly import count_flops

    module, inputs = BLOCKS[key].build(device=device, B=2, C=16, H=8, W=8)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    assert count_flops(module, *inputs) == counter.get_total_flops() > 0
