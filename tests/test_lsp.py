"""`archc lsp` through the protocol: a real server process, JSON-RPC over its stdin and stdout.

One server serves the whole module (each test opens its own documents), so the suite pays for
one start-up. The expected values come from the CLI and the compiler, never from the server's code.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from archc.cli import main
from bench.lsp_latency import LspClient
from tests.golden import ROOT

SPECS = ROOT / "specs"
GOOGLENET = (SPECS / "googlenet.arch").read_text(encoding="utf-8")
_uris = count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[LspClient]:
    client = LspClient()
    client.initialize()
    yield client
    assert client.close() == 0


def cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(list(args))
    return out.getvalue()


def open_doc(server: LspClient, text: str, name: str = "spec") -> tuple[str, list[dict[str, Any]]]:
    uri = f"file:///tmp/lsp-test/{name}-{next(_uris)}.arch"
    server.open(uri, text)
    return uri, server.diagnostics(uri, 1)["diagnostics"]


def pos(text: str, line: int, word: str, offset: int = 0) -> dict[str, int]:
    """The LSP position of `word` on a 1-based line (plus offset characters)."""
    return {"line": line - 1, "character": text.split("\n")[line - 1].index(word) + offset}


def line_of(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.split("\n"), 1) if needle in line)


def utf16(line: str, column: int) -> int:
    return len(line[: column - 1].encode("utf-16-le")) // 2


# -- lifecycle ------------------------------------------------------------------------------------
def test_capabilities(server: LspClient) -> None:
    client = LspClient()
    caps = client.initialize()["capabilities"]
    assert client.close() == 0
    for feature in ("hoverProvider", "definitionProvider", "documentSymbolProvider", "documentFormattingProvider"):
        assert caps[feature] is True
    assert "=" in caps["completionProvider"]["triggerCharacters"]
    assert caps["textDocumentSync"]["openClose"] is True


def test_import_archc_does_not_import_pygls() -> None:
    code = "import sys, archc, archc.cli, archc.lsp; print(sorted(m for m in sys.modules if m.startswith(('pygls', 'lsprotocol'))))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_without_pygls_the_command_exits_3_with_a_hint() -> None:
    code = "import sys; sys.modules['pygls'] = None; from archc.cli import main; sys.exit(main(['lsp']))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 3
    assert "pip install 'archc[lsp]'" in run.stderr


# -- diagnostics ----------------------------------------------------------------------------------
def error_files() -> list[Path]:
    out = []
    for path in sorted((ROOT / "tests" / "errors").glob("*.arch")):
        data = path.read_bytes()
        if len(data) < 200_000:
            with contextlib.suppress(UnicodeDecodeError):
                data.decode("utf-8")
                out.append(path)
    return out


def test_diagnostics_are_the_clis(server: LspClient) -> None:
    """Every error file: the same codes, messages, severities and ranges as `archc check --json`."""
    files = error_files()
    assert len(files) > 50
    expected: dict[str, list[dict[str, Any]]] = {}
    for d in json.loads(cli("check", "--json", *map(str, files))):
        expected.setdefault(d["file"], []).append(d)
    compared = 0
    for path in files:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
        lines = text.split("\n")
        _, got = open_doc(server, text, path.stem)
        want = expected.get(str(path), [])
        assert [(d["code"], d["message"].split("\n")[0]) for d in got] == [(d["code"], d["message"]) for d in want], path.name
        for g, w in zip(got, want, strict=True):
            assert g["severity"] == (1 if w["severity"] == "error" else 2)
            assert g["source"] == "archc"
            start, end = g["range"]["start"], g["range"]["end"]
            assert start == {"line": w["line"] - 1, "character": utf16(lines[w["line"] - 1], w["column"])}, path.name
            if w["end_line"] > w["line"] or w["end_column"] > w["column"]:
                assert end == {"line": w["end_line"] - 1, "character": utf16(lines[w["end_line"] - 1], w["end_column"])}, path.name
            if w["hint"]:
                assert g["message"].endswith(f"hint: {w['hint']}")
            compared += 1
    assert compared > 50


def test_clean_specs_have_no_diagnostics(server: LspClient) -> None:
    for path in sorted(SPECS.rglob("*.arch")):
        assert open_doc(server, path.read_text(encoding="utf-8"), path.stem)[1] == [], path.name


def test_diagnostics_follow_edits(server: LspClient) -> None:
    uri, diags = open_doc(server, GOOGLENET, "googlenet")
    assert diags == []
    row = line_of(GOOGLENET, "conv1: conv 64") - 1
    col = GOOGLENET.split("\n")[row].index("conv 64")
    server.change(uri, 2, "k", (row, col))  # conv → kconv
    published = server.diagnostics(uri, 2)
    assert [d["code"] for d in published["diagnostics"]] == ["unknown-op"]
    assert published["diagnostics"][0]["range"]["start"] == {"line": row, "character": col}
    assert published["diagnostics"][0]["message"] == "unknown op `kconv`\nhint: did you mean `conv`?"
    server.change(uri, 3, "", (row, col), (row, col + 1))
    assert server.diagnostics(uri, 3)["diagnostics"] == []
    server.change(uri, 4, "network N {\n    input x: 3x8x8\n    c: conv 4 3x3x2\n}\n")  # a whole-text change
    assert [d["code"] for d in server.diagnostics(uri, 4)["diagnostics"]] == ["channel-mismatch"]


def test_ranges_count_utf16_units_beyond_the_bmp(server: LspClient) -> None:
    text = "network N {\n    input x: 3x8x8\n    𝑥𝑥: konv 4 3x3\n}\n"
    (diag,) = open_doc(server, text)[1]
    assert diag["code"] == "unknown-op"
    # `konv` starts at code point 8; each 𝑥 is two UTF-16 units
    assert diag["range"] == {"start": {"line": 2, "character": 10}, "end": {"line": 2, "character": 14}}


def test_a_byte_order_mark_keeps_its_column(server: LspClient) -> None:
    (diag,) = open_doc(server, "\ufeffnetwork N {\n    c: conv 4 3x3\n}\n")[1]
    assert diag["code"] == "missing-input"
    assert diag["range"]["start"] == {"line": 0, "character": len("\ufeffnetwork ")}


def test_utf32_when_the_client_asks_for_it() -> None:
    client = LspClient()
    try:
        caps = client.initialize({"general": {"positionEncodings": ["utf-32", "utf-16"]}})["capabilities"]
        assert caps["positionEncoding"] == "utf-32"
        uri = "file:///tmp/lsp-test/utf32.arch"
        client.open(uri, "network N {\n    input x: 3x8x8\n    𝑥𝑥: konv 4 3x3\n}\n")
        (diag,) = client.diagnostics(uri, 1)["diagnostics"]
        assert diag["range"] == {"start": {"line": 2, "character": 8}, "end": {"line": 2, "character": 12}}
        hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}})
        assert "3x8x8" in hover["contents"]["value"]
    finally:
        client.close()


# -- hover ----------------------------------------------------------------------------------------
def hover(server: LspClient, uri: str, position: dict[str, int]) -> str | None:
    found = server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": position})
    return None if found is None else str(found["contents"]["value"])


def test_hover_on_a_layer_shows_shape_params_macs_and_the_arithmetic(server: LspClient) -> None:
    uri, _ = open_doc(server, GOOGLENET, "googlenet")
    layer = json.loads(cli("summary", "specs/googlenet.arch", "--json"))["layers"][0]
    assert layer["name"] == "conv1"
    text = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "conv1: conv"), "conv1", 2))
    assert text is not None
    assert f"**{'x'.join(map(str, layer['output_shape']))}**" in text
    assert f"{layer['params']:,} params" in text and f"{layer['macs']:,} MACs" in text
    explained = cli("summary", "specs/googlenet.arch", "--explain").split("\n")
    for line in (e for e in explained if e.startswith("conv1 ")):
        assert line.removeprefix("conv1").strip() in text  # every --explain line of conv1
    assert "2-D convolution" not in text  # the op's description only on the op's name
    on_op = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "conv1: conv"), "conv 64", 1))
    assert on_op is not None and "2-D convolution" in on_op


def test_hover_in_a_module_body_lists_every_instance(server: LspClient) -> None:
    uri, _ = open_doc(server, GOOGLENET, "googlenet")
    text = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "branch b1"), "conv c1"))
    assert text is not None
    assert "9 instances" in text
    rows = {r["name"]: r for r in json.loads(cli("summary", "specs/googlenet.arch", "--json"))["layers"]}
    for inst in ("inception3a", "inception4e", "inception5b"):
        r = rows[f"{inst}.b1.conv_1"]
        assert f"| `{inst}.b1.conv_1` | {'x'.join(map(str, r['output_shape']))} | {r['params']:,} | {r['macs']:,} |" in text


def test_hover_on_a_call_a_network_and_an_aux_head(server: LspClient) -> None:
    uri, _ = open_doc(server, GOOGLENET, "googlenet")
    summary = json.loads(cli("summary", "specs/googlenet.arch", "--json"))
    call = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "inception3a:"), "inception("))
    sub = next(m for m in summary["modules"] if m["path"] == "inception3a")
    assert call is not None and "**256x28x28**" in call and f"{sub['params']:,} params" in call
    net = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "network GoogLeNet"), "GoogLeNet"))
    assert net is not None and f"{summary['total_params']:,} params" in net and f"{summary['macs']:,} MACs" in net
    aux = hover(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "aux1:"), "aux1"))
    assert aux is not None and "aux head" in aux
    assert hover(server, uri, {"line": 0, "character": 3}) is None  # a comment


def test_hover_after_an_error_says_so(server: LspClient) -> None:
    text = "network N {\n    input x: 3x8x8\n    a: konv 4 3x3\n    b: conv 4 3x3\n}\n"
    uri, _ = open_doc(server, text)
    found = hover(server, uri, pos(text, 4, "conv"))
    assert found is not None and "unknown" in found


# -- go to definition -----------------------------------------------------------------------------
def definition(server: LspClient, uri: str, position: dict[str, int]) -> dict[str, Any] | None:
    found = server.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": position})
    return found  # type: ignore[no-any-return]


def test_definition_of_module_calls_from_references_and_parameters(server: LspClient) -> None:
    uri, _ = open_doc(server, GOOGLENET, "googlenet")
    at = line_of(GOOGLENET, "aux1:")
    to_module = definition(server, uri, pos(GOOGLENET, at, "aux_classifier", 3))
    assert to_module is not None and to_module["uri"] == uri
    assert to_module["range"]["start"] == pos(GOOGLENET, line_of(GOOGLENET, "module aux_classifier"), "aux_classifier")
    to_layer = definition(server, uri, pos(GOOGLENET, at, "inception4a", 4))
    assert to_layer is not None
    assert to_layer["range"]["start"] == pos(GOOGLENET, line_of(GOOGLENET, "inception4a: inception"), "inception4a")
    to_param = definition(server, uri, pos(GOOGLENET, line_of(GOOGLENET, "branch b3"), "c5r"))
    assert to_param is not None
    assert to_param["range"]["start"] == pos(GOOGLENET, line_of(GOOGLENET, "module inception"), "c5r")
    assert definition(server, uri, pos(GOOGLENET, at, "1000")) is None


EXPRESSIONS = """module widen(c, w) {
    conv make_divisible(c*w, 8) 1x1
}

network N(classes=10) {
    input img: 3x8x8
    widen(4, 2)
    global_avgpool
    dense max(classes, 2)
}
"""


def test_definition_of_names_inside_expressions_and_of_network_parameters(server: LspClient) -> None:
    uri, diags = open_doc(server, EXPRESSIONS)
    assert [d for d in diags if d["severity"] == 1] == []
    at = line_of(EXPRESSIONS, "make_divisible")
    for word, offset in (("c*w", 0), ("c*w", 2)):
        found = definition(server, uri, pos(EXPRESSIONS, at, word, offset))
        assert found is not None
        name = "c" if offset == 0 else "w"
        assert found["range"]["start"] == pos(EXPRESSIONS, 1, f"{name},") if name == "c" else pos(EXPRESSIONS, 1, "w)")
    to_param = definition(server, uri, pos(EXPRESSIONS, line_of(EXPRESSIONS, "dense"), "classes"))
    assert to_param is not None and to_param["range"]["start"] == pos(EXPRESSIONS, line_of(EXPRESSIONS, "network N"), "classes")


SCOPES = """module m(c) {
    x: conv c 1x1
    y: conv c 1x1 from x
}

network N {
    input img: 3x8x8
    x: conv 4 3x3 pad=1
    conv 4 1x1
    s: add {
        branch { inner: conv 4 1x1 from x }
        branch { conv 4 1x1 from inner }
    }
    z: conv 4 1x1 from conv_1
    w: m(4) from img
}
"""


def test_definition_follows_the_resolvers_scopes(server: LspClient) -> None:
    uri, diags = open_doc(server, SCOPES)
    errors = [(d["range"]["start"]["line"] + 1, d["code"]) for d in diags if d["severity"] == 1]
    assert errors == [(12, "undefined-name")]  # `inner` is not visible in the second branch
    in_module = definition(server, uri, pos(SCOPES, 3, "from x", 5))
    assert in_module is not None and in_module["range"]["start"] == pos(SCOPES, 2, "x")  # the module's own x
    in_branch = definition(server, uri, pos(SCOPES, 11, "from x", 5))
    assert in_branch is not None and in_branch["range"]["start"] == pos(SCOPES, 8, "x")  # the network's x
    assert definition(server, uri, pos(SCOPES, 12, "inner")) is None
    generated = definition(server, uri, pos(SCOPES, 14, "conv_1"))
    assert generated is not None and generated["range"]["start"] == pos(SCOPES, 9, "conv")  # the unnamed layer
    to_input = definition(server, uri, pos(SCOPES, 15, "img"))
    assert to_input is not None and to_input["range"]["start"] == pos(SCOPES, 7, "img")


# -- completion -----------------------------------------------------------------------------------
def completions(server: LspClient, text: str, line: int, after: str) -> list[str]:
    uri, _ = open_doc(server, text)
    row = text.split("\n")[line - 1]
    position = {"line": line - 1, "character": row.index(after) + len(after)}
    found = server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
    return [item["label"] for item in found["items"]]


def test_completion_of_op_and_module_names(server: LspClient) -> None:
    text = GOOGLENET.replace("    drop: dropout 0.4", "    drop: dro", 1)
    labels = completions(server, text, line_of(text, "drop: dro"), "drop: dro")
    assert {"conv", "maxpool", "dropout", "global_avgpool", "concat", "inception", "aux_classifier", "repeat"} <= set(labels)
    assert "stride=" not in labels


def test_completion_of_options_flags_and_values(server: LspClient) -> None:
    text = "network N {\n    input x: 3x8x8\n    c: conv 4 3x3 \n    p: maxpool 2x2 ceil=\n    q: conv 4 3x3 pad=\n}\n"
    conv = completions(server, text, 3, "conv 4 3x3 ")
    assert {"stride=", "pad=", "groups=", "bias=", "same", "valid", "relu", "connections", "from"} <= set(conv)
    assert "filters=" not in conv and "kernel=" not in conv  # both given positionally
    assert completions(server, text, 4, "ceil=") == ["true", "false"]
    assert completions(server, text, 5, "pad=") == ["same", "valid"]


def test_completion_of_layer_names_after_from(server: LspClient) -> None:
    text = GOOGLENET.replace("from inception4d", "from ", 1)
    labels = completions(server, text, line_of(text, "aux2:"), "from ")
    assert {"image", "conv1", "pool3", "inception4a", "inception4d", "aux1"} <= set(labels)
    assert "inception4e" not in labels and "fc" not in labels  # defined after the cursor
    assert "pool" not in labels  # a layer of the aux_classifier module, another scope


# -- symbols and formatting -----------------------------------------------------------------------
def test_document_symbols(server: LspClient) -> None:
    uri, _ = open_doc(server, GOOGLENET, "googlenet")
    found = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [(s["name"], s["kind"]) for s in found] == [("inception", 12), ("aux_classifier", 12), ("GoogLeNet", 5)]
    net = found[2]
    names = [c["name"] for c in net["children"]]
    rows = json.loads(cli("summary", "specs/googlenet.arch", "--json"))["layers"]
    assert names == ["image", *dict.fromkeys(r["name"].split(".")[0] for r in rows)]
    aux = found[1]
    assert [c["name"] for c in aux["children"]] == ["pool", "conv", "flatten_1", "fc1", "drop", "fc2"]
    concat = found[0]["children"][0]
    assert [b["name"] for b in concat["children"]] == ["b1", "b2", "b3", "b4"]
    assert [c["name"] for c in concat["children"][1]["children"]] == ["conv_1", "conv_2"]
    for sym in net["children"]:
        r, sel = sym["range"], sym["selectionRange"]
        assert (r["start"]["line"], r["start"]["character"]) <= (sel["start"]["line"], sel["start"]["character"])


def test_formatting_is_archc_fmt(server: LspClient, tmp_path: Path) -> None:
    messy = "network   N {\n  input x: 3x8x8   # the input\n      c:   conv 4  3x3 pad=1\n\n\n  relu\n}"
    spec = tmp_path / "messy.arch"
    spec.write_text(messy, encoding="utf-8")
    want = cli("fmt", str(spec))
    assert want and want != messy
    uri, _ = open_doc(server, messy)
    params = {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
    (edit,) = server.request("textDocument/formatting", params)
    assert edit["newText"] == want
    assert edit["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 6, "character": 1}}
    uri, _ = open_doc(server, want)
    assert server.request("textDocument/formatting", {**params, "textDocument": {"uri": uri}}) == []
    uri, _ = open_doc(server, messy.replace("conv 4", "konv 4"))  # an error in the spec, but it parses: formatted
    (edit,) = server.request("textDocument/formatting", {**params, "textDocument": {"uri": uri}})
    assert edit["newText"] == want.replace("conv 4", "konv 4")
    uri, _ = open_doc(server, messy.replace("conv 4", "conv 4 ("))  # a syntax error: nothing
    assert server.request("textDocument/formatting", {**params, "textDocument": {"uri": uri}}) is None


def test_hover_on_a_repeat_and_on_its_body(server: LspClient) -> None:
    text = (SPECS / "examples" / "resnet18.arch").read_text(encoding="utf-8")
    uri, _ = open_doc(server, text, "resnet18")
    at = line_of(text, "layer1: repeat 2")
    rows = {r["path"]: r for r in json.loads(cli("summary", "specs/examples/resnet18.arch", "--json"))["modules"]}
    whole = hover(server, uri, pos(text, at, "repeat"))
    assert whole is not None and f"{rows['layer1']['params']:,} params" in whole and "2 iterations" in whole
    body = hover(server, uri, pos(text, at, "basic"))
    assert body is not None and "2 instances" in body and "| `layer1.0` |" in body and "| `layer1.1` |" in body


def test_every_position_of_every_spec_answers_without_failing() -> None:
    """hover, definition and completion at every character of the specs and error files (in process)."""
    from archc.lsp.analysis import Analysis, complete

    paths = sorted(SPECS.rglob("*.arch")) + error_files()[::3]
    answered = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        analysis = Analysis(text, str(path))
        for lineno, line in enumerate(text.split("\n"), 1):
            for col in range(1, len(line) + 2, 2):
                analysis.hover((lineno, col))
                analysis.definition((lineno, col))
                complete(text, (lineno, col))
                answered += 1
        program = analysis.comp.program
        assert len(analysis.symbols) == (0 if program is None else len(program.modules) + len(program.networks))
    assert answered > 5000
