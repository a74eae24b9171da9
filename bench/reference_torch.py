"""Hand-written PyTorch references for the benchmark, in the style of torchvision's models.

Written independently of archc's generator, the way a careful user would write them by hand,
so that `bench/run.py` can compare the generated models with code nobody generated. Each
constructor takes `logits`: False keeps the spec's trailing softmax (the generated `softmax=True`),
True drops it (the generated `logits=True`), for losses that take logits.

Parameter counts equal shared/reference/numbers.md (tests/test_bench.py checks them):
LeNet-5 60,840; AlexNet 60,965,224; VGG16 138,357,544; GoogLeNet 6,998,552 without and
13,378,280 with its two auxiliary heads.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- LeNet-5

# Table I of LeCun et al. 1998: the S2 maps each C3 map reads.
LENET_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5), (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


class ScaledTanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsample(nn.Module):
    """LeNet's trainable 2x2 subsampling: window sum × coefficient + bias, per map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.avg_pool2d(x, 2) * 4.0
        return torch.sigmoid(s * self.weight[:, None, None] + self.bias[:, None, None])


class TableConv2d(nn.Module):
    """A conv with a connection table: one kernel per link, scattered into a dense weight per call.

    `weight` holds the 60 linked 5x5 kernels (output map, then input map, ascending) and `bias`
    one value per output map: 1,516 parameters. Each forward builds the (16, 6, 5, 5) weight with
    zeros where Table I has no link and runs one dense conv, the fastest way on a CPU (one grouped
    conv per fan-in, or one conv per map, are several times slower at these sizes).
    """

    def __init__(self, table: tuple[tuple[int, ...], ...], kernel_size: int) -> None:
        super().__init__()
        self.out_channels = len(table)
        self.in_channels = 1 + max(i for src in table for i in src)
        self.kernel_size = kernel_size
        rows = [j for j, src in enumerate(table) for _ in src]
        cols = [i for src in table for i in src]
        fan_in = torch.tensor([len(table[j]) * kernel_size * kernel_size for j in rows], dtype=torch.float32)
        bound = (1.0 / fan_in).sqrt()[:, None, None]  # nn.Conv2d's default init, per map's real fan-in
        self.weight = nn.Parameter((torch.rand(len(rows), kernel_size, kernel_size) * 2 - 1) * bound)
        self.bias = nn.Parameter((torch.rand(len(table)) * 2 - 1) / torch.tensor([len(s) * kernel_size**2 for s in table]).sqrt())
        self.register_buffer("rows", torch.tensor(rows), persistent=False)
        self.register_buffer("cols", torch.tensor(cols), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, k, k).index_put((self.rows, self.cols), self.weight)
        return F.conv2d(x, dense, self.bias)


class RBF(nn.Module):
    """Euclidean RBF output units: y_i = Σ_j (x_j − w_ij)²."""

    def __init__(self, in_features: int, units: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(units, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * x).sum(1, keepdim=True) - 2.0 * x @ self.weight.t() + (self.weight * self.weight).sum(1)


class LeNet5(nn.Module):
    def __init__(self, logits: bool = False) -> None:
        super().__init__()
        del logits  # the RBF output has no softmax to drop
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            ScaledTanh(),
            Subsample(6),
            TableConv2d(LENET_TABLE, 5),
            ScaledTanh(),
            Subsample(16),
            nn.Conv2d(16, 120, 5),
            ScaledTanh(),
        )
        self.classifier = nn.Sequential(nn.Linear(120, 84), ScaledTanh(), RBF(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- AlexNet


class AlexNet(nn.Module):
    """Caffe's bvlc_alexnet: input 227, LRN after the first two pools, groups=2 in conv2/4/5."""

    def __init__(self, num_classes: int = 1000, logits: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
            nn.Conv2d(96, 256, 5, padding=2, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
            nn.Conv2d(256, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        self.softmax = nn.Identity() if logits else nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax(self.classifier(torch.flatten(self.features(x), 1)))


# ---------------------------------------------------------------- VGG16


class VGG16(nn.Module):
    """Configuration D: thirteen 3x3 convs (pad 1) in five stages, 2x2/2 max pools, three dense layers."""

    cfg = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

    def __init__(self, num_classes: int = 1000, logits: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in self.cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                assert isinstance(v, int)
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        self.softmax = nn.Identity() if logits else nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax(self.classifier(torch.flatten(self.features(x), 1)))


# ---------------------------------------------------------------- GoogLeNet


class GoogLeNetOutputs(NamedTuple):
    main: torch.Tensor
    aux1: torch.Tensor
    aux2: torch.Tensor


class BasicConv2d(nn.Module):
    """Conv + ReLU (Caffe's GoogLeNet has no batch norm)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


class Inception(nn.Module):
    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1), BasicConv2d(ch5x5red, ch5x5, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(in_channels, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, logits: bool) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.avg_pool2d(x, 5, stride=3))  # 14x14 → 4x4
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True))
        x = self.fc2(x)
        return x if self.logits else F.softmax(x, dim=1)


class GoogLeNet(nn.Module):
    """bvlc_googlenet: ceil-mode stride-2 pools, LRN after pool1 and conv2, true 5x5 branches.

    In training mode with aux heads, `forward` returns (main, aux1, aux2); otherwise the main output.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, logits: bool = False) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        self.aux1 = InceptionAux(512, num_classes, logits) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, logits) if aux_logits else None
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x = self.lrn1(self.maxpool1(self.conv1(x)))  # 64x56x56
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))  # 192x28x28
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # 480x14x14
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))  # 832x7x7
        x = self.inception5b(self.inception5a(x))  # 1024x7x7
        x = self.fc(self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))
        if not self.logits:
            x = F.softmax(x, dim=1)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(x, aux1, aux2)
        return x


MODELS = {"lenet5": LeNet5, "alexnet": AlexNet, "vgg16": VGG16, "googlenet": GoogLeNet}
INPUTS = {"lenet5": (1, 32, 32), "alexnet": (3, 227, 227), "vgg16": (3, 224, 224), "googlenet": (3, 224, 224)}


def build(name: str, logits: bool = False) -> nn.Module:
    return MODELS[name](logits=logits)
