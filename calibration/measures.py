"""Yearly measures of a 903 history, computed the same way for observed and for simulated returns.

For each return year (1 April to 31 March):

===============  ==================================================================================
measure          definition
===============  ==================================================================================
stock            children in care on 31 March, by pool (``all``: every child in care)
entries          periods of care starting in the year (RNE S)
exits            periods of care ending in the year (an E code)
moves            episodes starting in the year with a change of placement (RNE P, T, B, U)
share_3plus      of the children in care on 31 March, the share with 3 or more placement episodes during the year (NI 62)
===============  ==================================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.clean import Episodes
from calibration.codes import DATA_POOLS
from calibration.read903 import return_end

MEASURE_COLUMNS = ["year", "measure", "pool", "value"]


def in_care_on(t: pd.DataFrame, day: int) -> np.ndarray:
    """Rows whose episode covers ``day`` (intervals are [start, stop))."""
    return (t.start.to_numpy() <= day) & (t.stop.to_numpy() > day)


def yearly(eps: Episodes, years: list[int] | None = None) -> pd.DataFrame:
    """The measures for each year in ``years`` (default: every return)."""
    t = eps.table
    rows: list[tuple] = []
    start, stop, end = t.start.to_numpy(), t.stop.to_numpy(), t.end.to_numpy()
    child = t.child.to_numpy()
    pool = t.pool.to_numpy()
    for y in years or eps.years:
        lo, hi = return_end(y - 1) + 1, return_end(y)
        now = in_care_on(t, hi)
        for p in DATA_POOLS:
            rows.append((y, "stock", p, float((now & (pool == p)).sum())))
        rows.append((y, "stock", "all", float(now.sum())))
        rows.append((y, "entries", "all", float((t.entry.to_numpy() & (start >= lo) & (start <= hi)).sum())))
        rows.append((y, "exits", "all", float(((t.route.to_numpy() != "") & (end >= lo) & (end <= hi)).sum())))
        rows.append((y, "moves", "all", float((t.move.to_numpy() & (start >= lo) & (start <= hi)).sum())))
        touched = (start <= hi) & (stop >= lo)
        counts = pd.Series(touched.astype(int)).groupby(child).sum()
        here = np.unique(child[now])
        share = float((counts.reindex(here).to_numpy() >= 3).mean()) if len(here) else np.nan
        rows.append((y, "share_3plus", "all", share))
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)
