"""The pitfalls that lessons 04 (SAFM) and 05 (OSRA) show: PyTorch's raw error with code written the note's way
next to the block's own message, and OSRA's position bias that is resized without a word."""

import pytest
import torch
import torch.nn.functional as F

from fusion_edu import raw_errors
from fusion_edu.blocks import SAFM, OSRAttention


def r(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


PITFALLS = [
    (lambda: SAFM(38, n_levels=4)(r(1, 38, 32, 32)), RuntimeError,
     r"Given groups=9, weight of size \[9, 1, 3, 3\], expected input\[1, 10, 32, 32\]",
     r"SAFM: dim must be divisible by n_levels; got dim=38, n_levels=4.*Try dim=40"),
    (lambda: SAFM(16)(r(1, 16, 4, 4)), RuntimeError, r"Kernel size can't be greater than actual input size",
     r"SAFM: H and W must be >= 2\*\*\(n_levels-1\) = 8"),
    (lambda: OSRAttention(60, num_heads=8)(r(1, 60, 7, 7)), RuntimeError,
     r"shape '\[1, 8, 7, -1\]' is invalid for input of size 2940",
     r"OSRAttention: dim must be divisible by num_heads; got dim=60, num_heads=8"),
    (lambda: OSRAttention(64).train()(r(1, 64, 2, 2)), ValueError, r"^Expected more than 1 value per channel",
     r"OSRAttention: training mode needs more than one value per channel"),
    (lambda: OSRAttention(64).eval()(r(1, 64, 7, 7), torch.zeros(1, 4, 49, 16)), RuntimeError,
     r"The size of tensor a \(8\) must match the size of tensor b \(4\) at non-singleton dimension 1",
     r"OSRAttention: relative_pos_enc must have num_heads=8"),
]


@pytest.mark.parametrize("call, raw_type, raw_message, ours", PITFALLS, ids=[p[3][:30] for p in PITFALLS])
def test_the_raw_error_and_the_blocks_message(call, raw_type, raw_message, ours):
    with raw_errors(), pytest.raises(raw_type, match=raw_message):
        call()
    with pytest.raises(ValueError, match=ours):
        call()


def test_the_fixes_the_bn_pitfall_names_all_work():
    block = OSRAttention(64)
    assert block.eval()(r(1, 64, 2, 2)).shape == (1, 64, 2, 2)
    assert block.train()(r(2, 64, 2, 2)).shape == (2, 64, 2, 2)
    assert block.train()(r(1, 64, 3, 3)).shape == (1, 64, 3, 3)


def test_a_position_bias_of_another_size_is_resized_silently_along_the_flattened_pixels():
    block, x = OSRAttention(64).eval(), r(1, 64, 7, 7)
    bias_8x8 = r(1, 8, 64, 16)
    with torch.no_grad():
        out = block(x, bias_8x8)  # no error
        resized = F.interpolate(bias_8x8, size=(49, 16), mode="bicubic", align_corners=False)
        assert torch.equal(out, block(x, resized))
        assert torch.equal(block(x), block(x, torch.zeros(1, 8, 49, 16)))  # a zero bias is no bias
    one = torch.zeros(1, 1, 64, 16)
    one[0, 0, 8] = 1.0  # pixel (1, 0) of the 8x8 grid
    landed = F.interpolate(one, size=(49, 16), mode="bicubic", align_corners=False)[0, 0, :, 0]
    assert landed.argmax().item() == 6  # lands on pixel (0, 6) of the 7x7 grid: the lesson's example
