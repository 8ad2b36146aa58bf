"""Render a maintenance report (pure text out) as Markdown, HTML, JSON, CSV or JUnit XML.

:func:`render` returns the text; :func:`write_report` also writes it to a file (atomically) or
returns it for stdout. ``tables.py`` holds what every format shows the same way; the HTML page
is drawn with :mod:`maintenance_runner.report.htmlkit`: one self-contained, printable file with
inline SVG charts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from maintenance_runner.report.files import write_atomic
from maintenance_runner.report.model import Report
from maintenance_runner.report.render.html import render_html
from maintenance_runner.report.render.markdown import render_markdown
from maintenance_runner.report.render.structured import (
    render_csv,
    render_json,
    render_junit,
    to_dict,
)

FORMATS = ("md", "html", "json", "csv", "junit")

RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": render_markdown,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
    "junit": render_junit,
}


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (md, html, json, csv, junit)."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})") from None
    return renderer(report)


def write_report(report: Report, fmt: str, out: str | Path | None = None) -> str:
    """Render ``report``; write it to ``out`` atomically when given. Returns the text."""
    text = render(report, fmt)
    if out is not None:
        write_atomic(Path(out), text)
    return text


__all__ = [
    "FORMATS",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "to_dict",
    "write_report",
]
