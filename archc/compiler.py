"""The front end as one call: text → parse → resolve → shaped networks, with all diagnostics."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .diagnostics import CompileError, Diagnostic, Diagnostics, Span
from .graph import Network
from .parse import parse
from .resolve import Resolver
from .shapes import Shape

MAX_SOURCE_BYTES = 10 * 1024 * 1024  # a spec is text a person writes; anything larger is a mistake


class SpecReadError(Exception):
    """The spec could not be read at all (missing, a directory, not UTF-8…): a usage error."""


@dataclass
class Compilation:
    file: str
    source: str
    program: ir.Program | None = None
    networks: list[Network] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if not self.ok:
            raise CompileError(self.errors, {self.file: self.source})


def read_spec(path: str | Path) -> str:
    p = Path(path)
    if not p.exists():
        raise SpecReadError(f"{path}: no such file")
    if p.is_dir():
        raise SpecReadError(f"{path}: is a directory, not a spec")
    if not p.is_file():
        raise SpecReadError(f"{path}: not a regular file")
    try:
        size = p.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise SpecReadError(f"{path}: {size:,} bytes is larger than the {MAX_SOURCE_BYTES:,}-byte limit for a spec")
        data = p.read_bytes()
    except PermissionError:
        raise SpecReadError(f"{path}: permission denied") from None
    except OSError as exc:
        raise SpecReadError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_spec(data, str(path))


def decode_spec(data: bytes, name: str) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        raise SpecReadError(f"{name}: {len(data):,} bytes is larger than the {MAX_SOURCE_BYTES:,}-byte limit for a spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecReadError(f"{name}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return text.removeprefix("\ufeff")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a compile.

    The front end allocates hundreds of thousands of small objects that all stay alive, so
    each automatic collection re-traverses everything made so far: profiled on a
    10,000-layer spec, collections took 60% of the time. Nothing in a compile needs them;
    the collector runs again as soon as the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_source(text: str, file: str = "<string>", input_shape: Shape | None = None) -> Compilation:
    with gc_paused():
        return _compile_source(text, file, input_shape)


def _compile_source(text: str, file: str, input_shape: Shape | None) -> Compilation:
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the spec
    comp = Compilation(file, text)
    diags = Diagnostics()
    if not text.strip():
        diags.error(
            "empty", "the spec is empty", Span(file, 1, 1, 1, 1), hint="a spec holds at least `network Name { input x: 3x224x224 ... }`"
        )
    else:
        comp.program = parse(text, file, diags)
    if comp.program is not None:
        if not comp.program.networks:
            diags.error("missing-network", "the spec defines no network", Span(file, 1, 1, 1, 1), hint="add `network Name { ... }`")
        resolver = Resolver(comp.program, diags, input_shape)
        for ndef in comp.program.networks:
            net = resolver.network(ndef, text)
            if net is not None:
                comp.networks.append(net)
    comp.diagnostics = _unique(diags.sorted())
    return comp


def compile_file(path: str | Path, input_shape: Shape | None = None) -> Compilation:
    return compile_source(read_spec(path), str(path), input_shape)


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    # A module body with a mistake is checked once per call; report the mistake once.
    seen: set[tuple[object, ...]] = set()
    out = []
    for d in diags:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
