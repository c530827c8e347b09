"""Remix: composites and variants pass the blocks' contract (shapes, backward, strict trace, meta == CPU),
wrong wiring fails with a clear message, param_diff matches hand counts, compare/plot/render/export work."""

import shutil
import xml.etree.ElementTree as ET

import pytest
import torch

from fusion_edu import meta_trace, trace
from fusion_edu.blocks import MSAA, SAFM, CBAMBlock, GatedFusion, MFEBlock, MSFBlock, OSRAttention
from fusion_edu.errors import ShapeError, message
from fusion_edu.remix import (
    VARIANTS,
    AtScale,
    CBAMChannelOnly,
    CBAMCombine,
    ChannelAdapter,
    ChannelsLast,
    MFEVariant,
    MSAAChannelOnly,
    MSFCoord,
    Parallel,
    Recipe,
    Residual,
    Series,
    compare,
    param_diff,
    plot_comparison,
    render,
    variant,
)
from fusion_edu.remix import meta_trace as remix_meta_trace


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread avoids thread hand-off costs that dominate on a busy 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# name -> (builder of dims, expected output channels, module paths whose notes must appear in the trace)
COMPOSITES = {
    "residual_safm": (lambda C, H, W: Residual(SAFM(C, 2)), lambda C: C, {"", "block"}),
    "series": (lambda C, H, W: Series(SAFM(C, 2), MFEVariant(C, [1, 2, 3], conv="depthwise"), CBAMChannelOnly(C, 4)),
               lambda C: C, {"", "safm", "mfe_variant", "mfe_variant.layer2.0", "cbam_channel_only"}),
    "residual_parallel_msf": (lambda C, H, W: Residual(Parallel(SAFM(C, 2), MFEBlock(C, [1, 2, 3]), fuse="msf")),
                              lambda C: C, {"", "block", "block.branches.safm", "block.branches.mfe", "block.fuse"}),
    "parallel_gated": (lambda C, H, W: Parallel(OSRAttention(C, 4), SAFM(C, 2), fuse="gated"),
                       lambda C: C, {"", "branches.osra", "branches.safm", "fuse", "fuse.block"}),
    "parallel_concat_cbam": (lambda C, H, W: Parallel(AtScale(CBAMCombine(CBAMBlock(C, 4, 3, HW=9)), size=(3, 3)),
                                                      SAFM(C, 2), fuse="concat"),
                             lambda C: C, {"", "branches.at_scale", "branches.at_scale.block.block", "branches.safm"}),
    "parallel_coord_fuse": (lambda C, H, W: Parallel(MFEVariant(C, conv="standard"), ChannelAdapter(C, C),
                                                     fuse=MSFCoord(C), pad="zeros"),
                            lambda C: C, {"", "branches.mfe_variant", "branches.channel_adapter", "fuse",
                                          "fuse.coord"}),
    "projection_shortcut": (lambda C, H, W: Residual(Series(ChannelAdapter(C, 2 * C), MSFCoord(2 * C).project),
                                                     shortcut=ChannelAdapter(C, 2 * C)),
                            lambda C: 2 * C, {"", "block", "block.channel_adapter", "shortcut"}),
}
GRID = [(1, 8, 9, 11), (2, 8, 8, 13), (2, 12, 6, 7)]
CASES = [(name, dims) for name in COMPOSITES for dims in GRID]


def _build(name, B, C, H, W):
    make, out_c, _ = COMPOSITES[name]
    torch.manual_seed(0)
    return make(C, H, W), torch.randn(B, C, H, W), (B, out_c(C), H, W)


@pytest.mark.parametrize("name,dims", CASES, ids=[f"{n}-{'x'.join(map(str, d))}" for n, d in CASES])
def test_composite_shapes_backward_and_strict_trace(name, dims):
    model, x, expected = _build(name, *dims)
    x.requires_grad_(True)
    out = model(x)
    assert tuple(out.shape) == expected
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing}"
    result = trace(model.eval(), x.detach(), strict=True)
    assert result.ok and result.output_shapes == [expected]
    modules = dict(model.named_modules())
    for row in result.rows:  # every row sits under a real module path, with that module's class
        assert type(modules[row.module]).__name__ == row.block
    assert COMPOSITES[name][2] <= {r.module for r in result.rows}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_meta_trace_of_a_composite_equals_the_cpu_trace(name):
    B, C, H, W = 2, 8, 9, 11
    recipe = Recipe(name, COMPOSITES[name][0])
    model, inputs = recipe.build(B=B, C=C, H=H, W=W)
    cpu = trace(model, *inputs)
    meta = remix_meta_trace(recipe, B=B, C=C, H=H, W=W)
    assert [(r.module, r.spec, r.shape) for r in meta.rows] == [(r.module, r.spec, r.shape) for r in cpu.rows]
    assert meta.output_shapes == cpu.output_shapes
    big = remix_meta_trace(recipe, B=16, C=128, H=128, W=96)
    assert big.output_shapes == [(16, COMPOSITES[name][1](128), 128, 96)]


@pytest.mark.parametrize("key", list(VARIANTS))
def test_every_variant_builds_runs_backward_and_traces_on_meta_like_cpu(key):
    recipe = VARIANTS[key]
    model, inputs = recipe.build(B=2, C=8, H=9, W=11)
    out = model(*inputs)
    outs = list(out) if isinstance(out, tuple) else [out]
    assert all(o.shape[0] == 2 and o.shape[-2:] == (9, 11) for o in outs)
    sum(o.square().mean() for o in outs).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None and "down_2" not in n]
    assert not unused
    cpu = trace(model.eval(), *inputs)
    meta = remix_meta_trace(recipe, B=2, C=8, H=9, W=11)
    assert [r.shape for r in meta.rows] == [r.shape for r in cpu.rows] and cpu.ok


def test_trace_shows_the_wiring_in_both_languages():
    model, x, _ = _build("residual_parallel_msf", 1, 8, 9, 11)
    rows = trace(model, x).rows
    top = [r for r in rows if r.module == ""]
    assert top[0].en.startswith("residual:") and top[-1].en == "residual: add the input back, x + F(x)"
    assert "残差" in top[-1].zh
    pad = [r for r in rows if "pad='input'" in r.en]
    assert pad and pad[0].module == "block"
    assert [r.module for r in rows if r.block == "MSFBlock"][0] == "block.fuse"


def test_residual_series_and_combine_compute_what_they_say():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 8, 8)
    safm = SAFM(8, 2)
    assert torch.allclose(Residual(safm)(x), x + safm(x))
    net = Series(SAFM(8), MFEBlock(8, [2, 4, 8]), MFEBlock(8, [2, 4, 8]))
    assert [n for n, _ in net.named_children()] == ["safm", "mfe", "mfe_2"]
    cbam = CBAMBlock(8, 4, 7, HW=64)
    out1, out2 = cbam(x)
    assert torch.allclose(CBAMCombine(cbam, "sum")(x), out1 + out2)
    assert torch.allclose(CBAMCombine(cbam, "spatial")(x), out2)
    gated = GatedFusion(8)
    assert torch.allclose(ChannelsLast(gated)(x, 2 * x),
                          gated(x.permute(0, 2, 3, 1), 2 * x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


@pytest.mark.parametrize("pad", ["input", "zeros", "repeat"])
def test_msf_fusion_of_two_branches_fills_the_free_slots_as_documented(pad):
    torch.manual_seed(0)
    a, b = SAFM(8, 2), MFEBlock(8, [1, 2, 3])
    net = Parallel(a, b, fuse="msf", pad=pad).eval()
    x = torch.randn(1, 8, 9, 9)
    ya, yb = a(x), b(x)
    fill = {"input": [x, x], "zeros": [torch.zeros_like(x)] * 2, "repeat": [yb, yb]}[pad]
    assert torch.allclose(net(x), net.fuse(ya, yb, *fill))


def test_coordinate_weights_sum_to_one_per_pixel_and_vary_along_h_and_w():
    torch.manual_seed(0)
    xs = [torch.randn(2, 4, 6, 5) * (i + 1) for i in range(4)]
    result = trace(MSFCoord(4).eval(), *xs, keep=True)
    w = result.tensors["coord.weights"]
    assert w.shape == (2, 4, 4, 6, 5)
    assert torch.allclose(w.sum(dim=2), torch.ones(2, 4, 6, 5), atol=1e-6)
    assert w.std(dim=3).mean() > 1e-3 and w.std(dim=4).mean() > 1e-3


def test_variants_keep_the_catalog_state_dict_names_where_the_parts_are_the_same():
    base = MFEBlock(8, [2, 4, 8])
    MFEVariant(8, [2, 4, 8], conv="dilated").load_state_dict(base.state_dict(), strict=True)
    dw = MFEVariant(8, [2, 4, 8], conv="depthwise")
    assert dw.layer3[0].depthwise.groups == 8 and dw.layer3[0].depthwise.dilation == (4, 4)
    assert MFEVariant(8, [2, 4, 8], conv="standard").layer4[0].dilation == (1, 1)
    keys = set(MSFCoord(8).state_dict())
    assert {k for k in MSFBlock(8).state_dict() if k.startswith("project")} <= keys
    assert not any(k.startswith("SE") for k in keys)
    assert variant("safm", pool="avg").module(C=8).pool == "avg"
    assert CBAMChannelOnly(8, 4)(torch.randn(1, 8, 5, 13)).shape == (1, 8, 5, 13)  # no HW tie any more


def test_param_diff_equals_hand_counts():
    C = 32
    dw = param_diff(MFEBlock(C, [2, 4, 8]), MFEVariant(C, [2, 4, 8], conv="depthwise"), depth=1)
    per_branch = -9 * C * C + 9 * C + C * C
    assert dw.as_dict() == {"layer2": per_branch, "layer3": per_branch, "layer4": per_branch}
    assert dw.delta == 3 * per_branch == -23712
    leaf = param_diff("mfe_note", "mfe_depthwise", C=C)
    assert leaf.as_dict()["layer2.0"] == -9 * C * C and leaf.as_dict()["layer2.0.pointwise"] == C * C
    D = 64 // 4
    msaa = param_diff(MSAA(7 * C, 64), MSAAChannelOnly(7 * C, 64))
    assert msaa.delta == -(83 * D * D + 3 * D + 98) == -21394
    assert set(msaa.as_dict()) == {"fusion_conv.conv_3x3", "fusion_conv.conv_5x5", "fusion_conv.conv_7x7",
                                   "fusion_conv.spatial_attention.conv1"}
    r, k, HW = 8, 7, 49
    cbam = param_diff(CBAMBlock(64, r, k, HW=HW), CBAMChannelOnly(64, r))
    assert (cbam.base_total, cbam.delta) == (2931, -(2 * k * k + 1) - 2 * HW * (64 // r))
    assert param_diff(MSFBlock(C), MSFCoord(C)).delta == 4 * C * C
    assert param_diff("mfe_note", "mfe_standard").rows == []
    assert "-23,712" in dw.summary("en") and "参数" in dw.summary("zh") and "layer2" in dw.to_text()


def test_compare_gives_a_row_per_item_with_params_and_flops():
    table = compare(["msf_note", "msf_coord", "safm_avg", variant("mfe", conv="depthwise"),
                     lambda C: Residual(SAFM(C))], B=1, C=8, H=8, W=8, repeats=1, warmup=0)
    assert [r["name"] for r in table] == ["msf_note", "msf_coord", "safm_avg", "mfe_depthwise", "custom"]
    for row in table:
        assert row["params"] > 0 and row["flops"] > 0 and row["latency_ms"] > 0 and not row["error"]
    assert table.rows[1]["params"] == table.rows[0]["params"] + 4 * 8 * 8
    assert "msf_coord" in table.to_text() and "<table>" in table._repr_html_()
    bad = compare(["safm_note"], C=6, repeats=1, warmup=0).rows[0]
    assert bad["params"] is None and "divisible by n_levels" in bad["error"]


def test_plot_comparison_draws_one_bar_per_item_and_metric():
    import matplotlib.pyplot as plt

    table = compare(["safm_note", "safm_avg", "msf_note"], C=8, H=8, W=8, repeats=1, warmup=0)
    ax = plot_comparison(table)
    assert len(ax.patches) == 3 * 3 and [t.get_text() for t in ax.get_yticklabels()][0] == "safm_note"
    ax2 = plot_comparison(table, metric="params")
    assert [round(p.get_width()) for p in ax2.patches] == table.column("params")
    plt.close("all")


def test_render_gives_html_or_the_message():
    good = render(lambda C: Residual(MSFCoord(C).project), C=16, H=12, W=12, lang="en")
    assert good.ok and good.params == 16 * 16 + 2 * 16 and "residual: add the input back" in good.html
    bad = render(lambda C: Series(SAFM(C), MFEBlock(2 * C, [2, 4, 8])), C=8, lang="zh")
    assert not bad.ok and "ChannelAdapter(8, 16)" in bad.error and "通道数" in bad.error


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_render_counts_the_same_flops_as_pytorchs_counter_on_real_tensors(name):
    shown = render(name, C=16, H=12, W=12)
    row = compare([name], C=16, H=12, W=12, repeats=1, warmup=0).rows[0]
    assert shown.ok and not row["error"]
    assert shown.flops == row["flops"] > 0 and shown.params == row["params"]


@pytest.mark.parametrize("build,match", [
    (lambda: Series(SAFM(8), MFEBlock(16, [2, 4, 8])),
     r"Series: the channels that part 'safm' gives must be the channels part 'mfe' takes; got safm out=8, mfe in=16\. "
     r"Insert ChannelAdapter\(8, 16\)"),
    (lambda: Series(SAFM(8), GatedFusion(8)), r"part 'gated_fusion' takes 2 inputs.*Parallel\(\.\.\., fuse=block\)"),
    (lambda: Series(CBAMBlock(8, 4, 7, HW=49), SAFM(8)), r"part 'cbam' returns 2 tensors.*CBAMCombine"),
    (lambda: Residual(ChannelAdapter(8, 16)),
     r"Residual\(ChannelAdapter\): the block must give as many channels.*shortcut=ChannelAdapter\(8, 16\)"),
    (lambda: Parallel(SAFM(8), SAFM(8), SAFM(8), fuse="gated"), r"fuse='gated'.*exactly 2 branches; got branches=3"),
    (lambda: Parallel(*[SAFM(8) for _ in range(5)], fuse="msf"), r"at most 4 inputs.*branches=5"),
    (lambda: Parallel(SAFM(8), fuse=GatedFusion(8)), r"fusion module is channels-last.*ChannelsLast\(GatedFusion"),
    (lambda: Parallel(SAFM(8), fuse="mean"), r"fuse must be 'add', 'concat', 'gated', 'msf' or an nn.Module"),
    (lambda: Series(SAFM), r"every part must be a built nn.Module; got part 1='SAFM'"),
    (lambda: variant("msf", weighting="sigmoid"), r"msf weighting must be one of"),
])
def test_parts_that_do_not_fit_fail_at_build_time_with_a_fix(build, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        build()
    assert message(info.value, "zh")  # every message also exists in Chinese


def test_runtime_errors_name_the_part_and_keep_the_block_message():
    with pytest.raises(ShapeError, match=r"Series part 1 'safm': SAFM: x must have dim=8 channels") as info:
        trace(Series(SAFM(8), SAFM(8)), torch.randn(1, 16, 8, 8))
    assert info.value.zh.startswith("串联第 1 个部件 'safm'")
    with pytest.raises(ShapeError, match=r"Residual\(Conv2d\): the block's output must have the shape.*padding=1"):
        Residual(torch.nn.Conv2d(8, 8, 3))(torch.randn(1, 8, 8, 8))
    with pytest.raises(ValueError, match=r"a built module keeps its channels; got built for C=8, asked for C=16"):
        remix_meta_trace(SAFM(8), C=16)


def test_catalog_keys_work_as_recipes_like_the_catalog_meta_trace():
    ours = remix_meta_trace("osra", B=2, C=16, H=9, W=7)
    theirs = meta_trace("osra", B=2, C=16, H=9, W=7)
    assert [r.shape for r in ours.rows] == [r.shape for r in theirs.rows]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_export_diagram_writes_a_valid_svg_and_a_png(tmp_path):
    from fusion_edu.remix import export_diagram

    block = Residual(Parallel(SAFM(8), MFEBlock(8, [2, 4, 8]), fuse="msf"))
    paths = export_diagram(block, tmp_path / "remix", depth=2)
    svg, png = (p.name for p in paths)
    assert (svg, png) == ("remix.svg", "remix.png")
    root = ET.parse(paths[0]).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "SAFM" in text and "MFEBlock" in text and "MSFBlock" in text
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
