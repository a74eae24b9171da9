"""The front end as one call: text → parse → resolve → shaped networks, with all diagnostics."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .diagnostics import CompileError, Diagnostic, Diagnostics, Severity, Span
from .graph import Network
from .parse import parse
from .resolve import Resolver
from .shapes import Shape, fmt_shape
from .suggest import did_you_mean, new_budget

Params = Mapping[str, object]  # network parameter → the value to shape the network at

MAX_SOURCE_BYTES = 10 * 1024 * 1024  # a spec is text a person writes; anything larger is a mistake


class SpecReadError(Exception):
    """The spec could not be read at all (missing, a directory, too large…): a usage error."""


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
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]  # notes fail nothing, even --strict

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if not self.ok:
            raise CompileError(self.errors, {self.file: self.source})


class InputShapeError(ValueError):
    """An input shape given for one run (`--input`, `input=`) that is malformed or does not fit the
    network: a usage error, not an error in the spec."""


INPUT_FORMS = "CxHxW (three sizes, e.g. 3x224x224) or N (one size, a flat input), every size at least 1"


def checked_input(value: object) -> Shape:
    """A shape given for one run, as a tuple: 1 or 3 whole numbers, each at least 1."""
    dims = tuple(value) if isinstance(value, (tuple, list)) else ()
    whole = all(isinstance(d, int) and not isinstance(d, bool) for d in dims)
    shown = fmt_shape(dims) if dims and whole else repr(value)
    if len(dims) not in (1, 3) or not whole:
        raise InputShapeError(f"input {shown} is not a shape: give {INPUT_FORMS}")
    if min(dims) < 1:
        raise InputShapeError(f"input {shown} has a size below 1: give {INPUT_FORMS}")
    return dims


def _fits(program: ir.Program, shape: Shape) -> None:
    """The given input has the rank of every network's declared input (an image for an image, a length for a length)."""
    for ndef in program.networks:
        declared = next((s.shape.dims for s in ndef.body.stmts if isinstance(s, ir.Input)), None)
        if declared is None or len(declared) not in (1, 3) or len(declared) == len(shape):
            continue  # a missing or malformed declared input is the spec's own error
        form = "CxHxW, an image: give three sizes" if len(declared) == 3 else "N, a length: give one size"
        raise InputShapeError(
            f"input {fmt_shape(shape)} does not fit network {ndef.name.text}, whose input is {form}, "
            f"like the declared {fmt_shape(declared)}"
        )


def read_spec(path: str | Path) -> str:
    """The text of a spec file; raises SpecReadError (NotUTF8 when its bytes are not UTF-8 text)."""
    return decode_spec(read_spec_bytes(path), str(path))


def read_spec_bytes(path: str | Path) -> bytes:
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
    return data


class NotUTF8(SpecReadError):
    """The spec's bytes are not UTF-8 text: an error in the spec, located at its first bad byte."""

    def __init__(self, data: bytes, name: str, offset: int) -> None:
        line_start = data.rfind(b"\n", 0, offset) + 1
        prefix = data[line_start:offset].decode("utf-8")  # valid: nothing before `offset` failed
        if line_start == 0:
            prefix = prefix.removeprefix("\ufeff")
        line = data.count(b"\n", 0, offset) + 1
        self.span = Span(name, line, len(prefix) + 1, line, len(prefix) + 2)
        self.text = data.decode("utf-8", "replace").removeprefix("\ufeff")  # shown with U+FFFD at the bad byte
        self.detail = f"the spec is not UTF-8 text: byte 0x{data[offset]:02x} (offset {offset}) is not valid UTF-8 here"
        super().__init__(f"{name}:{line}:{len(prefix) + 1}: {self.detail}")

    def compilation(self) -> Compilation:
        hint = "save the spec as UTF-8; from Latin-1, for example: iconv -f latin1 -t utf-8 OLD > NEW"
        diag = Diagnostic(Severity.ERROR, "encoding", self.detail, self.span, hint)
        return Compilation(self.span.file, self.text, diagnostics=[diag])


def decode_spec(data: bytes, name: str) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        raise SpecReadError(f"{name}: {len(data):,} bytes is larger than the {MAX_SOURCE_BYTES:,}-byte limit for a spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUTF8(data, name, exc.start) from None
    return text.removeprefix("\ufeff")


def compile_bytes(data: bytes, file: str, input_shape: Shape | None = None, params: Params | None = None) -> Compilation:
    """The front end on a spec's bytes: bytes that are not UTF-8 make a located spec error, like any other."""
    try:
        text = decode_spec(data, file)
    except NotUTF8 as exc:
        return exc.compilation()
    return compile_source(text, file, input_shape, params)


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


def compile_source(text: str, file: str = "<string>", input_shape: Shape | None = None, params: Params | None = None) -> Compilation:
    """`params` gives network parameters other values than their defaults (docs/language.md, "Network parameters")."""
    with gc_paused():
        return _compile_source(text, file, input_shape, checked_params(params))


def checked_params(params: Params | None) -> dict[str, int | float]:
    """Network parameter values as given in Python or by `--param`: numbers only."""
    out: dict[str, int | float] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ParamsError(f"network parameter {key} must be a number, got {value!r}")
        out[str(key)] = value
    return out


class ParamsError(ValueError):
    """A network parameter value that is not a number (a usage error)."""


def _compile_source(text: str, file: str, input_shape: Shape | None, params: dict[str, int | float] | None = None) -> Compilation:
    """Raises InputShapeError when `input_shape` is malformed or does not fit a network of the spec."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the spec
    if input_shape is not None:
        input_shape = checked_input(input_shape)
    comp = Compilation(file, text)
    diags = Diagnostics()
    if not text.strip():
        diags.error(
            "empty", "the spec is empty", Span(file, 1, 1, 1, 1), hint="a spec holds at least `network Name { input x: 3x224x224 ... }`"
        )
    else:
        comp.program = parse(text, file, diags)
    new_budget()  # did-you-mean hints: a bounded number of comparisons per compile
    if comp.program is not None and input_shape is not None:
        _fits(comp.program, input_shape)
    if comp.program is not None:
        if not comp.program.networks:
            diags.error("missing-network", "the spec defines no network", Span(file, 1, 1, 1, 1), hint="add `network Name { ... }`")
        resolver = Resolver(comp.program, diags, input_shape, params)
        for ndef in comp.program.networks:
            net = resolver.network(ndef, text)
            if net is not None:
                comp.networks.append(net)
        _all_known(comp.program, params or {}, diags)
    comp.diagnostics = _at_most(_unique(diags.sorted()), file)
    return comp


MAX_REPORTED = 1_000  # diagnostics reported per spec: the output stays bounded when every token is wrong


def _at_most(diags: list[Diagnostic], file: str) -> list[Diagnostic]:
    if len(diags) <= MAX_REPORTED:
        return diags
    errors = sum(d.is_error for d in diags[MAX_REPORTED:])
    more = f"{len(diags) - MAX_REPORTED:,} more diagnostics ({errors:,} of them errors) after these {MAX_REPORTED:,} are not shown"
    summary = Diagnostic(
        Severity.ERROR, "limit", more, diags[MAX_REPORTED].span, "fix the first ones: most of the rest often follow from them"
    )
    return diags[:MAX_REPORTED] + [summary]


def compile_file(path: str | Path, input_shape: Shape | None = None, params: Params | None = None) -> Compilation:
    return compile_bytes(read_spec_bytes(path), str(path), input_shape, params)


def _all_known(program: ir.Program, params: dict[str, int | float], diags: Diagnostics) -> None:
    """A value given for a network parameter that no network of the spec has is an error."""
    known = {p.name.text for ndef in program.networks for p in ndef.params}
    for key in params:
        if key not in known and program.networks:
            ndef = program.networks[0]
            listed = ", ".join(sorted(known)) or "none"
            diags.error(
                "network-param",
                f"no network of the spec has a parameter {key} (its parameters: {listed})",
                ndef.name.span,
                hint=did_you_mean(key, sorted(known)),
            )


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
