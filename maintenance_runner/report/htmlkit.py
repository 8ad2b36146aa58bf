"""A tiny kit for self-contained, printable HTML pages (pure: every function returns a string).

No JavaScript and no external resources: CSS is inline in ``<style>``, charts are inline SVG with
explicit ``width``/``height`` so they print and render the same everywhere. Any text that reaches
the page goes through :func:`esc`; a :class:`Html` value is markup that is already safe and is
inserted as it is (use it for table cells that hold badges or links).

Stable API (other commands import it):

- ``esc(text) -> str``
- ``page(title, body_html, *, subtitle=None, lang="en") -> str``
- ``section(title, body_html, *, anchor=None) -> Html``
- ``table(headers, rows, *, caption=None, numeric=()) -> Html``
- ``badge(text, tone="neutral") -> Html``
- ``kpi_cards(items) -> Html`` with items ``(label, value, note)``
- ``bar_chart(labels, values, *, title, colors=None, unit="") -> Html``
- ``stacked_bar_chart(categories, series, *, title, colors=None) -> Html``
- ``line_chart(x_labels, series, *, title, colors=None, unit="") -> Html``
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "PALETTE",
    "SEVERITY_COLORS",
    "Html",
    "badge",
    "bar_chart",
    "esc",
    "kpi_cards",
    "line_chart",
    "page",
    "section",
    "stacked_bar_chart",
    "table",
]


class Html(str):
    """Markup that is already escaped; :func:`table` and friends insert it unchanged."""

    __slots__ = ()


#: Colours that read on screen and in greyscale print (distinct lightness).
PALETTE: tuple[str, ...] = (
    "#1f5fa8",
    "#e07b00",
    "#2e8b57",
    "#b8336a",
    "#6a4c93",
    "#8c6d1f",
    "#4d4d4d",
)
SEVERITY_COLORS: dict[str, str] = {
    "info": "#7a8a99",
    "low": "#3c8dbc",
    "medium": "#e0a800",
    "high": "#e06000",
    "critical": "#b00020",
}
TONES: dict[str, tuple[str, str]] = {
    "neutral": ("#eef0f3", "#333"),
    "good": ("#dff3e4", "#17632f"),
    "warn": ("#fff2cc", "#7a5600"),
    "bad": ("#fbe0e0", "#8a1020"),
    "info": ("#e2ecf8", "#1f4f88"),
}

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d2430;
  margin: 0 auto; max-width: 1100px; padding: 24px 28px 48px; line-height: 1.45;
  font-size: 14px; background: #fff; }
header.page { border-bottom: 3px solid #1f5fa8; margin-bottom: 18px; padding-bottom: 8px; }
h1 { font-size: 24px; margin: 0 0 4px; }
.subtitle { color: #55606e; margin: 0; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d5dae0; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.note { color: #55606e; margin: 4px 0 10px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #d5dae0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f4f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px;
  font-weight: bold; white-space: nowrap; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 16px; }
.kpi { flex: 1 1 160px; border: 1px solid #d5dae0; border-radius: 6px; padding: 8px 12px; }
.kpi .label { color: #55606e; font-size: 12px; }
.kpi .value { font-size: 22px; font-weight: bold; }
.kpi .knote { color: #55606e; font-size: 11px; }
figure.chart { margin: 8px 0 16px; }
figure.chart figcaption { font-weight: bold; margin-bottom: 4px; }
svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
.empty { color: #55606e; font-style: italic; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  @page { margin: 14mm; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, figure.chart, .kpi { break-inside: avoid; page-break-inside: avoid; }
  tr:nth-child(even) td { background: none; }
  a { color: inherit; text-decoration: none; }
}
"""


def esc(text: object) -> str:
    """Escape any value for HTML text or attribute context; ``None`` becomes an empty string."""
    if text is None:
        return ""
    if isinstance(text, Html):
        return str(text)
    return html.escape(str(text), quote=True)


def _cell(value: object) -> str:
    return esc(value)


def page(title: str, body_html: str, *, subtitle: str | None = None, lang: str = "en") -> str:
    """A whole HTML document: inline CSS (screen and print), the title as ``<h1>``, the body."""
    sub = f'<p class="subtitle">{esc(subtitle)}</p>' if subtitle else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header class="page"><h1>{esc(title)}</h1>{sub}</header>\n'
        f"<main>\n{body_html}\n</main>\n</body>\n</html>\n"
    )


def section(title: str, body_html: str, *, anchor: str | None = None) -> Html:
    """An ``<h2>`` headed section."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return Html(f"<section{ident}>\n<h2>{esc(title)}</h2>\n{body_html}\n</section>\n")


def table(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    caption: str | None = None,
    numeric: Iterable[int] = (),
) -> Html:
    """A table; cells are escaped unless they are :class:`Html`. ``numeric``: right-aligned
    column indexes. An empty table says so in one row instead of vanishing."""
    nums = set(numeric)
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    num = ' class="num"'
    head = "".join(
        f'<th scope="col"{num if i in nums else ""}>{_cell(h)}</th>' for i, h in enumerate(headers)
    )
    out.append(f"<thead><tr>{head}</tr></thead><tbody>")
    count = 0
    for row in rows:
        count += 1
        cells = "".join(f"<td{num if i in nums else ''}>{_cell(v)}</td>" for i, v in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    if count == 0:
        out.append(f'<tr><td class="empty" colspan="{max(len(headers), 1)}">none</td></tr>')
    out.append("</tbody></table>")
    return Html("\n".join(out))


def badge(text: object, tone: str = "neutral") -> Html:
    """A small coloured label; ``tone`` is neutral, good, warn, bad, info or a severity name
    (low, medium, high, critical)."""
    if tone in TONES:
        bg, fg = TONES[tone]
    elif tone in SEVERITY_COLORS:
        bg, fg = SEVERITY_COLORS[tone], "#fff"
    else:
        bg, fg = TONES["neutral"]
    return Html(f'<span class="badge" style="background:{bg};color:{fg}">{esc(text)}</span>')


def kpi_cards(items: Iterable[tuple[str, object, str | None]]) -> Html:
    """A row of KPI cards: ``(label, value, note)``."""
    cards = []
    for label, value, note in items:
        knote = f'<div class="knote">{esc(note)}</div>' if note else ""
        cards.append(
            f'<div class="kpi"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}</div>{knote}</div>'
        )
    return Html(f'<div class="kpis">{"".join(cards)}</div>')


# ---------------------------------------------------------------------------------------- charts

_W, _H = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 16, 52


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float, integer: bool = False) -> float:
    """A round axis maximum at or above ``value`` with four equal steps between gridlines
    (step 1, 2, 2.5, 3 or 5 x 10^n); for integer data a whole-number step (no 0.25 ticks)."""
    if value <= 0:
        return 4.0 if integer else 1.0
    raw = value / 4
    exp = 1.0
    while exp * 10 <= raw:
        exp *= 10
    while exp > raw:
        exp /= 10
    for step in (1, 2, 2.5, 3, 5, 10):
        candidate = step * exp
        if candidate >= raw and (not integer or float(candidate).is_integer()):
            return 4 * candidate
    return 4 * 10 * exp


def _integers(values: Iterable[float | None]) -> bool:
    return all(v is None or float(v).is_integer() for v in values)


def _color(colors: Sequence[str] | Mapping[str, str] | None, index: int, name: str) -> str:
    if isinstance(colors, Mapping) and name in colors:
        return colors[name]
    if isinstance(colors, Sequence) and not isinstance(colors, str) and colors:
        return colors[index % len(colors)]
    return SEVERITY_COLORS.get(name, PALETTE[index % len(PALETTE)])


def _frame(title: str, inner: str, legend: Sequence[tuple[str, str]] = ()) -> Html:
    legend_h = 22 if legend else 0
    height = _H + legend_h
    parts = [
        f'<figure class="chart"><figcaption>{esc(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" '
        f'viewBox="0 0 {_W} {height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        inner,
    ]
    x = _LEFT
    for name, color in legend:
        parts.append(
            f'<rect x="{x}" y="{_H + 6}" width="12" height="12" fill="{color}"/>'
            f'<text x="{x + 16}" y="{_H + 16}" font-size="12">{esc(name)}</text>'
        )
        x += 28 + 7 * len(name)
    parts.append("</svg></figure>")
    return Html("".join(parts))


def _axes(top: float, unit: str) -> str:
    plot_h = _H - _TOP - _BOTTOM
    out = []
    for i in range(5):
        v = top * i / 4
        y = _H - _BOTTOM - plot_h * i / 4
        out.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" '
            'stroke="#e3e7ec" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#55606e">{esc(_fmt(v) + unit)}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - _RIGHT}" y2="{_H - _BOTTOM}" '
        'stroke="#55606e" stroke-width="1"/>'
    )
    return "".join(out)


def _xlabel(x: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" font-size="11" text-anchor="middle">'
        f"{esc(text)}</text>"
    )


def _empty(title: str) -> Html:
    inner = (
        f'<text x="{_W / 2}" y="{_H / 2}" font-size="13" text-anchor="middle" fill="#55606e">'
        "no data</text>"
    )
    return _frame(title, inner)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    colors: Sequence[str] | Mapping[str, str] | None = None,
    unit: str = "",
) -> Html:
    """Vertical bars, one per label, each with its value on top. Severity names get severity
    colours unless ``colors`` says otherwise."""
    if len(labels) != len(values):
        raise ValueError("bar_chart: labels and values differ in length")
    if not labels:
        return _empty(title)
    top = _nice_max(max(max(values), 0), _integers(values))
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(min(slot * 0.6, 80), 2)
    parts = [_axes(top, unit)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * max(value, 0) / top
        x = _LEFT + slot * i + (slot - bar_w) / 2
        y = _H - _BOTTOM - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{_color(colors, i, label)}"><title>{esc(label)}: '
            f"{esc(_fmt(value) + unit)}</title></rect>"
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" font-size="11" '
            f'text-anchor="middle">{esc(_fmt(value) + unit)}</text>'
        )
        parts.append(_xlabel(x + bar_w / 2, label))
    return _frame(title, "".join(parts))


def stacked_bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    colors: Sequence[str] | Mapping[str, str] | None = None,
) -> Html:
    """One bar per category, stacked by series (e.g. months x severities), with a legend."""
    for name, vals in series.items():
        if len(vals) != len(categories):
            raise ValueError(f"stacked_bar_chart: series {name!r} length differs from categories")
    if not categories or not series:
        return _empty(title)
    totals = [sum(max(v[i], 0) for v in series.values()) for i in range(len(categories))]
    top = _nice_max(max(totals), _integers(totals))
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    slot = plot_w / len(categories)
    bar_w = max(min(slot * 0.6, 80), 2)
    parts = [_axes(top, "")]
    legend = [(name, _color(colors, j, name)) for j, name in enumerate(series)]
    for i, cat in enumerate(categories):
        x = _LEFT + slot * i + (slot - bar_w) / 2
        base = _H - _BOTTOM
        for j, (name, vals) in enumerate(series.items()):
            v = max(vals[i], 0)
            if v <= 0:
                continue
            h = plot_h * v / top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_color(colors, j, name)}"><title>{esc(cat)} {esc(name)}: '
                f"{esc(_fmt(v))}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base - 4:.1f}" font-size="11" '
            f'text-anchor="middle">{esc(_fmt(totals[i]))}</text>'
        )
        parts.append(_xlabel(x + bar_w / 2, cat))
    return _frame(title, "".join(parts), legend)


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    colors: Sequence[str] | Mapping[str, str] | None = None,
    unit: str = "",
) -> Html:
    """One polyline per series over shared x labels, points marked; ``None`` leaves a gap."""
    for name, vals in series.items():
        if len(vals) != len(x_labels):
            raise ValueError(f"line_chart: series {name!r} length differs from x_labels")
    present = [v for vals in series.values() for v in vals if v is not None]
    if not x_labels or not present:
        return _empty(title)
    top = _nice_max(max(max(present), 0), _integers(present))
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    step = plot_w / len(x_labels)
    parts = [_axes(top, unit)]
    for i, label in enumerate(x_labels):
        parts.append(_xlabel(_LEFT + step * (i + 0.5), label))
    legend = []
    for j, (name, vals) in enumerate(series.items()):
        color = _color(colors, j, name)
        legend.append((name, color))
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(vals):
            if v is None:
                runs.append([])
                continue
            x = _LEFT + step * (i + 0.5)
            y = _H - _BOTTOM - plot_h * max(v, 0) / top
            runs[-1].append((x, y))
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                f"<title>{esc(name)} {esc(x_labels[i])}: {esc(_fmt(v) + unit)}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>'
                )
    return _frame(title, "".join(parts), legend)
