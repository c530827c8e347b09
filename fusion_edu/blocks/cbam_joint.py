"""CBAM variant with a joint MLP over channel and spatial descriptors (融合通道表示的空间注意力).

Parent paper: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018, arXiv 1807.06521.
The joint-MLP variant itself is a community modification with no paper. Source: the note's
CBAMBlock. State-dict names kept: ChannelAttention.se, SpatialAttention.conv, MLP.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import init

from ..errors import checks_on, require_int, require_tensors, shape_error, value_error
from ..trace import note, section, watch


class ChannelAttention(nn.Module):
    """Channel descriptor: shared MLP on the max- and avg-pooled input, summed (logits, no sigmoid).

    Shape:
        x: (B, C, H, W)
        out: (B, C, 1, 1)
    """

    def __init__(self, channel: int, reduction: int = 16):
        super().__init__()
        self.maxpool = nn.AdaptiveMaxPool2d(1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.se = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()  # defined but unused in the note

    def forward(self, x: Tensor) -> Tensor:
        section("通道分支", "channel branch")
        max_result = self.maxpool(x)
        note(max_result, "B C 1 1", "最大池化：压缩全局空间信息", "max-pool: squeeze the spatial information")
        avg_result = self.avgpool(x)
        note(avg_result, "B C 1 1", "平均池化：压缩全局空间信息", "avg-pool: squeeze the spatial information")
        max_out = self.se(max_result)
        note(max_out, "B C 1 1", "共享同一个 MLP（se）", "the shared MLP (se) on the max")
        avg_out = self.se(avg_result)
        note(avg_out, "B C 1 1", "同一个 MLP 处理平均值", "the same MLP on the mean")
        output = max_out + avg_out
        note(output, "B C 1 1", "两路相加（这里没有 sigmoid）", "the two summed (no sigmoid here)")
        return output


class SpatialAttention(nn.Module):
    """Spatial descriptor: per-pixel channel max and mean, then a k x k conv (logits, no sigmoid).

    Shape:
        x: (B, C, H, W)
        out: (B, 1, H, W) for odd kernel_size
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size=kernel_size, padding=kernel_size // 2)
        self.sigmoid = nn.Sigmoid()  # defined but unused in the note

    def forward(self, x: Tensor) -> Tensor:
        section("空间分支", "spatial branch")
        max_result = x.amax(dim=1, keepdim=True)
        note(max_result, "B 1 H W", "通道最大值：压缩全局通道信息", "channel max: squeeze the channels")
        avg_result = x.mean(dim=1, keepdim=True)
        note(avg_result, "B 1 H W", "通道平均值：压缩全局通道信息", "channel mean: squeeze the channels")
        result = torch.cat([max_result, avg_result], 1)
        note(result, "B 2 H W", "在通道上拼接两张图", "concatenate the two maps on channels")
        output = self.conv(result)
        note(output, "B 1 H W", "k×k 卷积降回 1 张图（没有 sigmoid）", "a k x k conv back to one map (no sigmoid)")
        return output


class CBAMBlock(nn.Module):
    """Channel and spatial descriptors mixed by one MLP over C + H*W features, returned as two gates.

    The spatial map (H*W numbers) is flattened into the channel axis, so the MLP's weights are
    tied to absolute pixel positions: the block is built for one H*W and cannot take another.
    Both gates are applied in parallel to x (standard CBAM applies them in sequence) and the
    block returns the two products.

    Shape:
        x: (B, C, H, W) with C = channel and H*W = HW
        out: (out1, out2), each (B, C, H, W): x * channel weight and x * spatial weight

    Args:
        channel: Channels C.
        reduction: MLP bottleneck C // reduction (must be >= 1).
        kernel_size: Odd kernel of the spatial conv.
        HW: H*W of the inputs this block will see (required).
        squash_descriptors: Apply the sigmoids that the note defines but never uses to the two
            descriptors before the joint MLP (default False, the note's behaviour).
        size: Optional ``(H, W)``. The note checks only H*W, so a block built for 8x8 runs on a
            4x16 map with its position-tied weights misaligned; with `size` the check is exact.
            ``HW`` may then be left out (it becomes H*W). Parameters and state_dict are unchanged.

    Differences from source: validation added; ``init_weights`` kept but, as in the note, not
    called; ``squash_descriptors`` and ``size`` switches added.

    Example:
        >>> import torch
        >>> out1, out2 = CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=49)(torch.randn(1, 64, 7, 7))
        >>> out1.shape, out2.shape
        (torch.Size([1, 64, 7, 7]), torch.Size([1, 64, 7, 7]))
    """

    def __init__(self, channel: int = 512, reduction: int = 16, kernel_size: int = 49, HW: int | None = None,
                 *, squash_descriptors: bool = False, size: tuple[int, int] | None = None):
        super().__init__()
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("CBAMBlock", "channel", channel)
            require_int("CBAMBlock", "reduction", reduction)
            require_int("CBAMBlock", "kernel_size", kernel_size)
            if size is not None:
                size = _check_size(size, HW)
        if size is not None and HW is None:
            HW = size[0] * size[1]
        if checks_on():
            if HW is None:
                raise value_error("CBAMBlock", "HW (= H*W of the input) is required because the joint MLP mixes "
                                  "C + H*W features", {"HW": None}, "Example: CBAMBlock(64, HW=7*7).",
                                  zh="必须给出 HW（输入的 H×W），因为联合 MLP 混合 C + H×W 个特征",
                                  zh_hint="例如 CBAMBlock(64, HW=7*7)。")
            require_int("CBAMBlock", "HW", HW, hint="HW is H*W of the input, e.g. HW=7*7.")
            if reduction > channel:
                raise value_error("CBAMBlock", "reduction must be <= channel so the MLP keeps channel // reduction "
                                  ">= 1 units", {"channel": channel, "reduction": reduction},
                                  f"Try reduction={max(1, channel // 8)}.",
                                  zh="reduction 不能大于 channel，否则 MLP 的隐藏单元 channel // reduction 为 0",
                                  zh_hint=f"可试 reduction={max(1, channel // 8)}。")
            if kernel_size % 2 == 0:
                raise value_error("CBAMBlock", "kernel_size must be odd so the spatial map stays H x W",
                                  {"kernel_size": kernel_size}, f"Try kernel_size={kernel_size + 1}.",
                                  zh="kernel_size 必须是奇数，空间图才能保持 H×W",
                                  zh_hint=f"可试 kernel_size={kernel_size + 1}。")
        self.ChannelAttention = ChannelAttention(channel=channel, reduction=reduction)
        self.SpatialAttention = SpatialAttention(kernel_size=kernel_size)
        self.joint_channel = channel + HW
        self.MLP = nn.Sequential(
            nn.Conv2d(self.joint_channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, self.joint_channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()
        self.channel = channel
        self.HW = HW
        self.size = size
        self.squash_descriptors = bool(squash_descriptors)

    def init_weights(self) -> None:
        """The note's initialiser (Kaiming-normal convs); like the note, __init__ does not call it."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if checks_on():
            self._check(x)
        B, C, H, W = x.shape
        note(x, "B C H W", "输入特征图", "input feature map")
        channel_x = self.ChannelAttention(x).reshape(B, C, 1, 1)
        note(channel_x, "B C 1 1", "通道描述 Channel_x", "channel descriptor Channel_x")
        spatial_x = self.SpatialAttention(x)
        if self.squash_descriptors:
            channel_x = self.ChannelAttention.sigmoid(channel_x)
            spatial_x = self.SpatialAttention.sigmoid(spatial_x)
        spatial_x = spatial_x.reshape(B, H * W, 1, 1)
        note(spatial_x, "B H*W 1 1", "空间描述摊平：HW 个数放到通道维", "spatial descriptor: HW values onto channels")
        section("联合 MLP", "joint MLP")
        joint = torch.cat([channel_x, spatial_x], 1)
        note(joint, "B C+H*W 1 1", "拼接成 C + HW 个数，一起建立相关性", "concatenate: C + HW values, mixed together")
        watch(self.MLP[1], "B M 1 1", "MLP 降维到 M = C/r（+ ReLU）", "MLP down to M = C/r (+ ReLU)")
        joint = self.MLP(joint)
        note(joint, "B C+H*W 1 1", "MLP 升维回 C + HW", "MLP back up to C + HW")
        section("拆分与加权", "split and weigh")
        channel_x = joint[:, :C].reshape(B, C, 1, 1)
        note(channel_x, "B C 1 1", "拆出前 C 个：通道部分", "split: the first C values (channel part)")
        spatial_x = joint[:, C:].reshape(B, 1, H, W)
        note(spatial_x, "B 1 H W", "其余 HW 个还原成 H×W 的图", "the other HW values back to an H x W map")
        channel_weight = self.sigmoid(channel_x)
        note(channel_weight, "B C 1 1", "sigmoid：通道权重", "sigmoid: channel weights", key="channel_weight")
        spatial_weight = self.sigmoid(spatial_x)
        note(spatial_weight, "B 1 H W", "sigmoid：空间权重", "sigmoid: spatial weights", key="spatial_weight")
        out1 = x * channel_weight
        note(out1, "B C H W", "out1 = x ⊙ 通道权重", "out1 = x * channel weights")
        out2 = x * spatial_weight
        note(out2, "B C H W", "out2 = x ⊙ 空间权重（怎么用由你定）", "out2 = x * spatial weights (yours to combine)")
        return out1, out2

    def _check(self, x: Tensor) -> None:
        require_tensors("CBAMBlock", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.channel:
            raise shape_error("CBAMBlock", f"x must have channel={self.channel} channels", {"x.shape": (B, C, H, W)},
                              f"Build CBAMBlock(channel={C}, ..., HW={H * W}).",
                              zh=f"x 的通道数必须是 channel={self.channel}",
                              zh_hint=f"可改建 CBAMBlock(channel={C}, ..., HW={H * W})。")
        if self.size is not None and (H, W) != self.size:
            raise shape_error("CBAMBlock", f"built for size={self.size}, and the joint MLP's weights are tied to those "
                              "positions", {"x.shape": (B, C, H, W)},
                              f"Resize the input to {self.size[0]}x{self.size[1]}, or build CBAMBlock(..., "
                              f"size=({H}, {W})).",
                              zh=f"模块按 size={self.size} 构建，联合 MLP 的权重与这些位置一一对应",
                              zh_hint=f"请把输入缩放到 {self.size[0]}×{self.size[1]}，"
                                      f"或重建 CBAMBlock(..., size=({H}, {W}))。")
        if H * W != self.HW:
            raise shape_error("CBAMBlock", f"built for HW={self.HW} but the input is {H}x{W} (HW={H * W}); the "
                              "joint MLP's weights are tied to positions", {"x.shape": (B, C, H, W)},
                              f"Pool or resize the input to HW={self.HW}, or build CBAMBlock(..., HW={H * W}).",
                              zh=f"模块按 HW={self.HW} 构建，但输入是 {H}×{W}（HW={H * W}）；"
                                 "联合 MLP 的权重与像素位置绑定",
                              zh_hint=f"请先把输入池化/缩放到 HW={self.HW}，或重建 CBAMBlock(..., HW={H * W})。")


def _check_size(size: object, HW: int | None) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise value_error("CBAMBlock", "size must be a pair (H, W)", {"size": size}, "Example: size=(7, 7).",
                          zh="size 必须是 (H, W) 两个整数", zh_hint="例如 size=(7, 7)。")
    H, W = (require_int("CBAMBlock", name, value) for name, value in zip(("size[0]", "size[1]"), size))
    if HW is not None and HW != H * W:
        raise value_error("CBAMBlock", "HW must equal H*W of size", {"HW": HW, "size": (H, W)},
                          f"Leave HW out, or pass HW={H * W}.", zh="HW 必须等于 size 的 H×W",
                          zh_hint=f"可以不传 HW，或传 HW={H * W}。")
    return H, W
