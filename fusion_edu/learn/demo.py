"""What every training demo shares: `Demo` (how one demo is built), `DemoResult` (what a run gives
back), the training runners, `run_demo`, and small helpers for data and read-outs.

Each block's demo lives in its own module (``learn/gated_fusion.py`` ... ``learn/cbam_joint.py``):
its synthetic data, its model around the block, its loss, its read-out and its `Demo`.

Quick use::

    from fusion_edu.learn import run_demo
    result = run_demo("gated_fusion", seed=0)
    result            # a table: metric, before, after, threshold
    result.figure()   # before/after maps on a fixed colour scale

Or step by step (what `run_demo` does)::

    demo = DEMOS["gated_fusion"]                      # the task, in zh and en
    model = demo.make_model(seed=0)                   # a small net around the block: model.block
    test = demo.eval_batch(seed=0)                    # a fixed test batch (a dict of tensors)
    before, maps_before = demo.readout(model, test)   # metrics and maps, read through trace(keep=True)
    history = fit(model, demo.stream(seed=0), demo.steps, demo.lr, demo.loss)
    after, maps_after = demo.readout(model, test)

Read-outs use ``fusion_edu.trace(model, ..., keep=True)``: the block's own ``note(..., key=...)``
steps hand over its gate, weights or attention, so nothing is recomputed. Metrics are read in eval
mode (BatchNorm uses its running statistics).
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..blocks import BLOCKS
from ..errors import value_error
from ..trace import trace
from .fit import fit

__all__ = ["Batch", "Check", "METRICS", "Demo", "DemoResult", "Run", "run_demo", "train", "run_single", "run_pair",
           "result_from", "model_maker", "pearson", "iou", "kept", "batches", "rng", "uniform", "normal", "integers",
           "pixel_grid", "torch_threads"]

Batch = dict[str, Tensor]
Readout = Callable[[nn.Module, Batch], tuple[dict[str, float], dict[str, Tensor]]]


# --------------------------------------------------------------------------- data helpers

def rng(seed: int) -> torch.Generator:
    """A CPU random generator seeded with `seed` (every batch maker draws from one)."""
    return torch.Generator().manual_seed(seed)


def uniform(gen: torch.Generator, *shape: int) -> Tensor:
    """Uniform [0, 1) samples of `shape` from `gen`."""
    return torch.rand(shape, generator=gen)


def normal(gen: torch.Generator, *shape: int) -> Tensor:
    """Standard normal samples of `shape` from `gen`."""
    return torch.randn(shape, generator=gen)


def integers(gen: torch.Generator, low: int, high: int, *shape: int) -> Tensor:
    """Integers in [low, high) of `shape` from `gen`."""
    return torch.randint(low, high, shape, generator=gen)


def pixel_grid(size: int) -> tuple[Tensor, Tensor]:
    """Row and column coordinates, shaped (1, size, 1) and (1, 1, size) to broadcast over a batch."""
    coords = torch.arange(size, dtype=torch.float32)
    return coords.view(1, size, 1), coords.view(1, 1, size)


def batches(make: Callable[..., Batch], batch_size: int, seed: int = 0, **kwargs: Any) -> Iterator[Batch]:
    """An endless stream of fresh batches ``make(batch_size, generator, **kwargs)`` from one seed.

    Example:
        >>> from fusion_edu.learn.gated_fusion import sensor_pair
        >>> stream = batches(sensor_pair, 2, seed=0)
        >>> next(stream)["a"].shape
        torch.Size([2, 1, 24, 24])
    """
    gen = rng(seed)
    while True:
        yield make(batch_size, gen, **kwargs)


# --------------------------------------------------------------------------- read-out helpers

def pearson(a: Tensor, b: Tensor, per_image: bool = False) -> Tensor:
    """Pearson correlation of two maps: over everything, or one value per image (first axis).

    Shape:
        a, b: (n, ...) the same shape; out: () or (n,)
    """
    a, b = a.float(), b.float()
    if per_image:
        a, b = a.flatten(1), b.flatten(1)
    else:
        a, b = a.flatten().unsqueeze(0), b.flatten().unsqueeze(0)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    r = (a * b).sum(1) / ((a.square().sum(1) * b.square().sum(1)).sqrt() + 1e-12)
    return r if per_image else r[0]


def iou(pred: Tensor, truth: Tensor) -> float:
    """Mean intersection over union of two boolean maps, one value per image (first axis).

    Shape:
        pred, truth: (n, ...) bool
    """
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float().clamp(min=1)
    return (inter / union).mean().item()


def kept(model: nn.Module, *inputs: Tensor) -> tuple[dict[str, Tensor], Any]:
    """Runs the model once under `trace(keep=True)`: the tensors the blocks marked with a key, and the output."""
    with torch.no_grad():
        t = trace(model, *inputs, keep=True)
    return t.tensors, t.output


# --------------------------------------------------------------------------- bars and metric names

@dataclass(frozen=True)
class Check:
    """One pass/fail bar on an after-training metric."""

    metric: str
    threshold: float
    op: str = ">="

    def ok(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


# Metric names used in results: (zh, en) labels.
METRICS: dict[str, tuple[str, str]] = {
    "gate_r": ("门控图与掩码的相关系数 r", "Pearson r of the gate map with the mask"),
    "gate_contrast": ("门控对比度：掩码内均值 − 掩码外均值", "gate contrast: mean inside - mean outside"),
    "gate_iou": ("门控图（阈值取中值）与掩码的 IoU", "IoU of the gate (threshold at mid-range) with the mask"),
    "mse": ("重建误差 MSE", "reconstruction MSE"),
    "mse_average": ("直接取 (A+B)/2 的 MSE", "MSE of the plain average (A+B)/2"),
    "w_informative": ("有信息输入的权重", "weight of the informative input"),
    "w_other": ("其余输入的平均权重", "mean weight of the other inputs"),
    "w_informative_softmax": ("有信息输入的权重（plain softmax）", "weight of the informative input (plain softmax)"),
    "w_other_softmax": ("其余输入的平均权重（plain softmax）", "mean weight of the others (plain softmax)"),
    "accuracy": ("准确率", "accuracy"),
    "accuracy_softmax": ("准确率（plain softmax）", "accuracy (plain softmax)"),
    "erf_outside": ("有效感受野落在中心 9×9 之外的比例", "share of the effective receptive field outside 9x9"),
    "erf_outside_control": ("对照任务（半径 1）的该比例", "the same share for the control task (radius 1)"),
    "w0": ("分支 y0（感受野 3）的权重", "weight of branch y0 (receptive field 3)"),
    "w1": ("分支 y1（感受野 7）的权重", "weight of branch y1 (receptive field 7)"),
    "w2": ("分支 y2（感受野 15）的权重", "weight of branch y2 (receptive field 15)"),
    "w3": ("分支 y3（感受野 31）的权重", "weight of branch y3 (receptive field 31)"),
    **{f"w{i}_control": (f"对照任务中 y{i} 的权重", f"weight of y{i} in the control task") for i in range(4)},
    "edge_r": ("|M| 与边缘图的相关系数 r（逐图平均）", "Pearson r of |M| with the edge map (per image)"),
    "edge_ratio": ("|M| 在边缘上 ÷ 平坦处", "|M| on edges / |M| on flat areas"),
    "edge_iou": ("预测边缘的 IoU", "IoU of the predicted edges"),
    "marker_mass": ("注意力落在标记所在缩减格上的比例", "attention mass on the marker's reduced-grid cell"),
    "uniform_mass": ("注意力均匀时的这一比例", "the same mass for uniform attention"),
    "sw_r": ("空间权重与物体位置的相关系数 r", "Pearson r of the spatial weight with the object"),
    "sw_contrast": ("空间权重：物体内 − 物体外", "spatial weight inside minus outside the object"),
    "std_sw_r": ("标准 CBAM：空间权重与物体的 r", "standard CBAM: r of its spatial weight with the object"),
    "std_sw_r_new_size": ("标准 CBAM 在新尺寸上的 r", "standard CBAM: r at the new input size"),
    "std_accuracy_new_size": ("标准 CBAM 在新尺寸上的准确率", "standard CBAM: accuracy at the new input size"),
}


# --------------------------------------------------------------------------- results

@dataclass
class DemoResult:
    """What a demo run gives back: metrics before/after, the trained model(s), maps for figures."""

    key: str
    seed: int
    steps: int
    before: dict[str, float]
    after: dict[str, float]
    checks: tuple[Check, ...]
    model: nn.Module
    history: list[float]
    seconds: float
    maps_before: dict[str, Tensor]
    maps_after: dict[str, Tensor]
    batch: Batch
    models: dict[str, nn.Module] = field(default_factory=dict)
    histories: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.ok(self.after[c.metric]) for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [str(c) for c in self.checks if not c.ok(self.after[c.metric])]

    def figure(self, fig=None, lang: str | None = None):
        """The before/after figure of the block's internal quantity (a matplotlib Figure).

        Args:
            fig: A Figure or SubFigure to fill (None: a new one).
            lang: 'zh', 'en' or 'both' for the figure's text (None: the course language).
        """
        from .figures import demo_figure

        return demo_figure(self, fig=fig, lang=lang)

    def _rows(self) -> list[tuple[str, str, str, str, str, str]]:
        bars = {c.metric: c for c in self.checks}
        rows = []
        for name, after in self.after.items():
            zh, en = METRICS.get(name, (name, name))
            before = self.before.get(name)
            check = bars.get(name)
            rows.append((name, zh, en, "-" if before is None else f"{before:.3f}", f"{after:.3f}",
                         "" if check is None else f"{check.op} {check.threshold:g}  "
                         + ("✓" if check.ok(after) else "✗")))
        return rows

    def to_text(self) -> str:
        head = (f"{self.key}  seed={self.seed}  steps={self.steps}  train {self.seconds:.1f} s  "
                + ("PASSED 通过" if self.passed else "NOT PASSED 未通过: " + ", ".join(self.failed)))
        lines = [f"  {en:<58} {before:>8} -> {after:>8}  {bar}" for _, _, en, before, after, bar in self._rows()]
        return "\n".join([head, *lines])

    __str__ = to_text

    def __repr__(self) -> str:
        return f"<DemoResult {self.key} seed={self.seed}: {'passed' if self.passed else 'not passed'}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        status = "✓ 通过 passed" if self.passed else "✗ 未通过 not passed: " + esc(", ".join(self.failed))
        out = [f"<div><b>{esc(self.key)}</b> seed={self.seed}, steps={self.steps}, "
               f"训练 training {self.seconds:.1f} s — {status}",
               "<table><thead><tr><th>指标</th><th>metric</th><th>训练前 before</th><th>训练后 after</th>"
               "<th>门槛 bar</th></tr></thead><tbody>"]
        for _, zh, en, before, after, bar in self._rows():
            out.append(f"<tr><td>{esc(zh)}</td><td>{esc(en)}</td><td>{before}</td><td>{after}</td>"
                       f"<td>{esc(bar)}</td></tr>")
        out.append("</tbody></table></div>")
        return "".join(out)


# --------------------------------------------------------------------------- training runners

@dataclass
class Run:
    """One trained model with its read-outs before and after training."""

    model: nn.Module
    history: list[float]
    seconds: float
    before: dict[str, float]
    after: dict[str, float]
    maps_before: dict[str, Tensor]
    maps_after: dict[str, Tensor]


def train(demo: Demo, seed: int, steps: int, progress: bool, test: Batch, desc: str = "",
          make_batch: Callable[..., Batch] | None = None, **options: Any) -> Run:
    """Builds ``demo.make_model(seed, **options)``, reads it out on `test`, trains it, reads it out again."""
    model = demo.make_model(seed, **options)
    model.eval()
    before, maps_before = demo.readout(model, test)
    stream = batches(make_batch or demo.make_batch, demo.batch_size, seed=seed)
    start = time.perf_counter()
    history = fit(model, stream, steps, demo.lr, demo.loss, progress=progress, desc=desc or demo.key)
    seconds = time.perf_counter() - start
    after, maps_after = demo.readout(model, test)
    return Run(model, history, seconds, before, after, maps_before, maps_after)


def _with_suffix(main: Mapping[str, Any], other: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    return {**main, **{f"{k}_{suffix}": v for k, v in other.items()}}


def result_from(demo: Demo, seed: int, steps: int, test: Batch, runs: dict[str, Run], **fields: Any) -> DemoResult:
    """A DemoResult whose main model is the first of `runs`; `fields` override the main run's metrics or maps."""
    main = next(iter(runs.values()))
    values = dict(before=main.before, after=main.after, maps_before=main.maps_before, maps_after=main.maps_after)
    values.update(fields)
    return DemoResult(key=demo.key, seed=seed, steps=steps, checks=demo.checks, model=main.model,
                      history=main.history, seconds=sum(r.seconds for r in runs.values()), batch=test,
                      models={name: r.model for name, r in runs.items()},
                      histories={name: r.history for name, r in runs.items()}, **values)


def run_single(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    """Trains one model (the default runner)."""
    test = demo.eval_batch(seed)
    return result_from(demo, seed, steps, test, {"main": train(demo, seed, steps, progress, test)})


def run_pair(demo: Demo, seed: int, steps: int, progress: bool, variants: dict[str, dict[str, Any]],
             suffix: str) -> DemoResult:
    """Trains two models on the same test batch; the second one's metrics and maps join as ``<name>_<suffix>``.

    Args:
        variants: Two entries ``name: options for train`` (e.g. ``desc``, ``make_batch`` or model options);
            the first is the main model.
        suffix: Appended to the second model's metric and map names.
    """
    test = demo.eval_batch(seed)
    runs = {name: train(demo, seed, steps, progress, test, **options) for name, options in variants.items()}
    main, other = runs.values()
    return result_from(demo, seed, steps, test, runs,
                   before=_with_suffix(main.before, other.before, suffix),
                   after=_with_suffix(main.after, other.after, suffix),
                   maps_before=_with_suffix(main.maps_before, other.maps_before, suffix),
                   maps_after=_with_suffix(main.maps_after, other.maps_after, suffix))


# --------------------------------------------------------------------------- the catalog entry

@dataclass(frozen=True)
class Demo:
    """How one block's demo is built: data, model, loss, read-out, steps and pass bars.

    ``make_model(seed, **options)``, ``make_batch(n, generator)``, ``loss(model, batch)`` and
    ``readout(model, batch) -> (metrics, maps)`` are the pieces `run_demo` puts together;
    ``runner(demo, seed, steps, progress)`` trains one model (`run_single`, the default) or two.
    """

    key: str
    task_zh: str
    task_en: str
    metric: str
    threshold: float
    checks: tuple[Check, ...]
    before_zh: str
    before_en: str
    steps: int
    lr: float
    batch_size: int
    eval_size: int
    make_model: Callable[..., nn.Module] = field(repr=False)
    make_batch: Callable[..., Batch] = field(repr=False)
    loss: Callable[[nn.Module, Batch], Tensor] = field(repr=False)
    readout: Readout = field(repr=False)
    runner: Callable[..., DemoResult] = field(default=run_single, repr=False)

    @property
    def title_zh(self) -> str:
        return BLOCKS[self.key].title_zh

    @property
    def title_en(self) -> str:
        return BLOCKS[self.key].title_en

    @property
    def metric_zh(self) -> str:
        return METRICS[self.metric][0]

    @property
    def metric_en(self) -> str:
        return METRICS[self.metric][1]

    def _repr_html_(self) -> str:
        esc = html.escape
        bars = ", ".join(esc(str(c)) for c in self.checks)
        return (f"<div><b>{esc(self.title_zh)} — {esc(self.title_en)}</b><br>{esc(self.task_zh)}<br>"
                f"{esc(self.task_en)}<br>指标 metric: {esc(self.metric_zh)} / {esc(self.metric_en)}; "
                f"门槛 bars: <code>{bars}</code>; {self.steps} steps, lr={self.lr:g}, batch {self.batch_size}<br>"
                f"训练前 before: {esc(self.before_zh)} / {esc(self.before_en)}</div>")

    def eval_batch(self, seed: int = 0) -> Batch:
        """The fixed test batch for `seed` (its own generator, seed 1000 + seed)."""
        return self.make_batch(self.eval_size, rng(1000 + seed))

    def stream(self, seed: int = 0) -> Iterator[Batch]:
        """Endless training batches for `seed`."""
        return batches(self.make_batch, self.batch_size, seed=seed)


def model_maker(cls: type[nn.Module]) -> Callable[..., nn.Module]:
    """``make(seed=0, **options)``: a fresh ``cls(**options)`` built under its own seed (global RNG untouched)."""
    def make(seed: int = 0, **options: Any) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(**options)
    make.__doc__ = f"A fresh, seeded {cls.__name__}(**options)."
    return make


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Torch CPU threads set to `n` inside the block and restored afterwards (None: unchanged)."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_demo(key: str, seed: int = 0, steps: int | None = None, progress: bool = True,
             threads: int | None = 1) -> DemoResult:
    """Trains the demo for block `key` and reads out its mechanism before and after.

    Args:
        key: A block key (``"gated_fusion"``, ``"msf"``, ``"mfe"``, ``"safm"``, ``"osra"``, ``"msaa"``,
            ``"cbam_joint"``).
        seed: Seeds the model, the training batches and the test batch.
        steps: Training steps (default: the demo's own count, which passes its bars).
        progress: Show a progress bar; or a function ``progress(step, steps, desc)`` called after every step.
        threads: Torch CPU threads for this run only (restored afterwards); None leaves the current setting.
            The default 1 is deliberate: these models are tiny, and on a busy 2-core machine two threads
            were 5-20x slower per step than one (threads wait for each other at every small op).

    Returns:
        A `DemoResult` (``.before``, ``.after``, ``.passed``, ``.model``, ``.history``,
        ``.seconds``, ``.figure()``).
    """
    from . import DEMOS  # the catalog is built from the demo modules, which import this one

    if key not in DEMOS:
        raise value_error("run_demo", f"key must be one of {list(DEMOS)}", {"key": key},
                          "These are the block keys of fusion_edu.blocks.BLOCKS.")
    demo = DEMOS[key]
    steps = demo.steps if steps is None else steps
    with torch_threads(threads):
        return demo.runner(demo, seed, steps, progress)

