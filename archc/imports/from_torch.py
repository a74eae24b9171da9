"""A PyTorch nn.Module → a readable .arch spec that compiles back to the same function.

`from_torch(module, (3, 224, 224))` traces the module with torch.fx, maps each leaf module and
function to an archc op (or refuses it: `TorchImportError` lists every module path, op and
reason, and nothing is approximated), and rebuilds the structure from the module hierarchy:
forks and merges become `add { branch ... }` / `concat { branch ... }`, a submodule class used
more than once becomes a `module` with a parameter for each value that differs between its
instances, and consecutive identical instances become a `repeat`.

archc names a layer by its spec path (a branch, a repeat iteration and a module call each add a
step), which cannot always spell the source's state_dict keys (`layer1.0.downsample.0`):
`import_torch` returns the spec together with `keys`, the compiled model's key → the source's
key, and `TorchImport.state_dict(source)` renames a source state_dict so that the compiled
model loads it with `strict=True`. torch is imported only inside these functions.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from . import torch_ops
from .torch_ops import DEFAULTS, Refusal, TorchImportError
from .torch_structure import KEYWORDS, Builder, Call, Group, Instance, Layer, Merge, Repeat

__all__ = ["Refusal", "TorchImport", "TorchImportError", "from_torch", "import_callable", "import_torch"]


@dataclass
class TorchImport:
    """The spec's text, and the compiled model's state_dict key → the source's key."""

    spec: str
    keys: dict[str, str]

    @property
    def renamed(self) -> bool:
        """Whether any key differs, so that a source state_dict needs `state_dict()` to load."""
        return any(k != v for k, v in self.keys.items())

    def state_dict(self, source: dict[str, Any]) -> dict[str, Any]:
        """A source state_dict under the compiled model's keys (load it with strict=True)."""
        return {mine: source[theirs] for mine, theirs in self.keys.items()}


DEFAULT_INPUT = (3, 224, 224)


class SourceFailed(Exception):
    """The user's package failed while it was imported or while its callable built the model:
    their environment or their code, not archc and not the model's structure."""


def import_callable(target: str, input_shape: tuple[int, ...] | str = DEFAULT_INPUT) -> str:
    """`package.module:callable` (e.g. `torchvision.models:resnet50`), called with no arguments, as spec text."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r}: expected PACKAGE.MODULE:CALLABLE, e.g. torchvision.models:resnet50")
    try:
        factory: Any = importlib.import_module(module_name)
    except ImportError:
        raise
    except Exception as exc:  # the package itself fails to load (a torchvision built for another torch, say)
        raise SourceFailed(
            f"importing {module_name} failed: {type(exc).__name__}: {exc} (the package does not load in this Python; "
            "check that it was built for the installed torch)"
        ) from exc
    for part in attr.split("."):
        factory = getattr(factory, part)
    try:
        model = factory()
    except Exception as exc:
        raise SourceFailed(f"{target}() failed: {type(exc).__name__}: {exc}") from exc
    return from_torch(model, input_shape)


def from_torch(module: Any, input_shape: tuple[int, ...] | str = DEFAULT_INPUT) -> str:
    """The spec's text of a torch nn.Module at `input_shape` (CxHxW or N, no batch)."""
    return import_torch(module, input_shape).spec


def import_torch(module: Any, input_shape: tuple[int, ...] | str = DEFAULT_INPUT, name: str | None = None) -> TorchImport:
    """The spec and the state_dict key map; raises TorchImportError listing every refusal."""
    shape = _shape(input_shape)
    units, entry, exit_ = torch_ops.trace(module, shape)
    counts: dict[str, int] = {}
    for path, sub in module.named_modules():
        if path and not torch_ops.is_container(sub) and not torch_ops.is_leaf(sub):
            counts[type(sub).__name__] = counts.get(type(sub).__name__, 0) + 1
    order = {p: k for k, (p, _) in enumerate(module.named_modules())}
    builder = Builder(units, counts, {p: type(m).__name__ for p, m in module.named_modules()})
    body = builder.scope((), "", entry, exit_)
    if builder.refusals:
        raise TorchImportError(builder.refusals)
    builder.groups.sort(key=lambda g: min(order[i.path] for i in g.instances))  # in the order of the model's modules
    net_name = name or re.sub(r"\W", "_", type(module).__name__)
    _name_groups(builder.groups, net_name)
    cls = type(module)
    header = f"# {net_name}: {cls.__module__}.{cls.__qualname__} at {'x'.join(map(str, shape))}, imported by archc from PyTorch.\n"
    spec = header + Printer(builder.groups).program(net_name, shape, body)
    spec, keys = _finish(spec, body, dict(module.state_dict()))
    if any(k != v for k, v in keys.items()):
        note = "# Layer paths differ from the source's state_dict keys: load it through import_torch(...).state_dict().\n"
        spec = header + note + spec[len(header) :]
    return TorchImport(spec, keys)


def _name_groups(groups: list[Group], network: str) -> None:
    """A module is named after its class; a class with several structures: the plainest keeps the
    class's name, each other one is named after a layer only it has (`bottleneck_downsample`), or
    `_residual` for the one that adds its input, or numbered. No name is an op's, a keyword or
    another module's."""
    from ..ops import CATALOGUE

    by_class: dict[str, list[Group]] = {}
    for g in groups:
        by_class.setdefault(g.name, []).append(g)
    for base, gs in by_class.items():
        if len(gs) == 1:
            continue
        names = {id(g): [n for n in _layer_names(g.instances[0].items)] for g in gs}
        plain = min(gs, key=lambda g: len(names[id(g)]))
        taken = {base}
        for k, g in enumerate(gs, 1):
            if g is plain:
                continue
            stems = {n.split("_")[0] for n in names[id(plain)]}
            extra = [n.split("_")[0] for n in names[id(g)] if n.split("_")[0] not in stems]
            if not extra and _has_add(g.instances[0].items) and not _has_add(plain.instances[0].items):
                extra = ["residual"]
            name = f"{base}_{extra[0]}" if extra else f"{base}_{k}"
            while name in taken:
                name = f"{name}_{k}"
            taken.add(name)
            g.name = name
    used = {*CATALOGUE, *KEYWORDS, network}
    for g in groups:
        name, k = g.name, 2
        while name in used:
            name, k = f"{g.name}_{k}", k + 1
        g.name = name
        used.add(name)


def _has_add(items: list[Any]) -> bool:
    return any(isinstance(item, Merge) and item.unit.op == "add" for item in items)


def _layer_names(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Layer | Call | Repeat) and item.name:
            out.append(item.name)
        if isinstance(item, Merge):
            for _, br in item.branches:
                out += _layer_names(br)
    return out


def _shape(input_shape: tuple[int, ...] | str) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        return tuple(int(p) for p in input_shape.split("x"))
    return tuple(int(p) for p in input_shape)


# -- text --------------------------------------------------------------------------------------------


class Printer:
    INDENT = "    "

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        for g in groups:
            g.finish()

    def program(self, name: str, shape: tuple[int, ...], body: list[Any]) -> str:
        out: list[str] = []
        for g in self.groups:
            params = ", ".join(p for p, _ in g.params)
            self.varying, self.slot = g.varying, 0
            out += [f"module {g.name}({params}) {{", *self.items(g.instances[0].items, 1), "}", ""]
        self.varying, self.slot = {}, 0
        kind = "image" if len(shape) == 3 else "features"
        out += [f"network {name} {{", f"    input {kind}: {'x'.join(map(str, shape))}", "", *self.items(body, 1), "}"]
        return "\n".join(out) + "\n"

    def items(self, items: list[Any], level: int) -> list[str]:
        pad = self.INDENT * level
        lines: list[str] = []
        for item in items:
            if isinstance(item, Layer):
                lines.append(pad + self.layer(item))
            elif isinstance(item, Merge):
                act = f" {item.activation.op}" if item.activation else ""
                lines.append(f"{pad}{item.unit.op}{act} {{")
                for bname, br in item.branches:
                    label = f"branch {bname}" if bname else "branch"
                    if not br:
                        lines.append(pad + self.INDENT + label)
                    else:
                        lines += [f"{pad}{self.INDENT}{label} {{", *self.items(br, level + 2), pad + self.INDENT + "}"]
                lines.append(pad + "}")
            elif isinstance(item, Call):
                lines.append(f"{pad}{item.name}: {self.call(item.instance)}")
            else:
                count = self.value(len(item.calls), "count")
                lines.append(f"{pad}{item.name}: repeat {count} {{ {self.call(item.calls[0].instance)} }}")
        return lines

    def value(self, v: Any, key: str) -> str:
        slot = self.slot
        self.slot += 1
        return self.varying[slot] if slot in self.varying else torch_ops.text(v, key)

    def call(self, inst: Instance) -> str:
        g = inst.group
        assert g is not None
        base = self.slot
        args = [
            self.varying.get(base + slot) or torch_ops.text(v, g.slot_keys[slot])
            for (_, slot), v in zip(g.params, g.args(inst), strict=True)
        ]
        self.slot += len(inst.raw())
        return f"{g.name}({', '.join(args)})"

    def layer(self, layer: Layer) -> str:
        u = layer.unit
        words = [u.op]
        kernel: Any = None  # a pool's stride defaults to its kernel, when that is the same in every instance
        for key, v in u.slots:
            text = self.value(v, key)
            literal = self.slot - 1 not in self.varying
            if literal and text == torch_ops.text(DEFAULTS.get((u.op, key), kernel if key == "stride" else None), key):
                continue
            if key == "kernel" and literal:
                kernel = v
            if key in torch_ops.POSITIONAL.get(u.op, ()):
                words.append(text)
            elif key in torch_ops.FLAGS and literal:
                words.append(key)
            else:
                words.append(f"{key}={text}")
        if u.activation:
            words.append(u.activation)
        return (f"{layer.name}: " if layer.name else "") + " ".join(words)


# -- compile, acknowledge intended drops, format, and the state_dict keys -----------------------------


def _finish(spec: str, body: list[Any], source: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The spec checked, with `drop=ok` where the source's windows leave rows unread, formatted as
    `archc fmt` prints it; and the compiled model's state_dict key → the source's."""
    from ..backends.arch import format_program
    from ..backends.pytorch import torch_paths
    from ..compiler import compile_source
    from ..diagnostics import Diagnostics
    from ..parse import parse

    comp = compile_source(spec, "<import>")
    drops = {d.span.line for d in comp.diagnostics if d.code == "dropped-rows"}
    if drops:
        lines = spec.split("\n")
        for line in drops:
            lines[line - 1] += " drop=ok"
        spec = "\n".join(lines)
        comp = compile_source(spec, "<import>")
    errors = [d for d in comp.diagnostics if d.severity == "error"]
    if errors:  # e.g. two source names that read alike once `.` is `_` (`a.b` and `a_b`)
        raise TorchImportError([Refusal(f"(spec line {d.span.line})", d.code, d.message) for d in errors])
    program = parse(spec, "<import>", Diagnostics())
    assert program is not None
    spec = format_program(program, spec)
    net = comp.networks[0]
    return spec, _keys(net, torch_paths(net), body, source)


def _keys(net: Any, paths: dict[tuple[str, ...], str], body: list[Any], source: dict[str, Any]) -> dict[str, str]:
    """The compiled model's key → the source's, matched through the layers' source paths."""
    from ..graph import Node, walk

    branches = {br.path for item in walk(net.body) if isinstance(item, Node) for br in item.branches}
    origin = dict(_origins(body, ()))
    keys: dict[str, str] = {}
    for item in walk(net.body):
        if not isinstance(item, Node) or item.op not in torch_ops.STATEFUL:
            continue
        bare = tuple(c for k, c in enumerate(item.path) if item.path[: k + 1] not in branches)
        src = origin[bare]
        if src in source:  # a layer scale: the source's parameter of a non-leaf module (CNBlock's `layer_scale`)
            keys[f"{paths[item.path]}.weight"] = src
            continue
        for key in source:
            if key.startswith(src + "."):
                keys[f"{paths[item.path]}{key[len(src) :]}"] = key
    return keys


def _origins(items: list[Any], at: tuple[str, ...]) -> Any:
    """(spec path without its branch steps, source module path) of every named layer."""
    for item in items:
        if isinstance(item, Layer) and item.name and item.unit.path:
            yield (*at, item.name), item.unit.path
        elif isinstance(item, Merge):
            for _, br in item.branches:
                yield from _origins(br, at)
        elif isinstance(item, Call):
            yield from _origins(item.instance.items, (*at, item.name))
        elif isinstance(item, Repeat):
            for k, call in enumerate(item.calls):
                yield from _origins(call.instance.items, (*at, item.name, str(k)))
