"""A small training loop: a fixed number of Adam steps with a progress bar.

The loop is kept short on purpose, so a notebook can show it whole::

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        loss = loss_fn(model, next(batches))
        opt.zero_grad()
        loss.backward()
        opt.step()

Steps are fixed, never a time budget: on a busy machine a time budget trains a different model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..errors import require_int, type_error, value_error

__all__ = ["fit"]


def fit(model: nn.Module, batches: Iterator[Any], steps: int, lr: float,
        loss_fn: Callable[[nn.Module, Any], Tensor], *, progress: bool | Callable[[int, int, str], None] = True,
        desc: str = "training") -> list[float]:
    """Trains `model` for exactly `steps` Adam steps and returns the loss of every step.

    Args:
        model: Any module; it is put in train mode, and in eval mode when training ends.
        batches: An iterator of batches (e.g. ``datasets.batches(...)``), one per step.
        steps: Number of optimisation steps.
        lr: Adam learning rate.
        loss_fn: ``loss_fn(model, batch) -> scalar loss``.
        progress: Show a tqdm progress bar (a widget bar in JupyterLab); or a function
            ``progress(step, steps, desc)`` called after every step instead (a dashboard's own bar).
        desc: Label of the progress bar.

    Returns:
        The loss curve: one float per step.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(1, 1)
        >>> data = iter(lambda: torch.randn(8, 1), None)
        >>> losses = fit(model, data, 50, 0.1, lambda m, x: ((m(x) - 2 * x) ** 2).mean(), progress=False)
        >>> len(losses), losses[-1] < losses[0]
        (50, True)
    """
    require_int("fit", "steps", steps, minimum=0)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        raise value_error("fit", "lr must be a positive number", {"lr": lr}, "Try lr=1e-2.")
    if not callable(loss_fn):
        raise type_error("fit", "loss_fn must be a function loss_fn(model, batch) -> loss",
                         {"type(loss_fn)": type(loss_fn).__name__})
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses: list[float] = []
    report = progress if callable(progress) else None
    bar = tqdm(range(steps), desc=desc, disable=not progress or report is not None, leave=False, mininterval=0.25)
    try:
        for step in bar:
            loss = loss_fn(model, next(batches))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if report is not None:
                report(step + 1, steps, desc)
            elif step % 25 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    finally:
        bar.close()
        model.eval()
    return losses
