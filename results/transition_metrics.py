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
from results.intervals import overlap, pairs


def transition_metrics(events: pd.DataFrame, place: pd.DataFrame, prices: dict[str, np.ndarray],
                       weekly_staying_put: float, edges: np.ndarray, put: Callable) -> np.ndarray:
    """Puts the metrics and returns the yearly staying-put spend (to add to the total)."""
    changes = events[events.event == "need_change"]
    for direction in ("down", "up"):
        put("need_changes", direction, np.histogram(changes.day[changes.reason == direction], edges)[0])
    stepped = place[place.option.notna() & (place.k > 0)]
    ends = events[(events.event == "end") & (events.reason == "step_down")]
    left = pd.Series(ends.option.astype(str).to_numpy(), index=pd.MultiIndex.from_arrays([ends.child.to_numpy(), ends.day.to_numpy()]))
    starts = events[(events.event == "place") & (events.reason == "step_down")]
    put("step_downs", "all", np.histogram(starts.day, edges)[0])
    savings = np.zeros(len(edges) - 1)
    if len(starts):
        steps = stepped.set_index(["child", "start"]).loc[list(zip(starts.child, starts.day))]
        days = overlap(steps.index.get_level_values(1).to_numpy(dtype=float), steps.stop.to_numpy(), edges)
        for row, (key, new) in enumerate(zip(steps.index, steps.option.astype(str))):
            savings += days[row] * (prices[left[key]] - prices[new])
    put("step_down_savings", "all", savings)
    put("step_ups", "all", np.histogram(events.day[events.event == "escalate"], edges)[0])
    stay = pairs(events, "staying_put_start", "staying_put_end", edges[-1])
    put("staying_put_starts", "all", np.histogram(stay.start, edges)[0])
    stay_days = overlap(stay.start.to_numpy(), stay.stop.to_numpy(), edges).sum(axis=0)
    put("staying_put_mean", "all", stay_days / DAYS_PER_YEAR)
    spend = stay_days * weekly_to_daily(weekly_staying_put)
    put("spend_staying_put", "all", spend)
    return spend
