"""The seven blocks of the study note and `BLOCKS`, the catalog that everything else reads.

`BLOCKS[key]` is a `BlockSpec`: the class, the note's class name, titles, the paper, the note's
demo configuration, the explorer's hyperparameters, its ports, and `build(device=..., **values)`,
which turns dims and hyperparameters into a block and inputs. `meta_trace(key, **values)` traces a
block at any size on the meta device.
"""

from __future__ import annotations

from typing import Any

from ..errors import value_error
from ..trace import Trace, trace
from ._common import NOTE_BOUNDS, ASPPConv, OneConv, check_batchnorm_batch, select_scales, weight_bounds
from .cbam_joint import CBAMBlock
from .gated_fusion import GatedFusion, gatedFusion
from .mfe import MFEBlock, MFEblock
from .msaa import MSAA
from .msf import MSFBlock, MSFblock
from .osra import OSRAttention, reduced_size
from .safm import SAFM
from .spec import DIMS, BlockSpec, Dim, Hyper, Paper, Ports, Shapes

__all__ = ["BLOCKS", "BlockSpec", "Paper", "Hyper", "Dim", "Ports", "get_spec", "meta_trace", "DIMS",
           "GatedFusion", "gatedFusion", "MSFBlock", "MSFblock", "MFEBlock", "MFEblock", "SAFM", "OSRAttention",
           "MSAA", "CBAMBlock", "reduced_size", "Shapes", "ASPPConv", "OneConv", "select_scales",
           "check_batchnorm_batch", "weight_bounds", "NOTE_BOUNDS"]


def _gated(B, C, H, W, layout):
    shape = (B, H, W, C) if layout == "channels_last" else (B, C, H, W)
    return dict(dim=C, layout=layout), [shape, shape]


def _gated_ports(block: GatedFusion) -> Ports:
    layout = "nchw" if block.layout == "nchw" else "channels_last"
    return Ports((block.dim, block.dim), (block.dim,), layout, layout)


def _msf(B, C, H, W, weighting):
    return dict(in_channels=C, weighting=weighting), [(B, C, H, W)] * 4


def _mfe(B, C, H, W, rate1, rate2, rate3, weighting):
    return dict(in_channels=C, atrous_rates=[rate1, rate2, rate3], weighting=weighting), [(B, C, H, W)]


def _safm(B, C, H, W, n_levels, pool):
    return dict(dim=C, n_levels=n_levels, pool=pool), [(B, C, H, W)]


def _osra(B, C, H, W, num_heads, sr_ratio, act):
    return dict(dim=C, num_heads=num_heads, sr_ratio=sr_ratio, act=act), [(B, C, H, W)]


def _msaa(B, C, H, W, out_channels):
    return dict(in_channels=7 * C, out_channels=out_channels), [(B, C, H, W), (B, 2 * C, H, W), (B, 4 * C, H, W)]


def _msaa_ports(block: MSAA) -> Ports:
    """CM-UNet feeds MSAA scales of C, 2C and 4C channels; other splits of in_channels are left open."""
    c, rest = divmod(block.in_channels, 7)
    ins = (c, 2 * c, 4 * c) if rest == 0 else (None, None, None)
    return Ports(ins, (block.out_channels,), "nchw", "nchw")


def _cbam(B, C, H, W, reduction, kernel_size):
    return dict(channel=C, reduction=reduction, kernel_size=kernel_size, HW=H * W), [(B, C, H, W)]


_WEIGHTING = Hyper("weighting", "sigmoid_softmax", ("sigmoid_softmax", "softmax"),
                   "尺度权重：笔记的 softmax(sigmoid) 或直接 softmax",
                   "scale weights: the note's softmax over sigmoid, or plain softmax")
_SHISRCNET = Paper("SHISRCNet: Super-resolution And Classification Network For Low-resolution Breast Cancer "
                   "Histopathology Image", "Xie, Li, Wang, Zhang, Chen, Shen, Wu", "arXiv preprint (MICCAI 2023 "
                   "is widely reported, unverified)", 2023, "2306.14119", "https://github.com/xiely-123/SHISRCNet")

BLOCKS: dict[str, BlockSpec] = {
    "gated_fusion": BlockSpec(
        key="gated_fusion", cls=GatedFusion, source_name="gatedFusion",
        title_zh="门控融合机制", title_en="Gated fusion",
        fuses_zh="两路同形状特征，逐位置逐通道的门控加权",
        fuses_en="two same-shape inputs, gated per position and channel",
        layout="channels-last (B, H, W, C)",
        paper=Paper("GMAN: A Graph Multi-Attention Network for Traffic Prediction", "Zheng, Fan, Wang, Qi",
                    "AAAI", 2020, "1911.08415", "https://github.com/zhengchuanpan/GMAN"),
        demo_kwargs=dict(dim=64), demo_shapes=[(1, 224, 224, 64)] * 2,
        defaults=dict(B=1, C=64, H=32, W=32),
        hypers=(Hyper("layout", "channels_last", ("channels_last", "nchw"), "输入布局", "input layout"),),
        ports=_gated_ports,
        make=_gated, inputs=("x1", "x2")),
    "msf": BlockSpec(
        key="msf", cls=MSFBlock, source_name="MSFblock",
        title_zh="多尺度选择性融合", title_en="Multi-scale selective fusion (MSF)",
        fuses_zh="四个同形状输入，每通道一组尺度权重", fuses_en="four same-shape inputs, per-channel scale weights",
        layout="NCHW", paper=_SHISRCNET,
        demo_kwargs=dict(in_channels=3), demo_shapes=[(4, 3, 2, 2)] * 4,
        defaults=dict(B=4, C=3, H=2, W=2), hypers=(_WEIGHTING,),
        ports=lambda m: Ports((m.in_channels,) * 4, (m.in_channels,), "nchw", "nchw"),
        make=_msf, inputs=("x0", "x1", "x2", "x3")),
    "mfe": BlockSpec(
        key="mfe", cls=MFEBlock, source_name="MFEblock",
        title_zh="多尺度空间特征提取", title_en="Multi-scale feature extraction (MFE)",
        fuses_zh="一个输入的四个级联空洞卷积分支", fuses_en="four cascaded dilated branches of one input",
        layout="NCHW", paper=_SHISRCNET,
        demo_kwargs=dict(in_channels=64, atrous_rates=[2, 4, 8]), demo_shapes=[(1, 64, 192, 192)],
        defaults=dict(B=1, C=64, H=64, W=64),
        hypers=(Hyper("rate1", 2, tuple(range(1, 17)), "分支 2 的空洞率", "dilation of branch 2"),
                Hyper("rate2", 4, tuple(range(1, 17)), "分支 3 的空洞率", "dilation of branch 3"),
                Hyper("rate3", 8, tuple(range(1, 17)), "分支 4 的空洞率", "dilation of branch 4"),
                _WEIGHTING),
        ports=lambda m: Ports((m.in_channels,), (m.in_channels,), "nchw", "nchw"),
        make=_mfe),
    "safm": BlockSpec(
        key="safm", cls=SAFM, source_name="SAFM",
        title_zh="空间自适应特征调制 (SAFM)", title_en="Spatially-adaptive feature modulation (SAFM)",
        fuses_zh="同一输入在 L 个分辨率上的通道组", fuses_en="channel groups of one input at L resolutions",
        layout="NCHW",
        paper=Paper("Spatially-Adaptive Feature Modulation for Efficient Image Super-Resolution",
                    "Sun, Dong, Tang, Pan", "ICCV", 2023, "2302.13800", "https://github.com/sunny2109/SAFMN"),
        demo_kwargs=dict(dim=36), demo_shapes=[(1, 36, 224, 224)],
        defaults=dict(B=1, C=36, H=64, W=64),
        hypers=(Hyper("n_levels", 4, tuple(range(1, 9)), "尺度个数 L", "number of scales L"),
                Hyper("pool", "max", ("max", "avg"), "粗尺度的池化方式", "pooling of the coarse levels")),
        ports=lambda m: Ports((m.dim,), (m.dim,), "nchw", "nchw"),
        make=_safm),
    "osra": BlockSpec(
        key="osra", cls=OSRAttention, source_name="OSRAttention",
        title_zh="重叠空间缩减注意力 (OSRA)", title_en="Overlapping spatial reduction attention (OSRA)",
        fuses_zh="全分辨率的 query 与缩减网格上的 key/value",
        fuses_en="full-resolution queries with reduced-grid keys/values",
        layout="NCHW",
        paper=Paper("TransXNet: Learning Both Global and Local Dynamics with a Dual Dynamic Token Mixer for "
                    "Visual Recognition", "Lou, Zhang, Zhou, Yang, Wu, Yu", "IEEE TNNLS", 2025, "2310.19380",
                    "https://github.com/LMMMEng/TransXNet"),
        demo_kwargs=dict(dim=64), demo_shapes=[(1, 64, 7, 7)],
        defaults=dict(B=1, C=64, H=32, W=32),
        hypers=(Hyper("num_heads", 8, tuple(range(1, 17)), "注意力头数 nh", "attention heads nh"),
                Hyper("sr_ratio", 2, tuple(range(1, 9)), "空间缩减比 r", "spatial-reduction ratio r"),
                Hyper("act", "relu", ("relu", "gelu"), "缩减分支的激活：笔记用 ReLU，官方用 GELU",
                      "activation in sr: ReLU (note) or GELU (official)")),
        ports=lambda m: Ports((m.dim,), (m.dim,), "nchw", "nchw"),
        make=_osra),
    "msaa": BlockSpec(
        key="msaa", cls=MSAA, source_name="MSAA",
        title_zh="多尺度注意力聚合 (MSAA)", title_en="Multi-scale attention aggregation (MSAA)",
        fuses_zh="三个尺度（C、2C、4C 通道）的特征", fuses_en="three scales with C, 2C and 4C channels",
        layout="NCHW",
        paper=Paper("CM-UNet: Hybrid CNN-Mamba UNet for Remote Sensing Image Semantic Segmentation",
                    "Liu, Dan, Lu, Yu, Li, Li", "arXiv preprint", 2024, "2405.10530",
                    "https://github.com/XiaoBuL/CM-UNet"),
        demo_kwargs=dict(in_channels=112, out_channels=64),
        demo_shapes=[(1, 16, 56, 56), (1, 32, 56, 56), (1, 64, 56, 56)],
        defaults=dict(B=1, C=16, H=56, W=56),
        hypers=(Hyper("out_channels", 64, (4, 8, 12, 16, 32, 64, 128, 256), "输出通道数（≥ 16）",
                      "output channels (>= 16)"),),
        ports=_msaa_ports,
        make=_msaa, inputs=("x1", "x2", "x4"),
        dims_note="C is x1's channels; x2 has 2C and x4 has 4C, so in_channels = 7C (CM-UNet: 16+32+64).",
        dims_note_zh="C 是 x1 的通道数；x2 有 2C、x4 有 4C，所以 in_channels = 7C（CM-UNet：16+32+64）。"),
    "cbam_joint": BlockSpec(
        key="cbam_joint", cls=CBAMBlock, source_name="CBAMBlock",
        title_zh="融合通道表示的空间注意力（CBAM 变体）",
        title_en="Spatial attention fused with channel descriptors (CBAM variant)",
        fuses_zh="通道描述符与 H×W 空间描述符，经一个联合 MLP",
        fuses_en="channel and H*W spatial descriptors, mixed by one joint MLP",
        layout="NCHW",
        paper=Paper("CBAM: Convolutional Block Attention Module (parent; the joint-MLP variant has no paper)",
                    "Woo, Park, Lee, Kweon", "ECCV", 2018, "1807.06521",
                    "https://github.com/Jongchan/attention-module"),
        demo_kwargs=dict(channel=64, reduction=8, kernel_size=7, HW=49), demo_shapes=[(1, 64, 7, 7)],
        defaults=dict(B=1, C=64, H=7, W=7),
        hypers=(Hyper("reduction", 8, (1, 2, 4, 8, 16, 32, 64, 128), "MLP 压缩比 r", "MLP reduction r"),
                Hyper("kernel_size", 7, (1, 3, 4, 5, 7, 9, 49), "空间卷积核（须为奇数）", "spatial kernel (odd)")),
        ports=lambda m: Ports((m.channel,), (m.channel, m.channel), "nchw", "nchw"),
        make=_cbam, dims_note="HW is set to H*W: the block is rebuilt for every size.",
        dims_note_zh="HW 取 H*W：每换一个尺寸，模块就重建一次。"),
}


def get_spec(key: str) -> BlockSpec:
    """`BLOCKS[key]` with a helpful error for an unknown key."""
    try:
        return BLOCKS[key]
    except KeyError:
        raise value_error("fusion_edu", f"block key must be one of {list(BLOCKS)}", {"key": key},
                          "Run `python -m fusion_edu list` to see the catalog.",
                          zh=f"block key 只能是 {list(BLOCKS)} 之一",
                          zh_hint="运行 python -m fusion_edu list 查看目录。") from None


def meta_trace(key: str, *, strict: bool = True, lang: str | None = None, train: bool = True,
               **values: Any) -> Trace:
    """Traces catalog block `key` on the meta device: shapes only, no tensor memory.

    Args:
        key: A key of `BLOCKS`, e.g. ``"osra"``.
        strict: As in `fusion_edu.trace`.
        lang: As in `fusion_edu.trace`.
        train: Trace in training mode (the mode of a freshly built block) or in eval mode.
        **values: B, C, H, W and the block's hyperparameters by name; the rest take the
            catalog's defaults.

    Example:
        >>> meta_trace("safm", B=64, C=512, H=512, W=512).output_shapes
        [(64, 512, 512, 512)]
    """
    spec = get_spec(key)
    module, inputs = spec.build(device="meta", **values)
    module.train(train)
    return trace(module, *inputs, strict=strict, lang=lang, name=f"{spec.cls.__name__} [{key}]")
