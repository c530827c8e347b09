"""`make images`: regenerate the pictures that README.md shows, into images/.

- images/explorer.png   the live explorer in JupyterLab, after a keyboard change (headless Chromium)
- images/dashboard.png   the classroom dashboard (`make present`) at 1280x720 (headless Chromium)
- images/graph_safm.svg / .png   one block graph
- images/learn_<key>.png   one "what it learns" before/after figure per block (each demo trains ~10 s)

Run from the repository root with the project's Python (`make images`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import matplotlib.pyplot as plt  # noqa: E402

from fusion_edu import BLOCKS, graph  # noqa: E402
from fusion_edu.learn import run_demo  # noqa: E402

IMAGES = ROOT / "images"
EXPLORER_NOTEBOOK = {
    "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
               "source": "from fusion_edu.explore import explore\nexplore('osra')"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def explorer_screenshot(path: Path) -> None:
    import lab_driver as lab

    reason = lab.browser_available()
    if reason:
        print(f"skipped {path.name}: {reason}")
        return
    server = lab.LabServer()
    (server.root / "explorer_shot.ipynb").write_text(json.dumps(EXPLORER_NOTEBOOK), encoding="utf-8")
    with server, lab.open_browser(width=1200, height=1800) as page:
        lab.open_notebook(page, server, "explorer_shot.ipynb")
        lab.run_all_cells(page)
        explorer = page.locator(".fusion-edu-explorer").first
        lab.set_first_slider(page, 64)
        from playwright.sync_api import expect

        expect(explorer).to_contain_text("H=64", timeout=30_000)
        explorer.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def block_graph(key: str) -> None:
    if not graph.dot_available():
        print("skipped the graph: Graphviz 'dot' not found")
        return
    for written in graph.draw(key).save(IMAGES / f"graph_{key}"):
        print(f"wrote {written.relative_to(ROOT)}")


def learn_figures() -> None:
    for key in BLOCKS:
        result = run_demo(key, seed=0, progress=False)
        fig = result.figure(lang="en")  # the README shows the English figures
        path = IMAGES / f"learn_{key}.png"
        fig.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {path.relative_to(ROOT)} ({result.seconds:.1f} s, passed={result.passed})")


def main() -> int:
    IMAGES.mkdir(exist_ok=True)
    block_graph("safm")
    learn_figures()
    explorer_screenshot(IMAGES / "explorer.png")
    if not lab_reason():
        import present

        print(f"wrote {present.screenshot(IMAGES / 'dashboard.png').relative_to(ROOT)}")
    return 0


def lab_reason() -> str:
    import lab_driver as lab

    return lab.browser_available()


if __name__ == "__main__":
    sys.exit(main())
