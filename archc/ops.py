"""The op catalogue: the one list of ops, activations and merge kinds, with every op's options,
types, defaults and positional slots, declared once as data.

Everything else that lists ops is derived from CATALOGUE (ACTIVATIONS, MERGES, the editors' word
lists) or is a table keyed by op name that tests/test_coverage.py checks against it, op by op,
naming the file and the table to edit. Adding an op, step by step:

 1. an OpDef entry below (family, doc, example, options; `activation=True` if it takes a fused
    activation, `merge=True` if it reads several tensors, `trainable=True` if it has learnable
    tensors, `pointwise=True` if it acts on each element alone, `spatial=True` if it reads CxHxW);
 2. its shape, parameter and MAC rule in RULES of archc/shapes.py;
 3. its definition in OPS of archc/reference.py (the oracle; an activation goes in ACTIVATIONS
    there), and its tensors in PARAMS there (param_shapes) if it is trainable;
 4. `emit_<op>` in TorchBackend (archc/backends/pytorch.py) and KerasBackend
    (archc/backends/keras.py), or an UNSUPPORTED entry with the reason; an activation also goes in
    ACTIVATION of both files (the fused form), and a Keras layer written into generated files in
    archc/backends/keras_layers.py;
 5. its label in DotBackend (archc/backends/dot.py: SIMPLE or `emit_<op>`; a `label` in the entry
    also names it in figures);
 6. what a training step saves for it in SAVES of archc/memory.py;
 7. how its tensors transfer in TENSORS of archc/weights.py, if it is trainable;
 8. a generator in tests/specgen.py, so that the differential campaign covers it;
 9. a `### ` section in docs/language.md naming it, with an example that tests/test_docs.py compiles;
10. `python -m tests.regenerate` if golden files change, and the editors' word lists
    (tests/test_highlight.py says which).

tests/test_coverage.py fails with the file and table of every step left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The options a network parameter may set (docs/language.md, "Network parameters"): both code
# generators write these as the parameter's own expression, and none of them depends on a shape.
SYMBOLIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "conv": ("filters", "groups", "bias"),
    "dense": ("units", "bias"),
    "pointwise_dense": ("units", "bias"),
    "rbf": ("units",),
    "dropout": ("rate",),
    "batchnorm": ("eps",),
    "lrn": ("beta", "k"),
}
SHAPE_OPTIONS = ("filters", "units")  # of those, the ones that set the layer's output shape

# Value kinds an option accepts. "dims" takes `3x3` or a bare integer meaning a square.
INT, FLOAT, DIMS, BOOL, CHOICE, PAD = "int", "float", "dims", "bool", "choice", "pad"
# "floats" takes one number per channel, comma-separated (`0.485, 0.456, 0.406`), or one number for every channel.
FLOATS = "floats"

KIND_TEXT = {
    INT: "a whole number",
    FLOAT: "a number",
    DIMS: "a size like 3x3 or a whole number",
    BOOL: "true or false",
    CHOICE: "one of",
    PAD: "a whole number, HxW like 1x2, TOPxBOTTOMxLEFTxRIGHT like 0x1x0x1, 'same' or 'valid'",
    FLOATS: "a number per channel, comma-separated, or one number for all",
}


@dataclass(frozen=True)
class Option:
    name: str
    kind: str
    default: object = None
    required: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class OpDef:
    name: str
    family: str
    doc: str
    example: str
    options: tuple[Option, ...] = ()
    positional: tuple[str, ...] = ()
    flags: dict[str, tuple[str, object]] = field(default_factory=dict)
    activation: bool = False
    block: str | None = None  # "table" or "branches"
    merge: bool = False  # reads several tensors (branches or `from a, b`)
    trainable: bool = False  # owns learnable tensors
    pointwise: bool = False  # acts on each element alone, so a flattened vector keeps its order
    spatial: bool = False  # reads a CxHxW tensor
    # the option that sets the output's channels (its first dimension), when not the input's: the
    # checker's symbolic channel counts, from which the generators write module classes, follow it
    out_channels: str = ""
    label: str = ""  # how diagrams name it, when not by its name

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


# Checker-only: `drop=ok` acknowledges that the window leaves the last rows unread on purpose (torchvision's
# SqueezeNet stem, GoogLeNet's aux pool), so `check --strict` passes on a faithful spec. It changes no shape
# and no generated code: the backends read only the options they emit.
DROP = Option("drop", CHOICE, "warn", choices=("warn", "ok"), doc="`ok`: the input rows this window leaves unread are intended")


def _pool(name: str, doc: str, example: str, *extra: Option) -> OpDef:
    return OpDef(
        name,
        "pool",
        doc,
        example,
        options=(
            Option("kernel", DIMS, required=True, doc="window size"),
            Option("stride", DIMS, None, doc="step; defaults to the kernel size (non-overlapping)"),
            Option("pad", DIMS, 0, doc="zero padding on each side (-inf for max pooling)"),
            Option("ceil", BOOL, False, doc="ceil rounding: keep a last window that starts inside the input"),
            *extra,
            DROP,
        ),
        positional=("kernel",),
        flags={"ceil": ("ceil", True)},
        spatial=True,
    )


def _adaptive(name: str, kind: str, example: str, label: str) -> OpDef:
    doc = (
        f"{kind} pooling to a given output size, as PyTorch's Adaptive{kind}Pool2d: output row i pools input rows "
        "floor(i·H/out) to ceil((i+1)·H/out) − 1 (windows may differ by one and overlap), and likewise along W."
    )
    size = Option("size", DIMS, required=True, doc="output size HxW")
    return OpDef(name, "pool", doc, example, options=(size,), positional=("size",), spatial=True, label=label)


def _dense(name: str, doc: str, example: str, spatial: bool = False, label: str = "") -> OpDef:
    """A dense layer on a vector, or (`spatial`) at each position of maps: the same options and weights."""
    return OpDef(
        name,
        "dense",
        doc,
        example,
        options=(Option("units", INT, required=True), Option("bias", BOOL, True)),
        positional=("units",),
        activation=True,
        trainable=True,
        out_channels="units",
        spatial=spatial,
        label=label,
    )


def _activation(name: str, doc: str, label: str, *options: Option, pointwise: bool = True, trainable: bool = False) -> OpDef:
    positional = tuple(o.name for o in options if o.kind != CHOICE)
    example = f"{name} {options[0].default}" if positional else name
    return OpDef(
        name, "activation", doc, example, options=options, positional=positional, pointwise=pointwise, trainable=trainable, label=label
    )


CATALOGUE: dict[str, OpDef] = {
    op.name: op
    for op in (
        OpDef(
            "conv",
            "conv",
            "2-D convolution. `3x3x256` also declares the filter depth, which the checker verifies. "
            "A `connections { ... }` table gives LeNet-style partial connections.",
            "conv2: conv 256 5x5x48 pad=2 groups=2 relu",
            options=(
                Option("filters", INT, required=True, doc="number of output maps"),
                Option("kernel", DIMS, required=True, doc="kernel size, optionally with the filter depth"),
                Option("stride", DIMS, 1),
                Option(
                    "pad",
                    PAD,
                    0,
                    doc="zero padding: one number, HxW, or TxBxLxR (top, bottom, left, right: `0x1x0x1`); "
                    "`same` keeps the size (stride 1), `valid` is 0",
                ),
                Option("dilation", DIMS, 1),
                Option("groups", INT, 1, doc="split input and output maps into towers"),
                Option("bias", BOOL, True),
                # One group per input map is DepthwiseConv2D in Keras (MobileNet's weights);
                # keras.applications' ConvNeXt writes it as Conv2D(groups=C) instead. The same
                # function, and the same PyTorch model: only the Keras kernel's layout differs.
                Option(
                    "keras_kernel",
                    CHOICE,
                    "depthwise",
                    choices=("depthwise", "grouped"),
                    doc="one group per input map: Keras' DepthwiseConv2D (kh, kw, maps, m), or Conv2D(groups) (kh, kw, 1, filters)",
                ),
                DROP,
            ),
            positional=("filters", "kernel"),
            flags={"same": ("pad", "same"), "valid": ("pad", "valid")},
            activation=True,
            block="table",
            trainable=True,
            spatial=True,
            out_channels="filters",
        ),
        _pool("maxpool", "Max pooling; `ceil` keeps a last partial window (Caffe, GoogLeNet).", "pool1: maxpool 3x3 stride=2 ceil"),
        _pool(
            "avgpool",
            "Average pooling; padded zeros count in the average (PyTorch's default) unless `count_pad=false`.",
            "avgpool 5x5 stride=3",
            Option(
                "count_pad",
                BOOL,
                True,
                doc="`false`: the divisor counts only the input's own elements, not the padding (count_include_pad=False)",
            ),
        ),
        OpDef(
            "subsample",
            "pool",
            "LeNet's trainable subsampling: the sum of each 2x2 window times a trainable coefficient, plus a trainable bias, per map.",
            "S2: subsample 2x2 stride=2 sigmoid",
            options=(Option("kernel", DIMS, required=True), Option("stride", DIMS, None), DROP),
            positional=("kernel",),
            activation=True,
            trainable=True,
            spatial=True,
        ),
        OpDef(
            "lrn",
            "norm",
            "Local response normalisation across maps. convention=caffe: x·(k + α/n·Σx²)^−β "
            "(Caffe, PyTorch); convention=paper: α not divided by n (AlexNet paper).",
            "norm1: lrn 5 alpha=1e-4 beta=0.75 k=1",
            options=(
                Option("size", INT, 5, doc="number of adjacent maps n"),
                Option("alpha", FLOAT, 1e-4),
                Option("beta", FLOAT, 0.75),
                Option("k", FLOAT, 1.0),
                Option("convention", CHOICE, "caffe", choices=("caffe", "paper")),
            ),
            positional=("size",),
            spatial=True,
            label="LRN",
        ),
        OpDef(
            "batchnorm",
            "norm",
            "Batch normalisation per map: a trainable scale and shift (2 parameters per map) and running statistics.",
            "batchnorm relu",
            options=(
                Option("eps", FLOAT, 1e-5),
                Option("momentum", FLOAT, 0.1),
                Option("scale", BOOL, True, doc="`false` leaves out the trainable scale γ (fixed at 1; Keras' InceptionV3)"),
                Option("center", BOOL, True, doc="`false` leaves out the trainable shift β (fixed at 0)"),
            ),
            activation=True,
            trainable=True,
            label="batchnorm",
        ),
        OpDef(
            "layernorm",
            "norm",
            "Layer normalisation: on a CxHxW tensor over the maps at each position (ConvNeXt's LayerNorm2d), "
            "on a flat vector over its features; a trainable scale and shift per map (or feature).",
            "norm: layernorm eps=1e-6",
            options=(Option("eps", FLOAT, 1e-5),),
            trainable=True,
            label="layer norm",
        ),
        OpDef(
            "groupnorm",
            "norm",
            "Group normalisation: the maps split into `groups` groups, each normalised over its maps and positions; "
            "a trainable scale and shift per map.",
            "groupnorm 32",
            options=(Option("groups", INT, required=True, doc="number of groups; must divide the maps"), Option("eps", FLOAT, 1e-5)),
            positional=("groups",),
            trainable=True,
            label="group norm",
        ),
        OpDef(
            "layer_scale",
            "norm",
            "A learnable scale per map (or feature), y = γ·x, γ initially `init` (ConvNeXt, CaiT).",
            "layer_scale 1e-6",
            options=(Option("init", FLOAT, 1e-6, doc="the initial value of every γ"),),
            positional=("init",),
            trainable=True,
            label="layer scale",
        ),
        OpDef(
            "stochastic_depth",
            "regularizer",
            "While training, drops each sample's whole residual branch with probability `rate` and scales the kept ones "
            "by 1/(1 − rate) (torchvision's StochasticDepth, mode row); the identity in inference.",
            "stochastic_depth 0.1",
            options=(Option("rate", FLOAT, required=True),),
            positional=("rate",),
            label="stochastic depth",
        ),
        _dense("dense", "Fully connected layer on a flat vector (insert `flatten` after a spatial tensor).", "fc6: dense 4096 relu"),
        _dense(
            "pointwise_dense",
            "A dense layer at each position of a CxHxW tensor, over its C maps: the function of a 1x1 conv, "
            "with a dense layer's weight, (units, C) in PyTorch's nn.Linear (as torchvision's ConvNeXt) and "
            "(C, units) in Keras' Dense on the channels-last maps (as keras.applications' ConvNeXt).",
            "pwconv1: pointwise_dense 384",
            spatial=True,
            label="pointwise dense",
        ),
        OpDef(
            "rbf",
            "output",
            "Euclidean radial basis units (LeNet-5's output): y_i = Σ_j (x_j − w_ij)², one centre per unit, no bias.",
            "output: rbf 10",
            options=(Option("units", INT, required=True),),
            positional=("units",),
            trainable=True,
            out_channels="units",
        ),
        OpDef(
            "dropout",
            "regularizer",
            "Zeroes a fraction of activations while training; the identity in inference.",
            "dropout 0.5",
            options=(Option("rate", FLOAT, required=True),),
            positional=("rate",),
            pointwise=True,
        ),
        OpDef("flatten", "shape", "Flattens CxHxW into a vector of C·H·W, in C, H, W order.", "flatten"),
        OpDef(
            "rescale",
            "preprocess",
            "Input preprocessing: y = x·scale + offset (Keras' Rescaling; MobileNetV3 scales pixels to [−1, 1]), with one "
            "factor for every element or one per channel (EfficientNet's 1/√stddev). No parameters.",
            "rescale scale=0.00784313725490196 offset=-1",
            options=(
                Option("scale", FLOATS, required=True, doc="the factor, one for all or one per channel (map or feature)"),
                Option("offset", FLOAT, 0.0, doc="added after scaling"),
            ),
            positional=("scale",),
            pointwise=True,
        ),
        OpDef(
            "normalize",
            "preprocess",
            "Input preprocessing per channel (map or feature) c: y = (x − mean_c)/std_c, with constants (torchvision's "
            "Normalize; Keras' Normalization with variance std²). No parameters.",
            "normalize mean=0.485, 0.456, 0.406 std=0.229, 0.224, 0.225",
            options=(
                Option("mean", FLOATS, required=True, doc="subtracted, one per channel or one for all"),
                Option("std", FLOATS, required=True, doc="divided by, one per channel or one for all, each above 0"),
                Option(
                    "stored",
                    BOOL,
                    False,
                    doc="Keras keeps mean, variance and count as non-trainable weights (EfficientNet's stem), not constants (ConvNeXt's)",
                ),
            ),
            flags={"stored": ("stored", True)},
        ),
        OpDef(
            "global_avgpool",
            "pool",
            "Averages each map to one value: CxHxW → C, or Cx1x1 with `keep` (a squeeze-and-excitation gate's input).",
            "gap: global_avgpool",
            options=(Option("keep", BOOL, False, doc="keep the 1x1 map: CxHxW → Cx1x1"),),
            flags={"keep": ("keep", True)},
            spatial=True,
            label="global avgpool",
        ),
        _adaptive("adaptive_avgpool", "Average", "adaptive_avgpool 6x6", "adaptive avgpool"),
        _adaptive("adaptive_maxpool", "Max", "adaptive_maxpool 7", "adaptive maxpool"),
        _activation("relu", "max(0, x).", "ReLU"),
        _activation("relu6", "min(max(0, x), 6) (MobileNet).", "ReLU6"),
        _activation(
            "leaky_relu",
            "x for x ≥ 0, slope·x below (PyTorch's default slope 0.01; Keras' LeakyReLU defaults to 0.3).",
            "leaky ReLU",
            Option("slope", FLOAT, 0.01, doc="the slope below 0"),
        ),
        _activation("elu", "x for x > 0, alpha·(eˣ − 1) below.", "ELU", Option("alpha", FLOAT, 1.0)),
        _activation(
            "gelu",
            "x·Φ(x), Φ the normal CDF; `approximate=tanh` is the tanh form 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).",
            "GELU",
            Option("approximate", CHOICE, "none", choices=("none", "tanh"), doc="`tanh`: the tanh approximation"),
        ),
        _activation("silu", "x·sigmoid(x) (swish; EfficientNet).", "SiLU"),
        _activation("hardswish", "x·relu6(x + 3)/6 (MobileNetV3).", "hardswish"),
        _activation("hardsigmoid", "relu6(x + 3)/6 (MobileNetV3's squeeze-and-excitation gate).", "hardsigmoid"),
        _activation(
            "prelu",
            "x for x ≥ 0, a·x below, with a trainable slope a per map (initially 0.25). It has parameters, so it is a layer of its own, never fused.",
            "PReLU",
            pointwise=False,
            trainable=True,
        ),
        _activation("tanh", "Hyperbolic tangent.", "tanh"),
        _activation("sigmoid", "Logistic sigmoid.", "sigmoid"),
        _activation(
            "softmax",
            "Softmax over the features (an output's softmax follows each target's convention: torch logits, Keras classifier_activation).",
            "softmax",
            pointwise=False,
        ),
        _activation("scaled_tanh", "LeNet-5's squashing function 1.7159·tanh(2x/3).", "scaled tanh"),
        OpDef(
            "concat",
            "merge",
            "Concatenates its branches' outputs along the maps; every branch reads the same input.",
            "concat { branch { conv 64 1x1 relu }  branch { maxpool 3x3 stride=1 pad=1 } }",
            block="branches",
            merge=True,
        ),
        OpDef(
            "add",
            "merge",
            "Adds its branches' outputs element-wise (residual merge); `branch` with no body is the identity.",
            "add { branch { conv 64 3x3 pad=1 }  branch }",
            block="branches",
            merge=True,
            activation=True,
        ),
        OpDef(
            "multiply",
            "merge",
            "Multiplies its branches' outputs element-wise; a Cx1x1 branch scales each map of a CxHxW one "
            "(squeeze-and-excitation), and `branch` with no body is the identity.",
            "multiply { branch { global_avgpool keep; conv 16 1x1 relu; conv 64 1x1 sigmoid }  branch }",
            block="branches",
            merge=True,
        ),
        OpDef(
            "split",
            "shape",
            "Keeps one of `parts` equal groups of consecutive maps (ShuffleNetV2's channel split, torch's `x.chunk(parts, 1)[part]`).",
            "split 2 part=1",
            options=(
                Option("parts", INT, required=True, doc="number of equal groups of maps"),
                Option("part", INT, 0, doc="the group kept, counted from 0"),
            ),
            positional=("parts",),
        ),
        OpDef(
            "shuffle",
            "shape",
            "Channel shuffle (ShuffleNet): the maps as `groups` rows of C/groups, read column by column.",
            "shuffle 2",
            options=(Option("groups", INT, required=True, doc="number of groups; must divide the maps"),),
            positional=("groups",),
            spatial=True,
            label="channel shuffle",
        ),
    )
}


# Derived lists: what may follow an op as its fused activation (the activations without
# learnable tensors), and the ops that read several tensors.
ACTIVATIONS: tuple[str, ...] = tuple(op.name for op in CATALOGUE.values() if op.family == "activation" and not op.trainable)
MERGES: tuple[str, ...] = tuple(op.name for op in CATALOGUE.values() if op.merge)
# Ops whose generated code does not depend on their input's shape: a shape a network parameter
# sets may flow through them (to the output), and through nothing else.
SHAPE_FREE = frozenset({*ACTIVATIONS, "dropout", "flatten"})


def activation_attrs(name: str) -> dict[str, object]:
    """A fused activation's options: its defaults (options are written on the op of its own)."""
    return {o.name: o.default for o in CATALOGUE[name].options}
