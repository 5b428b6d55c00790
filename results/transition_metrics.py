"""Metrics of step-downs, step-ups and staying put, derived from the log.

===========================  =====================================================================
metric (pool)                definition
===========================  =====================================================================
need_changes (down / up)     changes of need at reviews in the year
step_downs (all)             moves from residential to foster care because needs fell
step_down_savings (all)      for placements that began with a step-down: days in the year x (daily
                             price of the residential option left - daily price of the new placement)
step_ups (all)               children escalated to a residential-first search after repeated breakdowns
staying_put_starts (all)     young people staying put with their foster carers at 18
staying_put_mean (all)       mean number staying put over the year
spend_staying_put (all)      staying-put days x staying_put.weekly_cost / 7 (part of spend_total)
===========================  =====================================================================
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR, weekly_to_daily
from results.intervals import ByKind, overlap, pairs


def transition_metrics(ev: ByKind, place: pd.DataFrame, prices: dict[str, np.ndarray],
                       weekly_staying_put: float, edges: np.ndarray, put: Callable) -> np.ndarray:
    """Puts the metrics and returns the yearly staying-put spend (to add to the total)."""
    changes = ev["need_change"]
    for direction in ("down", "up"):
        put("need_changes", direction, np.histogram(changes.day[changes.reason == direction], edges)[0])
    ends = ev["end"][ev["end"].reason == "step_down"]
    starts = ev["place"][ev["place"].reason == "step_down"]
    put("step_downs", "all", np.histogram(starts.day, edges)[0])
    savings = np.zeros(len(edges) - 1)
    if len(starts):
        left = pd.DataFrame({"child": ends.child.to_numpy(), "start": ends.day.to_numpy(), "left": ends.option.astype(str).to_numpy()})
        new = place[["child", "start", "stop", "option"]].drop_duplicates(["child", "start"], keep="last")
        steps = left.merge(new, on=["child", "start"], how="inner")
        names = sorted(prices)
        table = np.stack([prices[n] for n in names])  # (options, years)
        code = {n: i for i, n in enumerate(names)}
        diff = table[steps.left.map(code).to_numpy()] - table[steps.option.astype(str).map(code).to_numpy()]
        savings = (overlap(steps.start.to_numpy(dtype=float), steps.stop.to_numpy(), edges) * diff).sum(axis=0)
    put("step_down_savings", "all", savings)
    put("step_ups", "all", np.histogram(ev["escalate"].day, edges)[0])
    stay = pairs(ev, "staying_put_start", "staying_put_end", edges[-1])
    put("staying_put_starts", "all", np.histogram(stay.start, edges)[0])
    stay_days = overlap(stay.start.to_numpy(), stay.stop.to_numpy(), edges).sum(axis=0)
    put("staying_put_mean", "all", stay_days / DAYS_PER_YEAR)
    spend = stay_days * weekly_to_daily(weekly_staying_put)
    put("spend_staying_put", "all", spend)
    return spend
