"""Host networks to stitch blocks into: ResNet-18 (randomly initialised, nothing downloaded) and a small CNN.

`resnet18()` has the layout and the state_dict names of torchvision's ``resnet18`` (``conv1``, ``bn1``,
``layer1`` ... ``layer4`` of two BasicBlocks each, ``fc``), written here so that no torchvision is
needed. Its stages: the stem gives 64 channels at H/4, then layer1 64 ch at H/4, layer2 128 at H/8,
layer3 256 at H/16, layer4 512 at H/32.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import require_int

__all__ = ["BasicBlock", "ResNet", "resnet18", "SmallHost"]


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and a skip (1x1 conv + BN on the skip when the shape changes).

    Shape:
        x: (B, C_in, H, W)
        out: (B, C_out, H // stride, W // stride) (rounded up)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + skip)


class ResNet(nn.Module):
    """A ResNet of BasicBlocks: stem (7x7 stride 2, max-pool), four stages, global pool, classifier.

    Shape:
        x: (B, 3, H, W)
        out: (B, num_classes)
    """

    def __init__(self, blocks: tuple[int, int, int, int] = (2, 2, 2, 2), num_classes: int = 1000, width: int = 64):
        super().__init__()
        require_int("ResNet", "num_classes", num_classes)
        require_int("ResNet", "width", width)
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = [width, 2 * width, 4 * width, 8 * width]
        previous = width
        for i, (n, c) in enumerate(zip(blocks, channels), start=1):
            stride = 1 if i == 1 else 2
            layers = [BasicBlock(previous, c, stride)] + [BasicBlock(c, c) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layers))
            previous = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 1000, width: int = 64) -> ResNet:
    """ResNet-18 with random weights (torchvision's layout and state_dict names; nothing is downloaded).

    Example:
        >>> import torch
        >>> resnet18(num_classes=10).eval()(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 10])
    """
    return ResNet((2, 2, 2, 2), num_classes=num_classes, width=width)


class SmallHost(nn.Module):
    """A small CNN for quick experiments: stem, three stages (C, 2C, 4C channels at H/2, H/4, H/8), head.

    Shape:
        x: (B, 3, H, W)
        out: (B, num_classes)
    """

    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        require_int("SmallHost", "width", width)
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU())
        self.stage1 = BasicBlock(width, width)
        self.stage2 = BasicBlock(width, 2 * width, stride=2)
        self.stage3 = BasicBlock(2 * width, 4 * width, stride=2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stage3(self.stage2(self.stage1(self.stem(x)))))
