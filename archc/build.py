"""`archc build`: generate a target's source and write it atomically, never over a stranger's file."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType

from .backends.base import MARKER, Unsupported
from .compiler import Compilation, gc_paused
from .graph import Network

TARGETS = {"torch": "archc.backends.pytorch", "keras": "archc.backends.keras"}


class BuildError(Exception):
    """The target cannot express part of the spec; `compilation` carries the diagnostics."""

    def __init__(self, compilation: Compilation) -> None:
        super().__init__("; ".join(d.message for d in compilation.errors))
        self.compilation = compilation


class ForeignFile(Exception):
    """The output path holds a file archc did not write."""


def backend(target: str) -> ModuleType:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose {', '.join(TARGETS)}")
    return importlib.import_module(TARGETS[target])


def generate(nets: list[Network], target: str, spec: str, *, logits: bool = False, line_comments: bool = False) -> str:
    """The generated source text for every network of a spec. Imports no framework."""
    try:
        with gc_paused():
            text: str = backend(target).generate(nets, spec, logits=logits, line_comments=line_comments)
    except Unsupported as exc:
        net = nets[0]
        raise BuildError(Compilation(net.file, net.source, diagnostics=[exc.diagnostic])) from None
    return text


def output_path(spec: str, target: str, out_dir: Path) -> Path:
    stem = Path(spec).stem if spec not in ("-", "<stdin>") else "stdin"
    ident = "".join(c if c.isalnum() else "_" for c in stem) or "spec"
    if ident[0].isdigit():
        ident = "_" + ident
    return out_dir / f"{ident}_{target}.py"


def write_build(
    nets: list[Network], spec: str, target: str, out_dir: Path, *, force: bool = False, logits: bool = False, line_comments: bool = False
) -> Path:
    text = generate(nets, target, spec, logits=logits, line_comments=line_comments)
    path = output_path(spec, target, out_dir)
    if path.exists() and not force and not is_generated(path):
        from .cli import UsageError

        raise UsageError(f"{path} exists and was not written by archc; use --force to overwrite it")
    write_atomic(path, text)
    return path


def is_generated(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return fh.readline().startswith(MARKER)
    except OSError:
        return False


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, then rename: a crash leaves the old file whole.

    A build killed between the two steps leaves its temporary file behind; the next build of the
    same target removes it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
