"""Date axes of the dashboard's charts: one label per day or month when there are few, never the
same day printed several times (Plotly's own ticks on a one-day range fall hours apart)."""

from datetime import date, timedelta

import pandas as pd

from liftoff.apps.dashboard import charts


def test_one_day_is_one_label_centred_in_its_day():
    figure = charts.sales_over_time(pd.DataFrame({"sale_date": [date(2026, 6, 6)], "revenue": [10.0]}))
    axis = figure.layout.xaxis
    assert list(axis.ticktext) == ["06/06/2026"]
    assert [value.date() for value in axis.tickvals] == [date(2026, 6, 6)]
    low, high = axis.range
    assert (low.date(), high.date()) == (date(2026, 6, 5), date(2026, 6, 6))  # 12:00 either side


def test_a_few_days_or_months_are_labelled_once_each():
    days = [date(2026, 6, 1) + timedelta(days=i) for i in range(3)]
    figure = charts.assistant_chart(
        pd.DataFrame({"sale_date": days, "revenue": [1.0, 2.0, 3.0]}),
        "sale_date",
        "revenue",
        "t",
        "line",
        True,
    )
    assert list(figure.layout.xaxis.ticktext) == ["01/06/2026", "02/06/2026", "03/06/2026"]
    months = charts.hires_per_month(pd.DataFrame({"month_start": [date(2026, 5, 1)], "hires": [2]}))
    assert list(months.layout.xaxis.ticktext) == ["05/2026"]


def test_a_long_range_keeps_plotlys_ticks_formatted_as_days():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(charts.MAX_LISTED_TICKS + 1)]
    figure = charts.sales_over_time(pd.DataFrame({"sale_date": days, "revenue": [1.0] * len(days)}))
    assert figure.layout.xaxis.tickvals is None
    assert figure.layout.xaxis.tickformat == "%d/%m/%Y"


def test_the_model_paths_chart_picks_the_money_and_orders_the_months():
    """A tool result the model asked for (newest month first) charts as a line over the months,
    of the payroll (money), not of the head count that comes first among the numbers."""
    from decimal import Decimal

    from liftoff.apps.dashboard.answers import chart_for
    from liftoff.apps.dashboard.tools import ToolResult

    months = [date(2026, 6, 1), date(2026, 5, 1), date(2026, 4, 1)]
    result = ToolResult(
        "monthly_payroll",
        {},
        ["month_start", "employees", "payroll"],
        [{"month_start": m, "employees": 3, "payroll": Decimal(i)} for i, m in enumerate(months)],
    )
    chart = chart_for(result)
    assert (chart.kind, chart.x, chart.y, chart.money) == ("line", "month_start", "payroll", True)
    assert [row["month_start"] for row in chart.rows] == sorted(months)
    figure = charts.assistant_chart(pd.DataFrame(chart.rows), chart.x, chart.y, "t", chart.kind, chart.money)
    assert list(figure.layout.xaxis.ticktext) == ["04/2026", "05/2026", "06/2026"]
