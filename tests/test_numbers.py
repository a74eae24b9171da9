"""The published numbers, reproduced by running `archc summary --json` on the specs.

The numbers live here and in shared/reference/numbers.md only: the code computes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from typing import Any

import pytest

from tests.golden import ROOT


@cache
def summary(spec: str) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-m", "archc", "summary", spec, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr  # the seed specs compile without a warning
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def layer(net: dict[str, Any], name: str) -> dict[str, Any]:
    found = [entry for entry in net["layers"] if entry["name"] == name]
    assert len(found) == 1, f"no single layer {name!r}"
    return found[0]


def module(net: dict[str, Any], path: str) -> dict[str, Any]:
    found = [m for m in net["modules"] if m["path"] == path]
    assert len(found) == 1, f"no single module instance {path!r}"
    return found[0]


def test_json_shape() -> None:
    net = summary("specs/lenet5.arch")
    assert net["network"] == "LeNet5"
    assert net["input"] == [1, 32, 32]
    for key in ("layers", "total_params", "inference_params", "macs", "training_macs"):
        assert key in net
    for entry in net["layers"]:
        assert {"name", "op", "module", "output_shape", "params", "macs"} <= set(entry)
        assert isinstance(entry["output_shape"], list) and all(isinstance(d, int) for d in entry["output_shape"])


# -- LeNet-5 --------------------------------------------------------------------------------------
LENET = {  # name: (output shape, params, MACs)
    "C1": ([6, 28, 28], 156, 117_600),
    "S2": ([6, 14, 14], 12, 0),
    "C3": ([16, 10, 10], 1_516, 150_000),
    "S4": ([16, 5, 5], 32, 0),
    "C5": ([120, 1, 1], 48_120, 48_000),
    "F6": ([84], 10_164, 10_080),
    "output": ([10], 840, 840),
}


@pytest.mark.parametrize("name", list(LENET))
def test_lenet5_layers(name: str) -> None:
    entry = layer(summary("specs/lenet5.arch"), name)
    assert (entry["output_shape"], entry["params"], entry["macs"]) == LENET[name]


def test_lenet5_totals() -> None:
    net = summary("specs/lenet5.arch")
    assert net["total_params"] == net["inference_params"] == 60_840
    assert net["total_params"] - layer(net, "output")["params"] == 60_000  # without the RBF layer
    assert layer(net, "C3")["op"] == "conv" and layer(net, "output")["op"] == "rbf"


# -- AlexNet ----------------------------------------------------------------------------------------
ALEXNET = {
    "conv1": ([96, 55, 55], 34_944, 105_415_200),
    "pool1": ([96, 27, 27], 0, 0),
    "conv2": ([256, 27, 27], 307_456, 223_948_800),
    "pool2": ([256, 13, 13], 0, 0),
    "conv3": ([384, 13, 13], 885_120, 149_520_384),
    "conv4": ([384, 13, 13], 663_936, 112_140_288),
    "conv5": ([256, 13, 13], 442_624, 74_760_192),
    "pool5": ([256, 6, 6], 0, 0),
    "fc6": ([4096], 37_752_832, 37_748_736),
    "fc7": ([4096], 16_781_312, 16_777_216),
    "fc8": ([1000], 4_097_000, 4_096_000),
}


@pytest.mark.parametrize("name", list(ALEXNET))
def test_alexnet_layers(name: str) -> None:
    entry = layer(summary("specs/alexnet.arch"), name)
    assert (entry["output_shape"], entry["params"], entry["macs"]) == ALEXNET[name]


def test_alexnet_totals() -> None:
    net = summary("specs/alexnet.arch")
    assert net["input"] == [3, 227, 227]
    assert net["total_params"] == net["inference_params"] == 60_965_224
    assert net["macs"] == net["training_macs"] == 724_406_816


# -- VGG16 ------------------------------------------------------------------------------------------
VGG = {
    "conv1_1": 1_792,
    "conv1_2": 36_928,
    "conv2_1": 73_856,
    "conv2_2": 147_584,
    "conv3_1": 295_168,
    "conv3_2": 590_080,
    "conv3_3": 590_080,
    "conv4_1": 1_180_160,
    "conv4_2": 2_359_808,
    "conv4_3": 2_359_808,
    "conv5_1": 2_359_808,
    "conv5_2": 2_359_808,
    "conv5_3": 2_359_808,
    "fc6": 102_764_544,
    "fc7": 16_781_312,
    "fc8": 4_097_000,
}


def test_vgg16() -> None:
    net = summary("specs/vgg16.arch")
    assert {name: layer(net, name)["params"] for name in VGG} == VGG
    assert net["total_params"] == 138_357_544
    assert net["macs"] == 15_470_264_320
    assert layer(net, "pool5")["output_shape"] == [512, 7, 7]


# -- GoogLeNet --------------------------------------------------------------------------------------
GOOGLENET_BLOCKS = {  # module instance: (params, MACs)
    "inception3a": (163_696, 128_049_152),
    "inception3b": (388_736, 304_267_264),
    "inception4a": (376_176, 73_608_192),
    "inception4b": (449_160, 87_908_352),
    "inception4c": (510_104, 99_850_240),
    "inception4d": (605_376, 118_515_712),
    "inception4e": (868_352, 169_996_288),
    "inception5a": (1_043_456, 51_079_168),
    "inception5b": (1_444_080, 70_697_984),
    "aux1": (3_188_840, 4_169_728),
    "aux2": (3_190_888, 4_202_496),
}


def test_googlenet_totals() -> None:
    net = summary("specs/googlenet.arch")
    assert net["inference_params"] == 6_998_552
    assert net["macs"] == 1_582_671_872
    assert net["total_params"] == 13_378_280
    assert net["training_macs"] == 1_591_044_096


@pytest.mark.parametrize("path", list(GOOGLENET_BLOCKS))
def test_googlenet_blocks(path: str) -> None:
    block = module(summary("specs/googlenet.arch"), path)
    assert (block["params"], block["macs"]) == GOOGLENET_BLOCKS[path]
    assert block["aux"] == path.startswith("aux")


def test_googlenet_stem_and_classifier() -> None:
    net = summary("specs/googlenet.arch")
    conv1 = layer(net, "conv1")
    assert (conv1["params"], conv1["macs"]) == (9_472, 118_013_952)
    stem = [layer(net, "conv2_reduce"), layer(net, "conv2")]
    assert (sum(e["params"] for e in stem), sum(e["macs"] for e in stem)) == (114_944, 359_661_568)
    fc = layer(net, "fc")
    assert (fc["params"], fc["macs"]) == (1_025_000, 1_024_000)


def test_googlenet_stride_2_max_pools_round_up() -> None:
    net = summary("specs/googlenet.arch")
    pools = [e for e in net["layers"] if e["op"] == "maxpool" and e["module"] == ""]
    assert [e["name"] for e in pools] == ["pool1", "pool2", "pool3", "pool4"]
    assert [e["output_shape"][1:] for e in pools] == [[56, 56], [28, 28], [14, 14], [7, 7]]


def test_googlenet_aux_heads_are_training_only() -> None:
    net = summary("specs/googlenet.arch")
    aux = [e for e in net["layers"] if e["aux"]]
    assert {e["module"] for e in aux} == {"aux1", "aux2"}
    assert net["total_params"] - net["inference_params"] == sum(e["params"] for e in aux) == 3_188_840 + 3_190_888
    assert layer(net, "aux1.fc2")["output_shape"] == layer(net, "aux2.fc2")["output_shape"] == [1000]


# -- the bottleneck example and ResNet-18 -------------------------------------------------------------
def test_bottleneck() -> None:
    doc = summary("specs/examples/bottleneck.arch")
    nets = {n["network"]: n for n in doc["networks"]}
    assert nets["Direct5x5"]["macs"] == 112_896_000
    reduced = nets["Reduced5x5"]
    assert (layer(reduced, "reduce")["macs"], layer(reduced, "conv5x5")["macs"]) == (1_505_280, 3_763_200)
    assert reduced["macs"] == 5_268_480


def test_resnet18() -> None:
    net = summary("specs/examples/resnet18.arch")
    assert net["total_params"] == 11_689_512
    assert net["macs"] == 1_814_073_344
    assert sum(e["params"] for e in net["layers"] if e["op"] == "batchnorm") == 9_600
    assert layer(net, "fc")["output_shape"] == [1000]
