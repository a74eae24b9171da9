"""Importers: other frameworks' network descriptions → readable .arch specs.

    archc.imports.from_caffe(text) -> str        a Caffe .prototxt (deploy or train_val) as a spec
    archc import deploy.prototxt -o model.arch   the same from the command line
    archc.imports.from_keras(model) -> str       a Keras functional model as a spec (keras imported only then)
    archc import model.keras -o model.arch       a saved .keras model, from the command line
    archc.imports.from_torch(module, (3, 224, 224)) -> str    a PyTorch nn.Module (torch imported only then)
    archc import torchvision.models:resnet50 -o resnet50.arch
    archc.imports.from_onnx(path) -> (str, tensors)           an ONNX model and its initializers
    archc import model.onnx -o model.arch --weights model.safetensors

What is mapped, and what is refused and why: docs/import.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import CompileError, Diagnostic

__all__ = ["ImportRefused", "Imported", "from_caffe", "from_keras", "from_onnx", "from_torch", "import_caffe", "import_keras_file"]


class ImportRefused(CompileError):
    """The file is malformed, or holds layers or options archc cannot express: every one is listed."""


@dataclass(frozen=True)
class Imported:
    spec: str  # the .arch text, as `archc fmt` prints it
    notes: list[Diagnostic] = field(default_factory=list)  # the layers left out (losses, metrics, data), located


def import_caffe(text: str, file: str = "<prototxt>", name: str | None = None, input_shape: tuple[int, ...] | None = None) -> Imported:
    """A Caffe net as a spec; raises ImportRefused (located diagnostics) for what cannot be expressed exactly.

    `input_shape` (CxHxW, or N) replaces the declared input's; a train_val file whose data layers
    read a dataset needs it.
    """
    from ..backends.arch import format_program
    from ..diagnostics import Diagnostics
    from ..parse import parse as parse_arch
    from .caffe_net import build
    from .prototxt import PrototxtError, parse
    from .spec import Refused, write

    try:
        graph = build(parse(text, file), file, input_shape)
    except PrototxtError as exc:
        raise ImportRefused([exc.diagnostic], {file: text}) from None
    if graph.errors:
        raise ImportRefused(sorted(graph.errors, key=lambda d: (d.span.line, d.span.column)), {file: text})
    try:
        spec = write(graph, file, name)
    except Refused as exc:
        raise ImportRefused([exc.diagnostic], {file: text}) from None
    diags = Diagnostics()
    program = parse_arch(spec, "<import>", diags)
    if program is None:  # the writer's bug, never the file's
        raise AssertionError(f"archc import wrote a spec that does not parse: {diags.items[0].message}\n{spec}")
    return Imported(format_program(program, spec), graph.notes)


def from_caffe(text: str, name: str | None = None) -> str:
    """The spec's text of a Caffe .prototxt; `name` names the network (default: the net's `name:`)."""
    return import_caffe(text, name=name).spec


# The modules from_keras.py, from_torch.py and from_onnx.py (each framework imported only inside
# their functions) and their entry points, which take the modules' names in the package:
# `archc.imports.from_torch(model, shape)` is the function (the module stays importable by path).
from . import from_keras as _keras  # noqa: E402
from . import from_onnx as _onnx  # noqa: E402
from . import from_torch as _torch  # noqa: E402

from_keras = _keras.from_keras
import_keras_file = _keras.import_keras_file
from_torch = _torch.from_torch
from_onnx = _onnx.from_onnx
