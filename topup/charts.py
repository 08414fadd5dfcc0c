"""Small server-rendered SVG charts: no JavaScript, no external asset, readable at any width.

Each chart is an <svg role="img"> with a title and a description; the page shows the same
numbers in a table next to it, so nothing depends on seeing the picture.
"""

from datetime import date
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from locales.formats import current_locale, money

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 32, 34, 30
# Each chart is drawn twice: for wide screens, and in a viewBox about a phone's width, so that
# its 13-unit text stays about 13 px where a 900-unit drawing would shrink it to 5 px. The
# stylesheet shows one of the two; the hidden one is hidden from screen readers too.
PHONE_WIDTH = 360
# How many x-axis labels fit: a label is about 70 units wide ("Dec 2026").
LABEL_ROOM = 75
COLOURS = ["#1d4ed8", "#157f3d", "#b42318", "#8a5a00", "#6b21a8", "#0e7490"]


def _nice_top(value: Decimal) -> Decimal:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _amount(value: Decimal) -> str:
    """An axis value, short, in the locale's words: "2,500", "10K", "1.2M"."""
    if value >= 10_000:
        return babel_numbers.format_compact_decimal(
            value, format_type="short", fraction_digits=1, locale=current_locale()
        )
    return babel_numbers.format_decimal(round(value), locale=current_locale())


def _day(day: date, skeleton: str) -> str:
    """A date on an axis or in a tooltip, as the locale writes it ("6 Dec", "Dec 2026")."""
    return babel_dates.format_skeleton(skeleton, day, locale=current_locale())


def _point(when: str, value: Decimal, currency: str) -> str:
    return gettext("%(when)s: %(value)s") % {"when": when, "value": money(value, currency)}


def _frame(title, description, top: Decimal, body: list[str], legend, width: int) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    css = "chart" if width == WIDTH else "chart-phone"
    parts = [
        f'<svg class="{css}" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
    ]
    for i in range(5):  # horizontal grid lines with their values
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_amount(top * i / 4))}</text>"
        )
    parts += body
    for i, (name, colour) in enumerate(legend):
        x = LEFT + i * 90
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18}" y="16">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _both(draw) -> SafeString:
    """The chart for wide screens and for phones (`draw(width)` each)."""
    return mark_safe(draw(WIDTH) + draw(PHONE_WIDTH))  # noqa: S308 - every text is escaped


def _x_labels(labels: list[date], skeleton: str, x_of, width: int) -> list[str]:
    """Labels under the x axis: as many as fit the width, evenly, the last point always."""
    room = max((width - LEFT - RIGHT) // LABEL_ROOM, 2)
    step = max(-(-len(labels) // room), 1)  # ceiling: never more labels than fit
    shown = list(range(0, len(labels), step))
    last = len(labels) - 1
    if shown[-1] != last:
        # The last point is labelled; one too close before it gives way.
        shown = [*shown[:-1], last] if last - shown[-1] < step * 0.75 else [*shown, last]
    return [
        f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
        f"{escape(_day(labels[i], skeleton))}</text>"
        for i in shown
    ]


def bar_chart(title: str, description: str, series: dict[str, list[tuple[date, Decimal]]]):
    """Bars per day, one colour per series (grouped side by side)."""
    days = sorted({day for points in series.values() for day, _ in points})
    if not days:
        return None
    top = _nice_top(max(value for points in series.values() for _, value in points))
    return _both(lambda width: _bars(title, description, series, days, top, width))


def _bars(title, description, series, days, top, width: int) -> str:
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)
    bar = max(slot * 0.8 / len(series), 1)
    body, legend = [], []
    for k, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[k % len(COLOURS)]
        legend.append((name, colour))
        values = dict(points)
        for i, day in enumerate(days):
            value = values.get(day, Decimal(0))
            h = float(value / top) * plot_h
            x = LEFT + i * slot + slot * 0.1 + k * bar
            body.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>'
                f"{escape(_point(_day(day, 'yMMMd'), value, name))}</title></rect>"
            )
    body += _x_labels(days, "MMMd", lambda i: LEFT + (i + 0.5) * slot, width)
    return _frame(title, description, top, body, legend, width)


def line_chart(title: str, description: str, series: dict[str, list[tuple[date, Decimal]]]):
    """One line per series over the same dates (months), with a dot at each point."""
    months = sorted({month for points in series.values() for month, _ in points})
    if not months:
        return None
    top = _nice_top(max(value for points in series.values() for _, value in points))
    return _both(lambda width: _lines(title, description, series, months, top, width))


def _lines(title, description, series, months, top, width: int) -> str:
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(months) - 1, 1)
    body, legend = [], []

    def x_of(i):
        return LEFT + i * step if len(months) > 1 else LEFT + plot_w / 2

    for k, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[k % len(COLOURS)]
        legend.append((name, colour))
        values = dict(points)
        coords = [
            (x_of(i), TOP + plot_h - float(values.get(month, Decimal(0)) / top) * plot_h)
            for i, month in enumerate(months)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), month in zip(coords, months, strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                f"{escape(_point(_day(month, 'yMMM'), values.get(month, Decimal(0)), name))}"
                "</title></circle>"
            )
    body += _x_labels(months, "yMMM", x_of, width)
    return _frame(title, description, top, body, legend, width)
