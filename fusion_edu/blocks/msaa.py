"""MSAA: Multi-Scale Attention Aggregation (多尺度注意力聚合).

Paper: Liu et al., "CM-UNet: Hybrid CNN-Mamba UNet for Remote Sensing Image Semantic
Segmentation", arXiv 2405.10530 (2024). The note has only a picture; this follows the official
module (XiaoBuL/CM-UNet ``mamba_sys.py``). State-dict names kept: ``fusion_conv.*``, including the
unused ``down_2`` so official checkpoints load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import checks_on, require_int, require_tensors, shape_error, value_error
from ..trace import note, section


class ChannelAttentionModule(nn.Module):
    """CBAM-style channel gate: sigmoid(MLP(avg-pool) + MLP(max-pool)), one weight per channel.

    Shape:
        x: (B, D, H, W)
        out: (B, D, 1, 1), values in (0, 1)
    """

    def __init__(self, in_channels: int, reduction: int = 4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Sequential(
            nn.Conv2d(in_channels, in_channels // reduction, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels // reduction, in_channels, 1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        section("通道注意力", "channel attention")
        avg = self.avg_pool(x)
        note(avg, "B D 1 1", "全局平均池化：每通道一个数", "global average pool: one number per channel")
        peak = self.max_pool(x)
        note(peak, "B D 1 1", "全局最大池化：每通道一个数", "global max pool: one number per channel")
        avg = self.fc(avg)
        note(avg, "B D 1 1", "共享 MLP（D → D/4 → D）处理平均值", "shared MLP (D -> D/4 -> D) on the average")
        peak = self.fc(peak)
        note(peak, "B D 1 1", "同一个 MLP 处理最大值", "the same MLP on the maximum")
        return torch.sigmoid(avg + peak)


class SpatialAttentionModule(nn.Module):
    """Spatial gate: per-pixel channel mean and max, a 7x7 conv, sigmoid.

    Shape:
        x: (B, D, H, W)
        out: (B, 1, H, W), values in (0, 1)
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        section("空间注意力", "spatial attention")
        mean = x.mean(dim=1, keepdim=True)
        note(mean, "B 1 H W", "逐像素的通道均值", "per-pixel mean over channels")
        peak = x.amax(dim=1, keepdim=True)
        note(peak, "B 1 H W", "逐像素的通道最大值", "per-pixel max over channels")
        pooled = torch.cat([mean, peak], dim=1)
        note(pooled, "B 2 H W", "拼接 [均值, 最大值]", "concatenate [mean, max]")
        gate = self.conv1(pooled)
        note(gate, "B 1 H W", "7×7 卷积压成一张图", "a 7x7 conv makes one map")
        return torch.sigmoid(gate)


class FusionConv(nn.Module):
    """The body of MSAA: reduce to D channels, gate by channel and by space, add, project.

    Shape:
        x1, x2, x4: (B, C_i, H, W) with C_1 + C_2 + C_3 = in_channels
        out: (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, factor: float = 4.0):
        super().__init__()
        dim = int(out_channels // factor)
        self.down = nn.Conv2d(in_channels, dim, kernel_size=1, stride=1)
        self.conv_3x3 = nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1)
        self.conv_5x5 = nn.Conv2d(dim, dim, kernel_size=5, stride=1, padding=2)
        self.conv_7x7 = nn.Conv2d(dim, dim, kernel_size=7, stride=1, padding=3)
        self.spatial_attention = SpatialAttentionModule()
        self.channel_attention = ChannelAttentionModule(dim)
        self.up = nn.Conv2d(dim, out_channels, kernel_size=1, stride=1)
        self.down_2 = nn.Conv2d(in_channels, dim, kernel_size=1, stride=1)  # unused upstream; kept for the keys

    def forward(self, x1: Tensor, x2: Tensor, x4: Tensor) -> Tensor:
        x = torch.cat([x1, x2, x4], dim=1)
        note(x, "B Cin H W", "三个尺度按通道拼接", "concatenate the three scales on channels")
        x = self.down(x)
        note(x, "B D H W", "down：1×1 卷积降到 D = Cout/4", "down: 1x1 conv to D = Cout/4 channels")
        section("通道路径", "channel path")
        channel_gate = self.channel_attention(x)
        note(channel_gate, "B D 1 1", "相加，sigmoid：通道门 Ca", "sum, sigmoid: channel gate Ca", key="channel_gate")
        x_fused_c = x * channel_gate
        note(x_fused_c, "B D H W", "Fc = F ⊙ Ca：按通道加权", "Fc = F * Ca: channels reweighted")
        section("多尺度空间路径", "multi-scale spatial path")
        r3 = self.conv_3x3(x)
        note(r3, "B D H W", "3×3 卷积（读 F，不是 Fc）", "3x3 conv (reads F, not Fc)", key="r3")
        r5 = self.conv_5x5(x)
        note(r5, "B D H W", "5×5 卷积", "5x5 conv", key="r5")
        r7 = self.conv_7x7(x)
        note(r7, "B D H W", "7×7 卷积", "7x7 conv", key="r7")
        x_out = r3 + r5 + r7
        note(x_out, "B D H W", "三种感受野相加：S", "the three receptive fields summed: S")
        spatial_gate = self.spatial_attention(x_out)
        note(spatial_gate, "B 1 H W", "sigmoid：空间门 Sa", "sigmoid: spatial gate Sa", key="spatial_gate")
        x_fused_s = x_out * spatial_gate
        note(x_fused_s, "B D H W", "Fs = S ⊙ Sa：按位置加权", "Fs = S * Sa: positions reweighted")
        section("聚合", "aggregation")
        out = self.up(x_fused_s + x_fused_c)
        note(out, "B Cout H W", "Fs + Fc，up：1×1 卷积到 Cout（无残差）", "Fs + Fc, up: 1x1 conv to Cout, no residual")
        return out


class MSAA(nn.Module):
    """Fuse three same-size feature maps with a channel gate and a multi-scale spatial gate.

    Shape:
        x1, x2, x4: (B, C_i, H, W), same B, H, W; C_1 + C_2 + C_3 = in_channels
        out: (B, out_channels, H, W)

    Args:
        in_channels: Sum of the three inputs' channels (CM-UNet: 16 + 32 + 64 = 112).
        out_channels: Output channels; the inner width is D = out_channels // 4, and the channel
            MLP's hidden width D // 4 must be >= 1, so out_channels >= 16.

    Differences from source: validation added; ``last`` is accepted and ignored, as upstream.

    Example:
        >>> import torch
        >>> xs = [torch.randn(1, c, 28, 28) for c in (16, 32, 64)]
        >>> MSAA(112, 64)(*xs).shape
        torch.Size([1, 64, 28, 28])
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("MSAA", "in_channels", in_channels)
            require_int("MSAA", "out_channels", out_channels)
            if out_channels < 16:
                raise value_error("MSAA", "out_channels must be >= 16 (inner width D = out_channels//4, and the "
                                  "channel MLP's hidden width D//4 must be >= 1)", {"out_channels": out_channels},
                                  "Try out_channels=16 or more.",
                                  zh="out_channels 必须 ≥ 16（内部宽度 D = out_channels//4，"
                                     "通道 MLP 的隐藏宽度 D//4 至少为 1）",
                                  zh_hint="可试 out_channels=16 或更大。")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.fusion_conv = FusionConv(in_channels, out_channels)

    def forward(self, x1: Tensor, x2: Tensor, x4: Tensor, last: bool = False) -> Tensor:
        if checks_on():
            self._check(x1, x2, x4)
        note(x1, "B C1 H W", "x1：编码器的第一个尺度（已缩放到同一 H×W）", "x1: the first encoder scale, resized")
        note(x2, "B C2 H W", "x2：编码器的第二个尺度", "x2: the second encoder scale")
        note(x4, "B C3 H W", "x4：编码器的第三个尺度", "x4: the third encoder scale")
        out = self.fusion_conv(x1, x2, x4)
        note(out, "B Cout H W", "输出：与输入同分辨率", "output at the input resolution")
        return out

    def _check(self, x1: Tensor, x2: Tensor, x4: Tensor) -> None:
        names = ("x1", "x2", "x4")
        require_tensors("MSAA", names, (x1, x2, x4), ndim=4)
        base = (x1.shape[0], *x1.shape[2:])
        for name, x in zip(names[1:], (x2, x4)):
            if (x.shape[0], *x.shape[2:]) != base:
                raise shape_error("MSAA", "x1, x2 and x4 must share B, H and W",
                                  {"x1.shape": tuple(x1.shape), f"{name}.shape": tuple(x.shape)},
                                  "Resize each scale first, e.g. F.interpolate(x, size=x1.shape[-2:], "
                                  "mode='bilinear', align_corners=True).",
                                  zh="x1、x2、x4 的 B、H、W 必须相同",
                                  zh_hint="请先把各尺度缩放到同一大小，例如 F.interpolate(x, size=x1.shape[-2:])。")
        total = x1.shape[1] + x2.shape[1] + x4.shape[1]
        if total != self.in_channels:
            raise shape_error("MSAA", f"the inputs' channels must add up to in_channels={self.in_channels}",
                              {"channels": (x1.shape[1], x2.shape[1], x4.shape[1]), "sum": total},
                              f"Build MSAA({total}, {self.out_channels}) or project the inputs.",
                              zh=f"三个输入的通道数之和必须等于 in_channels={self.in_channels}",
                              zh_hint=f"可改建 MSAA({total}, {self.out_channels})。")
