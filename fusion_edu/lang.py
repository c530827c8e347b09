"""The course language: Chinese first, English one switch away.

Traces, the explorer, figure labels and the classroom dashboard read one setting:

* the environment variable ``FUSION_EDU_LANG`` (``zh``, ``en`` or ``both``; default ``zh``), read
  when the package is imported;
* `set_lang` changes it for the running kernel; `get_lang` reads it.

Every function that takes ``lang=`` uses the setting when given ``lang=None``.

Example:
    >>> previous = set_lang("en")
    >>> pick("门控", "gate")
    'gate'
    >>> pick("门控", "gate", "both")
    '门控 · gate'
    >>> _ = set_lang(previous)
"""

from __future__ import annotations

import os

__all__ = ["LANGS", "DEFAULT_LANG", "set_lang", "get_lang", "resolve", "pick", "fold"]

LANGS = ("zh", "en", "both")
DEFAULT_LANG = "zh"
ENV_VAR = "FUSION_EDU_LANG"


def _checked(lang: object, owner: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"{owner}: lang must be one of {LANGS}; got lang={lang!r}. "
                         "Use 'zh' (中文), 'en' (English) or 'both'.")
    return lang  # type: ignore[return-value]


def _from_environment() -> str:
    value = os.environ.get(ENV_VAR, "").strip().lower()
    return value if value in LANGS else DEFAULT_LANG


_current = _from_environment()


def set_lang(lang: str) -> str:
    """Sets the language of traces, explorers and figures for this kernel; returns the previous one."""
    global _current
    previous, _current = _current, _checked(lang, "set_lang")
    return previous


def get_lang() -> str:
    """The current language: ``"zh"``, ``"en"`` or ``"both"``."""
    return _current


def resolve(lang: str | None, owner: str = "fusion_edu") -> str:
    """`lang` checked, or the current setting when it is None."""
    return _current if lang is None else _checked(lang, owner)


def pick(zh: str, en: str, lang: str | None = None, sep: str = " · ") -> str:
    """The text for `lang` (the current setting when None): `zh`, `en`, or both joined by `sep`."""
    lang = resolve(lang)
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return zh if zh == en else f"{zh}{sep}{en}"


def fold(zh_html: str, en_html: str, lang: str | None = None) -> str:
    """HTML in the course language with the other language one click away (folded in ``<details>``).

    ``zh``: Chinese, then a folded "English"; ``en``: English, then a folded "中文"; ``both``: both
    open. A reader of one language never scrolls past the other.
    """
    lang = resolve(lang)
    if lang == "both" or zh_html == en_html:
        return zh_html if zh_html == en_html else f"{zh_html}<div style='margin-top:4px'>{en_html}</div>"
    main, other, summary = (zh_html, en_html, "English") if lang == "zh" else (en_html, zh_html, "中文")
    return (f"{main}<details style='color:#555;margin-top:2px'><summary style='cursor:pointer;font-size:0.85em'>"
            f"{summary}</summary>{other}</details>")
