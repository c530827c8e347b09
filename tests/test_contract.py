"""Every catalog block: shapes over a grid, backward, determinism, strict trace, meta == CPU, parameter counts."""

import linecache
import os

import pytest
import torch

import fusion_edu
from fusion_edu import BLOCKS, meta_trace, trace
from fusion_edu.blocks import MSAA, SAFM, CBAMBlock, GatedFusion, MFEBlock, MSFBlock, OSRAttention, reduced_size

PACKAGE = os.path.dirname(fusion_edu.__file__)

# Valid settings per block with odd and non-square sizes: (B, C, H, W, hyperparameters)
GRID = {
    "gated_fusion": [(1, 8, 5, 7, {}), (2, 16, 9, 9, {}), (2, 8, 6, 11, {"layout": "nchw"})],
    "msf": [(2, 3, 2, 2, {}), (1, 8, 7, 5, {}), (3, 5, 9, 9, {"weighting": "softmax"})],
    "mfe": [(1, 8, 9, 11, {}), (2, 4, 5, 5, {"rate1": 1, "rate2": 3, "rate3": 5}), (2, 6, 16, 16, {"weighting": "softmax"})],
    "safm": [(1, 8, 8, 30, {}), (2, 12, 13, 9, {"n_levels": 3}), (1, 6, 11, 11, {"n_levels": 2, "pool": "avg"})],
    "osra": [(1, 16, 7, 7, {}), (2, 12, 9, 13, {"num_heads": 3, "sr_ratio": 3}), (1, 8, 5, 6, {"num_heads": 1, "sr_ratio": 1}),
             (2, 16, 16, 16, {"sr_ratio": 4, "act": "gelu"})],
    "msaa": [(1, 16, 28, 28, {}), (2, 4, 7, 9, {"out_channels": 16}), (1, 8, 1, 1, {"out_channels": 32})],
    "cbam_joint": [(1, 16, 7, 7, {}), (2, 16, 5, 9, {"reduction": 4, "kernel_size": 3}), (1, 8, 4, 4, {"reduction": 1})],
}
CASES = [(key, case) for key, cases in GRID.items() for case in cases]
IDS = [f"{key}-B{b}C{c}H{h}W{w}-{hp}" for key, (b, c, h, w, hp) in CASES]


def expected_shapes(key, kwargs, shapes):
    if key == "msaa":
        B, _, H, W = shapes[0]
        return [(B, kwargs["out_channels"], H, W)]
    if key == "cbam_joint":
        return [shapes[0], shapes[0]]
    return [shapes[0]]


def as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


def test_catalog_has_the_seven_blocks_in_the_notes_order():
    assert list(BLOCKS) == ["gated_fusion", "msf", "mfe", "safm", "osra", "msaa", "cbam_joint"]
    assert [s.source_name for s in BLOCKS.values()] == [
        "gatedFusion", "MSFblock", "MFEblock", "SAFM", "OSRAttention", "MSAA", "CBAMBlock"]
    for spec in BLOCKS.values():
        assert spec.title_zh and spec.title_en and spec.paper.arxiv and spec.paper.code.startswith("https://")
        kwargs, shapes = spec.configure()
        assert len(shapes) == len(spec.inputs)


@pytest.mark.parametrize("key,case", CASES, ids=IDS)
def test_output_shapes_over_a_grid(key, case):
    B, C, H, W, hyper = case
    spec = BLOCKS[key]
    kwargs, shapes = spec.configure(B=B, C=C, H=H, W=W, **hyper)
    model, inputs = spec.build(B=B, C=C, H=H, W=W, **hyper)
    model.eval()
    out = as_list(model(*inputs))
    assert [tuple(o.shape) for o in out] == expected_shapes(key, kwargs, shapes)
    assert all(torch.isfinite(o).all() for o in out)


@pytest.mark.parametrize("key", BLOCKS)
def test_backward_reaches_every_used_parameter(key):
    model, inputs = BLOCKS[key].build(B=2, C=16, H=8, W=8)
    inputs = [x.requires_grad_() for x in inputs]
    loss = sum(o.square().mean() for o in as_list(model(*inputs)))
    loss.backward()
    assert all(x.grad is not None for x in inputs)
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    # CM-UNet's MSAA defines down_2 and never calls it: kept so official checkpoints load.
    assert missing == (["fusion_conv.down_2.weight", "fusion_conv.down_2.bias"] if key == "msaa" else [])


@pytest.mark.parametrize("key", BLOCKS)
def test_eval_mode_is_deterministic(key):
    model, inputs = BLOCKS[key].build(B=2, C=16, H=8, W=8)
    model.eval()
    first, second = as_list(model(*inputs)), as_list(model(*inputs))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("key", BLOCKS)
def test_strict_trace_passes_and_points_at_note_lines(key):
    model, inputs = BLOCKS[key].demo() if key not in ("gated_fusion", "mfe", "safm") else BLOCKS[key].build()
    result = trace(model, *inputs)
    assert result.ok and len(result.rows) >= 5
    for row in result.rows:
        assert row.zh and row.en and row.zh != row.en
        source = linecache.getline(os.path.join(PACKAGE, row.file), row.lineno)
        assert "note(" in source or "watch(" in source, (row.line, source)
    assert result.output_shapes == [tuple(o.shape) for o in as_list(model(*inputs))]


@pytest.mark.parametrize("key,case", CASES, ids=IDS)
def test_meta_trace_matches_cpu_trace(key, case):
    B, C, H, W, hyper = case
    cpu = trace(*_split(BLOCKS[key].build(B=B, C=C, H=H, W=W, **hyper)))
    meta = meta_trace(key, B=B, C=C, H=H, W=W, **hyper)
    assert [r.shape for r in meta.rows] == [r.shape for r in cpu.rows]
    assert [r.spec for r in meta.rows] == [r.spec for r in cpu.rows]
    assert meta.symbols == cpu.symbols
    assert meta.output_shapes == cpu.output_shapes


def _split(built):
    model, inputs = built
    return (model, *inputs)


def test_meta_trace_at_the_largest_settings_stays_on_meta():
    for key in BLOCKS:
        result = meta_trace(key, B=64, C=512, H=512, W=512)
        outs = as_list(result.output)
        assert all(o.device.type == "meta" for o in outs)
        assert result.ok


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model,expected", [
    (lambda: GatedFusion(64), 8_320),
    (lambda: MSFBlock(64), 20_608),
    (lambda: MFEBlock(64, [2, 4, 8]), 168_576),
    (lambda: SAFM(36), 1_692),
    (lambda: SAFM(64), 4_800),
    (lambda: OSRAttention(64), 15_040),
    (lambda: OSRAttention(64, num_heads=1, sr_ratio=1), 13_120),
    (lambda: OSRAttention(64, sr_ratio=4), 16_576),
    (lambda: OSRAttention(64, sr_ratio=8), 21_184),
    (lambda: MSAA(112, 64), 26_226),
    (lambda: MSAA(112, 128), 97_154),
    (lambda: MSAA(112, 256), 373_410),
    (lambda: MSAA(64, 64), 24_690),
    (lambda: CBAMBlock(64, reduction=8, kernel_size=7, HW=49), 2_931),
    (lambda: CBAMBlock(64, reduction=8, kernel_size=7, HW=56 * 56), 52_323),
    (lambda: CBAMBlock(64, reduction=8, kernel_size=7, HW=224 * 224), 804_963),
    (lambda: CBAMBlock(512, reduction=16, kernel_size=49, HW=49), 73_475),
], ids=lambda v: str(v) if isinstance(v, int) else "")
def test_parameter_counts_match_the_block_facts(model, expected):
    with torch.device("meta"):
        assert count(model()) == expected


def test_switches_keep_the_default_state_dict():
    pairs = [(MSFBlock(8), MSFBlock(8, weighting="softmax")),
             (MFEBlock(8, [2, 4, 8]), MFEBlock(8, [2, 4, 8], weighting="softmax")),
             (OSRAttention(16), OSRAttention(16, act="gelu")),
             (GatedFusion(8), GatedFusion(8, layout="nchw")),
             (SAFM(8), SAFM(8, pool="avg")),
             (CBAMBlock(8, 2, 3, HW=16), CBAMBlock(8, 2, 3, HW=16, squash_descriptors=True))]
    for note_version, switched in pairs:
        assert {k: v.shape for k, v in note_version.state_dict().items()} == \
               {k: v.shape for k, v in switched.state_dict().items()}
        switched.load_state_dict(note_version.state_dict(), strict=True)


def test_msf_weights_stay_inside_the_softmax_over_sigmoid_bounds():
    low, high = 1 / (1 + 3 * torch.e), torch.e / (torch.e + 3)
    assert (round(low, 3), round(high, 3)) == (0.109, 0.475)
    for weighting, capped in (("sigmoid_softmax", True), ("softmax", False)):
        block = MSFBlock(4, weighting=weighting).eval()
        with torch.no_grad():
            for se in (block.SE1, block.SE2, block.SE3, block.SE4):
                se.conv[0].weight.copy_(torch.eye(4).view(4, 4, 1, 1) * 50)
        xs = [torch.full((1, 4, 3, 3), v) for v in (1.0, -1.0, -1.0, -1.0)]
        weights = trace(block, *xs, keep=True).tensors["weights"]
        assert torch.allclose(weights.sum(dim=2), torch.ones(1, 4, 1))
        if capped:
            assert weights.max() < high + 1e-6 and weights.min() > low - 1e-6
        else:
            assert weights.max() > 0.99


def test_osra_gelu_switch_changes_the_reduction_activation_only():
    relu, gelu = OSRAttention(16), OSRAttention(16, act="gelu")
    assert isinstance(relu.sr[2], torch.nn.ReLU) and isinstance(gelu.sr[2], torch.nn.GELU)
    gelu.load_state_dict(relu.state_dict())
    x = torch.randn(2, 16, 8, 8)
    assert not torch.allclose(relu.eval()(x), gelu.eval()(x))


def test_gated_fusion_nchw_layout_equals_permuted_channels_last():
    last = GatedFusion(8)
    nchw = GatedFusion(8, layout="nchw")
    nchw.load_state_dict(last.state_dict())
    x1, x2 = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    expected = last(x1.permute(0, 2, 3, 1), x2.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert torch.allclose(nchw(x1, x2), expected)


@pytest.mark.parametrize("sr_ratio", range(1, 9))
@pytest.mark.parametrize("size", [1, 7, 8, 9, 16, 31])
def test_reduced_size_matches_the_reduction_conv(sr_ratio, size):
    block = OSRAttention(8, num_heads=2, sr_ratio=sr_ratio).eval()
    result = trace(block, torch.randn(1, 8, size, size + 1))
    assert result.symbols["H'"] == reduced_size(size, sr_ratio)
    assert result.symbols["W'"] == reduced_size(size + 1, sr_ratio)
    if sr_ratio % 2 == 0:
        assert reduced_size(size, sr_ratio) == -(-size // sr_ratio)  # ceil(H / r)
    elif sr_ratio > 1:
        assert reduced_size(size, sr_ratio) == size // sr_ratio + 1


def test_safm_levels_are_blocky_at_two_to_the_i():
    block = SAFM(4, n_levels=4).eval()
    kept = trace(block, torch.randn(1, 4, 16, 16), keep=True).tensors["levels"]
    level3 = kept[0, 3]
    assert torch.equal(level3, level3[::8, ::8].repeat_interleave(8, 0).repeat_interleave(8, 1))
