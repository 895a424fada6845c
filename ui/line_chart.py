"""A small SVG line chart for the live plots: every series drawn from its first point.

Gradio's LinePlot fixes its colour domain at the first value it draws, so a series that appears
later (the train loss after a step-0 evaluation) stays invisible until the page is reloaded. This
chart is plain SVG rebuilt from the points each time; each line carries ``data-series`` and
``data-points`` so that tests (and people reading the page source) can see what is drawn.
"""

from __future__ import annotations

import html
import math

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 10, 34
COLORS = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563")


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """About ``count`` round values covering [low, high] (whole numbers only with ``whole``)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(round(step), 1)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def line_chart_html(points: list[dict], title: str, elem_class: str) -> str:
    """``points``: dicts with step, value and series. An empty list gives the chart's frame with a note."""
    finite = [p for p in points if isinstance(p.get("value"), (int, float)) and math.isfinite(p["value"])]
    series = list(dict.fromkeys(p["series"] for p in finite))
    head = f'<div class="mf-chart {html.escape(elem_class)}" data-series-count="{len(series)}">'
    head += f'<div class="mf-chart-title">{html.escape(title)}</div>'
    if not finite:
        return head + '<div class="mf-chart-empty">No points yet: they appear with the first logged step.</div></div>'
    steps = [p["step"] for p in finite]
    values = [p["value"] for p in finite]
    x_ticks = nice_ticks(min(0, min(steps)), max(steps), 6, whole=True)
    y_ticks = nice_ticks(min(values), max(values), 5)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def x(step: float) -> float:
        return LEFT + (step - x0) / ((x1 - x0) or 1) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return HEIGHT - BOTTOM - (value - y0) / ((y1 - y0) or 1) * (HEIGHT - TOP - BOTTOM)

    legend = "".join(
        f'<span class="mf-legend-item"><span style="background:{COLORS[i % len(COLORS)]}"></span>{html.escape(name)}</span>'
        for i, name in enumerate(series)
    )
    parts = [f'<div class="mf-chart-legend">{legend}</div>', f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">']
    for tick in y_ticks:
        parts.append(f'<line class="mf-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text class="mf-tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    for tick in x_ticks:
        parts.append(f'<text class="mf-tick" x="{x(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{_label(tick)}</text>')
    parts.append(f'<text class="mf-tick" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 4}" text-anchor="middle">step</text>')
    for index, name in enumerate(series):
        color = COLORS[index % len(COLORS)]
        mine = sorted((p["step"], p["value"]) for p in finite if p["series"] == name)
        coords = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in mine)
        attrs = f'data-series="{html.escape(name)}" data-points="{len(mine)}" data-first-step="{mine[0][0]}"'
        parts.append(f'<polyline class="mf-line" {attrs} fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        if len(mine) <= 2 or name.endswith("eval loss"):
            parts += [f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>' for s, v in mine]
    parts.append("</svg>")
    return head + "".join(parts) + "</div>"


CHART_CSS = """
.mf-chart { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 8px; }
.mf-chart-title { font-weight: 600; font-size: 0.95em; }
.mf-chart-empty { color: var(--body-text-color-subdued); padding: 24px 0; text-align: center; }
.mf-chart svg { width: 100%; height: auto; }
.mf-chart .mf-grid { stroke: var(--border-color-primary); stroke-width: 1; }
.mf-chart .mf-tick { fill: var(--body-text-color); font-size: 11px; }
.mf-chart-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.85em; margin: 2px 0 4px; }
.mf-legend-item span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
"""
