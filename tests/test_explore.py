"""The explorer widgets: controls built from the catalog, live updates, invalid settings, language."""

import ipywidgets as widgets
import pytest

from fusion_edu import BLOCKS
from fusion_edu.blocks import reduced_size
from fusion_edu.explore import CONTROL_ORDER, explore, explore_all

KEYS = list(BLOCKS)


def expected_outputs(key, values):
    kwargs, shapes = BLOCKS[key].configure(**values)
    if key == "msaa":
        B, _, H, W = shapes[0]
        return [(B, kwargs["out_channels"], H, W)]
    if key == "cbam_joint":
        return [shapes[0], shapes[0]]
    return [shapes[0]]


def shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


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
        assert w.controls[name].continuous_update is True  # the table follows while dragging
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


def test_explore_takes_any_module_class_and_builds_controls_from_its_signature():
    from typing import Literal

    import torch

    class Gate(torch.nn.Module):
        def __init__(self, channels: int, reduction: int = 4, kind: Literal["sigmoid", "hard"] = "sigmoid"):
            super().__init__()
            if channels % reduction:
                raise ValueError(f"Gate: channels must be divisible by reduction; got reduction={reduction}")
            self.fc = torch.nn.Conv2d(channels, channels // reduction, 1)
            self.kind = kind

        def forward(self, x):
            return self.fc(x)

    w = explore(Gate, lang="en", C=16)
    assert list(w.controls) == ["H", "W", "C", "B", "reduction", "kind"] and w.last.ok
    assert isinstance(w.controls["kind"], widgets.ToggleButtons) and "B C//4 H W" in w.render_output.value
    w.controls["reduction"].value = 3
    assert not w.last.ok and "Gate: channels must be divisible by reduction" in w.render_output.value
    w.controls["reduction"].value = 2
    assert w.last.ok and "(1, 8, 32, 32)" in w.render_output.value


def test_explore_refuses_a_built_module_with_a_hint():
    from fusion_edu.blocks import SAFM

    with pytest.raises(TypeError, match=r"explore: explore needs a catalog key, or a module class or factory"):
        explore(SAFM(8))


def test_predict_mode_hides_a_shape_checks_the_guess_and_asks_again_after_a_change():
    w = explore("osra", lang="en")
    assert "(1, 8, 1024, 256)" in w.render_output.value
    w.predictor.toggle.value = True
    assert w.predictor.row.value == 13  # the attention scores: the step whose spec says the most
    assert "(1, 8, 1024, 256)" not in w.render_output.value and ">?<" in w.render_output.value
    w.predictor.guess.value = "(1, 8, 1024, 1024)"
    w.predictor._on_check(None)
    assert "✗" in w.predictor.feedback.value and "work out H&#x27;, W&#x27; first" in w.predictor.feedback.value
    w.predictor.guess.value = "1 8 1024 256"
    w.predictor._on_check(None)
    assert "1/1 right" in w.predictor.feedback.value
    w.controls["sr_ratio"].value = 4
    assert w.predictor.feedback.value == "" and ">?<" in w.render_output.value  # a new setting: predict again
    w.predictor.guess.value = "(1, 8, oops)"
    w.predictor._on_check(None)
    assert "Cannot read that shape" in w.predictor.feedback.value
    w.predictor.toggle.value = False
    assert "(1, 8, 1024, 64)" in w.render_output.value
