"""The explorer's page: render() for every block, valid and invalid settings, both languages."""

import html
import sys
from typing import Literal

import pytest
import torch

from fusion_edu import BLOCKS
from fusion_edu.blocks import DIMS
from fusion_edu.errors import message
from fusion_edu.render import render

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
    both = render("osra", lang="both").html
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
    r = render("safm", lang="both", C=38)
    error = raised("safm", {"C": 38})
    assert "设置无效 / Invalid setting" in r.html
    assert html.escape(str(error)) in r.html


def test_unexpected_failures_become_a_box(monkeypatch):
    import fusion_edu.render as render_module

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(render_module, "trace", boom)
    r = render("osra", lang="en")
    assert not r.ok and "RuntimeError: boom" in r.html and "Unexpected error" in r.html


@pytest.mark.parametrize("call", [lambda: render("nope"), lambda: render("osra", lang="fr"),
                                  lambda: render("osra", heads=3), lambda: render("osra", H="big")])
def test_bad_arguments_never_raise(call):
    r = call()
    assert not r.ok and r.error and "fusion-edu-error" in r.html


# --------------------------------------------------------------------------- any module: knobs and page

class SqueezeExcite(torch.nn.Module):
    """A module written in the test: its own constructor arguments become the explorer's controls."""

    def __init__(self, channels: int, reduction: int = 4, gate: Literal["sigmoid", "hard"] = "sigmoid",
                 bias: bool = True, scale: float = 1.0):
        super().__init__()
        if channels % reduction:
            raise ValueError(f"SqueezeExcite: channels must be divisible by reduction; got channels={channels}, "
                             f"reduction={reduction}. Try reduction=4.")
        self.fc = torch.nn.Sequential(torch.nn.Conv2d(channels, channels // reduction, 1, bias=bias),
                                      torch.nn.ReLU(), torch.nn.Conv2d(channels // reduction, channels, 1, bias=bias))
        self.gate = torch.nn.Sigmoid() if gate == "sigmoid" else torch.nn.Hardsigmoid()
        self.scale = scale

    def forward(self, x):
        return x * self.gate(self.fc(x.mean((2, 3), keepdim=True))) * self.scale


def test_knobs_come_from_the_signature():
    from fusion_edu.render import channel_parameter, knobs

    found = {k.name: (k.kind, k.default, k.choices) for k in knobs(SqueezeExcite)}
    assert found == {"reduction": ("int", 4, ()), "gate": ("choice", "sigmoid", ("sigmoid", "hard")),
                     "bias": ("bool", True, ()), "scale": ("float", 1.0, ())}
    assert channel_parameter(SqueezeExcite) == "channels" and channel_parameter(lambda: SqueezeExcite(8)) is None


def test_render_factory_traces_any_module_with_symbolic_channels():
    from fusion_edu.render import render_factory

    r = render_factory(SqueezeExcite, lang="en", B=2, C=64, H=16, W=16, reduction=8)
    assert r.ok and r.output_shapes == [(2, 64, 16, 16)] and r.params == (64 * 8 + 8) + (8 * 64 + 64)
    assert r.flops == 2 * 2 * (64 * 8 + 8 * 64)  # two 1x1 convs on B=2 pooled vectors, 2 FLOPs a multiply-add
    assert "B C//8 1 1" in r.html and "B C H W" in r.html


def test_render_factory_shows_the_modules_own_message_for_a_bad_setting():
    from fusion_edu.render import render_factory

    r = render_factory(SqueezeExcite, lang="en", C=64, reduction=3)
    assert not r.ok and "SqueezeExcite: channels must be divisible by reduction" in r.error
    assert "Invalid setting" in r.html and "Traceback" not in r.html
    bad = render_factory(SqueezeExcite, lang="en", C=0)
    assert not bad.ok and "C must be >= 1" in bad.error


def test_dragging_b_h_w_reuses_the_meta_block_and_a_changed_argument_is_still_checked():
    cache = sys.modules["fusion_edu.render"]._cached_meta_block
    cache.cache_clear()
    for h in (32, 31, 64):
        assert render("osra", B=2, C=64, H=h, W=h).ok
    info = cache.cache_info()
    assert (info.misses, info.hits) == (1, 2)  # built once while H moved
    assert render("osra", C=128).ok and cache.cache_info().misses == 2
    bad = render("osra", num_heads=8.0)  # equal to the cached 8, but not an int: the block's own message
    assert not bad.ok and "num_heads" in bad.error


@pytest.mark.parametrize("key", [k for k in KEYS if BLOCKS[k].dims_note])
def test_a_blocks_note_on_its_dims_is_in_the_pages_language(key):
    spec = BLOCKS[key]
    assert spec.dims_note_zh, f"{key}: dims_note has no Chinese version"
    zh, en = html.unescape(render(key, lang="zh").html), html.unescape(render(key, lang="en").html)
    assert spec.dims_note_zh in zh and spec.dims_note not in zh
    assert spec.dims_note in en and spec.dims_note_zh not in en
