"""autotrace against torchview's draw_graph on meta, side by side, for every catalog block and three modules.

Both record the same ops of the same meta module at B=64, C=512, H=W=512 (the 3-D MLP: B=64, N=4096,
C=512). autotrace's time includes its meta twin, the perturbed runs that solve the symbolic specs and
the descriptions; draw_graph's includes building its graph (no rendering). Goal: autotrace p50 <= 50 ms
and no slower than draw_graph (ratio <= 1).

Run: ``.venv/bin/python benchmarks/autotrace_bench.py [--repeat 30]``; prints a markdown table.
Absolute times on a shared machine mean little; the ratio is measured side by side in one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion_edu.autotrace import autotrace  # noqa: E402
from fusion_edu.blocks import BLOCKS, SAFM  # noqa: E402

LARGEST = dict(B=64, C=512, H=512, W=512)


class SqueezeExcite(nn.Module):
    def __init__(self, C: int, r: int = 16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Conv2d(C, C // r, 1), nn.ReLU(), nn.Conv2d(C // r, C, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(self.pool(x))


class WindowAttention(nn.Module):
    def __init__(self, C: int, heads: int = 8, window: int = 8):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, C, H, W = x.shape
        w, h = self.window, self.heads
        t = x.reshape(B, C, H // w, w, W // w, w).permute(0, 2, 4, 3, 5, 1).reshape(-1, w * w, C)
        q, k, v = self.qkv(t).reshape(t.shape[0], w * w, 3, h, C // h).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * (C // h) ** -0.5
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(t.shape[0], w * w, C)
        out = self.proj(out).reshape(B, H // w, W // w, w, w, C).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(B, C, H, W)


class PixelShuffleUp(nn.Module):
    def __init__(self, C: int, scale: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(C, C * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.act = nn.GELU()

    def forward(self, x):
        return self.act(self.shuffle(self.conv(x)))


class TokenMLP(nn.Module):
    def __init__(self, C: int, ratio: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(C)
        self.fc1, self.act, self.fc2 = nn.Linear(C, ratio * C), nn.GELU(), nn.Linear(ratio * C, C)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


def modules():
    """(name, module, inputs) on meta: the catalog blocks, then the modules written for this benchmark."""
    for key, spec in BLOCKS.items():
        model, inputs = spec.build(device="meta", **LARGEST)
        yield key, model, inputs
    C = LARGEST["C"]
    x = torch.empty(LARGEST["B"], C, LARGEST["H"], LARGEST["W"], device="meta")
    with torch.device("meta"):
        yield "SE + window attn + SAFM", nn.Sequential(SqueezeExcite(C), WindowAttention(C), SAFM(C)), [x]
        yield "pixel-shuffle upsampler", PixelShuffleUp(C), [x]
        yield "token MLP (B, N, C)", TokenMLP(C), [torch.empty(LARGEST["B"], 4096, C, device="meta")]


def _interleaved(fns, repeat: int, warmup: int = 2) -> list[list[float]]:
    """Times each function `repeat` times, taking turns, so that both see the same load on a shared machine."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, out):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return out


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)


def measure(repeat: int) -> list[dict]:
    from torchview import draw_graph

    rows = []
    for name, model, inputs in modules():
        trace = autotrace(model, *inputs)
        assert trace.ok, name
        ours, view = _interleaved([lambda model=model, inputs=inputs: autotrace(model, *inputs),
                                   lambda model=model, inputs=inputs: draw_graph(model, input_data=inputs,
                                                                                 device="meta")], repeat)
        rows.append(dict(name=name, steps=len(trace.rows), ours_p50=statistics.median(ours), ours_p95=_p95(ours),
                         view_p50=statistics.median(view), view_p95=_p95(view)))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| module | steps | autotrace p50 ms | autotrace p95 ms | torchview p50 ms | torchview p95 ms | "
             "p50 ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['steps']} | {r['ours_p50'] * 1e3:.1f} | {r['ours_p95'] * 1e3:.1f} | "
                     f"{r['view_p50'] * 1e3:.1f} | {r['view_p95'] * 1e3:.1f} | {r['ours_p50'] / r['view_p50']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed autotrace calls per module")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"autotrace vs torchview draw_graph on meta, B={LARGEST['B']}, C={LARGEST['C']}, "
          f"H=W={LARGEST['H']}; goal: p50 <= 50 ms and ratio <= 1\n")
    print(table(measure(args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
