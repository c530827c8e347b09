"""Before/after figures of each demo: the block's own internal quantity, on a fixed colour scale.

Every function takes a `DemoResult` (or `OSRASweep`), ``fig=None`` (a Figure or SubFigure to fill;
None creates one through pyplot, so end the notebook line with ``;``) and ``lang=None`` (the course
language; 'zh', 'en' or 'both'), and returns the figure. Colours, sizes, fonts and helpers come from
`fusion_edu.plots.style`; nothing calls ``plt.show()`` or changes the global rcParams.

Gates and weights are drawn on their full range 0..1 and other maps on one scale shared by the
before and after panels, so an untrained block's nearly flat map *looks* flat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Circle, Rectangle
from torch import Tensor

from ..errors import value_error
from ..plots import style
from ..plots.inputs import to_numpy
from ..plots.style import AFTER, AFTER2, BEFORE, GATE_CMAP, MIX_CMAP, MSF_BOUNDS, POSITIVE_CMAP, label

if TYPE_CHECKING:
    from .demo import DemoResult
    from .osra import OSRASweep

__all__ = ["demo_figure", "gated_figure", "msf_figure", "mfe_figure", "safm_figure", "osra_figure", "msaa_figure",
           "cbam_figure", "osra_sweep_figure", "loss_curve"]

Fig = Figure | SubFigure


# --------------------------------------------------------------------------- helpers

def _rgb(x: Tensor) -> np.ndarray:
    """(3, H, W) -> (H, W, 3) in [0, 1], one linear stretch per image."""
    a = to_numpy(x).transpose(1, 2, 0)
    return (a - a.min()) / max(float(a.max() - a.min()), 1e-6)


def _outline(ax: Axes, mask: Tensor, scale: float = 1.0, colour: str = "red") -> None:
    """Draws the bounding box of a (H, W) 0/1 pixel mask on a map that is `scale` times smaller."""
    rows, cols = mask.nonzero(as_tuple=True)
    if len(rows) == 0:
        return
    top, left = rows.min().item() / scale - 0.5, cols.min().item() / scale - 0.5
    height, width = (rows.max().item() + 1) / scale - 0.5 - top, (cols.max().item() + 1) / scale - 0.5 - left
    ax.add_patch(Rectangle((left, top), width, height, fill=False, ec=colour, lw=1.0))


def _arrow(result: Any, metric: str) -> str:
    """'before → after' of one metric, for titles."""
    return f"{result.before[metric]:.2f} → {result.after[metric]:.2f}"


def _examples(result: Any, n: int) -> list[int]:
    return list(range(min(n, len(next(iter(result.batch.values()))))))


# --------------------------------------------------------------------------- one figure per demo

@style.styled
def gated_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Sensors A and B, the mask 'A is clean', the gate z (mean over C) before and after, the output."""
    b = result.batch
    balance = (b["mask"].mean(dim=(1, 2, 3)) - 0.5).abs()  # show images where both sensors matter
    rows = balance.argsort()[:examples].tolist()
    fig = style.new_figure(fig, 12.5, 2.1 * len(rows) + 0.6)
    axes = fig.subplots(len(rows), 7, squeeze=False)
    titles = [label("传感器 A", "sensor A"), label("传感器 B", "sensor B"), label("掩码：A 干净处", "mask: A is clean"),
              label("门控 z，训练前", "gate z, before"), label("门控 z，训练后", "gate z, after"),
              label("输出，训练后", "output, after"), label("干净信号（目标）", "clean signal (target)")]
    signal = dict(cmap="gray", vmin=-3, vmax=3)
    gate = dict(cmap=MIX_CMAP, vmin=0, vmax=1)
    for r, i in enumerate(rows):
        shown = [b["a"][i, 0], b["b"][i, 0], b["mask"][i, 0], result.maps_before["z"][i], result.maps_after["z"][i],
                 result.maps_after["out"][i], b["clean"][i, 0]]
        kinds = [signal, signal, gate, gate, gate, signal, signal]
        for c, (data, kind) in enumerate(zip(shown, kinds)):
            picture = style.image(axes[r, c], to_numpy(data), titles[c] if r == 0 else "", **kind)
            if c == 4:
                z = picture
    style.colorbar(z, axes[:, 2:5], label("z（1 = 信 A，0 = 信 B）", "z (1 = trust A, 0 = trust B)"), fig=fig,
                   shrink=0.8)
    style.suptitle(fig, label(f"门控融合：门控学会了每个传感器在哪里干净（r {_arrow(result, 'gate_r')}，"
                              f"对比度 {_arrow(result, 'gate_contrast')}）",
                              f"Gated fusion: the gate learns where each sensor is clean  "
                              f"(r {_arrow(result, 'gate_r')}, contrast {_arrow(result, 'gate_contrast')})"))
    return fig


@style.styled
def msf_figure(result: DemoResult, fig: Fig | None = None) -> Fig:
    """Mean weight per input before/after for the note's softmax(sigmoid) and plain softmax, plus C x 4 maps."""
    fig = style.new_figure(fig, 11, 3.4)
    ax_bar, ax_note, ax_soft = fig.subplots(1, 3, width_ratios=[1.6, 1, 1])
    names = ["x0", "x1", "x2", "x3"]
    pos = np.arange(4)
    width = 0.27
    ax_bar.bar(pos - width, to_numpy(result.maps_before["weights"]), width, color=BEFORE,
               label=label("训练前", "before"))
    ax_bar.bar(pos, to_numpy(result.maps_after["weights"]), width, color=AFTER,
               label=label("训练后，softmax(sigmoid)（笔记）", "after, softmax(sigmoid) (note)"))
    ax_bar.bar(pos + width, to_numpy(result.maps_after["weights_softmax"]), width, color=AFTER2,
               label=label("训练后，plain softmax", "after, plain softmax"))
    low, high = MSF_BOUNDS
    for i, bound in enumerate(MSF_BOUNDS):
        ax_bar.axhline(bound, color=AFTER, ls="--", lw=0.8,
                       label=label(f"笔记的上下界 {low:.3f} / {high:.3f}",
                                   f"note's bounds {low:.3f} / {high:.3f}") if i else None)
    ax_bar.set_xticks(pos, [label("x2（有信息）", "x2 (informative)") if n == "x2" else n for n in names],
                      fontsize=style.size("label"))
    ax_bar.set_ylim(0, 1.6)  # the legend sits above 1, clear of the bars
    ax_bar.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    style.legend(ax_bar, loc="upper center", share=0.9)
    style.decorate(ax_bar, label("每个输入的权重（对样本和通道取平均）",
                                 "weight of each input (mean over batch and channels)"),
                   ylabel=label("平均权重", "mean weight"))
    panels = ((ax_note, "weights_per_channel", label("训练后：softmax(sigmoid)", "after: softmax(sigmoid)")),
              (ax_soft, "weights_per_channel_softmax", label("训练后：plain softmax", "after: plain softmax")))
    for ax, key, text in panels:
        shown = ax.imshow(to_numpy(result.maps_after[key]), cmap=GATE_CMAP, vmin=0, vmax=1, aspect="auto",
                          interpolation="nearest")
        ax.set_xticks(pos, names)
        style.decorate(ax, text, ylabel=label("通道", "channel"))
    style.colorbar(shown, [ax_note, ax_soft], label("权重", "weight"), fig=fig, shrink=0.8)
    style.suptitle(fig, label(f"MSF：有信息的输入 x2 的权重，笔记 {_arrow(result, 'w_informative')}（有上限），"
                              f"plain softmax {_arrow(result, 'w_informative_softmax')}",
                              f"MSF: weight of the informative input x2: note {_arrow(result, 'w_informative')} "
                              f"(capped), plain softmax {_arrow(result, 'w_informative_softmax')}"))
    return fig


@style.styled
def mfe_figure(result: DemoResult, fig: Fig | None = None) -> Fig:
    """Effective receptive field before/after (radius-10 task) and after the control, plus branch weights."""
    fig = style.new_figure(fig, 12, 3.3)
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.4])
    maps = [result.maps_before["erf"], result.maps_after["erf"], result.maps_after["erf_control"]]
    shares = [result.before["erf_outside"], result.after["erf_outside"], result.after["erf_outside_control"]]
    titles = [label(f"训练前的有效感受野\n（9×9 之外：{shares[0]:.2f}）",
                    f"ERF before\n(outside 9x9: {shares[0]:.2f})"),
              label(f"训练后，半径 10 的任务\n（9×9 之外：{shares[1]:.2f}）",
                    f"ERF after, radius-10 task\n(outside 9x9: {shares[1]:.2f})"),
              label(f"训练后，对照任务半径 1\n（9×9 之外：{shares[2]:.2f}）",
                    f"ERF after, control radius 1\n(outside 9x9: {shares[2]:.2f})")]
    vmax = max(float(to_numpy(m).max()) for m in maps)
    norm = colors.PowerNorm(0.4, vmin=0, vmax=vmax)
    for ax, m, text in zip(axes[:3], maps, titles):
        shown = style.image(ax, to_numpy(m), text, cmap=POSITIVE_CMAP, norm=norm)
        H, W = m.shape
        ax.add_patch(Rectangle((W // 2 - 4.5, H // 2 - 4.5), 9, 9, fill=False, ec="white", lw=0.8, ls="--"))
        ax.add_patch(Circle((W // 2, H // 2), 10, fill=False, ec="cyan", lw=0.8))
    style.colorbar(shown, list(axes[:3]), label("|梯度| 的占比（gamma 0.4）", "share of |gradient| (gamma 0.4)"),
                   fig=fig, shrink=0.8)
    ax = axes[3]
    pos = np.arange(4)
    width = 0.27
    ax.bar(pos - width, to_numpy(result.maps_before["weights"]), width, color=BEFORE, label=label("训练前", "before"))
    ax.bar(pos, to_numpy(result.maps_after["weights"]), width, color=AFTER,
           label=label("训练后，半径 10", "after, radius 10"))
    ax.bar(pos + width, to_numpy(result.maps_after["weights_control"]), width, color=AFTER2,
           label=label("训练后，半径 1", "after, radius 1"))
    ax.axhline(0.25, color="k", lw=0.6, ls=":")
    ax.set_xticks(pos, [f"y{i}\n" + label(f"感受野 {rf}", f"RF {rf}") for i, rf in enumerate((3, 7, 15, 31))],
                  fontsize=style.size("label"))
    ax.set_ylim(0, 0.5)
    style.legend(ax, loc="upper left")
    style.decorate(ax, label("分支权重（只小幅变化）", "branch weights (move only modestly)"))
    style.suptitle(fig, label("MFE：半径 10 的任务让有效感受野变宽（虚线框：9×9，圆：半径 10）",
                              "MFE: the radius-10 task widens the effective receptive field (dashed box: 9x9, "
                              "circle: radius 10)"))
    return fig


@style.styled
def safm_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Input, target edges, mean |M| before and after (one shared scale), output."""
    rows = _examples(result, examples)
    fig = style.new_figure(fig, 10, 2.1 * len(rows) + 0.6)
    axes = fig.subplots(len(rows), 5, squeeze=False)
    vmax = float(np.percentile(to_numpy(result.maps_after["m"][rows]), 99))
    vmax = max(vmax, float(np.percentile(to_numpy(result.maps_before["m"][rows]), 99)))
    titles = [label("输入", "input"), label("目标：边缘", "target: edges"),
              label("|M| 通道平均，训练前", "mean |M|, before"), label("|M| 通道平均，训练后", "mean |M|, after"),
              label("输出，训练后", "output, after")]
    grey = dict(cmap="gray", vmin=0, vmax=1)
    modulation = dict(cmap=POSITIVE_CMAP, vmin=0, vmax=vmax)
    for r, i in enumerate(rows):
        shown = [result.batch["x"][i, 0], result.batch["edges"][i, 0], result.maps_before["m"][i],
                 result.maps_after["m"][i], result.maps_after["out"][i]]
        for c, (data, kind) in enumerate(zip(shown, (grey, grey, modulation, modulation, grey))):
            picture = style.image(axes[r, c], to_numpy(data), titles[c] if r == 0 else "", **kind)
            if c == 3:
                m = picture
    style.colorbar(m, axes[:, 2:4], label("|M| 的通道平均（共用色标）", "mean over C of |M| (shared scale)"), fig=fig,
                   shrink=0.8)
    style.suptitle(fig, label(f"SAFM：调制图 M 对准了边缘（r {_arrow(result, 'edge_r')}，"
                              f"边缘/平坦 {_arrow(result, 'edge_ratio')}）",
                              f"SAFM: the modulation map M lines up with edges  (r {_arrow(result, 'edge_r')}, "
                              f"edge/flat {_arrow(result, 'edge_ratio')})"))
    return fig


@style.styled
def osra_figure(result: DemoResult, fig: Fig | None = None, examples: int = 3) -> Fig:
    """Input with the marker, and the attention on the reduced key grid (mean over heads and queries)."""
    rows = _examples(result, examples)
    fig = style.new_figure(fig, 7.5, 2.2 * len(rows) + 0.6)
    axes = fig.subplots(len(rows), 3, squeeze=False)
    sr = result.model.block.sr_ratio
    for r, i in enumerate(rows):
        first = r == 0
        y, x = (int(v) for v in result.batch["pos"][i])
        text = label("输入（圈出标记）", "input (marker circled)") if first else ""
        style.image(axes[r, 0], _rgb(result.batch["x"][i]), text)
        axes[r, 0].add_patch(Circle((x, y), 1.5, fill=False, ec="white", lw=1.2))
        panels = ((result.maps_before, label("键网格上的注意力，训练前", "attention on key grid, before")),
                  (result.maps_after, label("键网格上的注意力，训练后", "attention on key grid, after")))
        for c, (maps, text) in enumerate(panels, start=1):
            text = text if first else ""
            shown = style.image(axes[r, c], to_numpy(maps["attn_grid"][i]), text, cmap=GATE_CMAP, vmin=0, vmax=1)
            axes[r, c].add_patch(Circle((x / sr, y / sr), 0.6, fill=False, ec="red", lw=1.0))
    style.colorbar(shown, axes[:, 1:], label("每个键格分到的注意力", "attention mass per key cell"), fig=fig,
                   shrink=0.8)
    style.suptitle(fig, label(f"OSRA（sr_ratio={sr}）：每个查询都找到了标记（标记所在格分到的注意力 "
                              f"{_arrow(result, 'marker_mass')}）",
                              f"OSRA (sr_ratio={sr}): every query finds the marker  (mass on its cell "
                              f"{_arrow(result, 'marker_mass')})"))
    return fig


@style.styled
def msaa_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Input, object mask, spatial gate Sa before and after (0..1), cut-out output."""
    rows = _examples(result, examples)
    fig = style.new_figure(fig, 10, 2.1 * len(rows) + 0.6)
    axes = fig.subplots(len(rows), 5, squeeze=False)
    titles = [label("输入", "input"), label("物体", "objects"), label("门控 Sa，训练前", "gate Sa, before"),
              label("门控 Sa，训练后", "gate Sa, after"), label("抠图，训练后", "cut-out, after")]
    signal = dict(cmap="gray", vmin=-1.5, vmax=2.5)
    gate = dict(cmap=GATE_CMAP, vmin=0, vmax=1)
    for r, i in enumerate(rows):
        shown = [result.batch["x"][i, 0], result.batch["mask"][i, 0], result.maps_before["sa"][i],
                 result.maps_after["sa"][i], result.maps_after["out"][i]]
        for c, (data, kind) in enumerate(zip(shown, (signal, gate, gate, gate, signal))):
            picture = style.image(axes[r, c], to_numpy(data), titles[c] if r == 0 else "", **kind)
            if c == 3:
                sa = picture
    style.colorbar(sa, axes[:, 1:4], "Sa", fig=fig, shrink=0.8)
    style.suptitle(fig, label(f"MSAA：空间门盖住了大大小小的物体（r {_arrow(result, 'gate_r')}，"
                              f"IoU {_arrow(result, 'gate_iou')}）",
                              f"MSAA: the spatial gate covers objects of every size  (r {_arrow(result, 'gate_r')}, "
                              f"IoU {_arrow(result, 'gate_iou')})"))
    return fig


@style.styled
def cbam_figure(result: DemoResult, fig: Fig | None = None, examples: int = 2) -> Fig:
    """Joint-MLP spatial weight before/after; then a larger input: the joint block's error vs standard CBAM."""
    rows = _examples(result, examples)
    fig = style.new_figure(fig, 11, 2.2 * (len(rows) + 1.15) + 0.6)
    top, bottom = fig.subfigures(2, 1, height_ratios=[len(rows), 1.2])
    axes = top.subplots(len(rows), 5, squeeze=False)
    std = result.extra["std_maps_after"]
    titles = [label("输入 16×16", "input 16x16"), label("物体（在 8×8 特征上）", "object (on 8x8 features)"),
              label("联合 MLP 的 Sw，训练前", "joint Sw, before"), label("联合 MLP 的 Sw，训练后", "joint Sw, after"),
              label("标准 CBAM 的 Ms，训练后", "standard CBAM Ms, after")]
    gate = dict(cmap=GATE_CMAP, vmin=0, vmax=1)
    for r, i in enumerate(rows):
        style.image(axes[r, 0], _rgb(result.batch["x"][i]), titles[0] if r == 0 else "")
        maps = [result.maps_after["mask"][i], result.maps_before["sw"][i], result.maps_after["sw"][i], std["sw"][i]]
        for c, data in enumerate(maps, start=1):
            sw = style.image(axes[r, c], to_numpy(data), titles[c] if r == 0 else "", **gate)
        for ax in axes[r, 2:]:
            _outline(ax, result.batch["mask"][i, 0], scale=2)
    style.colorbar(sw, axes[:, 1:], label("空间权重", "spatial weight"), fig=top, shrink=0.8)
    style.suptitle(top, label(f"CBAM 变体：联合 MLP 的空间权重找到了物体（红框）（r {_arrow(result, 'sw_r')}；"
                              f"标准 CBAM r {result.after['std_sw_r']:.2f}）",
                              f"CBAM variant: the joint MLP's spatial weight finds the object (red box)  "
                              f"(r {_arrow(result, 'sw_r')}; standard CBAM r {result.after['std_sw_r']:.2f})"))
    ax_in, ax_std, ax_msg = bottom.subplots(1, 3, width_ratios=[1, 1, 3])
    big = result.extra["new_batch"]
    new = result.extra["std_maps_new_size"]
    style.image(ax_in, _rgb(big["x"][0]), label("换个尺寸：32×32 输入", "new size: 32x32 input"))
    style.image(ax_std, to_numpy(new["sw"][0]), label("标准 CBAM 的 Ms（16×16）", "standard CBAM Ms (16x16)"), **gate)
    _outline(ax_std, big["mask"][0, 0], scale=2)
    ax_msg.axis("off")
    english = result.extra["size_error"]
    chinese = result.extra.get("size_error_zh") or english
    message = label(chinese, english) if english else label("（没有报错）", "(no error raised)")
    heading = label("同样的输入交给联合 MLP 的 CBAMBlock：", "joint-MLP CBAMBlock on the same input:")
    width = 0.5 * style.figsize(11, 1)[0]  # the message column: 3/5 of the figure, less the margins
    ax_msg.text(0, 1.0, heading + "\n\n" + style.wrap(message, width, style.size("tick")), va="top",
                fontsize=style.size("tick"), family=["monospace", style.cjk_family()], color="#b00020")
    style.suptitle(bottom, label(f"换一个输入尺寸：标准 CBAM 仍能定位（r {result.after['std_sw_r_new_size']:.2f}），"
                                 "联合 MLP 无法运行",
                                 f"Another input size: standard CBAM still localises "
                                 f"(r {result.after['std_sw_r_new_size']:.2f}), the joint MLP cannot run"))
    return fig


_FIGURES = {"gated_fusion": gated_figure, "msf": msf_figure, "mfe": mfe_figure, "safm": safm_figure,
            "osra": osra_figure, "msaa": msaa_figure, "cbam_joint": cbam_figure}


def demo_figure(result: DemoResult, fig: Fig | None = None, lang: str | None = None) -> Fig:
    """The before/after figure for any `DemoResult` (dispatches on ``result.key``); `lang` as in `plots.style`."""
    if result.key not in _FIGURES:
        raise value_error("demo_figure", f"result.key must be one of {list(_FIGURES)}", {"key": result.key},
                          zh=f"result.key 只能是 {list(_FIGURES)} 之一")
    return _FIGURES[result.key](result, fig=fig, lang=lang)


@style.styled
def osra_sweep_figure(sweep: OSRASweep, fig: Fig | None = None) -> Fig:
    """OSRA at sr_ratio 1, 2, 4: the attention size (log scale) against accuracy and marker mass."""
    fig = style.new_figure(fig, 9, 3.2)
    ax_cost, ax_quality = fig.subplots(1, 2)
    names = [f"sr={r['sr_ratio']}\n" + label(f"{r['keys']} 键网格", f"{r['keys']} keys") for r in sweep.rows]
    pos = np.arange(len(names))
    entries = [r["attn_entries"] for r in sweep.rows]
    ax_cost.bar(pos, entries, color=BEFORE)
    ax_cost.set_yscale("log")
    ax_cost.set_xticks(pos, names, fontsize=style.size("label"))
    style.decorate(ax_cost, label("代价：每个头、每张图的注意力元素数（16×16 输入）",
                                  "cost: attention entries per head and image (16x16 input)"))
    lines = 0
    for p, r in zip(pos, sweep.rows):
        notes = [label(f"{r['attn_entries']:,} 个元素", f"{r['attn_entries']:,} entries"), f"{r['mflops']:.1f} MFLOPs"]
        if r.get("ms_per_step") is not None:
            notes.append(label(f"{r['ms_per_step']:.0f} 毫秒/步", f"{r['ms_per_step']:.0f} ms/step"))
        text = "\n".join(notes)
        lines = max(lines, text.count("\n") + 1)
        ax_cost.text(p, r["attn_entries"] * 1.15, text, ha="center", va="bottom", fontsize=style.size("tick"))
    ax_cost.set_ylim(min(entries) / 4, max(entries) * 8 * 2.2 ** max(0, lines - 3))  # room for the notes
    width = 0.35
    ax_quality.bar(pos - width / 2, [r["accuracy"] for r in sweep.rows], width, color=AFTER,
                   label=label("像素准确率", "pixel accuracy"))
    ax_quality.bar(pos + width / 2, [r["marker_mass"] for r in sweep.rows], width, color=AFTER2,
                   label=label("标记所在格上的注意力", "attention on marker cell"))
    ax_quality.scatter(pos + width / 2, [r["uniform_mass"] for r in sweep.rows], color="k", marker="_", s=200,
                       label=label("均匀注意力", "uniform attention"), zorder=3)
    ax_quality.set_xticks(pos, names, fontsize=style.size("label"))
    ax_quality.set_ylim(0, 1.4)
    ax_quality.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    style.legend(ax_quality, loc="upper center", ncol=2)
    style.decorate(ax_quality, label("训练后的效果", "quality after training"))
    style.suptitle(fig, label("OSRA：键网格越粗，注意力的代价越小，仍然找得到标记",
                              "OSRA: a coarser key grid costs far less attention and still finds the marker"))
    return fig


@style.styled
def loss_curve(result: DemoResult, ax: Axes | None = None) -> Axes:
    """The training loss of every model the demo trained (log scale)."""
    ax = style.new_axes(ax, 5, 3)
    histories = result.histories or {"main": result.history}
    for name, losses in histories.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.8, label=name)
    ax.set_yscale("log")
    style.decorate(ax, label(f"{result.key}：训练损失", f"{result.key}: training loss"), xlabel=label("步数", "step"),
                   ylabel=label("损失", "loss"))
    if len(histories) > 1:
        style.legend(ax)
    return ax
