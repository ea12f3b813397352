"""Small server-side SVG charts (horizontal bars, stacked bars, lines), with no script and no style attribute.

Colours and fonts come from analytics.css through class names, so the charts obey the page's CSP.
Callers pass text that is already translated and numbers already formatted for the viewer's locale;
everything is escaped here. Each chart carries a <title> and is followed on the page by its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
LABEL_WIDTH = 200
ROW = 24
SERIES = 8  # colour classes s0..s7 in analytics.css


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown, formatted for the viewer
    href: str | None = None


def _clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _open(height: int, title: str, chart_id: str) -> str:
    return (
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'role="group" aria-labelledby="{escape(chart_id)}-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
    )


def _link(inner: str, href: str | None) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def bars(chart_id: str, title: str, items: Sequence[Bar], empty: str) -> Markup:
    """One horizontal bar per item, longest first as given; values must be zero or more."""
    if not items:
        return Markup(f'<p class="empty">{escape(empty)}</p>')
    height = ROW * len(items) + 8
    top = max((item.value for item in items), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 90
    parts = [_open(height, title, chart_id)]
    for i, item in enumerate(items):
        y = 4 + i * ROW
        width = max(0.0, item.value) / top * span
        label = (
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(_clip(item.label))}</text>"
        )
        bar = (
            f'<rect class="bar s0" x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}">'
            f"<title>{escape(item.label)}: {escape(item.text)}</title></rect>"
        )
        value = (
            f'<text class="value" x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 16}">{escape(item.text)}</text>'
        )
        parts.append(_link(label + bar + value, item.href))
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Stack:
    label: str
    values: Sequence[float]
    text: str  # the total as shown


def stacked(chart_id: str, title: str, series: Sequence[str], items: Sequence[Stack], empty: str) -> Markup:
    """Horizontal bars split into coloured parts, one per series, with a legend above."""
    if not items or not any(sum(i.values) for i in items):
        return Markup(f'<p class="empty">{escape(empty)}</p>')
    legend = 26
    height = legend + ROW * len(items) + 8
    top = max(sum(max(0.0, v) for v in item.values) for item in items) or 1
    span = WIDTH - LABEL_WIDTH - 110
    parts = [_open(height, title, chart_id)]
    x = 0
    for s, name in enumerate(series):
        parts.append(
            f'<rect class="s{s % SERIES}" x="{x}" y="6" width="12" height="12"/>'
            f'<text class="legend" x="{x + 16}" y="16">{escape(_clip(name, 22))}</text>'
        )
        x += 24 + min(22, len(name)) * 8
    for i, item in enumerate(items):
        y = legend + i * ROW
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(_clip(item.label))}</text>"
        )
        x0 = float(LABEL_WIDTH)
        for s, value in enumerate(item.values):
            width = max(0.0, value) / top * span
            if width > 0:
                parts.append(
                    f'<rect class="s{s % SERIES}" x="{x0:.1f}" y="{y + 3}" width="{width:.1f}" '
                    f'height="{ROW - 8}"><title>{escape(item.label)} · {escape(series[s])}</title></rect>'
                )
            x0 += width
        parts.append(f'<text class="value" x="{x0 + 6:.1f}" y="{y + 16}">{escape(item.text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[float]


def lines(
    chart_id: str, title: str, x_labels: Sequence[str], series: Sequence[Line], y_max_text: str, empty: str
) -> Markup:
    """One polyline per series over the same x labels, a legend, the first and last x label and the top y."""
    if not x_labels or not series or not any(any(s.values) for s in series):
        return Markup(f'<p class="empty">{escape(empty)}</p>')
    height, left, right, top_pad, bottom = 260, 56, 16, 34, 28
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    top = max(max(s.values) for s in series) or 1
    step = plot_w / max(1, len(x_labels) - 1)
    parts = [_open(height, title, chart_id)]
    x = 0
    for s, line in enumerate(series):
        parts.append(
            f'<rect class="s{s % SERIES}" x="{x}" y="6" width="12" height="12"/>'
            f'<text class="legend" x="{x + 16}" y="16">{escape(_clip(line.name, 18))}</text>'
        )
        x += 24 + min(18, len(line.name)) * 8
    base = top_pad + plot_h
    parts.append(
        f'<line class="axis" x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}"/>'
        f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}"/>'
        f'<text class="tick" x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{escape(y_max_text)}</text>'
        f'<text class="tick" x="{left - 6}" y="{base}" text-anchor="end">0</text>'
        f'<text class="tick" x="{left}" y="{height - 8}">{escape(x_labels[0])}</text>'
        f'<text class="tick" x="{WIDTH - right}" y="{height - 8}" text-anchor="end">'
        f"{escape(x_labels[-1])}</text>"
    )
    for s, line in enumerate(series):
        points = " ".join(
            f"{left + i * step:.1f},{base - v / top * plot_h:.1f}" for i, v in enumerate(line.values)
        )
        parts.append(
            f'<polyline class="line s{s % SERIES}" points="{points}"><title>{escape(line.name)}</title>'
            f"</polyline>"
        )
        if len(line.values) == 1:
            parts.append(
                f'<circle class="s{s % SERIES}" cx="{left}" cy="{base - line.values[0] / top * plot_h:.1f}" '
                f'r="3"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
