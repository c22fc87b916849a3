"""Brazilian display of numbers and dates: R$ 1.234,56; 1.234; 31/12/2026.

Locale modules depend on what the machine has installed; these few rules do not.
"""

from __future__ import annotations

from datetime import date


def _swap_separators(text: str) -> str:
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def brl(value: float | int | None, decimals: int = 2) -> str:
    """Money in reais: `R$ 1.234.567,89`, negative as `-R$ 10,00`, missing as `R$ 0,00`."""
    amount = float(value or 0)
    text = _swap_separators(f"{abs(amount):,.{decimals}f}")
    return f"-R$ {text}" if amount < 0 else f"R$ {text}"


def integer(value: float | int | None) -> str:
    return _swap_separators(f"{round(float(value or 0)):,}")


def percent(share: float | None, decimals: int = 1) -> str:
    return _swap_separators(f"{float(share or 0) * 100:,.{decimals}f}") + "%"


def day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def month(value: date) -> str:
    return value.strftime("%m/%Y")


def brl_card(value: float | int | None) -> str:
    """Money for a KPI card: exact below R$ 10 mi, else short (`R$ 12,35 mi`, `R$ 1,23 bi`) to fit."""
    amount = float(value or 0)
    if abs(amount) < 10_000_000:
        return brl(amount)
    if abs(amount) < 1_000_000_000:
        return brl(amount / 1_000_000) + " mi"
    return brl(amount / 1_000_000_000) + " bi"
