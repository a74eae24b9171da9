"""Paper figures: the block layout, its TikZ (compiled with pdflatex, rasterised with pdftoppm) and its SVG."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

import archc
from archc.backends.blocks import build_figure
from archc.backends.blocks_draw import Box, Drawing, Line, Mark, Text
from archc.backends.blocks_layout import layout
from archc.backends.blocks_svg import to_blocks_svg
from archc.backends.tikz import tex, to_tikz
from archc.cli import main
from archc.graph import Network
from tests.golden import ROOT

SPECS = sorted((ROOT / "specs").glob("*.arch")) + sorted((ROOT / "specs" / "examples").glob("*.arch"))
PDFLATEX, PDFTOPPM, PDFINFO, PDFTOTEXT = (shutil.which(t) for t in ("pdflatex", "pdftoppm", "pdfinfo", "pdftotext"))
needs_tex = pytest.mark.skipif(
    None in (PDFLATEX, PDFTOPPM, PDFINFO, PDFTOTEXT),
    reason="TeX Live or poppler is missing (apt-get install texlive-latex-base texlive-pictures poppler-utils)",
)
needs_rsvg = pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert is missing (apt-get install librsvg2-bin)")
COLUMN = 3.33 * 72  # a one-column figure, in points


def load(spec: str) -> Network:
    path = ROOT / "specs" / f"{spec}.arch"
    return archc.load(path if path.exists() else ROOT / "specs" / "examples" / f"{spec}.arch")


def draw(spec: str, depth: int | None = None, rankdir: str = "LR", phase: str = "train", width: float = 3.33) -> Drawing:
    return layout(build_figure(load(spec), depth, phase), width, 7.0, rankdir)


def networks() -> list[tuple[Path, str]]:
    out = []
    for path in SPECS:
        text = path.read_text(encoding="utf-8")
        out += [(path, name) for name in re.findall(r"^network\s+(\w+)", text, re.M)]
    return out


# -- the layout --------------------------------------------------------------------------------------
def test_boxes_grow_with_the_spatial_size_and_the_channels() -> None:
    d, net = draw("vgg16"), load("vgg16")
    convs = [n for n in net.layers if n.op == "conv"]
    heights = {n.shape[1]: d.boxes[n.qualname][0].h for n in convs}
    widths = {n.shape[0]: d.boxes[n.qualname][0].w for n in convs}
    assert sorted(heights) == [14, 28, 56, 112, 224]
    assert [heights[k] for k in sorted(heights)] == sorted(set(heights.values()))  # strictly increasing
    assert [widths[k] for k in sorted(widths)] == sorted(set(widths.values())) and len(widths) == 4
    assert heights[224] / heights[14] == pytest.approx((1 + 7.807) / (1 + 3.807), rel=1e-3)  # the documented log scale


def test_vgg16_at_depth_1_is_five_stages() -> None:
    fig = build_figure(load("vgg16"), depth=1)
    stages = [b for b in fig.blocks() if b.kind == "stage"]
    assert [b.lines[0] for b in stages] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert [sum(1 for s in b.slabs if not s.thin) for b in stages] == [2, 2, 3, 3, 3]
    assert all(b.slabs[-1].thin and b.slabs[-1].family == "pool" for b in stages)
    assert [b.lines[-1] for b in stages][-1] == "512×7×7"
    assert [b.kind for b in fig.blocks()] == ["layer"] + ["stage"] * 5 + ["layer"] * 3  # input, stages, fc6-fc8
    assert len([b for b in build_figure(load("vgg16")).blocks() if b.kind == "stage"]) == 0  # every layer without --depth


def test_lenet_and_alexnet_stages() -> None:
    lenet = [b.lines[0] for b in build_figure(load("lenet5"), depth=1).blocks() if b.kind == "stage"]
    alex = [b.lines[0] for b in build_figure(load("alexnet"), depth=1).blocks() if b.kind == "stage"]
    assert lenet == ["C1", "C3"] and alex == ["conv1", "conv2", "conv3–5"]


def test_merges_are_drawn() -> None:
    marks = [p for p in draw("googlenet").prims if isinstance(p, Mark)]
    assert [m.kind for m in marks] == ["concat"] * 9  # nine inception modules; aux heads have none
    adds = [p for p in draw("resnet18").prims if isinstance(p, Mark)]
    assert [m.kind for m in adds] == ["add"] * 8
    assert [p for p in draw("googlenet", depth=1).prims if isinstance(p, Mark)] == []  # modules collapsed


def test_aux_heads_are_dashed_and_only_in_training() -> None:
    for depth in (None, 1):
        d = draw("googlenet", depth)
        aux = [b for key, boxes in d.boxes.items() if key.startswith("aux") for b in boxes]
        main_boxes = [b for key, boxes in d.boxes.items() if not key.startswith("aux") for b in boxes]
        assert aux and all(b.dashed for b in aux) and not any(b.dashed for b in main_boxes)
        assert sum(1 for p in d.prims if isinstance(p, Line) and p.dashed) >= 2  # the edges into both heads
        evaluated = draw("googlenet", depth, phase="eval")
        assert not any(key.startswith("aux") for key in evaluated.boxes)
        assert not any(p.dashed for p in evaluated.prims if isinstance(p, (Box, Line)))


def test_grouped_conv_towers_side_by_side() -> None:
    d = draw("alexnet")
    conv2 = d.boxes["conv2"]
    assert len(conv2) == 2 and conv2[0].x == conv2[1].x and conv2[1].y >= conv2[0].y + conv2[0].h + conv2[0].d
    assert len(d.boxes["conv3"]) == 1 and len(d.boxes["conv4"]) == len(d.boxes["conv5"]) == 2
    assert d.boxes["conv2"][0].w < d.boxes["conv3"][0].w  # each tower holds half the maps


@pytest.mark.parametrize("spec", ["vgg16", "alexnet", "googlenet", "resnet18"])
def test_lr_wraps_rows_within_the_width(spec: str) -> None:
    d = draw(spec)
    assert d.rows >= 2
    assert d.width <= COLUMN
    for p in d.prims:
        if isinstance(p, Box):
            assert p.x >= 0 and p.x + p.w + p.d <= d.width
    tb = draw(spec, rankdir="TB")
    assert tb.rows == 1
    if spec in ("vgg16", "alexnet"):  # plain chains: one column is taller than the wrapped rows
        assert tb.height > d.height > d.width
    wide = draw(spec, width=7.0)
    assert wide.rows < d.rows  # a two-column figure takes fewer rows


def test_text_is_the_font_size_at_column_width() -> None:
    for spec in ("lenet5", "alexnet", "vgg16", "googlenet"):
        for depth in (None, 1):
            d = draw(spec, depth)
            sizes = {p.size for p in d.prims if isinstance(p, Text)}
            assert min(sizes) == 7.0 and d.width <= COLUMN, (spec, depth, d.width)


SKIP = """network Skip {
    input image: 3x32x32
    stem: conv 16 3x3 pad=1 relu
    left: conv 16 3x3 pad=1 relu
    right: conv 16 1x1 from stem
    both: concat from left, right
    sum: add from stem, right
    out: concat from both, sum
}
"""


def test_named_references_get_their_own_edges() -> None:
    net = archc.load(SKIP)
    d = layout(build_figure(net), 3.33, 7.0, "LR")
    marks = [p for p in d.prims if isinstance(p, Mark)]
    assert [m.kind for m in marks] == ["concat", "add", "concat"]
    texts = {p.text for p in d.prims if isinstance(p, Text)}
    assert {"both", "sum", "out", "32×32×32", "48×32×32"} <= texts  # merges of named layers carry their labels
    # one edge per input: stem→left, stem→right (over the row), left→both, right→both, stem→sum, right→sum, both→out, sum→out,
    # and input→stem; none of them doubles back on another
    edges = [p for p in d.prims if isinstance(p, Line)]
    assert len(edges) == 9
    assert len({e.points for e in edges}) == 9


def test_random_specs_lay_out_inside_the_page() -> None:
    from tests.specgen import spec

    for seed in range(120):
        comp = archc.compile_source(spec(seed), f"gen{seed}.arch")
        assert comp.ok, seed
        for net in comp.networks:
            for depth, rankdir, phase in ((None, "LR", "train"), (1, "LR", "eval"), (None, "TB", "train")):
                d = layout(build_figure(net, depth, phase), 3.33, 7.0, rankdir)
                for p in d.prims:
                    if isinstance(p, Box):
                        assert p.x >= 0 and p.x + p.w + p.d <= d.width + 0.01, (seed, depth, rankdir)
                        assert p.y - p.d >= -0.01 and p.y + p.h <= d.height + 0.01, (seed, depth, rankdir)
                covered = {n for b in build_figure(net, depth, phase).blocks() for n in b.nodes}
                drawn = {n.id for n in net.nodes if phase == "train" or not n.aux}
                assert drawn <= covered, (seed, depth, sorted(drawn - covered)[:5])  # every layer stands in some block


@needs_tex
def test_random_specs_compile(tmp_path: Path) -> None:
    from tests.specgen import spec

    for seed in range(0, 60, 6):
        net = archc.compile_source(spec(seed), f"gen{seed}.arch").networks[0]
        compile_tex(to_tikz(net), tmp_path, f"gen{seed}")
        compile_tex(to_tikz(net, depth=1, rankdir="TB"), tmp_path, f"gen{seed}-tb")


# -- TikZ ----------------------------------------------------------------------------------------------
def test_tex_escaping() -> None:
    assert tex("conv1_1") == r"conv1\_1"
    assert tex("64×224×224") == r"64$\times$224$\times$224"
    assert tex("50% & #1 {x} $y$ ^~\\") == r"50\% \& \#1 $\{$x$\}$ \$y\$ \^{}$\sim\backslash$"
    assert tex("naïve") == "na?ve"


def test_tikz_is_deterministic_and_documents_its_scale() -> None:
    one, two = to_tikz(load("googlenet"), depth=1), to_tikz(load("googlenet"), depth=1)
    assert one == two
    assert "\\begin{tikzpicture}" in one and "S(n) = 3 pt (1 + log2 n)" in one
    assert "\\documentclass{article}" in one and "standalone" not in one  # needs only texlive-latex-base and pgf


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_ink(path: Path) -> float:
    """The share of bytes in the decoded image that are not white: a blank page gives 0."""
    data, pos, idat = path.read_bytes(), 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return sum(1 for b in raw[::7] if b < 200) / len(raw[::7])


def compile_tex(source: str, out: Path, stem: str) -> Path:
    (out / f"{stem}.tex").write_text(source, encoding="utf-8")
    assert PDFLATEX is not None
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{stem}.tex"], cwd=out, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Overfull" not in run.stdout and "Font shape" not in run.stdout, run.stdout[-2000:]
    return out / f"{stem}.pdf"


def page_size(pdf: Path) -> tuple[float, float]:
    assert PDFINFO is not None
    info = subprocess.run([PDFINFO, str(pdf)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m, info
    return float(m.group(1)), float(m.group(2))


def word_heights(pdf: Path) -> list[float]:
    """The height of every word's box on the page, as pdftotext measures it (the font's ascent plus descent)."""
    assert PDFTOTEXT is not None
    xml = subprocess.run([PDFTOTEXT, "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [float(b) - float(a) for a, b in re.findall(r'<word [^>]*yMin="([\d.]+)"[^>]*yMax="([\d.]+)"', xml)]


@pytest.fixture(scope="module")
def seven_point(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The word height of 7 pt text in the figures' font, from a one-line document."""
    out = tmp_path_factory.mktemp("ref")
    doc = "\\documentclass{article}\\usepackage{fix-cm}\\pagestyle{empty}\\begin{document}\\sffamily\\fontsize{7}{8.4}\\selectfont conv1 64$\\times$7\\end{document}\n"
    heights = word_heights(compile_tex(doc, out, "ref"))
    assert heights and max(heights) - min(heights) < 0.01
    return heights[0]


@needs_tex
@pytest.mark.parametrize(("path", "name"), networks(), ids=[f"{p.stem}-{n}" for p, n in networks()])
def test_tikz_compiles_and_renders_for_every_seed_spec(path: Path, name: str, tmp_path: Path, seven_point: float) -> None:
    net = archc.load(path, network=name)
    for depth in (None, 1):
        stem = f"{name}-{depth or 'all'}"
        pdf = compile_tex(to_tikz(net, depth=depth), tmp_path, stem)
        width, height = page_size(pdf)
        drawing = layout(build_figure(net, depth), 3.33, 7.0, "LR")
        assert width <= COLUMN + 0.5, (stem, width)  # text at 7 pt or more when the figure is set at column width
        heights = word_heights(pdf)
        assert len(heights) >= 4 and min(heights) * COLUMN / width >= seven_point - 0.01, (stem, min(heights), seven_point)
        assert abs(width - drawing.width) < 1.5 and abs(height - drawing.height) < 1.5  # the SVG size (and line widths): no text ran over
        assert PDFTOPPM is not None
        subprocess.run([PDFTOPPM, "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / stem)], check=True, timeout=120)
        png = tmp_path / f"{stem}.png"
        w, h = png_size(png)
        assert abs(w - width / 72 * 150) <= 2 and abs(h - height / 72 * 150) <= 2
        assert png_ink(png) > 0.01  # something is drawn


@needs_tex
def test_title_with_specials_compiles(tmp_path: Path) -> None:
    source = to_tikz(load("lenet5"), title="LeNet-5: 60% of 100 & $x_1$ #1 ~ {a} \\b")
    compile_tex(source, tmp_path, "title")
    assert "60\\% of 100 \\& \\$x\\_1\\$" in source


# -- SVG, PNG, PDF without LaTeX ----------------------------------------------------------------------
def test_svg_is_the_same_drawing() -> None:
    net = load("googlenet")
    svg = to_blocks_svg(net, depth=1)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    d = layout(build_figure(net, 1), 3.33, 7.0, "LR")
    boxes = sum(1 for p in d.prims if isinstance(p, Box))
    assert len(root.findall(f"{ns}rect")) == boxes + 1  # a front face per box, and the background
    texts = root.findall(f"{ns}text")
    assert len(texts) == sum(1 for p in d.prims if isinstance(p, Text))
    assert {t.get("font-size") for t in texts} == {"7", "8"}  # labels, and the title
    assert root.get("width") == f"{d.width:g}pt"
    assert any(t.text == "inception4a" for t in texts) and any(e.get("stroke-dasharray") for e in root.iter())  # aux dashed


@needs_rsvg
def test_cli_renders_blocks_as_png_pdf_svg_and_tex(tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "vgg16.arch")
    assert main(["render", spec, "-o", str(tmp_path / "v.tex")]) == 0
    assert (tmp_path / "v.tex").read_text(encoding="utf-8") == to_tikz(load("vgg16"))
    assert main(["render", spec, "--format", "tex", "--depth", "1", "-o", str(tmp_path / "v1.txt")]) == 0
    assert (tmp_path / "v1.txt").read_text(encoding="utf-8") == to_tikz(load("vgg16"), depth=1)
    assert main(["render", spec, "--style", "blocks", "--depth", "1", "--dpi", "200", "-o", str(tmp_path / "v.png")]) == 0
    d = layout(build_figure(load("vgg16"), 1), 3.33, 7.0, "LR")
    w, h = png_size(tmp_path / "v.png")
    assert abs(w - d.width / 72 * 200) <= 2 and abs(h - d.height / 72 * 200) <= 2
    assert png_ink(tmp_path / "v.png") > 0.01
    assert (
        main(["render", spec, "--style", "blocks", "-o", str(tmp_path / "v.pdf"), "--width", "7", "--font-size", "9", "--title", ""]) == 0
    )
    assert (tmp_path / "v.pdf").read_bytes()[:5] == b"%PDF-"
    assert main(["render", spec, "--style", "blocks", "-o", str(tmp_path / "v.svg"), "--rankdir", "TB"]) == 0
    assert (tmp_path / "v.svg").read_text(encoding="utf-8") == to_blocks_svg(load("vgg16"), rankdir="TB")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_png_dpi(tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "lenet5.arch")
    assert main(["render", spec, "-o", str(tmp_path / "a.png")]) == 0
    assert main(["render", spec, "-o", str(tmp_path / "b.png"), "--dpi", "192"]) == 0
    (w1, h1), (w2, h2) = png_size(tmp_path / "a.png"), png_size(tmp_path / "b.png")
    assert abs(w2 - 2 * w1) <= 4 and abs(h2 - 2 * h1) <= 4


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "lenet5.arch")
    assert main(["render", spec, "--style", "blocks", "--format", "dot", "-o", str(tmp_path / "x.dot")]) == 2
    assert main(["render", spec, "--style", "graph", "-o", str(tmp_path / "x.tex")]) == 2
    assert main(["render", spec, "-o", str(tmp_path / "x.tex"), "--width", "0"]) == 2
    assert main(["render", spec, "-o", str(tmp_path / "x.tex"), "--font-size", "-1"]) == 2
    assert "width is in inches" in capsys.readouterr().err
    assert main(["render", spec, "-o", str(tmp_path / "x.svg"), "--title", "LeNet"]) == 2  # a Graphviz diagram has no such option
    assert "--style blocks" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_rsvg_convert_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("archc.figures.shutil.which", lambda name: None)
    assert main(["render", str(ROOT / "specs" / "lenet5.arch"), "--style", "blocks", "-o", str(tmp_path / "x.png")]) == 3
    assert "librsvg2-bin" in capsys.readouterr().err
    assert main(["render", str(ROOT / "specs" / "lenet5.arch"), "-o", str(tmp_path / "x.tex")]) == 0  # tex needs nothing
