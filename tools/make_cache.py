"""`make cache`: train every demo once (seed 0) and ship its result for the classroom.

Writes into fusion_edu/learn/cache/: per block its metrics before and after training (<key>.json)
and its before/after figure in Chinese and English (<key>_zh.png, <key>_en.png, dpi 80), read back
by ``fusion_edu.learn.cached(key)``. Rerun it when a demo's settings or its figure's labels change
(tests/test_learn.py checks that the cache matches the demos' settings and passes their bars).

    .venv/bin/python tools/make_cache.py [--only osra,msf]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from fusion_edu.learn import DEMOS, run_demo  # noqa: E402
from fusion_edu.learn.cache import CACHE_DIR, save_cached  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated demo keys (default: all)")
    args = parser.parse_args()
    keys = [k for k in DEMOS if not args.only or k in args.only.split(",")]
    torch.set_flush_denormal(True)  # as the notebooks and make seeds
    failed = []
    for key in keys:
        result = run_demo(key, seed=0, progress=False)
        paths = save_cached(result, DEMOS[key])
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KB" for p in paths)
        print(f"{key}: {result.seconds:.1f} s, passed={result.passed}; {sizes}", flush=True)
        if not result.passed:
            failed.append(key)
    print(f"cache in {CACHE_DIR.relative_to(ROOT)}")
    if failed:
        print(f"these demos did not pass their bars: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
