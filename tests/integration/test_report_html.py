"""The HTML report in a real headless Chromium (selenium + chromedriver, Debian packages).

Chromium starts with --headless --no-sandbox --disable-gpu --disable-background-networking. The
page must render its title and every chart with a real size, load nothing from outside the file,
print to PDF, and give a non-blank screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from maintenance_runner.cli.report import report_command

from .report_story import REPORT_AT, WINDOW, write_story

CHROMIUM = ("chromium", "chromedriver")
AT = REPORT_AT.isoformat()


def _missing() -> list[str]:
    return [name for name in CHROMIUM if shutil.which(name) is None]


def _ensure_chromium() -> None:
    """Install the Debian packages when root (as ``make system-deps`` does); skip otherwise."""
    if not _missing():
        return
    if os.geteuid() != 0:
        pytest.skip(
            f"headless Chromium is not installed ({', '.join(_missing())} missing) and installing "
            "the Debian packages chromium and chromium-driver needs root"
        )
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        check=False,
    )
    if done.returncode != 0 or _missing():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"chromium and chromium-driver could not be installed: {tail}")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report-html")
    url = f"sqlite:///{tmp / 'actionlog.db'}"
    write_story(url).close()
    config = tmp / "maint.yml"
    config.write_text(json.dumps({"actionlog": url}), encoding="utf-8")
    out = tmp / "report.html"
    result = CliRunner().invoke(
        report_command,
        ["--month", "2026-11", "-f", "html", "-o", str(out), "-c", str(config), "--at", AT],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def browser():
    _ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager stays quiet and unused
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=shutil.which("chromedriver"))
    )
    try:
        yield driver
    finally:
        driver.quit()


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes):
    width, height, bytes per pixel, rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            corner = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def sample(rows: list[bytes], bpp: int, every: int = 7) -> list[bytes]:
    """The RGB of every ``every``-th pixel of every ``every``-th row."""
    return [row[i : i + 3] for row in rows[::every] for i in range(0, len(row) - 2, bpp * every)]


def test_html_report_renders_with_its_charts_in_headless_chromium(browser, report_html, tmp_path):
    browser.get(report_html.as_uri())
    assert browser.title == "Maintenance report 2026-11"
    h1 = browser.find_element("css selector", "h1")
    assert h1.is_displayed() and h1.text == "Maintenance report 2026-11"
    assert h1.size["height"] > 0 and h1.size["width"] > 0

    charts = browser.execute_script(
        """
        return Array.from(document.querySelectorAll('figure.chart')).map(f => {
          const svg = f.querySelector('svg');
          const box = svg.getBoundingClientRect();
          const bars = Array.from(svg.querySelectorAll('rect, polyline, circle'))
            .map(e => e.getBoundingClientRect())
            .filter(b => b.width > 0 && b.height > 0).length;
          return {title: f.querySelector('figcaption').textContent,
                  width: box.width, height: box.height, marks: bars};
        });
        """
    )
    titles = [c["title"] for c in charts]
    assert "Findings by severity" in titles
    assert "Findings raised per month, by severity" in titles
    assert "Task completion and cadence adherence per month (%)" in titles
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 200, chart
        assert chart["marks"] > 0, chart
    # the severity chart draws a bar of real height for November's one (medium) finding only
    heights = browser.execute_script(
        """
        const fig = Array.from(document.querySelectorAll('figure.chart'))
          .find(f => f.querySelector('figcaption').textContent === 'Findings by severity');
        const out = {};
        for (const r of fig.querySelectorAll('rect')) {
          const t = r.querySelector('title');
          if (t) out[t.textContent.split(':')[0]] = r.getBoundingClientRect().height;
        }
        return out;
        """
    )
    assert heights["medium"] > 20
    assert [heights[s] for s in ("critical", "high", "low", "info")] == [0, 0, 0, 0]
    # self-contained: nothing loaded besides the file itself, no scripts in it
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script("return document.scripts.length") == 0
    text = browser.find_element("tag name", "body").text
    for needle in ("Needs attention", "EMERGENCY by carol", "Hardening score", "Deferred and why"):
        assert needle in text

    # printable: Chromium prints it to a multi-page PDF
    pdf = base64.b64decode(
        browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"]
    )
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 2  # pages, not the /Pages tree

    # a screenshot that is not blank: many distinct colours, not one background
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    width, height, bpp, rows = png_pixels(shot.read_bytes())
    assert width >= 1000 and height >= 1000
    pixels = sample(rows, bpp)
    assert len(set(pixels)) > 10
    white = sum(1 for p in pixels if p == b"\xff\xff\xff")
    assert white < len(pixels) * 0.97


def test_chromium_dump_dom_and_screenshot_from_the_command_line(report_html, tmp_path):
    """The same page through chromium's own --dump-dom and --screenshot (no driver)."""
    _ensure_chromium()
    chromium = shutil.which("chromium")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", report_html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<h1>Maintenance report 2026-11</h1>" in dom
    assert dom.count("<svg") >= 5
    shot = tmp_path / "cli.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1200,1800", f"--screenshot={shot}", report_html.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, height, bpp, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 1800)
    assert len(set(sample(rows, bpp))) > 10


def test_the_page_needs_nothing_but_itself(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert WINDOW in html
    for forbidden in ("<script", "<link", "<img", "@import", "url("):
        assert forbidden not in html
