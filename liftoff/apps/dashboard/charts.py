"""The dashboard's Plotly figures, built from query frames (pages only place them).

Numbers read the Brazilian way on axes and hovers (`separators=",."`, R$ prefixes).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

BRL_HOVER = "R$ %{y:,.2f}"
# Up to this many days (or months) on a date axis, each gets its own tick and nothing else does.
MAX_LISTED_TICKS = 16
DAY = ("%d/%m/%Y", pd.Timedelta(days=1))
MONTH = ("%m/%Y", pd.Timedelta(days=31))


def _date_axis(figure: go.Figure, values: pd.Series, unit: tuple[str, pd.Timedelta] = DAY) -> go.Figure:
    """A date axis whose ticks are the data's days (or months) when there are few of them.

    Left to itself, Plotly ticks a short date range every few hours: a one-day filter printed
    the same day five times. Listing the days keeps one label per day; a long range keeps
    Plotly's ticks, formatted, which never go below a day there. One point is centred in a span
    of one unit (Plotly would zoom to milliseconds around it).
    """
    tick_format, span = unit
    days = list(pd.to_datetime(pd.Series(values).dropna()).drop_duplicates().sort_values())
    if not days:
        return figure
    if len(days) <= MAX_LISTED_TICKS:
        figure.update_xaxes(
            tickmode="array",
            tickvals=[day.to_pydatetime() for day in days],
            ticktext=[day.strftime(tick_format) for day in days],
        )
    else:
        figure.update_xaxes(tickformat=tick_format)
    if len(days) == 1:
        only = days[0]
        figure.update_xaxes(range=[(only - span / 2).to_pydatetime(), (only + span / 2).to_pydatetime()])
    return figure


def _layout(figure: go.Figure, title: str, money_axis: str | None = "y") -> go.Figure:
    figure.update_layout(
        title=title,
        separators=",.",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=380,
        showlegend=False,
    )
    if money_axis == "y":
        figure.update_yaxes(tickprefix="R$ ", tickformat=",.0f")
    elif money_axis == "x":
        figure.update_xaxes(tickprefix="R$ ", tickformat=",.0f")
    return figure


def sales_over_time(daily: pd.DataFrame) -> go.Figure:
    """Daily revenue with the period's mean as a dashed reference line."""
    mean = float(daily["revenue"].mean())
    figure = go.Figure(
        go.Scatter(
            x=daily["sale_date"], y=daily["revenue"], mode="lines+markers", name="Receita",
            hovertemplate="%{x|%d/%m/%Y}<br>" + BRL_HOVER + "<extra></extra>",
        )
    )  # fmt: skip
    figure.add_hline(
        y=mean,
        line_dash="dash",
        line_color="firebrick",
        annotation_text="média",
        annotation_position="top left",
    )
    _date_axis(figure, daily["sale_date"])
    return _layout(figure, "Vendas ao longo do tempo (receita diária e média)")


def _horizontal_bars(frame: pd.DataFrame, label: str, value: str, title: str, money: bool) -> go.Figure:
    ordered = frame.sort_values(value)
    hover = "%{y}<br>R$ %{x:,.2f}<extra></extra>" if money else "%{y}<br>%{x:,}<extra></extra>"
    figure = go.Figure(go.Bar(x=ordered[value], y=ordered[label], orientation="h", hovertemplate=hover))
    return _layout(figure, title, "x" if money else None)


def sales_by_product(products: pd.DataFrame) -> go.Figure:
    return _horizontal_bars(
        products, "product_name", "revenue", "Vendas por produto (receita, 20 maiores)", money=True
    )


def top_sellers(sellers: pd.DataFrame) -> go.Figure:
    return _horizontal_bars(sellers, "seller_name", "revenue", "Top 10 vendedores (receita)", money=True)


def monthly_payroll(payroll: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=payroll["month_start"], y=payroll["payroll"],
            customdata=payroll["employees"],
            hovertemplate="%{x|%m/%Y}<br>" + BRL_HOVER + "<br>%{customdata} pessoas<extra></extra>",
        )
    )  # fmt: skip
    _date_axis(figure, payroll["month_start"], MONTH)
    return _layout(figure, "Folha de pagamento mensal")


def employees_by_gender(gender: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Pie(labels=gender["gender"], values=gender["employees"], hole=0.4, textinfo="label+percent")
    )
    return _layout(figure, "Funcionários por gênero", money_axis=None)


def average_salary_by_title(titles: pd.DataFrame) -> go.Figure:
    return _horizontal_bars(titles, "job_title", "average_salary", "Salário médio por cargo", money=True)


def hires_per_month(hires: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=hires["month_start"],
            y=hires["hires"],
            hovertemplate="%{x|%m/%Y}<br>%{y} contratações<extra></extra>",
        )
    )
    _date_axis(figure, hires["month_start"], MONTH)
    return _layout(figure, "Contratações por mês", money_axis=None)


def assistant_chart(frame: pd.DataFrame, x: str, y: str, title: str, kind: str, money: bool) -> go.Figure:
    """A chart for an assistant answer: a line over days, or bars over names/categories."""
    if kind == "line":
        figure = go.Figure(go.Scatter(x=frame[x], y=frame[y], mode="lines+markers"))
        _date_axis(figure, frame[x], MONTH if x == "month_start" else DAY)
        return _layout(figure, title, "y" if money else None)
    return _horizontal_bars(frame, x, y, title, money)
