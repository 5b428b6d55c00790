"""Metrics of sibling groups, derived from the group events of the log.

A group's members are children ``id .. id + size - 1`` of its ``group`` event.

=============================  ===================================================================
metric (pool all)              definition
=============================  ===================================================================
sibling_groups                 sibling groups entering care in the year
share_together_at_entry        of the groups entering in the year, the share placed together
                               (in one placement, possibly after waiting) before any split
share_together_1y              of the groups placed together that entered in the year and whose
                               children are all still in care a year after entry, the share whose
                               children are all still in that placement a year after entry
splits                         groups split in the year after waiting for a placement for all
sibling_waiting_days           days children spent waiting in the year while their group waited
                               to be placed together
later_siblings                 children entering in the year after a sibling already in care
share_later_joined             of those, the share placed with a sibling's carer on entry
reunions                       families living apart brought together in one household in the year
children_reunited              children moved in those reunions
=============================  ===================================================================
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR
from results.intervals import ByKind, overlap


def sibling_metrics(ev: ByKind, place: pd.DataFrame, wait: pd.DataFrame, care: pd.DataFrame,
                    edges: np.ndarray, put: Callable) -> None:
    _later_and_reunited(ev, edges, put)
    groups = ev["group"]
    if groups.empty:
        return
    horizon = edges[-1]
    gid, entry, size = groups.child.to_numpy(), groups.day.to_numpy(), groups.value.to_numpy().astype(int)
    placed = ev["group_placed"]
    placed_day = pd.Series(placed.day.to_numpy(), index=placed.child.to_numpy()).reindex(gid).to_numpy()
    splits = ev["split"]
    split_day = pd.Series(splits.day.to_numpy(), index=splits.child.to_numpy()).reindex(gid).to_numpy()
    year = np.searchsorted(edges, entry, side="right") - 1
    in_range = (year >= 0) & (year < len(edges) - 1)
    n = np.bincount(year[in_range], minlength=len(edges) - 1)
    together = ~np.isnan(placed_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        put("sibling_groups", "all", n)
        put("share_together_at_entry", "all", np.bincount(year[in_range], together[in_range], minlength=len(n)) / n)
    put("splits", "all", np.histogram(splits.day[splits.reason == "waited"], edges)[0])

    # a year after entry: still together = every member still in the placement it got with the group
    exit_day = dict(zip(care.child.tolist(), care.stop.tolist()))
    # the group's placement is the child's first one starting that day (a later one the same day means it ended at once)
    first = place.drop_duplicates(["child", "start"], keep="first")
    start_of = dict(zip(zip(first.child.tolist(), first.start.tolist()), first.stop.tolist()))
    check = entry + DAYS_PER_YEAR
    eligible = np.zeros(len(gid), bool)
    still = np.zeros(len(gid), bool)
    for i in np.flatnonzero(together & (check <= horizon)):
        members = range(gid[i], gid[i] + size[i])
        if any(exit_day.get(c, horizon) <= check[i] for c in members):
            continue
        eligible[i] = True
        still[i] = all(start_of.get((c, placed_day[i]), -np.inf) > check[i] for c in members)
    base = np.bincount(year[eligible & in_range], minlength=len(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        put("share_together_1y", "all", np.bincount(year[still & in_range], minlength=len(n)) / base)

    # waiting while the group waited to be placed together
    resolve = np.fmin(np.where(np.isnan(placed_day), np.inf, placed_day), np.where(np.isnan(split_day), np.inf, split_day))
    resolve = np.minimum(resolve, horizon)
    member_group = np.repeat(np.arange(len(gid)), size)
    member = np.concatenate([np.arange(g, g + k) for g, k in zip(gid, size)])
    start_by_child = dict(zip(member, entry[member_group]))
    end_by_child = dict(zip(member, resolve[member_group]))
    w = wait[wait.child.isin(start_by_child)]
    if len(w):
        starts = w.start.to_numpy()
        ok = starts == np.array([start_by_child[c] for c in w.child.to_numpy()])
        stops = np.minimum(w.stop.to_numpy(), np.array([end_by_child[c] for c in w.child.to_numpy()]))
        put("sibling_waiting_days", "all", overlap(starts[ok], stops[ok], edges).sum(axis=0))
    else:
        put("sibling_waiting_days", "all", np.zeros(len(n)))


def _later_and_reunited(ev: ByKind, edges: np.ndarray, put: Callable) -> None:
    later = ev["sibling_enter"]
    n = np.histogram(later.day, edges)[0]
    joined = ev["place"]
    joined = joined[joined.reason == "sibling"]
    with np.errstate(invalid="ignore", divide="ignore"):
        put("later_siblings", "all", n)
        put("share_later_joined", "all", np.histogram(joined.day, edges)[0] / n)
    reunite = ev["reunite"]
    put("reunions", "all", np.histogram(reunite.day, edges)[0])
    put("children_reunited", "all", np.histogram(reunite.day, edges, weights=reunite.value)[0])
