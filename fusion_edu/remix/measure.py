"""Measuring remixes: which parameters a variant adds or removes, and a params / FLOPs / latency table.

FLOPs are counted with `torch.utils.flop_counter` formulas: convolutions and matrix products
only, one multiply-add = 2 FLOPs. Pooling, softmax and element-wise ops count 0, so two variants
that differ only there (SAFM max vs average pooling) have the same FLOPs. Latency is the median
of a few CPU runs after a warm-up: good for a teaching table, not a benchmark.
"""

from __future__ import annotations

import html
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import message, value_error
from ..lang import pick, resolve
from ..render import Rendered, failed, render_module
from ..shapeonly import ShapeOnlyMode
from .recipe import Recipe, as_recipe, trace_name

__all__ = ["ParamDiff", "param_diff", "param_table", "Comparison", "compare", "plot_comparison", "render", "count",
           "Rendered"]


def count(module: nn.Module) -> int:
    """Number of parameters (works on meta modules too)."""
    return sum(p.numel() for p in module.parameters())


def param_table(module: nn.Module, depth: int | None = None) -> dict[str, int]:
    """Parameters per module path: those a module holds itself (depth=None), or summed to `depth` path parts."""
    table: dict[str, int] = {}
    for path, m in module.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if not own:
            continue
        key = path if depth is None else ".".join(path.split(".")[:depth])
        table[key] = table.get(key, 0) + own
    return table


@dataclass
class ParamDiff:
    """What a variant changes in the parameters of its base, module by module.

    Attributes:
        base_name, variant_name: Class (or recipe) names.
        rows: ``(path, base params, variant params, delta)`` for every module path that differs.
        base_total, variant_total: Whole-module counts.
    """

    base_name: str
    variant_name: str
    rows: list[tuple[str, int, int, int]]
    base_total: int
    variant_total: int

    @property
    def delta(self) -> int:
        return self.variant_total - self.base_total

    def as_dict(self) -> dict[str, int]:
        """``{module path: delta}`` for the paths that differ."""
        return {path: d for path, _, _, d in self.rows}

    def _changed(self) -> str:
        tops = list(dict.fromkeys(path.split(".")[0] for path, *_ in self.rows))
        return ", ".join(tops[:6]) + (" ..." if len(tops) > 6 else "")

    def summary(self, lang: str | None = None) -> str:
        """One line: totals, the change and the top-level parts it touches, in 'en', 'zh' or 'both'."""
        pct = f"{self.delta / self.base_total * 100:+.1f}%" if self.base_total else "n/a"
        changed = self._changed()
        en = (f"{self.variant_name} vs {self.base_name}: {self.base_total:,} -> {self.variant_total:,} parameters "
              f"({self.delta:+,}, {pct})" + (f"; changed: {changed}." if changed else "; no module changed its count."))
        zh = (f"{self.variant_name} 相对 {self.base_name}：参数 {self.base_total:,} → {self.variant_total:,}"
              f"（{self.delta:+,}，{pct}）"
              + (f"；变化的部分：{changed}。" if changed else "；各模块参数量都没有变化。"))
        return pick(zh, en, lang, "\n")

    def to_text(self) -> str:
        heads = [pick(zh, en) for zh, en in (("模块", "module"), ("基线", "base"), ("变体", "variant"))]
        lines = [self.summary(), f"{heads[0]:32s} {heads[1]:>10s} {heads[2]:>10s} {'delta':>10s}"]
        for path, b, v, d in self.rows:
            lines.append(f"{path:32s} {b:>10,} {v:>10,} {d:>+10,}")
        return "\n".join(lines)

    __str__ = to_text

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:{a}'>{t}</th>" for t, a in (
            (pick("模块", "module"), "left"), (pick("基线", "base"), "right"), (pick("变体", "variant"), "right"),
            ("Δ", "right")))
        body = "".join(f"<tr><td style='text-align:left'><code>{html.escape(p)}</code></td>"
                       f"<td style='text-align:right'>{b:,}</td><td style='text-align:right'>{v:,}</td>"
                       f"<td style='text-align:right'><b>{d:+,}</b></td></tr>" for p, b, v, d in self.rows)
        summary = "<br>".join(html.escape(s) for s in self.summary().split("\n"))
        return f"<div class='fusion-edu-paramdiff'>{summary}<table><thead><tr>{head}</tr></thead>" \
               f"<tbody>{body}</tbody></table></div>"


def _as_module(item: Any, dims: dict[str, int]) -> tuple[nn.Module, str]:
    if isinstance(item, nn.Module):
        return item, type(item).__name__
    recipe = as_recipe(item)
    return recipe.module(device="meta", **dims), recipe.name


def param_diff(base: Any, variant: Any, *, depth: int | None = None, C: int = 32, H: int = 32, W: int = 32
               ) -> ParamDiff:
    """Parameters a variant adds or removes against its base, per module path.

    Args:
        base: A module, or anything `as_recipe` takes (built on meta at C, H, W).
        variant: The same for the variant.
        depth: None: the modules that hold parameters themselves (``layer2.0``); 1: summed per
            top-level part (``layer2``); and so on.
        C, H, W: Dims for recipes.

    Example:
        >>> from fusion_edu.blocks import MSFBlock
        >>> from fusion_edu.remix import MSFCoord
        >>> param_diff(MSFBlock(8), MSFCoord(8)).delta  # +4*C*C
        256
    """
    dims = {"C": C, "H": H, "W": W}
    a, a_name = _as_module(base, dims)
    b, b_name = _as_module(variant, dims)
    ta, tb = param_table(a, depth), param_table(b, depth)
    rows = []
    for path in list(ta) + [p for p in tb if p not in ta]:
        na, nb = ta.get(path, 0), tb.get(path, 0)
        if na != nb:
            rows.append((path, na, nb, nb - na))
    return ParamDiff(a_name, b_name, rows, count(a), count(b))


# --------------------------------------------------------------------------- comparison table

@dataclass
class Comparison:
    """A params / FLOPs / latency table, one row per item (a plain list of dicts, no pandas).

    Row keys: ``name``, ``zh``, ``en``, ``params``, ``flops``, ``latency_ms``, ``output``
    (shape), ``error`` ('' when the item ran; otherwise its message, and the numbers are None).
    """

    rows: list[dict[str, Any]]
    dims: dict[str, int] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        return [r[name] for r in self.rows]

    def _ratio(self, row: dict[str, Any], key: str) -> str:
        base = next((r[key] for r in self.rows if r[key]), None)
        return f"{row[key] / base:.2f}x" if row[key] is not None and base else "-"

    def to_text(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        head = f"{'item':24s} {'params':>10s} {'ratio':>7s} {'MFLOPs':>10s} {'ratio':>7s} {'CPU ms':>8s}  output"
        lines = [f"compare at {dims} (ratios against the first row)", head, "-" * len(head)]
        for r in self.rows:
            if r["error"]:
                lines.append(f"{r['name']:24s} error: {r['error']}")
                continue
            lines.append(f"{r['name']:24s} {r['params']:>10,} {self._ratio(r, 'params'):>7s} "
                         f"{r['flops'] / 1e6:>10.2f} {self._ratio(r, 'flops'):>7s} {r['latency_ms']:>8.2f}  "
                         f"{r['output']}")
        return "\n".join(lines)

    __str__ = to_text

    def _repr_html_(self) -> str:
        esc = html.escape
        lang = resolve(None)
        texts = {"zh": [pick("说明", "description", "zh")], "en": ["description"]}.get(lang, ["说明", "description"])
        cols = [pick("项目", "item"), *texts, pick("参数", "params"), "×", "MFLOPs", "×", pick("CPU 毫秒", "CPU ms"),
                pick("输出", "output")]
        out = ["<div class='fusion-edu-compare'>", esc(", ".join(f"{k}={v}" for k, v in self.dims.items())),
               " · " + pick("比值相对第一行", "ratios against the first row") + "<table><thead><tr>"
               + "".join(f"<th>{c}</th>" for c in cols) + "</tr></thead><tbody>"]
        for r in self.rows:
            if r["error"]:
                out.append(f"<tr><td><code>{esc(r['name'])}</code></td><td colspan='{len(cols) - 1}' "
                           "style='color:#b71c1c'>"
                           f"{esc(r['error'])}</td></tr>")
                continue
            described = {"zh": [r["zh"]], "en": [r["en"]]}.get(lang, [r["zh"], r["en"]])
            cells = [f"<code>{esc(r['name'])}</code>", *(esc(t) for t in described), f"{r['params']:,}",
                     self._ratio(r, "params"), f"{r['flops'] / 1e6:,.2f}", self._ratio(r, "flops"),
                     f"{r['latency_ms']:.2f}", f"<code>{esc(str(r['output']))}</code>"]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table></div>")
        return "".join(out)


def _output_shape(out: Any) -> tuple | list:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    return [tuple(o.shape) for o in out if isinstance(o, torch.Tensor)]


def compare(items: Iterable[Any], *, B: int = 1, C: int = 32, H: int = 32, W: int = 32, repeats: int = 5,
            warmup: int = 2, seed: int = 0, threads: int | None = 1) -> Comparison:
    """Params, FLOPs and CPU latency for catalog keys, variant keys, recipes, builders or modules.

    Every item is built fresh at (B, C, H, W), put in eval mode and run under ``torch.no_grad()``.
    An item that cannot be built or run at this size gets a row with its error message instead
    of stopping the table.

    Args:
        items: What to compare, e.g. ``["msf_note", "msf_softmax", "msf_coord"]``.
        B, C, H, W: Dims for every item.
        repeats: Timed runs; the median is reported.
        warmup: Untimed runs first.
        seed: Seed for weights and inputs.
        threads: CPU threads while measuring (1 gives steadier numbers on a shared machine; None
            keeps PyTorch's setting).
    """
    dims = {"B": B, "C": C, "H": H, "W": W}
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        rows = [_measure(item, dims, repeats, warmup, seed) for item in items]
    finally:
        torch.set_num_threads(previous)
    return Comparison(rows, dims)


def _measure(item: Any, dims: dict[str, int], repeats: int, warmup: int, seed: int) -> dict[str, Any]:
    recipe = as_recipe(item)
    row = {"name": recipe.name, "zh": recipe.zh, "en": recipe.en, "params": None, "flops": None,
           "latency_ms": None, "output": None, "error": ""}
    try:
        module, inputs = recipe.build(seed=seed, **dims)
        module.eval()
        with torch.no_grad():
            with ShapeOnlyMode() as counter:
                out = module(*inputs)
            for _ in range(warmup):
                module(*inputs)
            times = []
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                module(*inputs)
                times.append((time.perf_counter() - start) * 1e3)
        row.update(params=count(module), flops=counter.flops, latency_ms=statistics.median(times),
                   output=_output_shape(out))
    except (ValueError, TypeError, RuntimeError) as e:
        row["error"] = message(e, "en")
    return row


_METRICS = {"params": "parameters", "flops": "FLOPs", "latency_ms": "CPU latency (ms)"}


def plot_comparison(table: Comparison, *, metric: str | None = None, ax: Any = None) -> Any:
    """Bar chart of a `compare` table (pure matplotlib; returns the Axes).

    Args:
        table: The result of `compare`.
        metric: None: params, FLOPs and latency side by side as ratios to the first row (1.0 =
            same as the first row); or one of ``"params"``, ``"flops"``, ``"latency_ms"`` in absolute units.
        ax: Axes to draw on; a new figure when None.
    """
    import matplotlib.pyplot as plt

    if metric is not None and metric not in _METRICS:
        raise value_error("plot_comparison", f"metric must be None or one of {list(_METRICS)}", {"metric": metric},
                          "Use metric=None for all three as ratios.", zh=f"metric 只能是 None 或 {list(_METRICS)}")
    rows = [r for r in table.rows if not r["error"]]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.6 * max(2, len(rows)) + 1.6), layout="constrained")
    names = [r["name"] for r in rows]
    ys = list(range(len(rows)))[::-1]
    if metric is None:
        keys = list(_METRICS)
        height = 0.8 / len(keys)
        colors = ("#4C72B0", "#DD8452", "#55A868")
        for k, (key, color) in enumerate(zip(keys, colors)):
            base = rows[0][key] if rows else 1
            values = [r[key] / base if base else 0.0 for r in rows]
            pos = [y + (1 - k) * height for y in ys]
            bars = ax.barh(pos, values, height=height, color=color, label=_METRICS[key])
            ax.bar_label(bars, labels=[f"{v:.2f}x" for v in values], padding=2, fontsize=8)
        ax.axvline(1.0, color="#444", lw=0.8, ls="--")
        ax.set_xlabel(f"ratio to the first row ({names[0] if names else '-'})")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=8, frameon=False)
        ax.set_xlim(0, max([1.0] + [r[k] / rows[0][k] for r in rows for k in keys if rows[0][k]]) * 1.25)
    else:
        values = [r[metric] for r in rows]
        bars = ax.barh(ys, values, color="#4C72B0")
        fmt = "{:,.2f}" if metric == "latency_ms" else "{:,.0f}"
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2, fontsize=8)
        ax.set_xlabel(_METRICS[metric])
        ax.set_xlim(0, max(values + [1]) * 1.2)
    ax.set_yticks(ys, names)
    dims = ", ".join(f"{k}={v}" for k, v in table.dims.items())
    ax.set_title(f"Remix comparison at {dims}", fontsize=10, pad=22 if metric is None else 6)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# --------------------------------------------------------------------------- a remix's page

def render(item: Any, *, lang: str | None = None, B: int = 1, C: int = 32, H: int = 32, W: int = 32,
           compact: bool = True) -> Rendered:
    """The meta trace of a remix with its parameter count and FLOPs, as HTML (`fusion_edu.render.Rendered`).

    Like `fusion_edu.render.render` for a catalog key: invalid settings (a part that does not fit,
    a bad dim) give ``ok=False`` and a box with the message instead of an exception, so a slider
    callback can show it.
    """
    dims = {"B": B, "C": C, "H": H, "W": W}
    name = getattr(item, "name", None) or str(item)
    try:
        recipe: Recipe = as_recipe(item)
        name = recipe.name
        module, inputs = recipe.build(device="meta", **dims)
    except (ValueError, TypeError) as e:
        return failed(name, e, lang, head=_head(name, None, lang), values=dims)
    except Exception as e:  # noqa: BLE001 - a page shows every failure instead of a traceback
        return failed(name, e, lang, head=_head(name, None, lang), values=dims, unexpected=True)
    rendered = render_module(module, inputs, name=trace_name(module, name), head=_head(name, recipe, lang),
                             lang=lang, compact=compact)
    rendered.key, rendered.values = name, dims
    return rendered


def _head(name: str, recipe: Recipe | None, lang: str | None) -> str:
    title = recipe.title(resolve(lang)) if recipe is not None else ""
    return (f"<div class='fe-head' style='font-size:1.1em'><b>{html.escape(title or name)}</b> "
            f"<span style='color:#666'>({html.escape(name)})</span></div>")
