"""Errors that name the block, the rule, the value and a fix, instead of a raw PyTorch traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from torch import Tensor


class ShapeError(ValueError):
    """An input tensor whose shape (or layout) does not fit the block."""


_RAW: ContextVar[bool] = ContextVar("fusion_edu_raw_errors", default=False)


def checks_on() -> bool:
    """False inside `raw_errors()`: the blocks then skip their own checks, as the note's code has none."""
    return not _RAW.get()


@contextlib.contextmanager
def raw_errors() -> Iterator[None]:
    """Runs the blocks without their own checks, so bad input fails the way the note's code fails.

    For teaching: next to the block's clear message, show the raw PyTorch error a student meets
    with the note's code (``with raw_errors(): SAFM(38)(x)``). Outputs of valid input do not change.
    """
    token = _RAW.set(True)
    try:
        yield
    finally:
        _RAW.reset(token)


class _Plain(str):
    """A value shown without quotes in a message (e.g. a type name)."""


def _format(block: str, rule: str, got: dict[str, Any], hint: str) -> str:
    return f"{block}: {rule}; got {_got(got)}. {hint}".rstrip()


def _got(got: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_show(value)}" for name, value in got.items())


def _attach_zh(error: Exception, block: str, got: dict[str, Any], zh: str, zh_hint: str) -> Exception:
    """Gives the error a Chinese version of its message in `error.zh` (the English one is str(error))."""
    error.zh = f"{block}：{zh}；实际 {_got(got)}。{zh_hint}" if zh else ""
    return error


def message(error: BaseException, lang: str = "en") -> str:
    """The error's message in 'en', 'zh' or 'both' (falls back to English where no Chinese exists)."""
    zh = getattr(error, "zh", "")
    if lang == "zh" and zh:
        return zh
    if lang == "both" and zh:
        return f"{zh}\n{error}"
    return str(error)


def _show(value: Any) -> str:
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) and not isinstance(value, _Plain) else str(value)


def value_error(block: str, rule: str, got: dict[str, Any], hint: str = "", *, zh: str = "",
                zh_hint: str = "") -> ValueError:
    """ValueError("<block>: <rule>; got <name>=<value>. <hint>"); `zh`/`zh_hint`: the same in Chinese."""
    return _attach_zh(ValueError(_format(block, rule, got, hint)), block, got, zh, zh_hint)


def type_error(block: str, rule: str, got: dict[str, Any], hint: str = "", *, zh: str = "",
               zh_hint: str = "") -> TypeError:
    return _attach_zh(TypeError(_format(block, rule, got, hint)), block, got, zh, zh_hint)


def shape_error(block: str, rule: str, got: dict[str, Any], hint: str = "", *, zh: str = "",
                zh_hint: str = "") -> ShapeError:
    return _attach_zh(ShapeError(_format(block, rule, got, hint)), block, got, zh, zh_hint)


def require_int(block: str, name: str, value: Any, *, minimum: int = 1, hint: str = "") -> int:
    """Checks a constructor argument that must be an int >= minimum (bool is not an int here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(block, f"{name} must be an int", {name: value},
                         hint or f"Pass a whole number such as {name}={max(minimum, 1)}.",
                         zh=f"{name} 必须是整数", zh_hint=f"请传入整数，例如 {name}={max(minimum, 1)}。")
    if value < minimum:
        raise value_error(block, f"{name} must be >= {minimum}", {name: value},
                          hint or f"Try {name}={minimum}.", zh=f"{name} 必须 ≥ {minimum}")
    return value


def require_choice(block: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = " or ".join(repr(c) for c in choices)
        raise value_error(block, f"{name} must be {options}", {name: value},
                          f"The default {choices[0]!r} is the note's behaviour.",
                          zh=f"{name} 只能取 {' 或 '.join(repr(c) for c in choices)}",
                          zh_hint=f"默认值 {choices[0]!r} 与笔记的代码一致。")
    return value


def require_tensors(block: str, names: tuple[str, ...], values: tuple[Any, ...], ndim: int | None = None) -> None:
    """Checks that every input is a tensor (with `ndim` dimensions when given). Cheap: runs in every forward."""
    for name, value in zip(names, values):
        if not isinstance(value, Tensor):
            raise type_error(block, f"{name} must be a torch.Tensor", {f"type({name})": _Plain(type(value).__name__)},
                             f"Convert it first, e.g. {name} = torch.as_tensor({name}, dtype=torch.float32).",
                             zh=f"{name} 必须是 torch.Tensor", zh_hint="请先用 torch.as_tensor 转换。")
        if ndim is not None and value.dim() != ndim:
            layout = "(B, C, H, W)" if ndim == 4 else f"{ndim} dimensions"
            batch = value.dim() == ndim - 1
            raise shape_error(block, f"{name} must be a {ndim}-D tensor {layout}",
                              {f"{name}.shape": tuple(value.shape)},
                              f"Add a batch axis with {name}.unsqueeze(0)." if batch else f"Reshape it to {layout}.",
                              zh=f"{name} 必须是 {ndim} 维张量 {layout}",
                              zh_hint=f"可用 {name}.unsqueeze(0) 加上批维。" if batch else f"请整理成 {layout}。")
