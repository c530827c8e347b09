"""Real photos that ship with installed packages, and fixed, explainable features made from them.

Nothing is downloaded: ``grace_hopper`` comes with matplotlib, ``astronaut``, ``chelsea`` and
``coffee`` with scikit-image's wheel.

The blocks expect feature maps with C channels, not RGB pictures. Random convolutions would hide
the photo behind noise, so `image_features` uses a fixed, untrained filter bank whose 16 channels
each have a plain meaning (`FEATURE_NAMES`):

====  =========================  ==========================================================
 #    name                       what it is
====  =========================  ==========================================================
 0-2  red, green, blue           the photo's colour channels
 3    grey                       luminance 0.299 R + 0.587 G + 0.114 B
 4    red-green                  colour opponent R - G
 5    blue-yellow                colour opponent B - (R + G) / 2
 6    edge x                     |Sobel x| of grey: vertical edges
 7    edge y                     |Sobel y| of grey: horizontal edges
 8    blur 2                     grey blurred with a Gaussian, sigma 2 px
 9    blur 4                     grey blurred with a Gaussian, sigma 4 px
 10   centre-surround            grey - blur 2 (a difference of Gaussians: spots and lines)
 11   local contrast             standard deviation of grey in a sigma-2 window
 12   Gabor 0 / 13: 45 /         energy of an oriented Gabor pair (wavelength 6 px, sigma 2 px)
      14: 90 / 15: 135 deg       at 0, 45, 90, 135 degrees: stripes and edges by orientation
====  =========================  ==========================================================

For C > 16, channel c is feature ``c % 16`` computed on the photo pre-blurred with a Gaussian of
sigma ``c // 16`` px, so channels 16-31 repeat the bank one step blurrier, and so on; for C < 16 the
first C features are used. Each channel is divided by its largest absolute value on the clean
photo, so values lie in about [-1, 1] and keep their sign and mean. (Centring every channel to
mean zero would make each global average pool zero and every pooled gate trivial.)

`block_inputs(key)` turns this into the inputs each catalog block takes, and `block_for_photo(key)`
returns a seeded block in eval mode together with those inputs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import require_int, shape_error, type_error, value_error

__all__ = ["PHOTOS", "FEATURE_NAMES", "MSF_SIGMAS", "photo", "to_image", "image_features", "photo_features",
           "gaussian_blur", "gated_views", "block_inputs", "block_for_photo", "default_c"]

PHOTOS = ("grace_hopper", "astronaut", "chelsea", "coffee")
FEATURE_NAMES = ("red", "green", "blue", "grey", "red-green", "blue-yellow", "edge x", "edge y", "blur 2",
                 "blur 4", "centre-surround", "local contrast", "Gabor 0", "Gabor 45", "Gabor 90", "Gabor 135")
MSF_SIGMAS = (0.0, 1.0, 2.0, 4.0)  # blur of the four MSF/"scale" inputs, in px
MIN_SIZE = 8

# Channels per block for the photo demos: 16 = the whole bank once. OSRA has 8 heads by default, so
# 32 channels give 4 per head; the CBAM variant uses 64 so its MLP keeps C/r = 8 hidden units.
_PHOTO_C = {"gated_fusion": 16, "msf": 16, "mfe": 16, "safm": 16, "osra": 32, "msaa": 16, "cbam_joint": 64}
# OSRA's attention matrix has nh * (H*W) * (H'*W') entries: 32x32 keeps it at 8 MB instead of 134 MB at 64x64.
# The CBAM variant's MLP is tied to H*W positions; at 32x32 its spatial basis maps stay readable.
_PHOTO_SIZE = {"osra": 32, "cbam_joint": 32}


# --------------------------------------------------------------------------- photos

@functools.lru_cache(maxsize=8)
def _raw(name: str) -> np.ndarray:
    if name == "grace_hopper":
        import matplotlib.image
        from matplotlib import cbook

        return np.asarray(matplotlib.image.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def _check_size(func: str, size: Any) -> int:
    require_int(func, "size", size, minimum=MIN_SIZE, hint=f"Use size={MIN_SIZE} or more, e.g. size=64.")
    return size


def photo(name: str = "grace_hopper", size: int = 64) -> Tensor:
    """A real photo, centre-cropped to a square and resized (antialiased) to size x size.

    Args:
        name: One of `PHOTOS`: ``"grace_hopper"`` (matplotlib), ``"astronaut"``, ``"chelsea"``,
            ``"coffee"`` (scikit-image).
        size: Side in pixels (>= 8).

    Shape:
        out: (1, 3, size, size), float32 in [0, 1]

    Example:
        >>> photo("chelsea", size=32).shape
        torch.Size([1, 3, 32, 32])
    """
    if name not in PHOTOS:
        raise value_error("photo", f"name must be one of {list(PHOTOS)}", {"name": name},
                          "These photos ship with matplotlib and scikit-image, so nothing is downloaded.")
    _check_size("photo", size)
    array = _raw(name)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    img = torch.from_numpy(np.ascontiguousarray(array[..., :3], dtype=np.float32)).permute(2, 0, 1)
    h, w = img.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[:, top:top + side, left:left + side].unsqueeze(0)
    img = F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return img.clamp(0, 1).contiguous()


def to_image(t: Tensor | np.ndarray) -> np.ndarray:
    """An RGB tensor as an H x W x 3 float array in [0, 1] for ``imshow`` (values are clipped, not rescaled).

    Shape:
        t: (3, H, W) or (1, 3, H, W); an H x W x 3 array passes through
        out: (H, W, 3) numpy array
    """
    if isinstance(t, np.ndarray):
        if t.ndim == 3 and t.shape[-1] == 3:
            return np.clip(t.astype(np.float32), 0, 1)
        t = torch.from_numpy(t)
    if not isinstance(t, Tensor):
        raise type_error("to_image", "t must be a torch.Tensor or numpy array", {"type(t)": type(t).__name__},
                         "Pass photo(...) or a (3, H, W) tensor.")
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise shape_error("to_image", "t must be (3, H, W) or (1, 3, H, W)", {"t.shape": tuple(t.shape)},
                          "Pick one image of the batch, e.g. t[0], and 3 channels, e.g. t[:3].")
    return t.detach().float().cpu().permute(1, 2, 0).clamp(0, 1).numpy()


# --------------------------------------------------------------------------- the filter bank

def _filter(x: Tensor, kernel: Tensor) -> Tensor:
    """Same-size 2-D filtering of every channel with one kernel (replicate padding)."""
    kh, kw = kernel.shape
    C = x.shape[1]
    x = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    weight = kernel.to(x).expand(C, 1, kh, kw)
    return F.conv2d(x, weight, groups=C)


def _gaussian_1d(sigma: float) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Gaussian blur of every channel (sigma in px; 0 returns x unchanged).

    Shape:
        x: (B, C, H, W)
        out: (B, C, H, W)
    """
    if sigma <= 0:
        return x
    g = _gaussian_1d(sigma)
    return _filter(_filter(x, g[None, :]), g[:, None])


@functools.lru_cache(maxsize=1)
def _edge_kernels() -> Tensor:
    """Sobel x, Sobel y and the 4 even + 4 odd Gabor kernels, zero-padded to 13 x 13: (10, 1, 13, 13)."""
    sigma, wavelength, radius = 2.0, 6.0, 6
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    envelope = torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    sobel = torch.zeros(2, 13, 13)
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    sobel[0, 5:8, 5:8], sobel[1, 5:8, 5:8] = sobel_x, sobel_x.T
    evens, odds = [], []
    for degrees in (0, 45, 90, 135):
        theta = math.radians(degrees)
        # The carrier varies along the direction theta: stripes perpendicular to it respond most.
        u = xx * math.cos(theta) + yy * math.sin(theta)
        even = envelope * torch.cos(2 * math.pi * u / wavelength)
        even = even - envelope * (even.sum() / envelope.sum())  # zero mean: flat regions give 0
        odd = envelope * torch.sin(2 * math.pi * u / wavelength)
        evens.append(even / even.abs().sum())
        odds.append(odd / odd.abs().sum())
    return torch.cat([sobel, torch.stack(evens), torch.stack(odds)]).unsqueeze(1)


def feature_bank(image: Tensor) -> Tensor:
    """The 16 raw feature channels of `FEATURE_NAMES` (not normalised).

    Shape:
        image: (B, 3, H, W), RGB in [0, 1]
        out: (B, 16, H, W)
    """
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    grey = 0.299 * r + 0.587 * g + 0.114 * b
    blur2, blur2_sq = gaussian_blur(torch.cat([grey, grey**2], dim=1), 2.0).chunk(2, dim=1)
    blur4 = gaussian_blur(grey, 4.0)
    local_std = (blur2_sq - blur2**2).clamp_min(0).sqrt()
    edges = F.conv2d(F.pad(grey, (6, 6, 6, 6), mode="replicate"), _edge_kernels().to(grey))
    sobel, even, odd = edges[:, :2].abs(), edges[:, 2:6], edges[:, 6:]
    gabor = torch.sqrt(even**2 + odd**2)
    return torch.cat([r, g, b, grey, r - g, b - (r + g) / 2, sobel, blur2, blur4, grey - blur2, local_std, gabor],
                     dim=1)


def _scales(reference: Tensor) -> Tensor:
    """Per-channel divisor (1, 16, 1, 1): the largest |value| of each feature on the reference image."""
    bank = feature_bank(reference)
    return bank.abs().amax(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)


def image_features(image: Tensor, channels: int = 16, *, reference: Tensor | None = None) -> Tensor:
    """Fixed, untrained features of an RGB image (see the module docstring for every channel).

    Args:
        image: RGB images in [0, 1].
        channels: C, the number of feature channels to return.
        reference: The image whose feature ranges set the per-channel scale (default: `image`).
            Pass the clean photo when `image` is a blurred or corrupted copy, so a weaker edge
            stays weaker instead of being stretched back to [-1, 1].

    Shape:
        image: (B, 3, H, W); reference: (1, 3, H, W) or (B, 3, H, W)
        out: (B, C, H, W)
    """
    require_int("image_features", "channels", channels, hint="Pass the channel count C, e.g. channels=16.")
    if not isinstance(image, Tensor) or image.ndim != 4 or image.shape[1] != 3:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise shape_error("image_features", "image must be an RGB tensor (B, 3, H, W)", {"image": got},
                          "Use photo(...) or add a batch axis with image.unsqueeze(0).")
    n = len(FEATURE_NAMES)
    scales = _scales(image if reference is None else reference)
    out = []
    for copy in range(math.ceil(channels / n)):
        bank = feature_bank(gaussian_blur(image, float(copy))) / scales
        out.append(bank)
    return torch.cat(out, dim=1)[:, :channels].contiguous()


def photo_features(channels: int = 16, *, name: str = "grace_hopper", size: int = 64, blur: float = 0.0) -> Tensor:
    """Fixed features of a real photo, optionally blurred first (scaled by the clean photo's ranges).

    Args:
        channels: C.
        name: A photo of `PHOTOS`.
        size: Side in pixels.
        blur: Gaussian sigma in px applied to the photo before the filter bank.

    Shape:
        out: (1, C, size, size)

    Example:
        >>> photo_features(24, size=32).shape
        torch.Size([1, 24, 32, 32])
    """
    return _photo_features(channels, name, size, float(blur)).clone()


@functools.lru_cache(maxsize=32)
def _photo_features(channels: int, name: str, size: int, blur: float) -> Tensor:
    img = photo(name, size)
    return image_features(gaussian_blur(img, blur), channels, reference=img)


def gated_views(channels: int = 16, *, name: str = "grace_hopper", size: int = 64, blocks: int = 4,
                seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Two "sensors" of one photo with complementary corrupted blocks, for gated fusion.

    The photo is cut into a blocks x blocks checkerboard. View 1 is clean on the mask's 1-squares
    and replaced by seeded noise around the mean colour on the 0-squares; view 2 is the reverse.
    A gate that learned "trust the clean view" would reproduce the mask.

    Shape:
        x1, x2: (1, C, size, size), NCHW (permute to (1, size, size, C) for the channels-last block)
        mask: (size, size), 1 where x1 is clean, 0 where x2 is clean
    """
    img = photo(name, size)
    require_int("gated_views", "blocks", blocks, hint="Use blocks=4 for a 4x4 checkerboard.")
    cells = torch.arange(size) * blocks // size
    mask = ((cells[:, None] + cells[None, :]) % 2 == 0).float()
    generator = torch.Generator().manual_seed(seed)
    noise = (img.mean(dim=(2, 3), keepdim=True) + 0.3 * torch.randn(2, 3, size, size, generator=generator)).clamp(0, 1)
    view1 = torch.where(mask.bool(), img, noise[:1])
    view2 = torch.where(mask.bool(), noise[1:], img)
    return (image_features(view1, channels, reference=img), image_features(view2, channels, reference=img), mask)


# --------------------------------------------------------------------------- per-block inputs

def default_c(key: str) -> int:
    """The channel count the photo demos use for block `key` (16, 32 for OSRA, 64 for the CBAM variant)."""
    from .blocks import get_spec

    return _PHOTO_C[get_spec(key).key]


def _resolve(key: str, size: int | None, C: int | None) -> tuple[Any, int, int]:
    from .blocks import get_spec

    spec = get_spec(key)
    size = _PHOTO_SIZE.get(key, 64) if size is None else _check_size("block_inputs", size)
    C = _PHOTO_C[key] if C is None else C
    require_int("block_inputs", "C", C, hint=f"Try C={_PHOTO_C[key]}.")
    return spec, size, C


def block_inputs(key: str, size: int | None = None, C: int | None = None, *, name: str = "grace_hopper",
                 **hypers: Any) -> list[Tensor]:
    """Inputs for catalog block `key` made from a photo, shaped as ``BLOCKS[key].configure(B=1, C=C, ...)``.

    What each block gets (C channels of `image_features` unless said otherwise):

    - ``gated_fusion``: the two `gated_views` (channels-last (1, H, W, C) unless ``layout="nchw"``).
    - ``msf``: the photo blurred with sigma 0, 1, 2, 4 px (`MSF_SIGMAS`): four scales of one scene.
    - ``mfe``, ``safm``, ``osra``, ``cbam_joint``: the photo's features, (1, C, H, W).
    - ``msaa``: three encoder levels at a common H x W, as CM-UNet feeds it: C features at full
      resolution, 2C computed at H/2 and 4C at H/4, each upsampled (bilinear) back to H x W.

    Args:
        key: A key of `fusion_edu.blocks.BLOCKS`.
        size: H = W in pixels; None uses 64 (32 for OSRA, whose attention matrix grows as (H*W)**2,
            and for the CBAM variant, whose MLP has one input per pixel).
        C: Channels; None uses `default_c(key)`. For MSAA this is x1's channels (in_channels = 7C).
        name: A photo of `PHOTOS`.
        **hypers: The block's hyperparameters as in the catalog (only ``layout`` changes the inputs).

    Shape:
        out: the list ``BLOCKS[key].configure(B=1, C=C, H=size, W=size, **hypers)[1]`` describes
    """
    spec, size, C = _resolve(key, size, C)
    _, shapes = spec.configure(B=1, C=C, H=size, W=size, **hypers)
    if key == "gated_fusion":
        x1, x2, _ = gated_views(C, name=name, size=size)
        if spec.values(**hypers)["layout"] == "channels_last":
            x1, x2 = x1.permute(0, 2, 3, 1).contiguous(), x2.permute(0, 2, 3, 1).contiguous()
        inputs = [x1, x2]
    elif key == "msf":
        inputs = [photo_features(C, name=name, size=size, blur=s) for s in MSF_SIGMAS]
    elif key == "msaa":
        inputs = []
        for factor, channels in ((1, C), (2, 2 * C), (4, 4 * C)):
            small = max(MIN_SIZE, size // factor)
            x = photo_features(channels, name=name, size=small)
            if small != size:
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            inputs.append(x)
    else:
        inputs = [photo_features(C, name=name, size=size)]
    got = [tuple(x.shape) for x in inputs]
    if got != [tuple(s) for s in shapes]:  # the catalog and this function must agree
        raise RuntimeError(f"block_inputs: built {got} for {key!r} but the catalog expects {shapes}")
    return inputs


def block_for_photo(key: str, size: int | None = None, seed: int = 0, C: int | None = None, *,
                    name: str = "grace_hopper", **hypers: Any) -> tuple[nn.Module, list[Tensor]]:
    """A seeded, untrained block in eval mode and its photo inputs (`block_inputs`).

    Eval mode makes BatchNorm use its running statistics (identity at initialisation), so one
    pixel's output does not depend on the rest of the batch: what the photo figures need.

    Example:
        >>> model, inputs = block_for_photo("safm", size=32)
        >>> model(*inputs).shape
        torch.Size([1, 16, 32, 32])
    """
    spec, size, C = _resolve(key, size, C)
    module, _ = spec.build(seed=seed, B=1, C=C, H=size, W=size, **hypers)
    return module.eval(), block_inputs(key, size, C, name=name, **hypers)
