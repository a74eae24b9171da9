"""`archc report`: one self-contained HTML file, checked as text and in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
from pathlib import Path

import pytest

import archc
from archc.graph import Network
from archc.report import bars, html_report, write_report
from tests import chromium
from tests.golden import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")
BROWSER = chromium.find()

# Anything that would make a browser fetch something: external references, imports, fonts.
FETCHES = re.compile(
    r"""(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?!#)[a-z]+:|@import|@font-face|url\(|<script|<link|<iframe""", re.I
)


def load(spec: str) -> Network:
    return archc.load(ROOT / "specs" / f"{spec}.arch")


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    if not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed")
    return {spec: html_report(load(spec)) for spec in ("googlenet", "vgg16")}


def test_vgg16_fc6_bar_holds_three_quarters_of_the_parameters() -> None:
    rows = {b.name: b for b in bars(load("vgg16"))}
    net = load("vgg16")
    assert rows["fc6"].params == 102_764_544
    assert rows["fc6"].params / net.total_params == pytest.approx(0.7427, abs=1e-4)
    assert "pool1" not in rows and "drop6" not in rows  # nothing to show: no parameters, no MACs


def test_googlenet_bars_are_per_module_with_aux_heads_marked() -> None:
    rows = bars(load("googlenet"))
    names = [b.name for b in rows]
    assert names[:4] == ["conv1", "conv2_reduce", "conv2", "inception3a"]
    assert [b.name for b in rows if b.aux] == ["aux1", "aux2"]
    assert sum(b.params for b in rows) == load("googlenet").total_params


@needs_dot
def test_report_is_self_contained(reports: dict[str, str]) -> None:
    for spec, page in reports.items():
        assert page.startswith("<!DOCTYPE html>"), spec
        assert FETCHES.search(page) is None, (spec, FETCHES.search(page))
        assert "<svg" in page and "<?xml" not in page and "<!DOCTYPE svg" not in page


@needs_dot
def test_report_content(reports: dict[str, str]) -> None:
    vgg, goog = reports["vgg16"], reports["googlenet"]
    assert "102.8M · 74.3%" in vgg  # fc6's bar
    assert "138,357,544" in vgg
    assert "<td>inception4a</td><td>inception</td>" in goog  # the per-module subtotals
    assert '<td class="num">376,176</td>' in goog
    assert "conv2: conv 192 3x3 pad=1 relu" in goog  # the spec source
    # hover text: every diagram node's <title> is its tooltip, with shape, parameters and MACs
    titles = re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>', goog)
    layer_titles = [t for t in titles if "params" in t]
    assert len(layer_titles) > 100
    assert any("inception4a.b3.conv_2" in t and "16×14×14 → 48×14×14" in t and "MACs 3,763,200" in t for t in titles)


@needs_dot
def test_spec_source_is_escaped(tmp_path: Path) -> None:
    spec = "# <script>alert('x')</script> & <b>bold</b>\nnetwork N {\n    input x: 1x4x4\n    flatten\n    out: dense 2\n}\n"
    page = html_report(archc.load(spec))
    assert "<script" not in page and "<b>bold" not in page
    assert "# &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


@needs_dot
def test_write_report_cli(tmp_path: Path) -> None:
    from archc.cli import main

    out = tmp_path / "r" / "lenet.html"
    assert main(["report", str(ROOT / "specs" / "lenet5.arch"), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == html_report(archc.load(str(ROOT / "specs" / "lenet5.arch")))
    assert [p.name for p in out.parent.iterdir()] == ["lenet.html"]  # written atomically, no temp file left


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@needs_dot
@pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("spec", ["googlenet", "vgg16"])
def test_report_in_headless_chromium(spec: str, tmp_path: Path) -> None:
    page = tmp_path / f"{spec}.html"
    write_report(load(spec), page)
    probes = {
        "nodes": "document.querySelectorAll('svg g.node').length",
        "hover": "[...document.querySelectorAll('svg g.node > title')].filter(t => /params [\\d,]+\\nMACs [\\d,]+/.test(t.textContent)).length",
        "resources": "performance.getEntriesByType('resource').length",
        "chart_bars": "document.querySelectorAll('figure.chart .bar .fill').length",
        "heading": "document.querySelector('h1').textContent",
        "width": "document.querySelector('figure.diagram svg').getBoundingClientRect().width",
    }
    assert BROWSER is not None
    result = chromium.open_page(BROWSER, page.resolve().as_uri(), probes, height=1600)
    assert result.loaded
    assert result.errors == [], result.errors
    assert result.requests == [page.resolve().as_uri()], result.requests  # the page itself, nothing else
    v = result.values
    assert v["resources"] == 0 and v["heading"] == load(spec).name
    assert v["nodes"] >= 20 and v["hover"] >= 15 and v["chart_bars"] == 2 * len(bars(load(spec))) >= 30 and v["width"] > 200
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"report_{spec}.png"
    shot.write_bytes(result.screenshot)
    assert png_size(result.screenshot) == (1280, 1600)
    assert len(result.screenshot) > 50_000  # a blank page compresses to a few kilobytes


PHONE = 375  # CSS pixels: an iPhone's width in portrait
PHONE_PROBES = {
    "scroll_width": "document.documentElement.scrollWidth",
    # every element's right edge, except those inside a scrolling container (the tables, the diagram)
    "overflowing": "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll, figure.diagram, pre, details')"
    " && e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.tagName + '.' + e.className)",
    "tables": "[...document.querySelectorAll('table')].map(t => [t.parentElement.className, t.parentElement.getBoundingClientRect().right,"
    " t.parentElement.scrollWidth > t.parentElement.clientWidth])",
    "chart_font": "Math.min(...[...document.querySelectorAll('figure.chart .bar-name, figure.chart .val')].map(e => parseFloat(getComputedStyle(e).fontSize)))",
    "chart_right": "Math.max(...[...document.querySelectorAll('figure.chart .bar')].map(e => e.getBoundingClientRect().right))",
    "bar_width": "Math.min(...[...document.querySelectorAll('figure.chart .bar')].map(e => e.getBoundingClientRect().width))",
    # the first diagram's node labels, in screen pixels: the diagram keeps its size and scrolls in its box
    "diagram_text": "Math.min(...[...document.querySelector('figure.diagram svg').querySelectorAll('g.node text')]"
    ".map(e => e.getBoundingClientRect().height))",
}


@needs_dot
@pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("spec", ["googlenet", "vgg16"])
def test_report_fits_a_phone(spec: str, tmp_path: Path) -> None:
    """At 375 px nothing but the tables (which scroll in their box) and the diagram is wider than the screen,
    and the bar chart keeps its text at a readable size instead of shrinking with a wide SVG."""
    page = tmp_path / f"{spec}.html"
    write_report(load(spec), page)
    assert BROWSER is not None
    result = chromium.open_page(BROWSER, page.resolve().as_uri(), PHONE_PROBES, width=PHONE, height=1400)
    assert result.errors == [], result.errors
    v = result.values
    assert v["scroll_width"] <= PHONE, v
    assert v["overflowing"] == [], v["overflowing"]
    assert v["tables"] and all(cls == "scroll" and right <= PHONE and scrolls for cls, right, scrolls in v["tables"]), v["tables"]
    assert v["chart_font"] >= 11, v["chart_font"]
    assert v["chart_right"] <= PHONE and v["bar_width"] >= 120, v  # two bars side by side under each name
    assert v["diagram_text"] >= 13.5, v["diagram_text"]  # its own size: 9 pt labels, 14 px boxes; shrunk to the screen, 10 to 13
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"report_{spec}_{PHONE}px.png").write_bytes(result.screenshot)
    assert png_size(result.screenshot) == (PHONE, 1400)
