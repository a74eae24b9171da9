"""One op, one place: every op of the catalogue is known to every place that handles ops.

CATALOGUE (archc/ops.py) is the single list of ops, activations and merge kinds. Every other
table keyed by op name is listed in PLACES below, and `test_every_op_is_known_everywhere` checks
each op against each place, failing with the file and the table to edit. The recipe in ops.py's
docstring names the same places (`test_the_recipe_names_every_place`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from archc import memory, ops, reference, shapes, weights
from archc.backends import keras as keras_backend
from archc.backends import pytorch as torch_backend
from archc.backends.base import Backend
from archc.backends.dot import DotBackend
from archc.backends.keras import KerasBackend
from archc.backends.pytorch import TorchBackend
from archc.ops import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
BACKENDS: tuple[type[Backend], ...] = (TorchBackend, KerasBackend)


def gaps(backend: type[Backend]) -> list[str]:
    """Ops the backend neither emits nor declares unsupported with an explanation."""
    out = []
    for op in CATALOGUE:
        reason = backend.UNSUPPORTED.get(op, "")
        if not backend.handles(op) and len(reason.split()) < 3:
            out.append(op)
    return out


def _emitted_or_explained(backend: type[Backend]) -> Callable[[], set[str]]:
    return lambda: set(CATALOGUE) - set(gaps(backend))


@cache
def _doc_sections() -> set[str]:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    return {name for heading in re.findall(r"^### (.*)$", text, re.M) for name in re.findall(r"`(\w+)`", heading)}


@cache
def _generated_ops() -> set[str]:
    """The ops (and fused activations) that the campaign's spec generator writes, over 300 seeds."""
    import archc
    from tests.specgen import spec

    nets = [net for seed in range(300) for net in archc.compile_source(spec(seed)).networks]
    return {n.op for net in nets for n in net.layers} | {n.activation for net in nets for n in net.layers if n.activation}


ALL = frozenset(CATALOGUE)
FUSED = frozenset(ops.ACTIVATIONS)  # what may follow an op as its fused activation
TRAINABLE = frozenset(name for name, op in CATALOGUE.items() if op.trainable)


@dataclass(frozen=True)
class Place:
    file: str
    table: str
    known: Callable[[], set[str]]
    needs: frozenset[str]  # the ops this place must know


PLACES = (
    Place("archc/shapes.py", "RULES", lambda: set(shapes.RULES), ALL),
    Place("archc/reference.py", "OPS", lambda: set(reference.OPS), ALL),
    Place("archc/reference.py", "ACTIVATIONS", lambda: set(reference.ACTIVATIONS), FUSED),
    Place("archc/reference.py", "PARAMS (param_shapes)", lambda: set(reference.PARAMS), TRAINABLE),
    Place("archc/backends/pytorch.py", "TorchBackend.emit_<op> or UNSUPPORTED", _emitted_or_explained(TorchBackend), ALL),
    Place("archc/backends/pytorch.py", "ACTIVATION", lambda: set(torch_backend.ACTIVATION), FUSED),
    Place("archc/backends/keras.py", "KerasBackend.emit_<op> or UNSUPPORTED", _emitted_or_explained(KerasBackend), ALL),
    Place("archc/backends/keras.py", "ACTIVATION", lambda: set(keras_backend.ACTIVATION), FUSED),
    Place("archc/backends/dot.py", "DotBackend.SIMPLE or emit_<op>", lambda: {op for op in CATALOGUE if DotBackend.handles(op)}, ALL),
    Place("archc/memory.py", "SAVES", lambda: set(memory.SAVES), ALL),
    Place("archc/weights.py", "TENSORS", lambda: set(weights.TENSORS), TRAINABLE),
    Place("tests/specgen.py", "a generator (300 seeds must reach the op)", _generated_ops, ALL),
    Place("docs/language.md", "a `### ` section naming the op in backticks", _doc_sections, ALL),
)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: f"{p.file}:{p.table.split()[0]}")
def test_every_op_is_known_everywhere(place: Place) -> None:
    missing = sorted(place.needs - place.known())
    assert not missing, f"add {', '.join(missing)} to {place.table} in {place.file} (see the recipe in archc/ops.py)"


@pytest.mark.parametrize("place", [p for p in PLACES if not p.file.startswith(("tests/", "docs/"))], ids=lambda p: p.file)
def test_no_place_knows_an_op_the_catalogue_lacks(place: Place) -> None:
    assert place.known() <= ALL | {"input"}, f"{place.file} {place.table}: {sorted(place.known() - ALL)} are not in the catalogue"


def test_the_recipe_names_every_place() -> None:
    recipe = ops.__doc__ or ""
    for place in PLACES:
        assert place.file in recipe, f"the recipe in archc/ops.py does not mention {place.file}"
        assert place.table.split()[0].split(".")[0].split("<")[0] in recipe, place.table


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


def test_a_place_missing_an_op_names_the_file_and_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The failure a contributor sees when a step of the recipe is left out."""
    monkeypatch.delitem(torch_backend.ACTIVATION, "relu6")
    place = next(p for p in PLACES if p.file == "archc/backends/pytorch.py" and p.table == "ACTIVATION")
    with pytest.raises(AssertionError, match=r"add relu6 to ACTIVATION in archc/backends/pytorch\.py"):
        test_every_op_is_known_everywhere(place)


def test_derived_lists_follow_the_catalogue() -> None:
    assert set(ops.MERGES) == {name for name, op in CATALOGUE.items() if op.merge}
    assert set(ops.ACTIVATIONS) == {name for name, op in CATALOGUE.items() if op.family == "activation" and not op.trainable}
    assert "prelu" not in ops.ACTIVATIONS  # learnable: a layer of its own, never fused


def test_an_op_sized_by_an_option_says_which_in_the_catalogue() -> None:
    """The checker's symbolic channel counts (archc/resolve.py), from which both generators
    write one class per module, take an op's output channels from `out_channels`. An op sized
    by its `filters` or `units` that left it out would be written with its input's channels:
    `pointwise_dense` once was (`PointwiseLinear(6, 5)` reading 12 maps)."""
    from archc.shapes import RULES

    for name, op in CATALOGUE.items():
        sizing = [o.name for o in op.options if o.name in ops.SHAPE_OPTIONS]
        assert op.out_channels == (sizing[0] if sizing else ""), name
        if op.out_channels:
            attrs = {o.name: o.default for o in op.options} | {op.out_channels: 7, "kernel": (1, 1), "stride": (1, 1)}
            assert RULES[name](name, attrs, [(3, 4, 4) if op.spatial else (3,)]).shape[0] == 7, name
