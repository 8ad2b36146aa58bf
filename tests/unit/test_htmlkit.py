"""htmlkit: escaping, tables and inline SVG charts (well-formed, sized, proportional)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from maintenance_runner.report import htmlkit as hk

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(html: str) -> ET.Element:
    match = re.search(r"<svg.*</svg>", html, re.S)
    assert match, html
    return ET.fromstring(match.group(0))


def test_esc_and_html_passthrough():
    assert hk.esc('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    assert hk.esc(None) == ""
    assert hk.esc(hk.Html("<b>ok</b>")) == "<b>ok</b>"


def test_table_escapes_text_keeps_markup_and_says_none_when_empty():
    html = hk.table(["a", "<n>"], [["<script>", hk.badge("x", "bad")], ["y", 3]], numeric=[1])
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert '<span class="badge"' in html
    assert '<th scope="col" class="num">&lt;n&gt;</th>' in html
    assert '<td class="num">3</td>' in html
    empty = hk.table(["a", "b"], [])
    assert 'colspan="2">none</td>' in empty


def test_page_is_self_contained_and_printable():
    page = hk.page("T & Co", hk.section("S", "<p>x</p>", anchor="s"), subtitle="sub <1>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>T &amp; Co</title>" in page and "<h1>T &amp; Co</h1>" in page
    assert "sub &lt;1&gt;" in page
    assert "@media print" in page and '<section id="s">' in page
    for forbidden in ("<script", "<link", "http://", "https://", "url("):
        assert forbidden not in page


def test_bar_chart_is_valid_svg_with_proportional_bars():
    html = hk.bar_chart(["critical", "medium", "low"], [4, 2, 0], title="By <severity>")
    svg = svg_of(html)
    assert svg.get("width") == "640" and int(svg.get("height")) > 200
    assert svg.find(f"{SVG}title").text == "By <severity>"
    bars = {r.find(f"{SVG}title").text.split(":")[0]: r for r in svg.iter(f"{SVG}rect")}
    heights = {k: float(v.get("height")) for k, v in bars.items()}
    assert heights["critical"] == pytest.approx(2 * heights["medium"])
    assert heights["low"] == 0
    assert bars["critical"].get("fill") == hk.SEVERITY_COLORS["critical"]
    # whole-number gridlines for counts
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "1", "2", "3", "4"]


def test_stacked_bars_and_legend():
    html = hk.stacked_bar_chart(
        ["2026-10", "2026-11"], {"high": [1, 0], "low": [2, 3]}, title="Per month"
    )
    svg = svg_of(html)
    segments = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(segments) == 3  # zero-height segments are left out
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.text in ("high", "low")]
    assert legend == ["high", "low"]
    with pytest.raises(ValueError, match="length differs"):
        hk.stacked_bar_chart(["a"], {"x": [1, 2]}, title="t")


def test_line_chart_leaves_gaps_for_missing_values():
    html = hk.line_chart(["a", "b", "c", "d"], {"s": [1, None, 3, 4]}, title="L", unit="%")
    svg = svg_of(html)
    assert len(list(svg.iter(f"{SVG}circle"))) == 3
    polylines = list(svg.iter(f"{SVG}polyline"))
    assert len(polylines) == 1 and len(polylines[0].get("points").split()) == 2


def test_charts_without_data_say_so():
    for html in (
        hk.bar_chart([], [], title="B"),
        hk.line_chart(["a"], {"s": [None]}, title="L"),
        hk.stacked_bar_chart([], {}, title="S"),
    ):
        assert "no data" in html
        svg_of(html)


def test_kpi_cards():
    html = hk.kpi_cards([("Tasks completed", "86.7%", "of 15"), ("Latency", "3 d", None)])
    assert html.count('class="kpi"') == 2 and "of 15" in html
