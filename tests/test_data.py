"""The real-photo helpers: photos, the fixed filter bank, and inputs that fit every catalog block."""

import numpy as np
import pytest
import torch

from fusion_edu import ShapeError, data
from fusion_edu.blocks import BLOCKS


@pytest.mark.parametrize("name", data.PHOTOS)
def test_photo_is_a_square_rgb_tensor_in_unit_range(name):
    img = data.photo(name, size=24)
    assert img.shape == (1, 3, 24, 24) and img.dtype == torch.float32
    assert 0 <= img.min() and img.max() <= 1
    assert img.std() > 0.05  # a real picture, not a constant


def test_photo_is_deterministic_and_photos_differ():
    assert torch.equal(data.photo("grace_hopper", 32), data.photo("grace_hopper", 32))
    assert not torch.allclose(data.photo("chelsea", 32), data.photo("coffee", 32))


def test_unknown_photo_names_the_function_and_the_choices():
    with pytest.raises(ValueError, match=r"photo: name must be one of \['grace_hopper', 'astronaut'"):
        data.photo("lena")


def test_too_small_size_is_refused_with_a_fix():
    with pytest.raises(ValueError, match=r"photo: size must be >= 8; got size=4. Use size=8"):
        data.photo(size=4)


def test_to_image_gives_hwc_for_imshow():
    img = data.photo(size=16)
    assert data.to_image(img).shape == (16, 16, 3)
    assert data.to_image(img[0]).shape == (16, 16, 3)
    np.testing.assert_allclose(data.to_image(img)[..., 0], img[0, 0].numpy())
    with pytest.raises(ShapeError, match=r"to_image: t must be \(3, H, W\)"):
        data.to_image(torch.rand(2, 3, 8, 8))


def test_features_have_the_documented_meaning_and_range():
    size = 32
    img = data.photo(size=size)
    f = data.photo_features(16, size=size)
    assert f.shape == (1, 16, size, size)
    assert len(data.FEATURE_NAMES) == 16
    # channel 0 is the red channel divided by its maximum; every channel lies in [-1, 1]
    torch.testing.assert_close(f[0, 0], img[0, 0] / img[0, 0].max())
    assert f.abs().amax() <= 1 + 1e-5
    # edge magnitudes and local contrast cannot be negative
    assert f[0, [6, 7, 11, 12, 13, 14, 15]].min() >= 0
    # channel means stay away from zero, so global pooling sees the photo (a centred bank would give 0)
    assert f[0, :4].mean(dim=(1, 2)).min() > 0.1


def test_more_than_16_channels_repeat_the_bank_on_a_blurrier_photo():
    f = data.photo_features(40, size=32)
    assert f.shape == (1, 40, 32, 32)
    assert not torch.allclose(f[0, 16], f[0, 0])  # same feature (red), one step blurrier
    assert f[0, 16].std() < f[0, 0].std()
    assert torch.equal(data.photo_features(5, size=32), data.photo_features(16, size=32)[:, :5])


def test_blurring_weakens_edges_instead_of_being_normalised_away():
    sharp = data.photo_features(16, size=32)
    blurred = data.photo_features(16, size=32, blur=2.0)
    assert blurred[0, 6].mean() < 0.7 * sharp[0, 6].mean()  # |Sobel x|


def test_gated_views_are_complementary():
    x1, x2, mask = data.gated_views(16, size=32, blocks=4)
    clean = data.photo_features(16, size=32)
    assert mask.shape == (32, 32) and mask.mean() == 0.5
    keep = mask.bool()
    # the RGB channels are pointwise: each view equals the clean photo exactly on its clean blocks
    assert torch.equal(x1[0, :3][:, keep], clean[0, :3][:, keep])
    assert torch.equal(x2[0, :3][:, ~keep], clean[0, :3][:, ~keep])
    assert not torch.equal(x1[0, :3][:, ~keep], clean[0, :3][:, ~keep])
    assert torch.equal(x1, data.gated_views(16, size=32, blocks=4)[0])  # seeded


@pytest.mark.parametrize("key", list(BLOCKS))
def test_block_inputs_fit_each_block(key):
    model, inputs = data.block_for_photo(key, size=16)
    _, shapes = BLOCKS[key].configure(B=1, C=data.default_c(key), H=16, W=16)
    assert [tuple(x.shape) for x in inputs] == [tuple(s) for s in shapes]
    assert not model.training
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    assert all(torch.isfinite(o).all() for o in outs)


def test_block_for_photo_is_deterministic_and_the_seed_matters():
    a_model, a_inputs = data.block_for_photo("safm", size=16, seed=3)
    b_model, b_inputs = data.block_for_photo("safm", size=16, seed=3)
    c_model, _ = data.block_for_photo("safm", size=16, seed=4)
    with torch.no_grad():
        a, b, c = a_model(*a_inputs), b_model(*b_inputs), c_model(*a_inputs)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_block_inputs_follow_hyperparameters_and_defaults():
    x1, _ = data.block_inputs("gated_fusion", size=16, layout="nchw")
    assert x1.shape == (1, 16, 16, 16)
    x1, _ = data.block_inputs("gated_fusion", size=16, C=8)
    assert x1.shape == (1, 16, 16, 8)  # channels-last, the note's layout
    assert data.block_inputs("osra")[0].shape == (1, 32, 32, 32)  # OSRA defaults to 32x32
    msf = data.block_inputs("msf", size=16)
    assert [x.shape[1] for x in data.block_inputs("msaa", size=16, C=4)] == [4, 8, 16]
    assert msf[0][0, 6].mean() > msf[3][0, 6].mean()  # the four MSF inputs are ever blurrier


def test_block_inputs_reject_an_unknown_key():
    with pytest.raises(ValueError, match="block key must be one of"):
        data.block_inputs("unet")
