"""The summary people expect (issue 13, item 6): folding by depth, trainable and non-trainable
parameters, parameter and activation memory, the input shape, terminal width, the same figures
in --json; and in Python net.summary(), a one-line repr and a notebook display of chosen depth."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import archc
from archc import summary
from archc.cli import main
from archc.graph import Network
from archc.summary import to_json, to_text
from tests.golden import ROOT

SEEDS = ("specs/lenet5.arch", "specs/alexnet.arch", "specs/examples/resnet18.arch")
RESNET = "specs/examples/resnet18.arch"


def load(spec: str) -> Network:
    return archc.load(ROOT / spec)


def cli(*args: str) -> str:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            assert main(["summary", *args]) == 0
    finally:
        os.chdir(cwd)
    return out.getvalue()


def table_names(text: str) -> list[str]:
    """The first cell of every row of the layer table (between the rule and the first blank line)."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    end = lines.index("", start)
    return [line.split()[0] for line in lines[start:end]]


# -- --depth -----------------------------------------------------------------------------------------
def test_depth_1_is_one_row_per_top_level_layer_or_instance() -> None:
    text = cli(RESNET, "--depth", "1")
    assert table_names(text) == [
        "conv1", "bn1", "maxpool", "layer1", "layer2_0", "layer2_1", "layer3_0", "layer3_1", "layer4_0", "layer4_1", "avgpool", "fc",
    ]  # fmt: skip
    row = next(line for line in text.split("\n") if line.startswith("layer1 "))
    assert "repeat ×2" in row and "147,968" in row and "462,422,016" in row
    row = next(line for line in text.split("\n") if line.startswith("layer4_0 "))
    assert " down " in row and "3,673,088" in row and "512x7x7" in row


def test_depth_2_opens_the_top_level_but_not_the_blocks_in_the_repeat() -> None:
    names = table_names(cli(RESNET, "--depth", "2"))
    assert names[3:5] == ["layer1.0", "layer1.1"] and not any(n.startswith("layer1.0.") for n in names)
    assert "layer2_0" not in names and "layer2_0.residual.conv1" in names  # a branch is not a level
    deep = table_names(cli(RESNET, "--depth", "3"))
    assert "layer1.0.residual.conv1" in deep and deep == table_names(cli(RESNET))


def test_googlenet_at_depth_1_has_one_row_per_inception() -> None:
    names = table_names(load("specs/googlenet.arch").summary(depth=1))
    assert names.count("inception4a") == 1 and not any("." in n for n in names)
    assert len(names) == 23  # 7 stem layers, 9 inceptions, pool3, pool4, 2 aux heads, gap, drop and fc


@pytest.mark.parametrize("spec", ["specs/googlenet.arch", RESNET, "specs/vgg16.arch"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_folded_rows_add_up_to_the_totals(spec: str, depth: int) -> None:
    doc = to_json(load(spec), depth=depth)
    assert sum(r["params"] for r in doc["rows"]) == doc["total_params"]
    assert sum(r["macs"] for r in doc["rows"]) == doc["training_macs"]
    assert sum(r["non_trainable_params"] for r in doc["rows"]) == doc["non_trainable_params"]


def test_depth_must_be_positive() -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["summary", str(ROOT / RESNET), "--depth", "0"]) == 2
    assert "--depth" in err.getvalue()


# -- trainable / non-trainable, memory -------------------------------------------------------------
def test_resnet18_batch_norm_statistics_are_counted_apart() -> None:
    doc = to_json(load(RESNET))
    assert doc["trainable_params"] == doc["total_params"] == 11_689_512
    assert doc["non_trainable_params"] == 9_600
    assert doc["param_bytes"] == (11_689_512 + 9_600) * 4
    text = to_text(load(RESNET))
    assert re.search(r"^non-trainable +9,600 ", text, re.M), text
    assert re.search(r"^parameter memory +46,796,448 bytes", text, re.M), text
    bn = next(layer for layer in doc["layers"] if layer["name"] == "bn1")
    assert bn["params"] == 128 and bn["non_trainable_params"] == 128


def test_lenet_has_no_non_trainable_params() -> None:
    doc = to_json(load("specs/lenet5.arch"))
    assert doc["non_trainable_params"] == 0 and doc["param_bytes"] == 60_840 * 4


def torch_saved_bytes(spec: str, batch: int) -> int:
    """Unique storage bytes of the tensors autograd saves during one training forward of the model
    archc builds, less the model's own parameters and buffers (the parameter memory)."""
    torch = pytest.importorskip("torch")
    net = load(spec)
    model = archc.build_model(net, "torch")
    model.train()
    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    saved: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        if storage.data_ptr() not in state:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    torch.manual_seed(0)
    x = torch.randn(batch, *net.input_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    assert out is not None and saved
    return sum(saved.values())


@pytest.mark.parametrize("spec", SEEDS)
def test_activation_memory_is_what_torch_saves_for_backward(spec: str) -> None:
    batch = 4
    measured = torch_saved_bytes(spec, batch)
    figure = to_json(load(spec), batch=batch)["activation_bytes"]
    assert 0.9 <= figure / measured <= 1.1, (figure, measured, figure / measured)


def test_activation_memory_scales_with_the_batch_and_says_its_convention() -> None:
    one = json.loads(cli(RESNET, "--json"))
    eight = json.loads(cli(RESNET, "--json", "--batch", "8"))
    assert one["batch"] == 1 and eight["batch"] == 8
    assert 7.9 < eight["activation_bytes"] / one["activation_bytes"] <= 8
    assert "backward" in one["activation_convention"]
    text = cli(RESNET, "--batch", "8")
    line = next(line for line in text.split("\n") if line.startswith("activation memory"))
    assert f"{eight['activation_bytes']:,} bytes" in line and "batch 8" in line and "backward" in line


def test_dead_layers_count_in_no_total() -> None:
    net = archc.load((ROOT / "tests/errors/unused_layer.arch").read_text(encoding="utf-8"))
    dead = [n for n in net.layers if n.id not in net.live]
    assert dead
    doc = to_json(net, depth=1)
    assert [r["name"] for r in doc["rows"] if not r["live"]] == ["unread"]
    assert sum(r["params"] for r in doc["rows"] if r["live"]) == net.total_params < sum(r["params"] for r in doc["rows"])
    assert "unread (dead)" in to_text(net)
    live_only = archc.load((ROOT / "tests/errors/unused_layer.arch").read_text(encoding="utf-8").replace("    unread:", "    # unread:"))
    assert doc["activation_bytes"] == to_json(live_only)["activation_bytes"]


# -- input shapes ----------------------------------------------------------------------------------
def test_the_input_shape_column() -> None:
    text = to_text(load(RESNET))
    header = text.split("\n")[2].split()
    assert header[:5] == ["layer", "op", "module", "input", "output"]
    rows = {line.split()[0]: line for line in text.split("\n")[4:] if line}
    assert "3x224x224" in rows["conv1"] and "2×64x56x56" in rows["layer1.0.add_1"]
    google = to_text(load("specs/googlenet.arch"))
    concat = next(line for line in google.split("\n") if line.startswith("inception3a.concat"))
    assert "(64+128+32+32)x28x28" in concat
    doc = to_json(load(RESNET))
    add = next(layer for layer in doc["layers"] if layer["name"] == "layer1.0.add_1")
    assert add["input_shapes"] == [[64, 56, 56], [64, 56, 56]]


# -- terminal width --------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["specs/googlenet.arch", RESNET, "specs/lenet5.arch"])
def test_no_line_is_wider_than_the_terminal_and_no_row_wraps(spec: str) -> None:
    net = load(spec)
    lines = len(to_text(net).split("\n"))
    for width in range(30, 140, 7):
        text = to_text(net, width=width)
        assert max(len(line) for line in text.split("\n")) <= width, width
        assert len(text.split("\n")) == lines


def header(text: str) -> list[str]:
    return text.split("\n")[2].split()


def test_narrow_terminals_drop_columns_in_the_documented_order() -> None:
    net = load(RESNET)
    full = to_text(net)
    widest = max(len(line) for line in full.split("\n")[2:64])
    texts = [to_text(net, width=w) for w in range(widest, 30, -1)]
    steps = [header(t) for t in texts]
    seen = [s for i, s in enumerate(steps) if i == 0 or s != steps[i - 1]]
    assert seen == [
        ["layer", "op", "module", "input", "output", "params", "MACs"],
        ["layer", "op", "module", "output", "params", "MACs"],  # 1. the input shapes
        ["layer", "op", "output", "params", "MACs"],  # 2. the module
        ["layer", "op", "output", "params"],  # 3. the MACs
        ["layer", "output", "params"],  # 5. the op, after 4. its abbreviation
    ]
    with_op = [t for t, h in zip(texts, steps, strict=True) if h == seen[3]]
    assert "batchnorm+relu" in with_op[0] and "global_avgpool" in with_op[0]
    assert "batchnorm+relu" not in with_op[-1] and " batchnorm " in with_op[-1] and " global_a… " in with_op[-1]
    narrow = to_text(net, width=34)
    assert "layer4_0.residual.conv1" not in narrow and re.search(r"^lay\S*…\S*conv1 ", narrow, re.M)  # 6. names shortened in the middle
    assert header(narrow) == seen[-1]


def test_the_cli_reads_the_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=(80, 24): os.terminal_size((64, 24)))
    out = Terminal()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(ROOT / "specs/googlenet.arch")]) == 0
    assert max(len(line) for line in out.getvalue().split("\n")) <= 64
    assert max(len(line) for line in cli("specs/googlenet.arch").split("\n")) > 64  # a pipe: no limit
    assert max(len(line) for line in cli("specs/googlenet.arch", "--width", "50").split("\n")) <= 50


# -- --json ----------------------------------------------------------------------------------------
def test_json_carries_the_same_figures_as_the_table() -> None:
    doc = json.loads(cli(RESNET, "--json", "--depth", "1", "--batch", "2"))
    assert [r["name"] for r in doc["rows"]][:4] == ["conv1", "bn1", "maxpool", "layer1"]
    layer1 = doc["rows"][3]
    assert layer1 == {
        "name": "layer1",
        "kind": "repeat",
        "op": "repeat ×2",
        "module": "",
        "input_shapes": [[64, 56, 56]],
        "output_shape": [64, 56, 56],
        "params": 147_968,
        "non_trainable_params": 512,
        "macs": 462_422_016,
        "saved_bytes": layer1["saved_bytes"],
        "aux": False,
        "live": True,
    }
    assert layer1["saved_bytes"] > 0
    assert doc["depth"] == 1 and sum(r["saved_bytes"] for r in doc["rows"]) == doc["activation_bytes"]
    text = cli(RESNET, "--depth", "1", "--batch", "2")
    assert f"{doc['activation_bytes']:,} bytes" in text and f"{doc['param_bytes']:,} bytes" in text


# -- Python ----------------------------------------------------------------------------------------
def test_net_summary_is_the_cli_text() -> None:
    net = load(RESNET)
    assert net.summary(depth=1) == to_text(net, depth=1)
    assert "layer1.0.residual" not in net.summary(depth=1) and "layer1.0.residual.conv1" in net.summary()


def test_repr_is_one_short_line() -> None:
    net = load("specs/googlenet.arch")
    assert repr(net) == "<Network GoogLeNet: 3x224x224 → 1000, 6,998,552 params, 1,582,671,872 MACs, 84 layers, 2 aux heads>"
    assert repr(load("specs/lenet5.arch")) == "<Network LeNet5: 1x32x32 → 10, 60,840 params, 326,520 MACs, 8 layers>"


def test_notebook_display_of_a_chosen_depth() -> None:
    net = load("specs/googlenet.arch")
    shown = net.display(depth=1)
    assert isinstance(shown, summary.Display)
    html = shown._repr_html_()
    assert "inception4a" in html and "inception4a.b1" not in html.split("<svg")[0]
    if shutil.which("dot"):
        svg = shown._repr_svg_()
        assert svg is not None and svg.lstrip().startswith(("<?xml", "<svg"))
        assert len(svg) < len(net._repr_svg_() or "")  # the whole network is the bigger picture
        assert "<svg" in html
    assert repr(shown) == net.summary(depth=1)


def test_notebook_display_without_graphviz_shows_the_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    shown = load(RESNET).display(depth=1)
    assert shown._repr_svg_() is None
    html = shown._repr_html_()
    assert "<svg" not in html and "layer4_0" in html and "layer4_0.residual" not in html


def test_very_narrow_widths_still_fit() -> None:
    net = load("specs/googlenet.arch")
    for width in range(1, 30):
        assert max(len(line) for line in to_text(net, depth=1, width=width).split("\n")) <= width


def test_narrow_subtotals_keep_their_params_and_the_title_its_input() -> None:
    text = to_text(load("specs/googlenet.arch"), depth=1, width=60)
    assert text.split("\n")[0] == "GoogLeNet  (input 3x224x224)"
    subtotal = next(line for line in text.split("\n") if line.startswith("  inception5b"))
    assert subtotal.endswith("1,444,080 params") and "…" not in subtotal


def test_a_network_without_layers_has_a_summary() -> None:
    """Found by tests/test_fuzz.py: the column widths of an empty table crashed the summary."""
    net = archc.load("network N {\n    input img: 3x32x32\n}\n")
    text = to_text(net)
    assert "N  (input 3x32x32" in text and "total params" in text
