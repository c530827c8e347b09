"""Synthetic, seeded datasets for the training demos: made in code, nothing is downloaded.

Every maker takes the number of images ``n`` and a ``torch.Generator`` and returns a dict of
tensors, so the same generator seed always gives the same batch. Each task is built so that the
block's own mechanism is *needed* to solve it (see each docstring for why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import require_int, value_error

__all__ = ["sensor_pair", "stripe_inputs", "dot_counts", "shape_edges", "marker_colours", "multiscale_blobs",
           "coloured_object", "batches", "edge_map", "disk_kernel", "CORNERS"]

Batch = dict[str, Tensor]

# The 8 corners of the colour cube: class k has colour bit b of k -> +1 or -1 in channel b.
CORNERS = torch.tensor([[1.0 if (k >> b) & 1 else -1.0 for b in range(3)] for k in range(8)])


def _rand(generator: torch.Generator, *shape: int) -> Tensor:
    return torch.rand(shape, generator=generator)


def _randn(generator: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(shape, generator=generator)


def _randint(generator: torch.Generator, low: int, high: int, *shape: int) -> Tensor:
    return torch.randint(low, high, shape, generator=generator)


def _grid(size: int) -> tuple[Tensor, Tensor]:
    coords = torch.arange(size, dtype=torch.float32)
    return coords.view(1, size, 1), coords.view(1, 1, size)


def sensor_pair(n: int, generator: torch.Generator, size: int = 24, noise: float = 1.0) -> Batch:
    """Two noisy copies of one smooth signal; each is clean exactly where the other is noisy.

    A random grid of 8x8-pixel cells decides, cell by cell, which sensor is clean. Averaging
    the two halves the noise everywhere; only a per-position choice removes it, which is what
    gated fusion's gate z can do.

    Shape:
        a, b, clean, mask: (n, 1, size, size); mask = 1 where sensor a is clean
    """
    require_int("sensor_pair", "size", size, minimum=8)
    cells = size // 8
    clean = F.interpolate(_randn(generator, n, 1, 4, 4), size=(size, size), mode="bicubic", align_corners=False)
    mask = (_rand(generator, n, 1, cells, cells) < 0.5).float()
    mask = F.interpolate(mask, size=(size, size), mode="nearest")
    a = clean + noise * _randn(generator, n, 1, size, size) * (1 - mask)
    b = clean + noise * _randn(generator, n, 1, size, size) * mask
    return {"a": a, "b": b, "clean": clean, "mask": mask}


def stripe_inputs(n: int, generator: torch.Generator, channels: int = 8, size: int = 16, informative: int = 2,
                  zero_mean: bool = False) -> Batch:
    """Four noise inputs; only input ``informative`` carries the class (horizontal vs vertical stripes).

    Every input has mean 0.5, so a selector cannot pick the informative one by its brightness:
    it has to learn which input helps the classifier. With ``zero_mean=True`` all inputs are
    shifted to mean 0 (a pitfall: MSF's global average pool then sees ~0 everywhere).

    Shape:
        xs: (4, n, channels, size, size) (unbind on dim 0 for x0..x3); label: (n,), 0 = horizontal
    """
    if informative not in range(4):
        raise value_error("stripe_inputs", "informative must be 0, 1, 2 or 3", {"informative": informative})
    xs = _rand(generator, 4, n, channels, size, size)
    label = _randint(generator, 0, 2, n)
    phase = _randint(generator, 0, 4, n, 1, 1)
    rows, cols = torch.arange(size).view(1, size, 1), torch.arange(size).view(1, 1, size)
    coord = torch.where(label.view(n, 1, 1) == 0, rows.expand(n, size, size), cols.expand(n, size, size))
    stripes = (((coord + phase) // 2) % 2).float().unsqueeze(1)  # period 4 px, values 0/1, mean 0.5
    xs[informative] = 0.7 * xs[informative] + 0.3 * stripes
    if zero_mean:
        xs = xs - 0.5
    return {"xs": xs, "label": label}


def disk_kernel(radius: int) -> Tensor:
    """A (1, 1, 2r+1, 2r+1) kernel of ones inside the disk of the given radius."""
    span = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disk = (span.view(-1, 1) ** 2 + span.view(1, -1) ** 2) <= radius**2
    return disk.float().view(1, 1, 2 * radius + 1, 2 * radius + 1)


def dot_counts(n: int, generator: torch.Generator, radius: int = 10, size: int = 32, p: float = 0.02) -> Batch:
    """Sparse dots; the target at each pixel is the number of dots within ``radius`` (a disk).

    ``radius=10`` needs a receptive field about 21 px wide, which only MFE's most dilated
    branches reach; ``radius=1`` is the control task that a 3x3 conv solves alone. The target
    is divided by the expected count so both tasks have targets of about the same size.

    Shape:
        x: (n, 1, size, size) in {0, 1}; target: (n, 1, size, size)
    """
    require_int("dot_counts", "radius", radius)
    x = (_rand(generator, n, 1, size, size) < p).float()
    kernel = disk_kernel(radius)
    target = F.conv2d(x, kernel, padding=radius) / (p * kernel.sum())
    return {"x": x, "target": target}


def edge_map(img: Tensor, threshold: float = 0.08) -> Tensor:
    """1 where the 3x3 neighbourhood's max - min exceeds ``threshold``: a 2-px-wide edge map.

    Shape:
        img: (n, 1, H, W); out: (n, 1, H, W)
    """
    high = F.max_pool2d(img, 3, stride=1, padding=1)
    low = -F.max_pool2d(-img, 3, stride=1, padding=1)
    return (high - low > threshold).float()


def shape_edges(n: int, generator: torch.Generator, size: int = 32, shapes: int = 4, noise: float = 0.02) -> Batch:
    """Flat grey discs and rectangles on a grey background; the target is their 2-px outline.

    Shape:
        x: (n, 1, size, size); edges: (n, 1, size, size) in {0, 1}
    """
    rows, cols = _grid(size)
    img = _rand(generator, n, 1, 1).expand(n, size, size).clone()
    clean = img
    for _ in range(shapes):
        cy, cx = _rand(generator, n, 1, 1) * size, _rand(generator, n, 1, 1) * size
        ry, rx = 3 + 7 * _rand(generator, n, 1, 1), 3 + 7 * _rand(generator, n, 1, 1)
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= ry**2
        rect = ((rows - cy).abs() <= ry) & ((cols - cx).abs() <= rx)
        is_disc = _rand(generator, n, 1, 1) < 0.5
        inside = torch.where(is_disc, disc, rect)
        clean = torch.where(inside, _rand(generator, n, 1, 1), clean)
    clean = clean.unsqueeze(1)
    x = clean + noise * _randn(generator, n, 1, size, size)
    return {"x": x, "edges": edge_map(clean)}


def marker_colours(n: int, generator: torch.Generator, size: int = 16, noise: float = 0.3,
                   brightness: float = 1.5) -> Batch:
    """Noise with one bright marker pixel; every pixel's target is the marker's colour (8 classes).

    The marker moves from image to image, and global averaging drowns it in noise, so each
    query pixel has to *find* it by attention.

    Shape:
        x: (n, 3, size, size); label: (n,) in 0..7; pos: (n, 2) as (row, col)
    """
    x = noise * _randn(generator, n, 3, size, size)
    label = _randint(generator, 0, 8, n)
    pos = _randint(generator, 0, size, n, 2)
    x[torch.arange(n), :, pos[:, 0], pos[:, 1]] = brightness * CORNERS[label]
    return {"x": x, "label": label, "pos": pos}


def multiscale_blobs(n: int, generator: torch.Generator, size: int = 32, objects: int = 3,
                     noise: float = 0.5) -> Batch:
    """Discs and squares of very different sizes (mostly small, some large) in noise.

    Shape:
        x: (n, 1, size, size) = mask + noise; mask: (n, 1, size, size) in {0, 1}
    """
    rows, cols = _grid(size)
    mask = torch.zeros(n, size, size, dtype=torch.bool)
    for _ in range(objects):
        cy, cx = _rand(generator, n, 1, 1) * size, _rand(generator, n, 1, 1) * size
        radius = 1.5 + 8 * _rand(generator, n, 1, 1) ** 2
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        square = ((rows - cy).abs() <= radius) & ((cols - cx).abs() <= radius)
        mask |= torch.where(_rand(generator, n, 1, 1) < 0.5, disc, square)
    mask = mask.float().unsqueeze(1)
    return {"x": mask + noise * _randn(generator, n, 1, size, size), "mask": mask}


def coloured_object(n: int, generator: torch.Generator, size: int = 16, classes: int = 3, side: int = 4) -> Batch:
    """An RGB noise image with one small square whose colour is the class.

    The square adds +1 in every channel (it is brighter) and +2 more in its class channel.

    Shape:
        x: (n, 3, size, size); label: (n,) in 0..classes-1; mask: (n, 1, size, size) in {0, 1}
    """
    if classes > 3:
        raise value_error("coloured_object", "classes must be <= 3 (one per RGB channel)", {"classes": classes})
    x = _randn(generator, n, 3, size, size)
    label = _randint(generator, 0, classes, n)
    top = _randint(generator, 0, size - side + 1, n, 2)
    rows, cols = _grid(size)
    mask = ((rows >= top[:, 0, None, None]) & (rows < top[:, 0, None, None] + side)
            & (cols >= top[:, 1, None, None]) & (cols < top[:, 1, None, None] + side)).float().unsqueeze(1)
    colour = 1.0 + 2.0 * F.one_hot(label, 3).float()
    x = x + mask * colour.view(n, 3, 1, 1)
    return {"x": x, "label": label, "mask": mask}


def batches(make: Callable[..., Batch], batch_size: int, seed: int = 0, **kwargs) -> Iterator[Batch]:
    """An endless stream of fresh batches ``make(batch_size, generator, **kwargs)`` from one seed.

    Example:
        >>> stream = batches(sensor_pair, 2, seed=0)
        >>> next(stream)["a"].shape
        torch.Size([2, 1, 24, 24])
    """
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield make(batch_size, generator, **kwargs)
