"""How every number placesim prints is written: one formatter per unit.

The summary, the comparison, the risk register, the appraisal, the report and the
workbook all format through :func:`fmt`, so a share, a sum of money or a count reads
the same wherever it appears.
"""

from __future__ import annotations

import math

#: units whose values are sums of money
MONEY_UNITS = frozenset({"GBP/year", "GBP", "GBP/week"})
#: units whose values are shares (0-1), written as percentages
SHARE_UNITS = frozenset({"share", "probability"})
DASH = "–"


def _missing(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def money(x, signed: bool = False, compact: bool = False) -> str:
    """``£1,234,567``; ``compact``: ``£1.23m`` / ``£12k``; ``signed``: a leading + or -."""
    if _missing(x):
        return DASH
    x = float(x)
    a = abs(x)
    if a < 0.5:  # rounds to nothing: no sign of its own (never "-£0")
        x = 0.0
    sign = "-" if x < 0 else ("+" if signed else "")
    if compact and a >= 1e6:
        return f"{sign}£{a / 1e6:,.2f}m"
    if compact and a >= 1e4:
        return f"{sign}£{a / 1e3:,.0f}k"
    return f"{sign}£{a:,.0f}"


def pct(x, digits: int = 0, signed: bool = False) -> str:
    """A share (0-1) as a percentage: ``0.123`` -> ``12%``; ``signed`` differences get ``+``/``-``
    and are percentage points."""
    if _missing(x):
        return DASH
    v = 100 * float(x)
    if abs(v) < 0.5 * 10 ** -digits:
        v = 0.0  # never "-0.0%"
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return text + ("pp" if signed else "%")


def num(x, digits: int = 2, signed: bool = False) -> str:
    if _missing(x):
        return DASH
    x = float(x)
    if abs(x) < 0.5 * 10 ** -digits:
        x = 0.0  # never "-0.00"
    return f"{x:{'+' if signed else ''},.{digits}f}"


def fmt(x, unit: str, signed: bool = False, compact: bool = False) -> str:
    """``x`` written for its ``unit``: money in pounds, shares as percentages, counts with
    as many decimals as their size needs."""
    if _missing(x):
        return DASH
    if unit in MONEY_UNITS:
        return money(x, signed, compact)
    if unit in SHARE_UNITS:
        return pct(x, 1, signed)
    a = abs(float(x))
    return num(x, 0 if a >= 100 else (1 if a >= 10 else 2), signed)


def excel_format(unit: str) -> str:
    """The spreadsheet number format for a unit (openpyxl's ``number_format``)."""
    if unit in MONEY_UNITS:
        return '"£"#,##0;-"£"#,##0'
    if unit in SHARE_UNITS:
        return "0.0%"
    return "#,##0.00"
