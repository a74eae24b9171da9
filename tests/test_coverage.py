"""Every op of the catalogue is emitted by every code generator, or declared as a gap with a reason."""

from __future__ import annotations

import pytest

from archc.backends.base import Backend
from archc.backends.keras import KerasBackend
from archc.backends.pytorch import TorchBackend
from archc.ops import CATALOGUE

BACKENDS: tuple[type[Backend], ...] = (TorchBackend, KerasBackend)


def gaps(backend: type[Backend]) -> list[str]:
    """Ops the backend neither emits nor declares unsupported with an explanation."""
    out = []
    for op in CATALOGUE:
        reason = backend.UNSUPPORTED.get(op, "")
        if not backend.handles(op) and len(reason.split()) < 3:
            out.append(op)
    return out


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.target)
def test_every_op_is_emitted_or_an_explained_gap(backend: type[Backend]) -> None:
    assert gaps(backend) == []


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.target)
def test_declared_gaps_name_real_ops(backend: type[Backend]) -> None:
    assert set(backend.UNSUPPORTED) <= set(CATALOGUE)


def test_a_backend_missing_emitters_is_caught() -> None:
    class Partial(Backend):
        target = "partial"
        UNSUPPORTED = {"lrn": "", "rbf": "no radial basis layer in this framework"}

        def emit_conv(self) -> None: ...

    missing = gaps(Partial)
    assert "conv" not in missing and "rbf" not in missing
    assert "lrn" in missing and "dense" in missing and len(missing) == len(CATALOGUE) - 2
