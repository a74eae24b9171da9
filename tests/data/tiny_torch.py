"""Small PyTorch models that `archc import PACKAGE.MODULE:CALLABLE` tests import (tests/test_import_torch.py)."""

from __future__ import annotations

import torch
from torch import nn


def tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


class Rolled(nn.Module):
    """torch.roll has no archc op: the import names it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.roll(self.conv(x), 1, 2)


def rolled() -> nn.Module:
    return Rolled()
