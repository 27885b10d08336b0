"""Bar charts as inline SVG, drawn in Python: no JavaScript, no fonts or images to fetch.

One chart type covers the report: categories along the x axis, one or more series per
category. Series that share a ``stack`` key are stacked; different stack keys stand side by
side within a category (so "income vs expenditure, each split by scheme" is two stacks of
two). Positive values stack up from zero and negative ones (cancelled settlements) down
from zero, so the scale always includes zero and never inverts a bar.

Every chart carries its own text alternative: an SVG ``<title>`` and ``<desc>`` (read by
screen readers through ``aria-labelledby``), a ``<title>`` tooltip on each bar, and a data
table (:attr:`ChartView.head` / :attr:`ChartView.body`) for a page that wants one.

Amounts become floats only here, as pixel coordinates; the labels come from exact decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from markupsafe import Markup, escape

from yibao.report.formatting import amount_unit, count, fixed, yuan

WIDTH = 880
HEIGHT = 340
_LEFT, _RIGHT, _TOP, _BOTTOM = 84, 16, 30, 46
_PLOT_W = WIDTH - _LEFT - _RIGHT
_PLOT_H = HEIGHT - _TOP - _BOTTOM
_FONT = 'font-family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"'

#: the unit of a chart whose values are amounts in yuan; any other unit is a count label (人次)
YUAN = "yuan"


@dataclass(frozen=True)
class Series:
    """One named row of values, one value per category."""

    name: str
    values: tuple[Decimal, ...]
    color: str
    stack: str = ""


@dataclass(frozen=True)
class BarChart:
    """What to draw. ``key`` is an ASCII id unique within the page."""

    key: str
    title: str
    axis: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = YUAN
    note: str = ""


@dataclass(frozen=True)
class ChartView:
    """A drawn chart: the SVG, its legend and its data table, ready for the template."""

    key: str
    title: str
    svg: Markup
    description: str
    legend: tuple[tuple[str, str], ...]
    head: tuple[str, ...]
    body: tuple[tuple[str, ...], ...]


def draw(chart: BarChart) -> ChartView:
    """Draw ``chart`` as SVG with its text alternative."""
    description = describe(chart)
    head = (chart.axis, *(s.name for s in chart.series))
    body = tuple(
        (category, *(_value_text(chart, s.values[i]) if i < len(s.values) else "—" for s in chart.series))
        for i, category in enumerate(chart.categories)
    )
    legend = tuple((s.name, s.color) for s in chart.series)
    return ChartView(chart.key, chart.title, _svg(chart, description), description, legend, head, body)


def _value_text(chart: BarChart, value: Decimal) -> str:
    if chart.unit == YUAN:
        return yuan(value)
    return f"{count(int(value))} {chart.unit}" if value == value.to_integral_value() else f"{value} {chart.unit}"


def _has_data(chart: BarChart) -> bool:
    return bool(chart.categories) and any(s.values for s in chart.series)


def describe(chart: BarChart) -> str:
    """A one-paragraph text alternative: what is plotted and where the extremes are."""
    if not _has_data(chart):
        return f"{chart.title}：无数据。"
    names = "、".join(s.name for s in chart.series)
    parts = [f"{chart.title}：柱状图，横轴为{chart.axis}（{len(chart.categories)} 项），系列为{names}。"]
    cells = [
        (value, category, s.name)
        for s in chart.series
        for category, value in zip(chart.categories, s.values, strict=False)
    ]
    high = max(cells, key=lambda c: c[0])
    low = min(cells, key=lambda c: c[0])
    if high[0] == 0 and low[0] == 0:
        parts.append("各项均为零。")
    else:
        parts.append(f"最大值：{high[1]} {high[2]} {_value_text(chart, high[0])}。")
        if low[0] < 0:
            parts.append(f"含负值（冲销），最小值：{low[1]} {low[2]} {_value_text(chart, low[0])}。")
    if chart.note:
        parts.append(chart.note)
    return "".join(parts)


# --- scale ----------------------------------------------------------------------------------------


def _stacks(chart: BarChart) -> list[str]:
    keys: list[str] = []
    for s in chart.series:
        if s.stack not in keys:
            keys.append(s.stack)
    return keys


def _extent(chart: BarChart) -> tuple[Decimal, Decimal]:
    """The lowest and highest stacked total, always including zero."""
    low = high = Decimal(0)
    for stack in _stacks(chart):
        members = [s for s in chart.series if s.stack == stack]
        for i in range(len(chart.categories)):
            values = [s.values[i] for s in members if i < len(s.values)]
            high = max(high, sum((v for v in values if v > 0), Decimal(0)))
            low = min(low, sum((v for v in values if v < 0), Decimal(0)))
    return low, high


def nice_ticks(low: Decimal, high: Decimal, target: int = 5) -> list[Decimal]:
    """Round tick values (1, 2 or 5 × 10ⁿ apart) covering ``[low, high]``; zero is always one.

    >>> [str(t) for t in nice_ticks(Decimal(0), Decimal(87))]
    ['0', '20', '40', '60', '80', '100']
    >>> [str(t) for t in nice_ticks(Decimal(-3), Decimal(9))]
    ['-5', '0', '5', '10']
    """
    if high <= low:
        high = low + 1
    raw = (high - low) / target
    base = Decimal(1).scaleb(raw.adjusted())
    step = next(base * m for m in (1, 2, 5, 10) if base * m >= raw)
    first = (low / step).to_integral_value(rounding=ROUND_FLOOR)
    last = (high / step).to_integral_value(rounding=ROUND_CEILING)
    return [_plain((first + i) * step) for i in range(int(last - first) + 1)]


def _plain(value: Decimal) -> Decimal:
    """``value`` without an exponent: ``2E+1`` → ``20``."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return min(6, max(0, -exponent)) if isinstance(exponent, int) else 0


# --- drawing --------------------------------------------------------------------------------------


def _n(value: float) -> str:
    """A coordinate with one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg(chart: BarChart, description: str) -> Markup:
    ids = f"{chart.key}-title {chart.key}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" aria-labelledby="{ids}" {_FONT}>'
        f'<title id="{chart.key}-title">{escape(chart.title)}</title>'
        f'<desc id="{chart.key}-desc">{escape(description)}</desc>'
    )
    body = _plot(chart) if _has_data(chart) else _message("无数据")
    return Markup(head + body + "</svg>")


def _message(text: str) -> str:
    return (
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{_PLOT_H}" fill="#f6f7f9" stroke="#d0d4da"/>'
        f'<text x="{_LEFT + _PLOT_W // 2}" y="{_TOP + _PLOT_H // 2}" text-anchor="middle" font-size="16" '
        f'fill="#5b6470">{escape(text)}</text>'
    )


def _plot(chart: BarChart) -> str:
    low, high = _extent(chart)
    all_zero = low == 0 and high == 0
    unit_label, divisor = amount_unit(max(-low, high)) if chart.unit == YUAN else (chart.unit, Decimal(1))
    if all_zero:
        high = divisor
    ticks = nice_ticks(low / divisor, high / divisor)
    places = _places(ticks[1] - ticks[0])
    bottom, top = ticks[0] * divisor, ticks[-1] * divisor
    span = top - bottom

    def y_of(value: Decimal) -> float:
        return _TOP + float((top - value) / span) * _PLOT_H

    out = [
        f'<text x="{_LEFT - 8}" y="{_TOP - 12}" text-anchor="end" font-size="12" fill="#5b6470">'
        f"单位：{escape(unit_label)}</text>"
    ]
    for tick in ticks:
        y = _n(y_of(tick * divisor))
        stroke = "#8a929c" if tick == 0 else "#e3e6ea"
        out.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}" stroke="{stroke}"/>')
        out.append(
            f'<text x="{_LEFT - 8}" y="{y}" dy="4" text-anchor="end" font-size="12" fill="#3b434d">'
            f"{fixed(tick, places)}</text>"
        )
    out.extend(_bars(chart, y_of))
    out.extend(_x_labels(chart))
    if all_zero:
        out.append(
            f'<text x="{_LEFT + _PLOT_W // 2}" y="{_TOP + _PLOT_H // 2}" text-anchor="middle" font-size="16" '
            'fill="#5b6470">各项均为零</text>'
        )
    return "".join(out)


def _bars(chart: BarChart, y_of: Callable[[Decimal], float]) -> list[str]:
    stacks = _stacks(chart)
    band = _PLOT_W / len(chart.categories)
    group = band * 0.72
    bar = group / len(stacks)
    gap = min(2.0, bar * 0.1) if len(stacks) > 1 else 0.0
    out: list[str] = []
    for i, category in enumerate(chart.categories):
        for s_index, stack in enumerate(stacks):
            x = _LEFT + i * band + (band - group) / 2 + s_index * bar
            above = below = Decimal(0)
            for s in (s for s in chart.series if s.stack == stack):
                if i >= len(s.values) or s.values[i] == 0:
                    continue
                value = s.values[i]
                if value > 0:
                    start, above = above, above + value
                    end = above
                else:
                    start, below = below, below + value
                    end = below
                y0, y1 = y_of(start), y_of(end)
                tip = f"{category} · {s.name}：{_value_text(chart, value)}"
                out.append(
                    f'<rect x="{_n(x + gap / 2)}" y="{_n(min(y0, y1))}" width="{_n(max(bar - gap, 1.0))}" '
                    f'height="{_n(max(abs(y1 - y0), 0.5))}" fill="{s.color}"><title>{escape(tip)}</title></rect>'
                )
    return out


def _x_labels(chart: BarChart) -> list[str]:
    band = _PLOT_W / len(chart.categories)
    widest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in c) for c in chart.categories)
    every = max(1, int((widest * 7 + 8) // band) + 1)
    y = _TOP + _PLOT_H + 20
    out: list[str] = []
    for i, category in enumerate(chart.categories):
        if i % every:
            continue
        x = _n(_LEFT + (i + 0.5) * band)
        out.append(
            f'<text x="{x}" y="{y}" text-anchor="middle" font-size="12" fill="#3b434d">{escape(category)}</text>'
        )
    return out
