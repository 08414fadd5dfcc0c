"""The charts' axis: full years, a label count that fits, and a drawing for phones."""

import re
from datetime import date
from decimal import Decimal

from topup import charts


def months(n: int) -> list[date]:
    return [date(2026 + (m // 12), m % 12 + 1, 1) for m in range(n)]


def test_month_labels_name_the_whole_year_and_each_width_gets_a_drawing():
    svg = charts.line_chart("t", "d", {"USD": [(m, Decimal(m.month)) for m in months(12)]})
    wide, phone = svg.split("</svg>")[:2]
    assert 'class="chart" viewBox="0 0 900 260"' in wide
    assert 'class="chart-phone" viewBox="0 0 360 260"' in phone
    for drawing in (wide, phone):
        labels = re.findall(r'text-anchor="middle">([^<]+)<', drawing)
        assert labels[-1] == "Dec 2026" and "Dec 26" not in labels
    # At about a phone's width a label has ~75 units: 264 units of plot take at most 4.
    assert len(re.findall(r'text-anchor="middle">', phone)) <= 4


def test_thirty_days_of_bars_label_at_most_what_fits():
    days = [date(2026, 11, d) for d in range(1, 31)]
    svg = charts.bar_chart("t", "d", {"USD": [(d, Decimal(1)) for d in days]})
    wide, phone = svg.split("</svg>")[:2]
    assert len(re.findall(r'text-anchor="middle">', wide)) <= 11
    assert len(re.findall(r'text-anchor="middle">', phone)) <= 4
    assert "Nov 30" in phone  # the locale's own day and month (en)
