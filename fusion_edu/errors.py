"""Errors that name the block, the rule, the value and a fix, instead of a raw PyTorch traceback."""

from __future__ import annotations

from typing import Any


class ShapeError(ValueError):
    """An input tensor whose shape (or layout) does not fit the block."""


def _format(block: str, rule: str, got: dict[str, Any], hint: str) -> str:
    values = ", ".join(f"{name}={_show(value)}" for name, value in got.items())
    return f"{block}: {rule}; got {values}. {hint}".rstrip()


def _show(value: Any) -> str:
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def value_error(block: str, rule: str, got: dict[str, Any], hint: str = "") -> ValueError:
    return ValueError(_format(block, rule, got, hint))


def type_error(block: str, rule: str, got: dict[str, Any], hint: str = "") -> TypeError:
    return TypeError(_format(block, rule, got, hint))


def shape_error(block: str, rule: str, got: dict[str, Any], hint: str = "") -> ShapeError:
    return ShapeError(_format(block, rule, got, hint))


def require_int(block: str, name: str, value: Any, *, minimum: int = 1, hint: str = "") -> int:
    """Checks a constructor argument that must be an int >= minimum (bool is not an int here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(block, f"{name} must be an int", {name: value},
                         hint or f"Pass a whole number such as {name}={max(minimum, 1)}.")
    if value < minimum:
        raise value_error(block, f"{name} must be >= {minimum}", {name: value},
                          hint or f"Try {name}={minimum}.")
    return value


def require_choice(block: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = " or ".join(repr(c) for c in choices)
        raise value_error(block, f"{name} must be {options}", {name: value},
                          f"The default {choices[0]!r} is the note's behaviour.")
    return value


def require_tensors(block: str, names: tuple[str, ...], values: tuple[Any, ...], ndim: int | None = None):
    """Checks that every input is a tensor (with `ndim` dimensions when given)."""
    from torch import Tensor

    for name, value in zip(names, values):
        if not isinstance(value, Tensor):
            raise type_error(block, f"{name} must be a torch.Tensor", {f"type({name})": type(value).__name__},
                             f"Convert it first, e.g. {name} = torch.as_tensor({name}, dtype=torch.float32).")
        if ndim is not None and value.ndim != ndim:
            layout = "(B, C, H, W)" if ndim == 4 else f"{ndim} dimensions"
            raise shape_error(block, f"{name} must be a {ndim}-D tensor {layout}",
                              {f"{name}.shape": tuple(value.shape)},
                              f"Add a batch axis with {name}.unsqueeze(0)" if value.ndim == ndim - 1
                              else "Reshape it to " + layout + ".")
