"""Two-tower AlexNet as Caffe's bvlc_alexnet, by hand, as an oracle for the generated model.

Input 3x227x227. The grouped layers (conv2, conv4, conv5) are written literally as two towers:
tower A reads the first half of the maps and produces the first half of the outputs, tower B
the second half, and their outputs are concatenated. conv1, conv3 and the dense layers see every
map. LRN is Caffe's (= torch's LocalResponseNorm): x / (k + α/n · Σ x²)^β over n=5 adjacent maps,
written out here rather than taken from torch. 60,965,224 trainable parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn


def lrn(x: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> torch.Tensor:
    """Across-map LRN: map c is divided by (k + α/size · Σ x²)^β over maps c − size//2 … c + (size−1)//2."""
    squares = x * x
    padded = F.pad(squares, (0, 0, 0, 0, size // 2, (size - 1) // 2))  # zero maps before and after
    channels = x.shape[1]
    window = sum(padded[:, i : i + channels] for i in range(size))
    return x / (k + (alpha / size) * window) ** beta


class Towers(nn.Module):
    """A grouped conv as two independent convs on the two halves of the input maps."""

    def __init__(self, in_maps: int, out_maps: int, kernel: int, padding: int) -> None:
        super().__init__()
        self.tower_a = nn.Conv2d(in_maps // 2, out_maps // 2, kernel, padding=padding)
        self.tower_b = nn.Conv2d(in_maps // 2, out_maps // 2, kernel, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[1] // 2
        return torch.cat([self.tower_a(x[:, :half]), self.tower_b(x[:, half:])], dim=1)


class AlexNet(nn.Module):
    def __init__(self, classes: int = 1000, softmax: bool = True) -> None:
        super().__init__()
        self.softmax = softmax
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = Towers(96, 256, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = Towers(384, 384, 3, padding=1)
        self.conv5 = Towers(384, 256, 3, padding=1)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = lrn(F.max_pool2d(F.relu(self.conv1(x)), 3, 2))  # 96x55x55 → 96x27x27
        x = lrn(F.max_pool2d(F.relu(self.conv2(x)), 3, 2))  # 256x27x27 → 256x13x13
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)  # 256x6x6
        x = torch.flatten(x, 1)
        x = F.dropout(F.relu(self.fc6(x)), 0.5, self.training)
        x = F.dropout(F.relu(self.fc7(x)), 0.5, self.training)
        x = self.fc8(x)
        return F.softmax(x, dim=1) if self.softmax else x


@torch.no_grad()
def load_generated(oracle: AlexNet, generated: Mapping[str, torch.Tensor]) -> AlexNet:
    """Copy the generated model's weights (keys = the spec's layer names) into the oracle.

    A grouped weight `convN.weight` (out, in/2, kh, kw) splits into tower A (first out/2 filters,
    reading input maps 0 … in/2 − 1) and tower B (the rest). Every generated floating-point tensor
    must be used exactly once; integer buffers are ignored.
    """
    state = dict(generated)

    def take(key: str, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in state:
            raise KeyError(f"generated state_dict has no {key!r}; it has {sorted(generated)}")
        value = state.pop(key)
        if tuple(value.shape) != shape:
            raise ValueError(f"{key}: generated shape {tuple(value.shape)}, oracle expects {shape}")
        return value

    def dense(layer: nn.Conv2d | nn.Linear, name: str) -> None:
        layer.weight.copy_(take(f"{name}.weight", tuple(layer.weight.shape)))
        layer.bias.copy_(take(f"{name}.bias", tuple(layer.bias.shape)))

    def towers(layer: Towers, name: str) -> None:
        a, b = layer.tower_a, layer.tower_b
        out_a = a.out_channels
        weight = take(f"{name}.weight", (out_a + b.out_channels, *a.weight.shape[1:]))
        bias = take(f"{name}.bias", (out_a + b.out_channels,))
        a.weight.copy_(weight[:out_a])
        a.bias.copy_(bias[:out_a])
        b.weight.copy_(weight[out_a:])
        b.bias.copy_(bias[out_a:])

    dense(oracle.conv1, "conv1")
    towers(oracle.conv2, "conv2")
    dense(oracle.conv3, "conv3")
    towers(oracle.conv4, "conv4")
    towers(oracle.conv5, "conv5")
    dense(oracle.fc6, "fc6")
    dense(oracle.fc7, "fc7")
    dense(oracle.fc8, "fc8")
    leftover = sorted(k for k, v in state.items() if v.is_floating_point())
    if leftover:
        raise KeyError(f"generated weights the oracle has no place for: {leftover}")
    return oracle
