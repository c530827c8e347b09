"""Compare a module with a reference: same weights in, same numbers out? And if not, where do they part?

`compare(candidate, reference, *inputs)` is for a block copied from another repository (is it the
catalog's block?) or for your own edit of a block (what did the change do?):

1. It maps the reference's parameters and buffers onto the candidate's by order and shape, so the
   names may differ. If the orders differ but the shapes still pair up, it pairs them by shape.
   If the counts or shapes differ, no mapping exists: the report lists the tensors without a
   partner and nothing is run.
2. It loads the reference's weights into a deep copy of the candidate (your modules are never
   changed), puts both copies in eval mode and runs them on the inputs under ``torch.no_grad()``.
3. It records every step of both runs (as `autotrace` does) and compares them in order: the first
   step whose values differ beyond the tolerance is `first_difference`, shown side by side.

Example:
    >>> import torch
    >>> from torch import nn
    >>> a = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
    >>> b = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.GELU())
    >>> report = compare(b, a, torch.randn(1, 4, 8, 8), lang="en")
    >>> report.equivalent, report.first_difference.index
    (False, 2)
"""

from __future__ import annotations

import copy
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .autotrace import autotrace, record_values
from .errors import type_error, value_error
from .lang import pick, resolve
from .trace import Step, Trace

__all__ = ["compare", "CompareReport", "MappingRow", "Difference"]


@dataclass(frozen=True)
class MappingRow:
    """One parameter or buffer of the candidate and the reference tensor loaded into it."""

    candidate: str
    reference: str
    shape: tuple[int, ...]
    kind: str  # "parameter" | "buffer"


@dataclass(frozen=True)
class Difference:
    """The first step where the two runs part.

    Attributes:
        index: The step number (1-based, in order of tensor-producing steps).
        kind: ``"values"`` (same shape, values beyond tolerance), ``"shapes"`` (the op sequences
            diverge here) or ``"length"`` (one run has more steps).
        candidate: The candidate's step (None when it has no step `index`).
        reference: The reference's step (None when it has no step `index`).
        max_abs_diff: The largest absolute difference at this step (values only).
    """

    index: int
    kind: str
    candidate: Step | None
    reference: Step | None
    max_abs_diff: float | None = None

    def describe(self, lang: str) -> str:
        def side(step: Step | None) -> str:
            if step is None:
                return pick("（没有这一步）", "(no such step)", lang)
            where = f" [{step.module}]" if step.module else ""
            return f"{pick(step.zh, step.en, lang)}{where} {step.concrete}"

        zh_kind = {"values": "数值不同", "shapes": "形状不同：两边的步骤从这里开始不一致",
                   "length": "一边的步骤更多"}[self.kind]
        en_kind = {"values": "values differ", "shapes": "shapes differ: the op sequences diverge here",
                   "length": "one side has more steps"}[self.kind]
        diff = f" (max |Δ| = {self.max_abs_diff:.3g})" if self.max_abs_diff is not None else ""
        head = pick(f"第 {self.index} 步{zh_kind}", f"step {self.index}: {en_kind}", lang, sep=" · ") + diff
        return (f"{head}\n  {pick('候选', 'candidate', lang)}: {side(self.candidate)}"
                f"\n  {pick('参考', 'reference', lang)}: {side(self.reference)}")


@dataclass
class CompareReport:
    """What `compare` found. Shows as HTML in a notebook and as text with ``str(report)``.

    Attributes:
        equivalent: True when a mapping exists and every output matches within the tolerance.
        max_abs_diff: The largest absolute difference over the outputs (None when not run or when
            the output shapes differ).
        first_difference: The first step whose values differ beyond the tolerance, or where the op
            sequences diverge; None when every step matches.
        mapping: The reference tensor loaded into each candidate tensor (empty when none exists).
        problems: Why no mapping exists, or why the outputs cannot be compared (empty when fine).
        candidate_rows, reference_rows: Every recorded step of each run (concrete shapes).
        candidate_trace, reference_trace: Their autotraces (symbolic specs), or None if those fail.
    """

    candidate_name: str
    reference_name: str
    inputs: list[Any]
    atol: float
    rtol: float
    lang: str
    equivalent: bool = False
    max_abs_diff: float | None = None
    first_difference: Difference | None = None
    mapping: list[MappingRow] = field(default_factory=list)
    matched_by: str = ""  # "order" | "shape"
    notes: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    candidate_rows: list[Step] = field(default_factory=list)
    reference_rows: list[Step] = field(default_factory=list)
    candidate_trace: Trace | None = None
    reference_trace: Trace | None = None

    # ----------------------------------------------------------------- text
    def verdict(self) -> str:
        tol = f"atol={self.atol:g}, rtol={self.rtol:g}"
        if self.problems and not self.mapping:
            return pick("不等价：找不到参数对应关系，未运行",
                        "not equivalent: no parameter mapping exists, nothing was run", self.lang)
        if self.equivalent:
            zh = f"等价：输出在容差内一致（max |Δ| = {self.max_abs_diff:.3g}，{tol}）"
            en = f"equivalent: the outputs match within tolerance (max |Δ| = {self.max_abs_diff:.3g}, {tol})"
            if self.first_difference is not None:
                zh += f"；但第 {self.first_difference.index} 步起写法不同"
                en += f"; the steps differ from step {self.first_difference.index} (another way to the same result)"
            return pick(zh, en, self.lang)
        if self.max_abs_diff is None:
            return pick("不等价：输出的形状不同", "not equivalent: the outputs have different shapes", self.lang)
        return pick(f"不等价：输出最大差 {self.max_abs_diff:.3g}（{tol}）",
                    f"not equivalent: the outputs differ by up to {self.max_abs_diff:.3g} ({tol})", self.lang)

    def _mapping_head(self) -> str:
        n = len(self.mapping)
        if self.matched_by == "order":
            return pick(f"参数对应：{n} 个张量，按顺序（形状逐一相同）",
                        f"mapping: {n} tensors, by order (every shape matches)", self.lang)
        return pick(f"参数对应：{n} 个张量，顺序不同，按形状配对",
                    f"mapping: {n} tensors, orders differ, paired by shape", self.lang)

    def side_by_side(self, before: int = 3, after: int = 3) -> list[tuple[str, Step | None, Step | None]]:
        """(step number, candidate step, reference step) around the first difference (or the first steps)."""
        center = self.first_difference.index if self.first_difference else 1
        last = max(len(self.candidate_rows), len(self.reference_rows))
        out = []
        for number in range(max(1, center - before), min(last, center + after) + 1):
            out.append((str(number), _symbolic(self.candidate_rows, self.candidate_trace, number),
                        _symbolic(self.reference_rows, self.reference_trace, number)))
        return out

    def to_text(self) -> str:
        lang = self.lang
        lines = [f"compare: {self.candidate_name} {pick('对比', 'vs', lang)} {self.reference_name}  inputs: "
                 + ", ".join(str(s) for s in self.inputs), pick("结论", "verdict", lang) + ": " + self.verdict()]
        for zh, en in self.problems:
            lines.append("  ! " + pick(zh, en, lang, sep="\n    "))
        if self.mapping:
            lines.append(self._mapping_head())
            table = [[pick("候选", "candidate", lang), pick("参考", "reference", lang), pick("形状", "shape", lang)]]
            table += [[m.candidate, m.reference, str(m.shape)] for m in self.mapping]
            lines += _columns(table, indent="  ")
        for zh, en in self.notes:
            lines.append("  · " + pick(zh, en, lang, sep="\n    "))
        if self.first_difference is not None:
            lines.append(pick("首个不同", "first difference", lang) + ": " + self.first_difference.describe(lang))
        if self.first_difference is None and self.candidate_rows:
            lines.append(pick(f"两边的 {len(self.candidate_rows)} 个步骤逐一一致",
                              f"all {len(self.candidate_rows)} steps match one by one", lang))
        elif self.candidate_rows or self.reference_rows:
            lines.append(pick("两边的步骤并排", "the two traces side by side", lang) + ":")
            table = [["#", pick("候选", "candidate", lang), "", pick("参考", "reference", lang), ""]]
            for number, a, b in self.side_by_side():
                table.append([number, *_cells(a, lang), *_cells(b, lang)])
            lines += _columns(table, indent="  ")
        return "\n".join(lines)

    __str__ = to_text

    def __repr__(self) -> str:
        return (f"<CompareReport {self.candidate_name} vs {self.reference_name}: "
                f"{'equivalent' if self.equivalent else 'not equivalent'}>")

    # ----------------------------------------------------------------- HTML
    def _repr_html_(self) -> str:
        esc, lang = html.escape, self.lang
        color = "#2a7" if self.equivalent else "#c33"
        out = [f"<div class='fusion-edu-compare'><b>{esc(self.candidate_name)}</b> {pick('对比', 'vs', lang)} "
               f"<b>{esc(self.reference_name)}</b> &nbsp; inputs: "
               + ", ".join(f"<code>{esc(str(s))}</code>" for s in self.inputs),
               f"<p style='color:{color}'><b>{esc(self.verdict())}</b></p>"]
        if self.problems:
            out.append("<ul>" + "".join(f"<li>{esc(pick(zh, en, lang))}</li>" for zh, en in self.problems) + "</ul>")
        if self.mapping:
            out.append(f"<details><summary>{esc(self._mapping_head())}</summary>")
            head = [pick("候选", "candidate", lang), pick("参考", "reference", lang), pick("形状", "shape", lang)]
            out.append(_html_table(head, [[esc(m.candidate), esc(m.reference), esc(str(m.shape))]
                                          for m in self.mapping]))
            out.append("</details>")
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{esc(pick(zh, en, lang))}</li>" for zh, en in self.notes) + "</ul>")
        if self.first_difference is None and self.candidate_rows:
            out.append("<p>" + esc(pick(f"两边的 {len(self.candidate_rows)} 个步骤逐一一致",
                                        f"all {len(self.candidate_rows)} steps match one by one", lang)) + "</p>")
        elif self.candidate_rows or self.reference_rows:
            marked = self.first_difference.index if self.first_difference else None
            head = ["#", pick("候选", "candidate", lang), pick("符号形状", "symbolic", lang),
                    pick("参考", "reference", lang), pick("符号形状", "symbolic", lang)]
            rows = []
            for number, a, b in self.side_by_side():
                cells = [number, *(esc(c) for c in _cells(a, lang)), *(esc(c) for c in _cells(b, lang))]
                rows.append((cells, number == str(marked)))
            out.append(_html_table(head, [c for c, _ in rows], marked=[m for _, m in rows]))
        out.append("</div>")
        return "".join(out)


def _symbolic(rows: list[Step], trace: Trace | None, number: int) -> Step | None:
    """Step `number` of a run, with the autotrace's symbolic spec when the two record the same steps."""
    if number > len(rows):
        return None
    step = rows[number - 1]
    if trace is not None and len(trace.rows) == len(rows) and trace.rows[number - 1].shape == step.shape:
        return trace.rows[number - 1]
    return step


def _cells(step: Step | None, lang: str) -> list[str]:
    if step is None:
        return ["—", ""]
    where = f" [{step.module}]" if step.module else ""
    return [pick(step.zh, step.en, lang) + where, step.spec]


def _columns(table: list[list[str]], indent: str) -> list[str]:
    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    widths = [max(width(row[i]) for row in table) for i in range(len(table[0]))]
    return [indent + "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip()
            for row in table]


def _html_table(head: list[str], rows: list[list[str]], marked: list[bool] | None = None) -> str:
    marked = marked or [False] * len(rows)
    out = ["<table><thead><tr>" + "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for cells, mark in zip(rows, marked):
        style = " style='background:#fdd'" if mark else ""
        out.append(f"<tr{style}>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# --------------------------------------------------------------------------- mapping

def _tensors(module: nn.Module) -> list[tuple[str, Tensor, str]]:
    buffers = {name for name, _ in module.named_buffers()}
    return [(name, t, "buffer" if name in buffers else "parameter")
            for name, t in module.state_dict(keep_vars=True).items()]


def _map(candidate: nn.Module, reference: nn.Module) -> tuple[list[MappingRow], str, list[tuple[str, str]],
                                                               list[tuple[str, str]]]:
    """Pairs the reference's tensors with the candidate's: (rows, "order" | "shape", notes, problems)."""
    cand, ref = _tensors(candidate), _tensors(reference)
    if len(cand) == len(ref) and all(c[1].shape == r[1].shape for c, r in zip(cand, ref)):
        return [MappingRow(c[0], r[0], tuple(c[1].shape), c[2]) for c, r in zip(cand, ref)], "order", [], []
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, (_name, t, _kind) in enumerate(ref):
        by_shape.setdefault(tuple(t.shape), []).append(i)
    pairs, lonely = [], []
    for name, t, kind in cand:
        waiting = by_shape.get(tuple(t.shape))
        if waiting:
            pairs.append((name, ref[waiting.pop(0)][0], tuple(t.shape), kind))
        else:
            lonely.append((name, tuple(t.shape)))
    left = sorted(i for indices in by_shape.values() for i in indices)
    if lonely or left:
        problems = [(f"候选的 {name} {shape} 在参考中没有同形状的对应张量",
                     f"the candidate's {name} {shape} has no partner of that shape in the reference")
                    for name, shape in lonely]
        problems += [(f"参考的 {ref[i][0]} {tuple(ref[i][1].shape)} 在候选中没有同形状的对应张量",
                      f"the reference's {ref[i][0]} {tuple(ref[i][1].shape)} has no partner of that shape in the "
                      "candidate") for i in left]
        problems.insert(0, (f"张量个数：候选 {len(cand)} 个，参考 {len(ref)} 个",
                            f"tensor count: candidate {len(cand)}, reference {len(ref)}"))
        return [], "", [], problems
    notes = []
    counts: dict[tuple[int, ...], int] = {}
    for _c, _r, shape, _k in pairs:
        counts[shape] = counts.get(shape, 0) + 1
    for shape, n in counts.items():
        if n > 1:
            notes.append((f"{n} 个张量形状都是 {shape}：按各自的顺序配对，请核对名字",
                          f"{n} tensors share the shape {shape}: paired in their own order; check the names"))
    return [MappingRow(*p) for p in pairs], "shape", notes, []


# --------------------------------------------------------------------------- running

def _outputs(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _outputs(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _outputs(v)]
    return []


def _close(a: Tensor, b: Tensor, atol: float, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.allclose(a, b.to(a.dtype), atol=atol, rtol=rtol, equal_nan=True))
    return bool(torch.equal(a, b))


def _max_diff(a: Tensor, b: Tensor) -> float:
    if a.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def _first_difference(cand_rows: list[Step], cand_values: list[Tensor], ref_rows: list[Step],
                      ref_values: list[Tensor], atol: float, rtol: float) -> Difference | None:
    for k, (a, b) in enumerate(zip(cand_values, ref_values)):
        if a.shape != b.shape:
            return Difference(k + 1, "shapes", cand_rows[k], ref_rows[k])
        if not _close(a, b, atol, rtol):
            return Difference(k + 1, "values", cand_rows[k], ref_rows[k], _max_diff(a, b))
    n = min(len(cand_rows), len(ref_rows))
    if len(cand_rows) != len(ref_rows):
        return Difference(n + 1, "length", cand_rows[n] if n < len(cand_rows) else None,
                          ref_rows[n] if n < len(ref_rows) else None)
    return None


def compare(candidate: nn.Module, reference: nn.Module, *inputs: Any, atol: float = 1e-5, rtol: float = 1e-4,
            lang: str | None = None) -> CompareReport:
    """Checks whether `candidate` computes what `reference` computes, with the reference's weights.

    Args:
        candidate: The module to check (a copy from another repository, or your edit).
        reference: The module it should match (e.g. the catalog block).
        *inputs: Real forward inputs for both (small ones are enough).
        atol: Absolute tolerance, for the outputs and for every step.
        rtol: Relative tolerance.
        lang: 'zh', 'en' or 'both' for the report; None uses `fusion_edu.lang.get_lang()`.

    Returns:
        A `CompareReport` (``.equivalent``, ``.max_abs_diff``, ``.first_difference``, ``.mapping``).

    Raises:
        TypeError: A module argument is not an ``nn.Module``.
        ValueError: No inputs.
        RuntimeError: ``"compare: the candidate failed ..."`` when a module fails on the inputs.
    """
    lang = resolve(lang, "compare")
    for label, module in (("candidate", candidate), ("reference", reference)):
        if not isinstance(module, nn.Module):
            raise type_error("compare", f"{label} must be an nn.Module", {label: type(module).__name__},
                             "Pass built modules, e.g. compare(MySAFM(36), SAFM(36), x).",
                             zh=f"{label} 必须是 nn.Module",
                             zh_hint="请传入已构建的模块，例如 compare(MySAFM(36), SAFM(36), x)。")
    if not inputs:
        raise value_error("compare", "the forward inputs are required", {"inputs": ()},
                          "Example: compare(mine, SAFM(36), torch.randn(1, 36, 32, 32)).",
                          zh="需要给出前向输入", zh_hint="例如 compare(mine, SAFM(36), torch.randn(1, 36, 32, 32))。")
    shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in inputs]
    report = CompareReport(type(candidate).__name__, type(reference).__name__, shapes, atol, rtol, lang)
    report.mapping, report.matched_by, report.notes, report.problems = _map(candidate, reference)
    if report.problems:
        return report
    cand, ref = copy.deepcopy(candidate), copy.deepcopy(reference)
    weights = reference.state_dict()
    cand.load_state_dict({m.candidate: weights[m.reference] for m in report.mapping}, strict=True)
    cand.eval()
    ref.eval()
    runs = []
    for label, module in (("candidate", cand), ("reference", ref)):
        try:
            runs.append(record_values(module, *inputs))
        except RuntimeError as e:
            raise RuntimeError(f"compare: the {label} ({type(module).__name__}) failed: {e}") from e
    (report.candidate_rows, cand_values, cand_out), (report.reference_rows, ref_values, ref_out) = runs
    outs_c, outs_r = _outputs(cand_out), _outputs(ref_out)
    if len(outs_c) != len(outs_r) or any(a.shape != b.shape for a, b in zip(outs_c, outs_r)):
        report.problems.append((f"输出形状不同：候选 {[tuple(t.shape) for t in outs_c]}，参考 "
                                f"{[tuple(t.shape) for t in outs_r]}",
                                f"the outputs differ in shape: candidate {[tuple(t.shape) for t in outs_c]}, "
                                f"reference {[tuple(t.shape) for t in outs_r]}"))
    else:
        report.max_abs_diff = max((_max_diff(a, b) for a, b in zip(outs_c, outs_r)), default=0.0)
        report.equivalent = all(_close(a, b, atol, rtol) for a, b in zip(outs_c, outs_r))
    report.candidate_trace = _try_autotrace(cand, inputs, lang)
    report.reference_trace = _try_autotrace(ref, inputs, lang)
    found = _first_difference(report.candidate_rows, cand_values, report.reference_rows, ref_values, atol, rtol)
    if found is not None:  # show the two steps with their symbolic specs where the autotraces have them
        found = Difference(found.index, found.kind,
                           _symbolic(report.candidate_rows, report.candidate_trace, found.index),
                           _symbolic(report.reference_rows, report.reference_trace, found.index), found.max_abs_diff)
    report.first_difference = found
    return report


def _try_autotrace(module: nn.Module, inputs: Sequence[Any], lang: str) -> Trace | None:
    try:
        return autotrace(module, *inputs, lang=lang)
    except Exception:  # noqa: BLE001 - the symbolic view is a bonus; the comparison stands without it
        return None
