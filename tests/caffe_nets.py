"""Caffe .prototxt text for tests/test_import_caffe.py, written by the tests themselves.

The importer is tested on the BVLC reference architectures (AlexNet, CaffeNet, GoogLeNet), whose
published parameter and MAC counts the imported specs must give exactly. Rather than keep copies
of the model zoo's files, this module writes the same networks from their definitions: the layer
names, blob wiring and options of the published nets, in this module's own layout.

The text exercises what the importer must read in real files: both layer forms (`layer` with
quoted types, and the old V1 `layers` with enum types and `input_dim`), all three ways of giving
the input, `#` comments, in-place ReLU and Dropout tops, training settings that do not change the
function (`param { lr_mult }`, `blobs_lr`, `weight_decay`, fillers, `loss_weight`), and, in
`googlenet_train_val`, data layers, `include { phase: ... }`, losses and accuracy layers.
"""

from __future__ import annotations

from collections.abc import Sequence

Scalar = str | int | float | bool
Fields = list[tuple[str, "Value"]]
Value = Scalar | Fields


class Word(str):
    """An enum value (MAX, TRAIN, CONVOLUTION), written bare rather than quoted."""


def scalar(value: Scalar) -> str:
    if isinstance(value, Word):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    return repr(value)


def render(fields: Fields, indent: int = 0) -> list[str]:
    """Fields as text lines: a message whose fields are all scalars goes on one line if it fits."""
    pad = "  " * indent
    lines = []
    for key, value in fields:
        if not isinstance(value, list):
            lines.append(f"{pad}{key}: {scalar(value)}")
            continue
        flat = " ".join(f"{k}: {scalar(v)}" for k, v in value if not isinstance(v, list))
        if all(not isinstance(v, list) for _, v in value) and len(pad) + len(key) + len(flat) < 80:
            lines.append(f"{pad}{key} {{ {flat} }}")
        else:
            lines += [f"{pad}{key} {{", *render(value, indent + 1), f"{pad}}}"]
    return lines


V1_TYPES = {
    "Convolution": "CONVOLUTION",
    "ReLU": "RELU",
    "Pooling": "POOLING",
    "LRN": "LRN",
    "InnerProduct": "INNER_PRODUCT",
    "Dropout": "DROPOUT",
    "Softmax": "SOFTMAX",
    "Concat": "CONCAT",
}

XAVIER: Fields = [("weight_filler", [("type", "xavier")]), ("bias_filler", [("type", "constant"), ("value", 0.2)])]


class Net:
    """A prototxt under construction: `layer` blocks, or V1 `layers` blocks when `v1` is set."""

    def __init__(self, name: str, *, v1: bool = False, fillers: bool = False) -> None:
        self.v1, self.fillers = v1, fillers
        self.lines = [f"# {name}, written by tests/caffe_nets.py", f"name: {scalar(name)}"]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def input(self, blob: str, shape: Sequence[int]) -> None:
        """The input as the deploy files give it: an Input layer, or V1's `input` and `input_dim`s."""
        if self.v1:
            self.lines += [f"input: {scalar(blob)}", *(f"input_dim: {d}" for d in shape)]
        else:
            self.add(blob, "Input", [], [blob], [("input_param", [("shape", [("dim", d) for d in shape])])])

    def add(self, name: str, typ: str, bottoms: Sequence[str], tops: Sequence[str], fields: Fields | None = None) -> None:
        kind: Scalar = Word(V1_TYPES[typ]) if self.v1 else typ
        head = f"name: {scalar(name)}  type: {scalar(kind)}"
        wires = " ".join([*(f"bottom: {scalar(b)}" for b in bottoms), *(f"top: {scalar(t)}" for t in tops)])
        self.lines += ["layers {" if self.v1 else "layer {", f"  {head}", f"  {wires}", *render(fields or [], 1), "}"]

    def learned(self) -> Fields:
        """The weights' and biases' learning-rate and decay multipliers (ignored by the import)."""
        if self.v1:
            return [("blobs_lr", 1), ("blobs_lr", 2), ("weight_decay", 1), ("weight_decay", 0)]
        return [("param", [("lr_mult", 1), ("decay_mult", 1)]), ("param", [("lr_mult", 2), ("decay_mult", 0)])]

    # -- layers by kind -------------------------------------------------------------------------------
    def conv(self, name: str, bottom: str, filters: int, kernel: int, stride: int = 1, pad: int = 0, group: int = 1) -> str:
        options: Fields = [("num_output", filters), ("kernel_size", kernel)]
        options += [("stride", stride)] if stride != 1 else []
        options += [("pad", pad)] if pad else []
        options += [("group", group)] if group != 1 else []
        self.add(name, "Convolution", [bottom], [name], self.learned() + [("convolution_param", options + self.filled())])
        return name

    def fc(self, name: str, bottom: str, units: int) -> str:
        options: Fields = [("num_output", units), *self.filled()]
        self.add(name, "InnerProduct", [bottom], [name], self.learned() + [("inner_product_param", options)])
        return name

    def filled(self) -> Fields:
        return XAVIER if self.fillers else []

    def relu(self, name: str, blob: str) -> str:
        self.add(name, "ReLU", [blob], [blob])  # in place: the top is the bottom
        return blob

    def dropout(self, name: str, blob: str, ratio: float) -> str:
        self.add(name, "Dropout", [blob], [blob], [("dropout_param", [("dropout_ratio", ratio)])])
        return blob

    def pool(self, name: str, bottom: str, kind: str, kernel: int, stride: int, pad: int = 0) -> str:
        options: Fields = [("pool", Word(kind)), ("kernel_size", kernel), ("stride", stride)]
        options += [("pad", pad)] if pad else []
        self.add(name, "Pooling", [bottom], [name], [("pooling_param", options)])
        return name

    def lrn(self, name: str, bottom: str) -> str:
        self.add(name, "LRN", [bottom], [name], [("lrn_param", [("local_size", 5), ("alpha", 0.0001), ("beta", 0.75)])])
        return name

    def concat(self, name: str, bottoms: Sequence[str]) -> str:
        self.add(name, "Concat", bottoms, [name])
        return name

    def softmax(self, name: str, bottom: str) -> str:
        self.add(name, "Softmax", [bottom], [name])
        return name


# -- AlexNet and CaffeNet -------------------------------------------------------------------------------
# (name, filters, kernel, stride, pad, group, then "norm+pool" / "pool" / "" after its ReLU)
ALEXNET_CONVS = [
    ("conv1", 96, 11, 4, 0, 1, "norm+pool"),
    ("conv2", 256, 5, 1, 2, 2, "norm+pool"),
    ("conv3", 384, 3, 1, 1, 1, ""),
    ("conv4", 384, 3, 1, 1, 2, ""),
    ("conv5", 256, 3, 1, 1, 2, "pool"),
]


def reference_net(net: Net, lrn_first: bool) -> str:
    """Five convolutions (two towers as group 2) and three dense layers, as bvlc_alexnet.

    AlexNet normalises then pools after conv1 and conv2; CaffeNet pools then normalises.
    """
    net.input("data", (10, 3, 227, 227))
    blob = "data"
    for k, (name, filters, kernel, stride, pad, group, after) in enumerate(ALEXNET_CONVS, 1):
        net.comment(f"-- {name}")
        blob = net.relu(f"relu{k}", net.conv(name, blob, filters, kernel, stride, pad, group))
        if after == "pool":
            blob = net.pool(f"pool{k}", blob, "MAX", 3, 2)
        elif after and lrn_first:
            blob = net.pool(f"pool{k}", net.lrn(f"norm{k}", blob), "MAX", 3, 2)
        elif after:
            blob = net.lrn(f"norm{k}", net.pool(f"pool{k}", blob, "MAX", 3, 2))
    net.comment("-- classifier")
    for k in (6, 7):
        blob = net.dropout(f"drop{k}", net.relu(f"relu{k}", net.fc(f"fc{k}", blob, 4096)), 0.5)
    net.softmax("prob", net.fc("fc8", blob, 1000))
    return net.text()


def alexnet_deploy() -> str:
    """bvlc_alexnet's deploy net: `layer` blocks, an Input layer, LRN before each early pool."""
    return reference_net(Net("AlexNet"), lrn_first=True)


def caffenet_deploy() -> str:
    """bvlc_reference_caffenet's deploy net in the V1 form (`layers`, `input_dim`, `blobs_lr`), pool before LRN."""
    return reference_net(Net("CaffeNet", v1=True), lrn_first=False)


# -- GoogLeNet --------------------------------------------------------------------------------------------
# block: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection (Szegedy et al. 2014, table 1)
INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
POOL_AFTER = {"3b": "pool3/3x3_s2", "4e": "pool4/3x3_s2"}  # the stride-2 max pools between stages
AUX_AFTER = {"4a": 1, "4d": 2}  # train_val's auxiliary classifiers loss1 and loss2


def inception(net: Net, block: str, bottom: str) -> str:
    one, reduce3, three, reduce5, five, proj = INCEPTIONS[block]
    at = f"inception_{block}/"

    def conv_relu(branch: str, source: str, filters: int, kernel: int) -> str:
        return net.relu(f"{at}relu_{branch}", net.conv(at + branch, source, filters, kernel, pad=kernel // 2))

    net.comment(f"-- inception_{block}")
    outputs = [conv_relu("1x1", bottom, one, 1)]
    outputs.append(conv_relu("3x3", conv_relu("3x3_reduce", bottom, reduce3, 1), three, 3))
    outputs.append(conv_relu("5x5", conv_relu("5x5_reduce", bottom, reduce5, 1), five, 5))
    outputs.append(conv_relu("pool_proj", net.pool(f"{at}pool", bottom, "MAX", 3, 1, pad=1), proj, 1))
    return net.concat(f"{at}output", outputs)


def aux_classifier(net: Net, k: int, bottom: str) -> None:
    net.comment(f"-- auxiliary classifier loss{k}, for training only")
    at = f"loss{k}/"
    blob = net.relu(f"{at}relu_conv", net.conv(f"{at}conv", net.pool(f"{at}ave_pool", bottom, "AVE", 5, 3), 128, 1))
    blob = net.dropout(f"{at}drop_fc", net.relu(f"{at}relu_fc", net.fc(f"{at}fc", blob, 1024)), 0.7)
    scored(net, k, net.fc(f"{at}classifier", blob, 1000), 0.3)


def scored(net: Net, k: int, logits: str, weight: float) -> None:
    """A training loss on the logits, and top-1 and top-5 accuracies in the TEST phase."""
    net.add(
        f"loss{k}/loss" if k < 3 else "loss3/loss3", "SoftmaxWithLoss", [logits, "label"], [f"loss{k}/loss{k}"], [("loss_weight", weight)]
    )
    for top in (1, 5):
        options: Fields = [("include", [("phase", Word("TEST"))])]
        options += [("accuracy_param", [("top_k", top)])] if top > 1 else []
        net.add(f"loss{k}/top-{top}", "Accuracy", [logits, "label"], [f"loss{k}/top-{top}"], options)


def data_layers(net: Net) -> None:
    """The ImageNet LMDB readers, one per phase (ignored by the import, which asks for the shape)."""
    for phase, source, batch, mirror in (("TRAIN", "train", 32, True), ("TEST", "val", 50, False)):
        transform: Fields = [("mirror", mirror), ("crop_size", 224), *(("mean_value", m) for m in (104, 117, 123))]
        data: Fields = [("source", f"examples/imagenet/ilsvrc12_{source}_lmdb"), ("batch_size", batch), ("backend", Word("LMDB"))]
        fields: Fields = [("include", [("phase", Word(phase))]), ("transform_param", transform), ("data_param", data)]
        net.add("data", "Data", [], ["data", "label"], fields)


def googlenet(train: bool) -> str:
    net = Net("GoogleNet", fillers=True)
    if train:
        data_layers(net)
    else:
        net.input("data", (10, 3, 224, 224))
    net.comment("-- stem")
    blob = net.relu("conv1/relu_7x7", net.conv("conv1/7x7_s2", "data", 64, 7, stride=2, pad=3))
    blob = net.lrn("pool1/norm1", net.pool("pool1/3x3_s2", blob, "MAX", 3, 2))
    blob = net.relu("conv2/relu_3x3_reduce", net.conv("conv2/3x3_reduce", blob, 64, 1))
    blob = net.relu("conv2/relu_3x3", net.conv("conv2/3x3", blob, 192, 3, pad=1))
    blob = net.pool("pool2/3x3_s2", net.lrn("conv2/norm2", blob), "MAX", 3, 2)
    for block in INCEPTIONS:
        blob = inception(net, block, blob)
        if train and block in AUX_AFTER:
            aux_classifier(net, AUX_AFTER[block], blob)
        if block in POOL_AFTER:
            blob = net.pool(POOL_AFTER[block], blob, "MAX", 3, 2)
    net.comment("-- classifier")
    blob = net.dropout("pool5/drop_7x7_s1", net.pool("pool5/7x7_s1", blob, "AVE", 7, 1), 0.4)
    logits = net.fc("loss3/classifier", blob, 1000)
    if train:
        scored(net, 3, logits, 1)
    else:
        net.softmax("prob", logits)
    return net.text()


def googlenet_deploy() -> str:
    """bvlc_googlenet's deploy net: the stem, nine inception modules, average pool and classifier."""
    return googlenet(train=False)


def googlenet_train_val() -> str:
    """bvlc_googlenet's training net: data layers per phase, the two auxiliary classifiers, losses, accuracies."""
    return googlenet(train=True)
