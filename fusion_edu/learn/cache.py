"""Demo results shipped with the package, for a classroom without time to train live.

``make cache`` trains every demo once (seed 0) and writes, per block, its metrics
(``cache/<key>.json``) and its before/after figure in Chinese and English (``cache/<key>_zh.png``,
``cache/<key>_en.png``). `cached` reads them back:

    from fusion_edu.learn import cached
    shown = cached("osra")          # the course language; lang="en" for English
    shown                           # the figure (a PNG) in a notebook
    shown.after["marker_mass"], shown.passed
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import value_error
from ..lang import resolve

if TYPE_CHECKING:
    from .demo import Demo, DemoResult

__all__ = ["CACHE_DIR", "CACHE_LANGS", "CachedDemo", "cached", "save_cached"]

CACHE_DIR = Path(__file__).with_name("cache")
CACHE_LANGS = ("zh", "en")


@dataclass(frozen=True)
class CachedDemo:
    """One demo's shipped result: the metrics of a seed-0 run and its before/after figure as PNG bytes."""

    key: str
    lang: str
    seed: int
    steps: int
    lr: float
    batch_size: int
    before: dict[str, float]
    after: dict[str, float]
    bars: list[dict[str, Any]]
    passed: bool
    png: bytes

    def _repr_png_(self) -> bytes:
        return self.png


def _paths(key: str, lang: str, directory: Path) -> tuple[Path, Path]:
    return directory / f"{key}.json", directory / f"{key}_{lang}.png"


def cached(key: str, lang: str | None = None, *, directory: Path | str | None = None) -> CachedDemo:
    """The shipped result of demo `key`: metrics and the before/after figure in `lang`.

    Args:
        key: A block key, as in `run_demo`.
        lang: 'zh' or 'en' (None: the course language; 'both' gives the Chinese figure).
        directory: Where the cache lies (default: the package's ``learn/cache``).

    Raises:
        ValueError: When the cache for `key` or its figure in `lang` is missing (run ``make cache``).
    """
    lang = resolve(lang, "cached")
    lang = "zh" if lang == "both" else lang
    folder = CACHE_DIR if directory is None else Path(directory)
    metrics_path, png_path = _paths(key, lang, folder)
    missing = [p.name for p in (metrics_path, png_path) if not p.is_file()]
    if missing:
        raise value_error("cached", "the demo's cached result must exist", {"key": key, "missing": missing},
                          "Run `make cache` to train every demo once and write the cache.",
                          zh="缓存的演示结果不存在", zh_hint="运行 `make cache`，把每个演示训练一次并写入缓存。")
    data = json.loads(metrics_path.read_text(encoding="utf-8"))
    return CachedDemo(key=key, lang=lang, seed=data["seed"], steps=data["steps"], lr=data["lr"],
                      batch_size=data["batch_size"], before=data["before"], after=data["after"], bars=data["bars"],
                      passed=data["passed"], png=png_path.read_bytes())


def save_cached(result: DemoResult, demo: Demo, *, directory: Path | str | None = None, dpi: int = 80) -> list[Path]:
    """Writes `result`'s metrics (JSON) and its figure in every cache language (PNG); returns the paths.

    `demo`'s steps, learning rate and batch size go into the JSON, so a test can tell a stale cache.
    """
    import matplotlib.pyplot as plt

    folder = CACHE_DIR if directory is None else Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    metrics_path = folder / f"{result.key}.json"
    data = {"key": result.key, "seed": result.seed, "steps": result.steps, "lr": demo.lr, "batch_size": demo.batch_size,
            "before": result.before, "after": result.after, "passed": result.passed,
            "bars": [{"metric": c.metric, "op": c.op, "threshold": c.threshold} for c in result.checks]}
    metrics_path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written = [metrics_path]
    for lang in CACHE_LANGS:
        fig = result.figure(lang=lang)
        path = _paths(result.key, lang, folder)[1]
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written
