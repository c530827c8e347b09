"""Bad input gets "<Block>: <rule>; got <name>=<value>. <hint>", in English and Chinese, never a raw torch error."""

import pytest
import torch

from fusion_edu import ShapeError
from fusion_edu.blocks import MSAA, SAFM, CBAMBlock, GatedFusion, MFEBlock, MSFBlock, OSRAttention
from fusion_edu.errors import message

r = torch.randn

CONSTRUCTOR_ERRORS = [
    (lambda: SAFM(38), ValueError, r"SAFM: dim must be divisible by n_levels; got dim=38, n_levels=4.*Try dim=40"),
    (lambda: SAFM(3), ValueError, r"SAFM: dim must be divisible by n_levels; got dim=3, n_levels=4"),
    (lambda: SAFM(8, n_levels=0), ValueError, r"SAFM: n_levels must be >= 1; got n_levels=0"),
    (lambda: SAFM(8, pool="mean"), ValueError, r"SAFM: pool must be 'max' or 'avg'; got pool='mean'"),
    (lambda: OSRAttention(60), ValueError, r"OSRAttention: dim must be divisible by num_heads; got dim=60, num_heads=8"),
    (lambda: OSRAttention(64, sr_ratio=0), ValueError, r"OSRAttention: sr_ratio must be >= 1; got sr_ratio=0"),
    (lambda: OSRAttention(64, sr_ratio=1.5), TypeError, r"OSRAttention: sr_ratio must be an int; got sr_ratio=1.5"),
    (lambda: OSRAttention(64, act="silu"), ValueError, r"OSRAttention: act must be 'relu' or 'gelu'"),
    (lambda: OSRAttention(64, attn_drop=1.0), ValueError, r"OSRAttention: attn_drop must be in \[0, 1\)"),
    (lambda: MFEBlock(8, [2, 4]), ValueError, r"MFEBlock: atrous_rates must hold exactly 3 dilation rates; got "
                                              r"atrous_rates=\[2, 4\]"),
    (lambda: MFEBlock(8, [2, 4, 8, 16]), ValueError, r"MFEBlock: atrous_rates must hold exactly 3"),
    (lambda: MFEBlock(8, 2), TypeError, r"MFEBlock: atrous_rates must be a list of 3 ints; got atrous_rates=2"),
    (lambda: MFEBlock(8, [2, 0, 8]), ValueError, r"MFEBlock: atrous_rates\[i\] must be >= 1; got atrous_rates\[i\]=0"),
    (lambda: MSFBlock(8, weighting="sigmoid"), ValueError, r"MSFBlock: weighting must be 'sigmoid_softmax' or "
                                                           r"'softmax'; got weighting='sigmoid'"),
    (lambda: MSFBlock("8"), TypeError, r"MSFBlock: in_channels must be an int; got in_channels='8'"),
    (lambda: MSAA(112, 12), ValueError, r"MSAA: out_channels must be >= 16 .*got out_channels=12"),
    (lambda: CBAMBlock(64), ValueError, r"CBAMBlock: HW \(= H\*W of the input\) is required .*got HW=None. "
                                        r"Example: CBAMBlock\(64, HW=7\*7\)"),
    (lambda: CBAMBlock(64, kernel_size=6, HW=49), ValueError, r"CBAMBlock: kernel_size must be odd .*got "
                                                              r"kernel_size=6. Try kernel_size=7"),
    (lambda: CBAMBlock(8, reduction=16, HW=49), ValueError, r"CBAMBlock: reduction must be <= channel .*got "
                                                            r"channel=8, reduction=16"),
    (lambda: CBAMBlock(64, 8, 7, HW=49, size=(8, 8)), ValueError, r"CBAMBlock: HW must equal H\*W of size; got "
                                                                   r"HW=49, size=\(8, 8\). Leave HW out"),
    (lambda: CBAMBlock(64, 8, 7, size=8), ValueError, r"CBAMBlock: size must be a pair \(H, W\); got size=8"),
    (lambda: GatedFusion(0), ValueError, r"GatedFusion: dim must be >= 1; got dim=0"),
    (lambda: GatedFusion(8, layout="NHWC"), ValueError, r"GatedFusion: layout must be 'channels_last' or 'nchw'"),
]

FORWARD_ERRORS = [
    (lambda: SAFM(8)(r(1, 12, 16, 16)), r"SAFM: x must have dim=8 channels; got x.shape=\(1, 12, 16, 16\)"),
    (lambda: SAFM(8)(r(1, 8, 4, 16)), r"SAFM: H and W must be >= 2\*\*\(n_levels-1\) = 8 .*x.shape=\(1, 8, 4, 16\)"),
    (lambda: SAFM(8)(r(8, 16, 16)), r"SAFM: x must be a 4-D tensor \(B, C, H, W\); got x.shape=\(8, 16, 16\). "
                                    r"Add a batch axis with x.unsqueeze\(0\)"),
    (lambda: OSRAttention(16)(r(1, 8, 7, 7)), r"OSRAttention: x must have dim=16 channels; got x.shape=\(1, 8, 7, 7\)"),
    (lambda: OSRAttention(16)(r(1, 16, 2, 2)), r"OSRAttention: training mode needs more than one value per channel"),
    (lambda: OSRAttention(16, num_heads=4)(r(1, 16, 4, 4), r(1, 2, 16, 4)),
     r"OSRAttention: relative_pos_enc must have num_heads=4 \(or 1\)"),
    (lambda: MFEBlock(8, [2, 4, 8])(r(1, 4, 9, 9)), r"MFEBlock: x must have in_channels=8 channels"),
    (lambda: MFEBlock(8, [2, 4, 8])(r(1, 8, 1, 1)), r"MFEBlock: training mode needs more than one value per channel "
                                                    r"for BatchNorm; got B=1, H=1, W=1. Call .eval\(\)"),
    (lambda: MSFBlock(4)(r(1, 4, 8, 8), r(1, 4, 8, 8), r(1, 4, 4, 4), r(1, 4, 8, 8)),
     r"MSFBlock: all four inputs must have the same shape; got x0.shape=\(1, 4, 8, 8\), x2.shape=\(1, 4, 4, 4\)"),
    (lambda: MSFBlock(4)(*[r(1, 3, 8, 8)] * 4), r"MSFBlock: inputs must have in_channels=4 channels"),
    (lambda: MSAA(112, 64)(r(1, 16, 8, 8), r(1, 32, 8, 8), r(1, 32, 8, 8)),
     r"MSAA: the inputs' channels must add up to in_channels=112; got channels=\(16, 32, 32\), sum=80. "
     r"Build MSAA\(80, 64\)"),
    (lambda: MSAA(112, 64)(r(1, 16, 8, 8), r(1, 32, 4, 4), r(1, 64, 8, 8)), r"MSAA: x1, x2 and x4 must share B, H and W"),
    (lambda: CBAMBlock(64, 8, 7, HW=49)(r(1, 64, 8, 8)), r"CBAMBlock: built for HW=49 but the input is 8x8 \(HW=64\)"),
    (lambda: CBAMBlock(64, 8, 7, HW=49)(r(1, 32, 7, 7)), r"CBAMBlock: x must have channel=64 channels"),
    (lambda: CBAMBlock(16, 4, 7, size=(8, 8))(r(1, 16, 4, 16)), r"CBAMBlock: built for size=\(8, 8\), and the joint "
                                                              r"MLP's weights are tied to those positions; got "
                                                              r"x.shape=\(1, 16, 4, 16\). Resize the input to 8x8"),
    (lambda: GatedFusion(64)(r(1, 64, 32, 48), r(1, 64, 32, 48)),
     r"GatedFusion: inputs must have dim=64 channels on the last axis \(channels-last\); got x1.shape=\(1, 64, 32, 48\). "
     r"For NCHW tensors build GatedFusion\(dim, layout='nchw'\)"),
    (lambda: GatedFusion(8)(r(1, 4, 4, 8), r(1, 4, 2, 8)), r"GatedFusion: x1 and x2 must have the same shape"),
    (lambda: GatedFusion(8, layout="nchw")(r(4, 4, 8), r(4, 4, 8)), r"GatedFusion: x1 must be a 4-D tensor"),
]

TYPE_ERRORS = [
    (lambda: SAFM(8)([[1.0]]), r"SAFM: x must be a torch.Tensor; got type\(x\)=list"),
    (lambda: MSAA(112, 64)(r(1, 16, 8, 8), None, r(1, 64, 8, 8)), r"MSAA: x2 must be a torch.Tensor; got type\(x2\)=NoneType"),
    (lambda: GatedFusion(8)(r(2, 8), 3.0), r"GatedFusion: x2 must be a torch.Tensor; got type\(x2\)=float"),
]


@pytest.mark.parametrize("make,kind,pattern", CONSTRUCTOR_ERRORS)
def test_constructor_errors(make, kind, pattern):
    with pytest.raises(kind, match=pattern) as info:
        make()
    assert "；实际" in message(info.value, "zh")


@pytest.mark.parametrize("run,pattern", FORWARD_ERRORS)
def test_forward_shape_errors(run, pattern):
    with pytest.raises(ShapeError, match=pattern) as info:
        run()
    assert "；实际" in message(info.value, "zh")
    assert str(info.value) in message(info.value, "both")


@pytest.mark.parametrize("run,pattern", TYPE_ERRORS)
def test_non_tensor_inputs(run, pattern):
    with pytest.raises(TypeError, match=pattern):
        run()


def test_message_falls_back_to_english():
    assert message(ValueError("plain"), "zh") == "plain"


def test_cbam_size_makes_the_check_exact_and_keeps_the_state_dict():
    loose = CBAMBlock(16, 4, 7, HW=64)
    exact = CBAMBlock(16, 4, 7, size=(8, 8))
    assert loose(r(1, 16, 4, 16))[0].shape == (1, 16, 4, 16)  # the note's check: only H*W, so 4x16 runs
    assert exact.HW == 64 and list(exact.state_dict()) == list(loose.state_dict())
    exact.load_state_dict(loose.state_dict())
    x = r(2, 16, 8, 8)
    assert all(torch.equal(a, b) for a, b in zip(exact(x), loose(x)))


RAW = [
    (lambda: SAFM(38)(r(1, 38, 32, 32)), RuntimeError, r"expected input\[1, 10, 32, 32\] to have 9 channels",
     r"SAFM: dim must be divisible by n_levels"),
    (lambda: CBAMBlock(64, 8, 7, HW=49)(r(1, 64, 8, 8)), RuntimeError, r"to have 113 channels, but got 128",
     r"CBAMBlock: built for HW=49"),
    (lambda: CBAMBlock(64), TypeError, r"unsupported operand type\(s\) for \+: 'int' and 'NoneType'",
     r"CBAMBlock: HW \(= H\*W of the input\) is required"),
    (lambda: GatedFusion(64)(r(1, 64, 32, 48), r(1, 64, 32, 48)), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(2048x48 and 64x64\)", r"GatedFusion: inputs must have dim=64"),
    (lambda: MSFBlock(4)(*[r(1, 4, 1, 1)] * 4), ValueError, r"^Expected more than 1 value per channel when training",
     r"MSFBlock: training mode needs more than one value"),
]


@pytest.mark.parametrize("call,raw_type,raw_message,ours", RAW, ids=[m[:24] for _, _, _, m in RAW])
def test_raw_errors_show_what_the_notes_code_would_raise(call, raw_type, raw_message, ours):
    from fusion_edu.errors import raw_errors

    with pytest.raises((ValueError, TypeError), match=ours):
        call()
    with raw_errors(), pytest.raises(raw_type, match=raw_message) as raised:
        call()
    assert "fusion_edu" not in str(raised.value) and not isinstance(raised.value, ShapeError)


def test_raw_errors_change_no_output():
    from fusion_edu.errors import raw_errors

    block, x = SAFM(8).eval(), r(1, 8, 16, 16)
    with raw_errors():
        raw = block(x)
    assert torch.equal(raw, block(x))
