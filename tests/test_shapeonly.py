"""The shape-only layer and the FLOP counter: every answer equals the real kernel's, counts equal PyTorch's."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from fusion_edu import BLOCKS, meta_trace, trace
from fusion_edu.blocks import DIMS
from fusion_edu.render import render
from fusion_edu.shapeonly import ShapeOnlyMode, count_flops

KEYS = list(BLOCKS)
LARGEST = {d.name: d.high for d in DIMS}  # B=64, C=512, H=512, W=512

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


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_count_flops_agrees_with_pytorchs_flop_counter(key, device):
    module, inputs = BLOCKS[key].build(device=device, B=2, C=16, H=8, W=8)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    assert count_flops(module, *inputs) == counter.get_total_flops() > 0


def test_views_and_layer_norm_are_answered_exactly_like_the_kernel():
    from torch import nn

    y = torch.empty(2, 3, 5, 5, device="meta")
    w = torch.empty(2, 3, 4, 1, device="meta")
    with torch.no_grad(), ShapeOnlyMode(check=True) as checker:
        w[:, :, 0].unsqueeze(2) * y  # a sliced, unsqueezed weight broadcast over a map (MSF)
        y + y[:, :, :, :1]
        y * y.transpose(2, 3)  # a transpose keeps its own layout: left to the kernel
        nn.LayerNorm(5, device="meta")(y)
        nn.LayerNorm([5, 5], device="meta")(y)
    assert checker.mismatches == []
    assert checker.answered.count("aten.native_layer_norm.default") == 2
    assert checker.answered.count("aten.mul.Tensor") == 1 and checker.answered.count("aten.add.Tensor") == 1
