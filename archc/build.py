"""`archc build`: generate a target's source and write it atomically, never over a stranger's file."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from .backends.base import Unsupported, spec_name
from .compiler import Compilation, gc_paused
from .files import is_generated, sign, write_atomic
from .graph import Network

TARGETS = {"torch": "archc.backends.pytorch", "keras": "archc.backends.keras"}


class BuildError(Exception):
    """The target cannot express part of the spec; `compilation` carries the diagnostics."""

    def __init__(self, compilation: Compilation) -> None:
        super().__init__("; ".join(d.message for d in compilation.errors))
        self.compilation = compilation


def backend(target: str) -> ModuleType:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose {', '.join(TARGETS)}")
    return importlib.import_module(TARGETS[target])


def generate(nets: list[Network], target: str, spec: str, *, softmax: bool | None = None, line_comments: bool = False) -> str:
    """The generated source text for every network of a spec, signed (archc.files.sign). Imports no framework.

    The backends see the spec's file name alone, never the path as typed, so that the output is
    the same whatever the working directory and however the path is spelt. `softmax` None
    follows the target's convention for an output's softmax: PyTorch models return logits,
    Keras builders apply `classifier_activation="softmax"`; True keeps it, False drops it.
    """
    try:
        with gc_paused():
            text: str = backend(target).generate(nets, spec_name(spec), softmax=softmax, line_comments=line_comments)
    except Unsupported as exc:
        net = nets[0]
        raise BuildError(Compilation(net.file, net.source, diagnostics=[exc.diagnostic])) from None
    return sign(text)


def ends_in_softmax(net: Network) -> list[str]:
    """The outputs (main first, then aux heads) that end in a softmax a target may leave out."""
    heads = [("output", net.nodes[net.output]), *((item.name, net.node_of(item)) for item in net.aux_heads)]
    return [name for name, node in heads if node.id in net.final_softmaxes]


def softmax_note(nets: list[Network], target: str, softmax: bool | None) -> str | None:
    """What `archc build` says about outputs that end in the spec's softmax."""
    heads = sorted({name for net in nets for name in ends_in_softmax(net)}, key=lambda n: (n != "output", n))
    if not heads:
        return None
    which = ", ".join(heads)
    if target == "torch" and softmax is not True:
        return f"note: the model returns logits for {which} (the spec's softmax is left out, for nn.CrossEntropyLoss); --softmax keeps it"
    if target == "keras" and softmax is not False:
        return f"note: {which} apply the builder's classifier_activation, the softmax by default; classifier_activation=None gives logits"
    return None


def output_path(spec: str, target: str, out: Path) -> Path:
    """`out` itself when it names a Python file (`-o lenet.py`); otherwise the file archc names in the directory `out`."""
    if out.suffix == ".py" and not out.is_dir():
        return out
    stem = Path(spec).stem if spec not in ("-", "<stdin>") else "stdin"
    ident = "".join(c if c.isalnum() else "_" for c in stem) or "spec"
    if ident[0].isdigit():
        ident = "_" + ident
    return out / f"{ident}_{target}.py"


def write_build(
    nets: list[Network],
    spec: str,
    target: str,
    out: Path,
    *,
    force: bool = False,
    softmax: bool | None = None,
    line_comments: bool = False,
) -> Path:
    text = generate(nets, target, spec, softmax=softmax, line_comments=line_comments)
    path = output_path(spec, target, out)
    if path.exists() and not force and not is_generated(path):
        from .cli import UsageError

        raise UsageError(f"{path} exists and is not a file archc generated (or it was edited since); use --force to overwrite it")
    write_atomic(path, text)
    return path
