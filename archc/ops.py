"""The op catalogue: every op's options, types, defaults and positional slots, declared once as data.

Adding an op means one entry here, one shape rule in shapes.py and one emitter per backend;
tests/test_coverage.py fails until every backend handles it or declares the gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "scaled_tanh")

# The options a network parameter may set (docs/language.md, "Network parameters"): both code
# generators write these as the parameter's own expression, and none of them depends on a shape.
SYMBOLIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "conv": ("filters", "groups", "bias"),
    "dense": ("units", "bias"),
    "rbf": ("units",),
    "dropout": ("rate",),
    "batchnorm": ("eps",),
    "lrn": ("beta", "k"),
}
SHAPE_OPTIONS = ("filters", "units")  # of those, the ones that set the layer's output shape
# Ops whose generated code does not depend on their input's shape: a shape a network parameter
# sets may flow through them (to the output), and through nothing else.
SHAPE_FREE = frozenset({*ACTIVATIONS, "dropout", "flatten"})

# Value kinds an option accepts. "dims" takes `3x3` or a bare integer meaning a square.
INT, FLOAT, DIMS, BOOL, CHOICE, PAD = "int", "float", "dims", "bool", "choice", "pad"

KIND_TEXT = {
    INT: "a whole number",
    FLOAT: "a number",
    DIMS: "a size like 3x3 or a whole number",
    BOOL: "true or false",
    CHOICE: "one of",
    PAD: "a whole number, a size like 1x2, 'same' or 'valid'",
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

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


# Checker-only: `drop=ok` acknowledges that the window leaves the last rows unread on purpose (torchvision's
# SqueezeNet stem, GoogLeNet's aux pool), so `check --strict` passes on a faithful spec. It changes no shape
# and no generated code: the backends read only the options they emit.
DROP = Option("drop", CHOICE, "warn", choices=("warn", "ok"), doc="`ok`: the input rows this window leaves unread are intended")


def _pool(name: str, doc: str, example: str) -> OpDef:
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
            DROP,
        ),
        positional=("kernel",),
        flags={"ceil": ("ceil", True)},
    )


def _activation(name: str, doc: str) -> OpDef:
    return OpDef(name, "activation", doc, f"{name}")


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
                Option("pad", PAD, 0, doc="zero padding; `same` keeps the size (stride 1), `valid` is 0"),
                Option("dilation", DIMS, 1),
                Option("groups", INT, 1, doc="split input and output maps into towers"),
                Option("bias", BOOL, True),
                DROP,
            ),
            positional=("filters", "kernel"),
            flags={"same": ("pad", "same"), "valid": ("pad", "valid")},
            activation=True,
            block="table",
        ),
        _pool("maxpool", "Max pooling; `ceil` keeps a last partial window (Caffe, GoogLeNet).", "pool1: maxpool 3x3 stride=2 ceil"),
        _pool("avgpool", "Average pooling; padded zeros count in the average (PyTorch's default).", "avgpool 5x5 stride=3"),
        OpDef(
            "subsample",
            "pool",
            "LeNet's trainable subsampling: the sum of each 2x2 window times a trainable coefficient, plus a trainable bias, per map.",
            "S2: subsample 2x2 stride=2 sigmoid",
            options=(Option("kernel", DIMS, required=True), Option("stride", DIMS, None), DROP),
            positional=("kernel",),
            activation=True,
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
        ),
        OpDef(
            "batchnorm",
            "norm",
            "Batch normalisation per map: a trainable scale and shift (2 parameters per map) and running statistics.",
            "batchnorm relu",
            options=(Option("eps", FLOAT, 1e-5), Option("momentum", FLOAT, 0.1)),
            activation=True,
        ),
        OpDef(
            "dense",
            "dense",
            "Fully connected layer on a flat vector (insert `flatten` after a spatial tensor).",
            "fc6: dense 4096 relu",
            options=(Option("units", INT, required=True), Option("bias", BOOL, True)),
            positional=("units",),
            activation=True,
        ),
        OpDef(
            "rbf",
            "output",
            "Euclidean radial basis units (LeNet-5's output): y_i = Σ_j (x_j − w_ij)², one centre per unit, no bias.",
            "output: rbf 10",
            options=(Option("units", INT, required=True),),
            positional=("units",),
        ),
        OpDef(
            "dropout",
            "regularizer",
            "Zeroes a fraction of activations while training; the identity in inference.",
            "dropout 0.5",
            options=(Option("rate", FLOAT, required=True),),
            positional=("rate",),
        ),
        OpDef("flatten", "shape", "Flattens CxHxW into a vector of C·H·W, in C, H, W order.", "flatten"),
        OpDef("global_avgpool", "pool", "Averages each map to one value: CxHxW → C.", "gap: global_avgpool"),
        _activation("relu", "max(0, x)."),
        _activation("tanh", "Hyperbolic tangent."),
        _activation("sigmoid", "Logistic sigmoid."),
        _activation(
            "softmax",
            "Softmax over the features (an output's softmax follows each target's convention: torch logits, Keras classifier_activation).",
        ),
        _activation("scaled_tanh", "LeNet-5's squashing function 1.7159·tanh(2x/3)."),
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
    )
}
