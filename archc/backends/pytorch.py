"""IR → a standalone PyTorch file: one nn.Module class per spec module, one per network.

State-dict keys are the spec's layer paths (`inception4a.b2.conv_1.weight`): branches and
multi-layer repeats become nn.ModuleDict containers, a repeated module call an nn.Sequential.
A name that would clash with nn.Module's own attributes or Python keywords is mapped by
`attribute_name` (documented in docs/targets.md); `torch_paths` gives every layer's key prefix.
This module never imports torch.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from .. import __version__
from ..expr import rename_python
from ..graph import BranchSeq, Instance, Item, Network, Node, RepeatBlock, walk
from ..ops import activation_attrs
from ..sym import IN_CHANNELS
from .base import HEADER, MARKER, Backend, Namespace, fmt_float, literal, spec_name
from .pyformat import LINE_LENGTH, call_lines, seq_lines
from .pytorch_layers import HELPERS

# nn.Module / ModuleDict / Sequential attributes a layer name must not shadow.
MODULE_ATTRS = frozenset(
    """T_destination add_module append apply bfloat16 buffers call_super_init children clear compile cpu cuda
    double dump_patches eval extend extra_repr float forward get_buffer get_extra_state get_parameter get_submodule
    half insert ipu items keys load_state_dict modules mtia named_buffers named_children named_modules
    named_parameters parameters pop register_backward_hook register_buffer register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule
    share_memory state_dict to to_empty train training type update values xpu zero_grad""".split()
)
# Names the generated file itself defines or imports.
GLOBALS = frozenset({"torch", "nn", "F", "NamedTuple", "annotations", "math", *HELPERS})
LOCALS = frozenset({"self", "x", "torch", "nn", "F", "in_channels", "math", *HELPERS})
# NamedTuple's own attributes, which a field must not shadow.
NAMEDTUPLE_ATTRS = frozenset({"count", "index"})

Value = Callable[[str], str]  # an option's value as Python text (a literal or a module parameter)

# activation → its call on an expression, given its options' values. A fused activation takes
# its defaults; one written as a layer of its own, its options.
ACTIVATION: dict[str, Callable[[str, Value], str]] = {
    "relu": lambda x, v: f"F.relu({x})",
    "relu6": lambda x, v: f"F.relu6({x})",
    "leaky_relu": lambda x, v: f"F.leaky_relu({x}, negative_slope={v('slope')})",
    "elu": lambda x, v: f"F.elu({x}, alpha={v('alpha')})",
    "gelu": lambda x, v: f"F.gelu({x})" if v("approximate") == '"none"' else f"F.gelu({x}, approximate={v('approximate')})",
    "silu": lambda x, v: f"F.silu({x})",
    "hardswish": lambda x, v: f"F.hardswish({x})",
    "hardsigmoid": lambda x, v: f"F.hardsigmoid({x})",
    "tanh": lambda x, v: f"torch.tanh({x})",
    "sigmoid": lambda x, v: f"torch.sigmoid({x})",
    "softmax": lambda x, v: f"F.softmax({x}, dim=1)",
    "scaled_tanh": lambda x, v: f"scaled_tanh({x})",
}
# Activations that call a helper the file defines (pytorch_layers.HELPERS).
ACTIVATION_HELPERS = {"scaled_tanh": "scaled_tanh"}


def default_value(activation: str) -> Value:
    """A fused activation's options: the catalogue's defaults."""
    defaults = activation_attrs(activation)
    return lambda key: literal(defaults[key])


ASCII = Namespace()  # transliterates and legalises without reserving anything


# A fused activation applies to a fresh tensor that nothing else holds, so it may work in
# place, as torchvision's do: the out-of-place one allocated and first-touched a new buffer
# per layer, 6% of VGG16's forward at batch 8 and a quarter of MobileNetV2's
# (docs/benchmarks.md). Conv, linear and batch norm need only their inputs for backward. Each
# of these gives bit for bit the out-of-place outputs and gradients
# (tests/test_activations.py); ELU's in-place backward works from its output and rounds
# differently, so it stays out of place.
FUSED_INPLACE: dict[str, Callable[[str, Value], str]] = {
    "relu": lambda x, v: f"F.relu({x}, inplace=True)",
    "relu6": lambda x, v: f"F.relu6({x}, inplace=True)",
    "leaky_relu": lambda x, v: f"F.leaky_relu({x}, negative_slope={v('slope')}, inplace=True)",
    "silu": lambda x, v: f"F.silu({x}, inplace=True)",
    "hardswish": lambda x, v: f"F.hardswish({x}, inplace=True)",
    "hardsigmoid": lambda x, v: f"F.hardsigmoid({x}, inplace=True)",
}


def attribute_name(name: str) -> str:
    """A spec name as a submodule attribute: keywords, nn.Module attributes and `_`-names get mangled."""
    if name.startswith("_"):
        return "layer" + name
    if keyword.iskeyword(name) or name in MODULE_ATTRS:
        return name + "_"
    return name


def torch_paths(net: Network) -> dict[tuple[str, ...], str]:
    """Spec path of every layer and module instance → its key prefix in the model's state_dict."""
    spaces: dict[tuple[str, ...], Namespace] = {}
    out: dict[tuple[str, ...], str] = {}

    def mapped(path: tuple[str, ...]) -> str:
        if path not in out:
            parent = mapped(path[:-1]) if len(path) > 1 else ""
            space = spaces.setdefault(path[:-1], Namespace())
            # fresh(): two spec names that transliterate alike still get distinct attributes
            comp = path[-1] if path[-1].isdigit() else space.fresh(attribute_name(ASCII.legal(path[-1])))
            out[path] = f"{parent}.{comp}" if parent else comp
        return out[path]

    for item in walk(net.body):  # modules and repeats too: an empty module call has no layer below it
        mapped(item.path)
        for branch in item.branches if isinstance(item, Node) else ():
            mapped(branch.path)
    return out


def entry_point(net: Network) -> str:
    """The network's class in a file generated for it alone (the first name handed out)."""
    return Namespace(GLOBALS).fresh(net.name)


def generate(nets: list[Network], spec: str, *, softmax: bool | None = None, line_comments: bool = False) -> str:
    """PyTorch's convention: a model returns logits. An output's softmax is left out unless
    `softmax` is True (`archc build --softmax`), and the class docstring says which it is."""
    return TorchGenerator(nets, spec, softmax is not True, line_comments).text()


@dataclass
class Emitted:
    """How a layer appears: its constructor (None for a function) and its call on input variables."""

    ctor: str | None
    call: Callable[[str, list[str]], str]  # (module access, input variables) → expression


class TorchBackend(Backend):
    """One emitter per op; each returns the layer's constructor and call."""

    target = "torch"
    UNSUPPORTED: ClassVar[dict[str, str]] = {}

    def __init__(self, val: Callable[[Node, str], str], sym: Callable[[Node], str], table_const: Callable[[Node], str]) -> None:
        self.val, self.in_ch, self.table_const = val, sym, table_const
        self.helpers: set[str] = set()

    @staticmethod
    def _module(ctor: str) -> Emitted:
        return Emitted(ctor, lambda m, xs: f"{m}({xs[0]})")

    @staticmethod
    def _function(template: str) -> Emitted:
        return Emitted(None, lambda m, xs: template.format(*xs))

    def _window_args(self, node: Node, keys: tuple[str, ...], pool: bool = False) -> list[str]:
        # PyTorch's pools default their stride to the kernel size, convs to 1
        defaults = {"stride": self.val(node, "kernel") if pool else "1", "pad": "0", "dilation": "1"}
        names = {"kernel": "kernel_size", "stride": "stride", "pad": "padding", "dilation": "dilation"}
        args = []
        for key in keys:
            value = self.val(node, key)
            if value != defaults.get(key):
                args.append(f"{names[key]}={value}")
        return args

    def emit_conv(self, node: Node) -> Emitted:
        a = node.attrs
        sides = a["pad"] if isinstance(a["pad"], tuple) and len(a["pad"]) == 4 else None  # pad=TxBxLxR
        if sides is None:
            args = [self.in_ch(node), self.val(node, "filters"), *self._window_args(node, ("kernel", "stride", "pad", "dilation"))]
        else:  # the conv pads only what is the same on opposite sides; _padded adds the rest
            top, left = (sides[0], sides[2]) if sides[::2] == sides[1::2] else (0, 0)
            pad = [] if (top, left) == (0, 0) else [f"padding={top if top == left else (top, left)}"]
            args = [self.in_ch(node), self.val(node, "filters"), *self._window_args(node, ("kernel", "stride")), *pad]
            args += self._window_args(node, ("dilation",))
        if a.get("table") is not None:
            self.helpers.add("TableConv2d")
            args.insert(3, f"connections={self.table_const(node)}")
            if not a["bias"]:
                args.append("bias=False")
            return self._padded(f"TableConv2d({', '.join(args)})", sides)
        if a["groups"] != 1:
            args.append(f"groups={self.val(node, 'groups')}")
        if not a["bias"]:
            args.append("bias=False")
        return self._padded(f"nn.Conv2d({', '.join(args)})", sides)

    def _padded(self, ctor: str, sides: tuple[int, ...] | None) -> Emitted:
        """The conv's module; zeros that differ between opposite sides (keras.applications'
        `correct_pad`) are added by F.pad before it, which takes (left, right, top, bottom)."""
        if sides is None or sides[::2] == sides[1::2]:
            return self._module(ctor)
        top, bottom, left, right = sides
        return Emitted(ctor, lambda m, xs: f"{m}(F.pad({xs[0]}, ({left}, {right}, {top}, {bottom})))")

    def _pool(self, node: Node, cls: str) -> Emitted:
        args = self._window_args(node, ("kernel", "stride", "pad"), pool=True)
        if node.attrs["ceil"]:
            args.append("ceil_mode=True")
        if not node.attrs.get("count_pad", True):
            args.append("count_include_pad=False")
        return self._module(f"{cls}({', '.join(args)})")

    def emit_maxpool(self, node: Node) -> Emitted:
        return self._pool(node, "nn.MaxPool2d")

    def emit_avgpool(self, node: Node) -> Emitted:
        return self._pool(node, "nn.AvgPool2d")

    def emit_subsample(self, node: Node) -> Emitted:
        self.helpers.add("Subsample")
        args = [self.in_ch(node), *self._window_args(node, ("kernel",)), f"stride={self.val(node, 'stride')}"]
        return self._module(f"Subsample({', '.join(args)})")

    def emit_lrn(self, node: Node) -> Emitted:
        alpha = self.val(node, "alpha")
        if node.attrs["convention"] == "paper":  # the paper does not divide α by n; PyTorch does
            alpha = (
                fmt_float(node.attrs["alpha"] * node.attrs["size"]) if "alpha" not in node.exprs else f"{alpha} * {self.val(node, 'size')}"
            )
        args = [self.val(node, "size"), f"alpha={alpha}", f"beta={self.val(node, 'beta')}", f"k={self.val(node, 'k')}"]
        return self._module(f"nn.LocalResponseNorm({', '.join(args)})")

    def emit_batchnorm(self, node: Node) -> Emitted:
        a = node.attrs
        rank = "2d" if len(node.shape) == 3 else "1d"
        cls = f"nn.BatchNorm{rank}"
        args = [self.in_ch(node)]
        if a["eps"] != 1e-5:
            args.append(f"eps={self.val(node, 'eps')}")
        if a["momentum"] != 0.1:
            args.append(f"momentum={self.val(node, 'momentum')}")
        if not a["scale"] and not a["center"]:
            args.append("affine=False")
        elif not a["scale"] or not a["center"]:  # nn.BatchNorm has one `affine` for both
            cls = f"PartialBatchNorm{rank}"
            self.helpers.add(cls)
            args.append("scale=False" if not a["scale"] else "center=False")
        return self._module(f"{cls}({', '.join(args)})")

    def emit_layernorm(self, node: Node) -> Emitted:
        args = [self.in_ch(node)] + ([f"eps={self.val(node, 'eps')}"] if node.attrs["eps"] != 1e-5 else [])
        if len(node.shape) == 1:
            return self._module(f"nn.LayerNorm({', '.join(args)})")
        self.helpers.add("LayerNorm2d")
        return self._module(f"LayerNorm2d({', '.join(args)})")

    def emit_groupnorm(self, node: Node) -> Emitted:
        args = [self.val(node, "groups"), self.in_ch(node)] + ([f"eps={self.val(node, 'eps')}"] if node.attrs["eps"] != 1e-5 else [])
        return self._module(f"nn.GroupNorm({', '.join(args)})")

    def emit_layer_scale(self, node: Node) -> Emitted:
        self.helpers.add("LayerScale")
        shape = f"({self.in_ch(node)}, 1, 1)" if len(node.shape) == 3 else f"({self.in_ch(node)},)"
        return self._module(f"LayerScale({shape}, {self.val(node, 'init')})")

    def emit_stochastic_depth(self, node: Node) -> Emitted:
        self.helpers.add("StochasticDepth")
        return self._module(f"StochasticDepth({self.val(node, 'rate')})")

    def emit_dense(self, node: Node) -> Emitted:
        args = [self.in_ch(node), self.val(node, "units")] + ([] if node.attrs["bias"] else ["bias=False"])
        return self._module(f"nn.Linear({', '.join(args)})")

    def emit_pointwise_dense(self, node: Node) -> Emitted:
        self.helpers.add("PointwiseLinear")
        args = [self.in_ch(node), self.val(node, "units")] + ([] if node.attrs["bias"] else ["bias=False"])
        return self._module(f"PointwiseLinear({', '.join(args)})")

    def emit_rbf(self, node: Node) -> Emitted:
        self.helpers.add("RBF")
        return self._module(f"RBF({self.in_ch(node)}, {self.val(node, 'units')})")

    def emit_dropout(self, node: Node) -> Emitted:
        return self._module(f"nn.Dropout({self.val(node, 'rate')})")

    def emit_flatten(self, node: Node) -> Emitted:
        return self._function("torch.flatten({}, 1)")

    def emit_rescale(self, node: Node) -> Emitted:
        if len(node.attrs["scale"]) > 1:  # a factor per channel: a constant buffer that follows .to(device)
            self.helpers.add("Rescale")
            offset = node.attrs["offset"]
            return self._module(f"Rescale(scale={self.floats(node.attrs['scale'])}" + (f", offset={fmt_float(offset)})" if offset else ")"))
        (scale,), offset = node.attrs["scale"], node.attrs["offset"]
        # always a new tensor (never `x = x`), so that an in-place activation after it leaves the caller's input be
        text = "{}" if scale == 1 and offset else f"{{}} * {fmt_float(scale)}"
        if offset:
            text += f" - {fmt_float(-offset)}" if offset < 0 else f" + {fmt_float(offset)}"
        return self._function(text)

    def emit_normalize(self, node: Node) -> Emitted:
        self.helpers.add("Normalize")
        mean, std = (self.floats(node.attrs[key]) for key in ("mean", "std"))
        return self._module(f"Normalize(mean={mean}, std={std})")

    @staticmethod
    def floats(values: tuple[float, ...]) -> str:
        return f"({', '.join(fmt_float(v) for v in values)},)" if len(values) == 1 else f"({', '.join(fmt_float(v) for v in values)})"

    def emit_global_avgpool(self, node: Node) -> Emitted:
        return self._function("{}.mean((2, 3), keepdim=True)" if node.attrs.get("keep") else "{}.mean((2, 3))")

    def emit_adaptive_avgpool(self, node: Node) -> Emitted:
        return self._module(f"nn.AdaptiveAvgPool2d({self._size(node)})")

    def emit_adaptive_maxpool(self, node: Node) -> Emitted:
        return self._module(f"nn.AdaptiveMaxPool2d({self._size(node)})")

    def _size(self, node: Node) -> str:
        """An output size as torchvision writes it, `(6, 6)`; a module parameter as it is."""
        value = self.val(node, "size")
        return f"({value}, {value})" if value.isdigit() else value

    def activation_op(self, node: Node) -> Emitted:
        """An activation written as a layer of its own: a function call with its options."""
        if node.op in ACTIVATION_HELPERS:
            self.helpers.add(ACTIVATION_HELPERS[node.op])
        call = ACTIVATION[node.op]
        return Emitted(None, lambda m, xs: call(xs[0], lambda key: self.val(node, key)))

    emit_relu = emit_relu6 = emit_leaky_relu = emit_elu = emit_gelu = emit_silu = activation_op
    emit_hardswish = emit_hardsigmoid = emit_tanh = emit_sigmoid = emit_softmax = emit_scaled_tanh = activation_op

    def emit_prelu(self, node: Node) -> Emitted:
        return self._module(f"nn.PReLU({self.in_ch(node)})")

    def emit_concat(self, node: Node) -> Emitted:
        return Emitted(None, lambda m, xs: f"torch.cat([{', '.join(xs)}], 1)")

    def emit_add(self, node: Node) -> Emitted:
        return Emitted(None, lambda m, xs: " + ".join(xs))

    def emit_multiply(self, node: Node) -> Emitted:
        return Emitted(None, lambda m, xs: " * ".join(xs))

    def emit_split(self, node: Node) -> Emitted:
        parts, part = self.val(node, "parts"), self.val(node, "part")
        return Emitted(None, lambda m, xs: f"{xs[0]}.chunk({parts}, 1)[{part}]")

    def emit_shuffle(self, node: Node) -> Emitted:
        self.helpers.add("channel_shuffle")
        groups = self.val(node, "groups")
        return Emitted(None, lambda m, xs: f"channel_shuffle({xs[0]}, {groups})")


@dataclass
class ClassCode:
    params: list[str]
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    doc: str = ""


class TorchGenerator:
    def __init__(self, nets: list[Network], spec: str, logits: bool, line_comments: bool) -> None:
        self.nets, self.spec, self.logits, self.line_comments = nets, spec, logits, line_comments
        # One namespace for every global the file defines: network, module and NamedTuple
        # classes and table constants can never share a name, however the spec spells them.
        self.local_names: set[str] = set()  # every local and parameter of every class
        self.globals = Namespace(GLOBALS, avoid=self.local_names)
        self.net_names = {id(net): self.globals(net.name) for net in nets}
        self.classes: list[str] = []  # class sources in dependency order
        self.class_of_text: dict[str, str] = {}
        self.tables: dict[tuple[tuple[int, ...], ...], str] = {}
        self.helpers: set[str] = set()
        self.paths: dict[tuple[str, ...], str] = {}

    # -- file ------------------------------------------------------------------------------------
    def text(self) -> str:
        nets_src = [self.network_class(net) for net in self.nets]
        out = [MARKER, "# " + HEADER.format(version=__version__, spec=_safe_comment(spec_name(self.spec)))]
        out += [_module_doc(self.nets, self.spec), "", "from __future__ import annotations", ""]
        if any(net.aux_heads for net in self.nets):
            out += ["from typing import NamedTuple", ""]
        blocks = [HELPERS[name].strip("\n") for name in sorted(self.helpers, key=list(HELPERS).index)]
        for table, name in self.tables.items():
            rows = [f"    {row!r}," if len(row) != 1 else f"    ({row[0]},)," for row in table]
            what = f"# Input maps read by each output map of {name.removesuffix('_CONNECTIONS')} (its connection table)."
            blocks.append("\n".join([what, f"{name} = (", *rows, ")"]))
        blocks += [src.strip("\n") for src in self.classes + nets_src]
        body = "\n\n\n".join(blocks)
        uses_f = "F." in body
        uses_math = re.search(r"(?<![\w.])math\.", body) is not None
        out += [*(["import math", ""] if uses_math else []), "import torch"]
        out += [*(["import torch.nn.functional as F"] if uses_f else []), "from torch import nn"]
        return "\n".join(out) + "\n\n\n" + body + "\n"

    def network_class(self, net: Network) -> str:
        self.paths = torch_paths(net)
        name = self.net_names[id(net)]
        aux = [item for item in net.body if item.aux]
        tuple_name = self.globals(f"{net.name}Outputs") if aux else ""
        params = self.locals()
        rename = {key: params(key) for key in net.params}
        body = Body(self, net, (), lambda a: rename.get(a, a), None)
        body.emit_items(net.body, {net.input.id: "x"}, "x", top=True)
        out_var = body.var_of[net.output]
        doc = f'"""{_safe_doc(net.name)} from {_safe_doc(spec_name(net.file))}: input (N, {", ".join(map(str, net.input_shape))}) → output (N, {", ".join(map(str, net.nodes[net.output].shape))}){_at_params(net)}.'
        if net.final_softmaxes:
            doc += (
                "\n\n    Returns logits: the spec's final softmax is left out, as PyTorch losses\n"
                "    (nn.CrossEntropyLoss) expect; `archc build --softmax` keeps it.\n    "
                if self.logits
                else "\n\n    Returns probabilities: the spec's final softmax is kept (`archc build --softmax`);\n"
                "    train with nn.NLLLoss on their log, or rebuild without --softmax for logits.\n    "
            )
        doc += '"""'
        signature = [f"{rename[k]}: {_py_type(v)} = {v!r}" for k, (_, v) in net.params.items()]
        code = ClassCode(["*", *signature] if signature else [], body.init, body.forward, doc)
        lines = []
        if aux:
            fields = Namespace(LOCALS | NAMEDTUPLE_ATTRS)
            lines += [
                f"class {tuple_name}(NamedTuple):",
                f'    """{_safe_doc(net.name)}\'s outputs in train(): the main output, then each aux head."""',
                "",
            ]
            lines += [f"    {fields(name)}: torch.Tensor" for name in ["main", *(_field_base(a.name) for a in aux)]]
            lines += ["", "", ""]
            heads = [body.var_of[net.node_of(a).id] for a in aux]
            returns = [f"{' ' * 8}if self.training:", *(f"{' ' * 12}assert {h} is not None" for h in heads)]
            returns += call_lines("return ", tuple_name, [out_var, *heads], 3)
            returns += [f"{' ' * 8}return {out_var}"]
        else:
            returns = [f"{' ' * 8}return {out_var}"]
        ret_type = "torch.Tensor" if not aux else f"torch.Tensor | {tuple_name}"
        return "\n".join(lines) + render_class(name, code, ret_type, returns)

    # -- module classes --------------------------------------------------------------------------
    def module_class(self, inst: Instance, net: Network) -> str:
        mdef = net.modules[inst.module]
        params = self.locals()
        rename = {IN_CHANNELS: "in_channels", **{p.text: params(p.text) for p in mdef.params}}
        body = Body(self, net, inst.path, lambda a: rename.get(a, a), inst)
        body.emit_items(inst.body, {inst.input: "x"}, "x", top=False)
        annotations = [f"{rename[p.text]}: {_py_type(v)}" for p, v in zip(mdef.params, inst.args, strict=True)]
        code = ClassCode(["in_channels: int", *annotations], body.init, body.forward)
        returns = [f"{' ' * 8}return {body.var_of[inst.output]}"]
        text = render_class("{CLASS}", code, "torch.Tensor", returns)
        if text not in self.class_of_text:
            cname = self.globals(_camel(inst.module))
            self.class_of_text[text] = cname
            self.classes.append(text.replace("{CLASS}", cname, 1))
        return self.class_of_text[text]

    def locals(self) -> Namespace:
        """A namespace for one function's locals: none shadows a global of the file, or will."""
        return Namespace(LOCALS, avoid=self.globals.used, publish=self.local_names)

    def table_const(self, node: Node) -> str:
        table = node.attrs["table"]
        if table not in self.tables:
            self.tables[table] = self.globals(f"{node.name.upper()}_CONNECTIONS")
        return self.tables[table]


class Body:
    """The __init__ and forward lines of one class: the network, or one module instance."""

    def __init__(
        self, gen: TorchGenerator, net: Network, root: tuple[str, ...], rename: Callable[[str], str], inst: Instance | None
    ) -> None:
        self.gen, self.net, self.root, self.rename = gen, net, root, rename
        self.init: list[str] = []
        self.forward: list[str] = []
        self.containers: set[tuple[str, ...]] = set()
        self.vars = gen.locals()  # `x` is reserved: the running variable, never a layer's
        self.var_of: dict[int, str] = {}
        self.holds: dict[str, int] = {}  # variable → the value it holds now
        self.done: set[int] = set()  # items (by python id) whose statements are written
        self.backend = TorchBackend(self.val, lambda n: n.in_sym.render(self.rename), gen.table_const)
        self.readers = _readers(inst.body if inst else net.body, net)

    def val(self, node: Node, key: str) -> str:
        if key in node.exprs:
            return self.python(node.exprs[key])
        value = node.attrs[key]
        if isinstance(value, tuple):
            return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"
        return literal(value)

    def python(self, source: str) -> str:
        """Python source over the spec's parameters, with each parameter's identifier in this class."""
        out = rename_python(source, self.rename)
        assert out is not None
        for helper in ("make_divisible", "whole"):
            if f"{helper}(" in out:
                self.gen.helpers.add(helper)
        return out

    def access(self, path: tuple[str, ...]) -> str:
        full = self.gen.paths[path] if path in self.gen.paths else ".".join(path)
        rel = full.split(".")[len(self.root) :]
        # The class's own submodule is an attribute; inside a container (nn.ModuleDict) every
        # step is a subscript, which type checkers and TorchScript both read as a Module.
        return f"self.{rel[0]}" + "".join(f'["{c}"]' for c in rel[1:])

    def container(self, path: tuple[str, ...]) -> None:
        for k in range(len(self.root) + 1, len(path)):
            prefix = path[:k]
            if prefix not in self.containers:
                self.containers.add(prefix)
                self.init.append(f"{' ' * 8}{self.access_prefix(prefix)} = nn.ModuleDict()")

    def access_prefix(self, prefix: tuple[str, ...]) -> str:
        """A container's attribute; torch_paths maps every prefix of every layer path."""
        return self.access(prefix)

    # -- forward ---------------------------------------------------------------------------------
    def emit_items(
        self, items: list[Item], var_of: dict[int, str], default: str, top: bool, after: Item | None = None, level: int = 2
    ) -> None:
        """Forward lines for a sequence; `after` is the item that reads the sequence's result.

        An item writes the running variable `default` only when the next item alone reads its
        value and the value `default` holds now has no reader left; otherwise it gets a
        variable of its own. So no statement ever overwrites a value that is still to be read.
        """
        self.var_of.update(var_of)
        self.holds.update((var, value) for value, var in var_of.items())
        items = [item for item in items if self.net.is_live(item)]  # dead layers are left out
        for k, item in enumerate(items):
            nxt = items[k + 1] if k + 1 < len(items) else after
            out_id = item.id if isinstance(item, Node) else item.output
            aux = top and item.aux  # aux heads run in train() only
            reuse = not aux and _flows_on(out_id, nxt, self.readers) and self.free_after(default, item)
            target = default if reuse else self.vars.fresh(item.name)
            self.done.add(id(item))  # a repeat or merge reads through the items it holds
            if aux:  # declared before the branch, so that TorchScript sees it on both paths
                self.forward.append(f"{'    ' * level}{target}: torch.Tensor | None = None")
                self.forward.append(f"{'    ' * level}if self.training:")
            inner = level + 1 if aux else level
            if isinstance(item, Node):
                self.node(item, target, inner)
            elif isinstance(item, Instance):
                self.instance(item, target, inner)
            else:
                self.repeat(item, target, inner, nxt)
            self.done.update(id(sub) for sub in walk([item]))
            self.holds[self.var_of[out_id]] = out_id

    def free_after(self, var: str, item: Item) -> bool:
        """Whether `var` may take item's result: every reader of its value is written or is `item`."""
        value = self.holds.get(var)
        if value is None:
            return True
        pending = set(self.readers.get(value, ())) - self.done
        return pending <= {id(sub) for sub in walk([item])}

    def node(self, node: Node, target: str, level: int) -> None:
        if node.branches:
            ins = [self.branch(b, node, level) for b in node.branches]
        else:
            ins = [self.var_of[i] for i in node.inputs]
        emitted = self.backend.emitter(node)(node)
        self.gen.helpers |= self.backend.helpers
        access = self.access(node.path)
        if emitted.ctor is not None:
            self.container(node.path)
            self.init.extend(_assign(access, emitted.ctor, 2, self.comment(node)))
        expr = emitted.call(access, ins)
        if node.activation and not (self.gen.logits and node.activation == "softmax" and node.id in self.net.final_softmaxes):
            inplace = FUSED_INPLACE.get(node.activation) if _creates_tensor(node, ins) else None
            expr = (inplace or ACTIVATION[node.activation])(expr, default_value(node.activation))
            if node.activation in ACTIVATION_HELPERS:
                self.gen.helpers.add(ACTIVATION_HELPERS[node.activation])
        if node.op == "softmax" and self.gen.logits and node.id in self.net.final_softmaxes:
            expr = ins[0]
        if expr != target:  # a final softmax left out for logits computes nothing: no `x = x`
            self.forward.extend(_assign(target, expr, level, self.comment(node), plain=True))
        self.var_of[node.id] = target

    def branch(self, br: BranchSeq, merge: Node, level: int) -> str:
        if not br.items:
            return self.var_of[br.input]
        var = self.vars.fresh(br.name)
        self.emit_items(br.items, {}, var, top=False, after=merge, level=level)
        return self.var_of[br.output]

    def instance(self, inst: Instance, target: str, level: int) -> None:
        cls = self.gen.module_class(inst, self.net)
        self.container(inst.path)
        args = [inst.in_sym.render(self.rename), *map(self.python, inst.arg_exprs)]
        access = self.access_instance(inst.path)
        self.init.extend(call_lines(f"{access} = ", cls, args, 2))
        self.forward.extend(_assign(target, f"{access}({self.var_of[inst.input]})", level, self.comment_span(inst.span.line), plain=True))
        self.var_of[inst.output] = target

    def access_instance(self, path: tuple[str, ...]) -> str:
        return self.access(path)

    def repeat(self, rep: RepeatBlock, target: str, level: int, after: Item | None) -> None:
        calls = [it[0] for it in rep.iterations if len(it) == 1 and isinstance(it[0], Instance)]
        if len(calls) == rep.count and all(c.path == rep.path + (str(i),) for i, c in enumerate(calls)):
            classes = [self.gen.module_class(c, self.net) for c in calls]
            args = [
                f"{cls}({', '.join([c.in_sym.render(self.rename), *map(self.python, c.arg_exprs)])})"
                for cls, c in zip(classes, calls, strict=True)
            ]
            access = self.access_prefix(rep.path)
            self.container(rep.path)
            self.init.extend(call_lines(f"{access} = ", "nn.Sequential", args, 2))
            self.forward.extend(_assign(target, f"{access}({self.var_of[rep.input]})", level, self.comment_span(rep.span.line), plain=True))
            self.var_of[rep.output] = target
            return
        for k, items in enumerate(rep.iterations):
            following = rep.iterations[k + 1][0] if k + 1 < len(rep.iterations) and rep.iterations[k + 1] else after
            self.emit_items(items, {}, target, top=False, after=following, level=level)
        self.var_of[rep.output] = self.var_of[rep.output] if rep.output in self.var_of else target

    def comment(self, node: Node) -> str:
        return self.comment_span(node.span.line)

    def comment_span(self, line: int) -> str:
        return f"  # {_safe_comment(spec_name(self.net.file))}:{line}" if self.gen.line_comments else ""


def _readers(items: list[Item], net: Network) -> dict[int, list[int]]:
    """For each value, the live items of this class (by python id) that read it."""
    out: dict[int, list[int]] = {}
    todo = [item for item in items if net.is_live(item)]
    while todo:
        item = todo.pop()
        if isinstance(item, Node):
            ins = [b.output for b in item.branches] if item.branches else list(item.inputs)
            for br in item.branches:
                todo.extend(br.items)
        elif isinstance(item, Instance):
            ins = [item.input]
        else:
            ins = [item.input]
            for it in item.iterations:
                todo.extend(it)
        for i in ins:
            out.setdefault(i, []).append(id(item))
    return out


# Ops whose result is a tensor the op itself allocated: a fused ReLU may overwrite it in place.
# (An `add` of one branch returns its input unchanged, which may be the caller's tensor.)
CREATES_TENSOR = frozenset({"conv", "dense", "batchnorm", "subsample"})


def _creates_tensor(node: Node, ins: list[str]) -> bool:
    return node.op in CREATES_TENSOR or (node.op == "add" and len(ins) > 1)


def _first_readers(item: Item | None) -> set[int]:
    if item is None:
        return set()
    found = {id(item)}
    if isinstance(item, Node):
        for br in item.branches:
            if br.items:
                found |= _first_readers(br.items[0])
    elif isinstance(item, RepeatBlock) and item.iterations and item.iterations[0]:
        found |= _first_readers(item.iterations[0][0])
    return found


def _flows_on(value: int, nxt: Item | None, readers: dict[int, list[int]]) -> bool:
    """True when only the next item reads the value, so it can stay in the running variable."""
    return set(readers.get(value, [])) <= _first_readers(nxt)


def _assign(target: str, expr: str, level: int, comment: str = "", plain: bool = False) -> list[str]:
    line = f"{'    ' * level}{target} = {expr}{comment}"
    if len(line) - len(comment) <= LINE_LENGTH or "(" not in expr:
        return [line]
    func, _, rest = expr.partition("(")
    if not rest.endswith(")") or func.count("[") != func.count("]"):
        return [line]
    args = _split_args(rest[:-1])
    lines = call_lines(f"{target} = ", func, args, level)
    if comment:
        lines[0] += comment
    return lines


def _split_args(text: str) -> list[str]:
    depth, cur, out = 0, "", []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def render_class(name: str, code: ClassCode, ret_type: str, returns: list[str]) -> str:
    params = ", ".join(["self", *code.params])
    lines = [f"class {name}(nn.Module):"]
    if code.doc:
        lines += [f"    {code.doc}", ""]
    sig = f"    def __init__({params}) -> None:"
    lines += [sig] if len(sig) <= LINE_LENGTH else seq_lines("def __init__", ["self", *code.params], 1, "(", ") -> None:")
    lines += ["        super().__init__()", *code.init, ""]
    lines += [f"    def forward(self, x: torch.Tensor) -> {ret_type}:", *code.forward, *returns]
    return "\n".join(lines) + "\n"


def _module_doc(nets: list[Network], spec: str) -> str:
    names = ", ".join(_safe_doc(n.name) for n in nets)
    return f'"""{names}: PyTorch model{"s" if len(nets) > 1 else ""} compiled by archc from {_safe_doc(spec_name(spec))}."""'


def _at_params(net: Network) -> str:
    """` at classes=1000`: the values of the network parameters the shapes are stated at."""
    return " at " + ", ".join(f"{k}={v!r}" for k, (_, v) in net.params.items()) if net.params else ""


def _py_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if hasattr(value, "values"):  # a size: 1x2, or a padding's top x bottom x left x right
        return f"tuple[{', '.join('int' for _ in value.values)}]"
    return "str"


def _field_base(name: str) -> str:
    """A NamedTuple field may start neither with `_` nor with a digit."""
    ident = ASCII.legal(name).lstrip("_")
    return ident if ident and not ident[0].isdigit() else f"aux_{ident}"


def _camel(name: str) -> str:
    parts = [p for p in name.split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Module"


def _safe_comment(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _safe_doc(text: str) -> str:
    return _safe_comment(text).replace("\\", "/").replace('"""', "'''")
