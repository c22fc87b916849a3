"""What the assistant hands the chat page: a short summary, insights, recommendations, a chart.

Both modes (rules, language model) produce this shape, so the page renders one thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from liftoff.apps.dashboard.tools import ToolResult


@dataclass(frozen=True)
class ChartSpec:
    """A chart of one tool result: a line over days or bars over names."""

    kind: str  # "line" | "bar"
    rows: list[dict[str, Any]]
    x: str
    y: str
    title: str
    money: bool = True


@dataclass
class Answer:
    summary: str
    insights: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    chart: ChartSpec | None = None
    language: str = "pt"
    mode: str = "rules"  # "rules" | "llm"
    notice: str | None = None  # why the rules answered when a model is configured
    tool_results: list[ToolResult] = field(default_factory=list)

    def markdown(self) -> str:
        """The answer as chat text: summary, then insights, then recommendations."""
        insights, recommendations = (
            ("Insights", "Recomendações") if self.language == "pt" else ("Insights", "Recommendations")
        )
        parts = [self.summary]
        if self.insights:
            parts.append(f"**{insights}**\n" + "\n".join(f"- {line}" for line in self.insights))
        if self.recommendations:
            parts.append(f"**{recommendations}**\n" + "\n".join(f"- {line}" for line in self.recommendations))
        return "\n\n".join(parts)


def _number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


MONEY_COLUMNS = ("revenue", "payroll", "average_salary")
PREFERRED_VALUES = (*MONEY_COLUMNS, "items_sold", "new_customers", "employees", "hires")


def chart_for(result: ToolResult | None, title: str = "") -> ChartSpec | None:
    """A chart when the data suits one: several days or months (line) or several named rows (bars),
    of the most telling measure (money first)."""
    if result is None or len(result.rows) < 2:
        return None
    columns, first = result.columns, result.rows[0]
    value = next((c for c in PREFERRED_VALUES if c in columns), None) or next(
        (c for c in columns if _number(first[c])), None
    )
    if value is None:
        return None
    money = value in MONEY_COLUMNS
    when = next((c for c in columns if isinstance(first[c], date)), None)
    if when is not None:
        rows = sorted(result.rows, key=lambda row: row[when])  # some tools list the newest first
        return ChartSpec("line", rows, when, value, title or result.tool, money)
    label = next((c for c in columns if isinstance(first[c], str)), None)
    if label is None:
        return None
    return ChartSpec("bar", result.rows, label, value, title or result.tool, money)
