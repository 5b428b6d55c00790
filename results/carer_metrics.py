"""Metrics of the carer markets, derived from the carer events of the log.

The in-house households' metrics carry the names below; the IFA households' the same
names with an ``ifa_`` prefix (``ifa_households_mean``, ``ifa_vacancies_mean``, ...), where
``ifa_approvals`` has a ``from_inhouse`` row for in-house carers who moved to an agency and
went on taking the council's children. IFA households have no application funnel.

===========================  =====================================================================
metric (pool)                definition
===========================  =====================================================================
households_end (all)         approved households on the last day of the year
households_mean (all)        mean approved households over the year
approved_places_mean (all)   mean approved places over the year
applications (all)           applications to foster received in the year
approvals (all)              households approved in the year
deregistrations (route)      households leaving in the year: deregistered, to_ifa, retired, and all
carer_occupancy (all)        child-days with in-house households / approved place-days
vacancies_mean (skills)      mean free approved places over the year, by household skills
                             (general, or skills joined by "+": siblings, complex, parent_child)
                             and all; a free place is not always usable (wrong skills,
                             max_placements reached, or a parent-and-child placement there)
carer_moves (all)            moves because the child's household left
parent_child_entries (all)   babies entering care with a parent in the year
parent_child_placed (pool)   their first placements, by pool (kinship, inhouse_fostering, ifa,
                             residential) and ``waiting`` for those first placed after a wait
parent_child_waiting_days    days those babies spent waiting in the year
===========================  =====================================================================
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR, IFA_BASE, OPTIONS
from results.intervals import ByKind, overlap

SKILLS = tuple("+".join(n for n, on in zip(("siblings", "complex", "parent_child"), bits) if on) or "general"
               for bits in itertools.product((False, True), repeat=3))


def carer_metrics(ev: ByKind, place: pd.DataFrame, edges: np.ndarray, put: Callable) -> None:
    """The in-house households' metrics, then the IFA households' (prefixed ``ifa_``)."""
    joins, leaves = ev["carer_join"], ev["carer_leave"]
    if joins.empty:
        return
    ifa_join, ifa_leave, ifa_place = joins.carer >= IFA_BASE, leaves.carer >= IFA_BASE, place.carer >= IFA_BASE
    _pool_metrics(joins[~ifa_join], leaves[~ifa_leave], place[~ifa_place], ev, edges, put)
    if (~ifa_join).any():  # the council's application funnel (IFA households have none)
        put("applications", "all", np.histogram(ev["carer_application"].day, edges)[0])
    _pool_metrics(joins[ifa_join], leaves[ifa_leave], place[ifa_place], ev, edges,
                  lambda metric, pool, values: put("ifa_" + metric, pool, values))
    if ifa_join.any():
        moved = joins[ifa_join & (joins.reason == "from_inhouse")]
        put("ifa_approvals", "from_inhouse", np.histogram(moved.day, edges)[0])


def _pool_metrics(joins: pd.DataFrame, leaves: pd.DataFrame, place: pd.DataFrame, ev: ByKind, edges: np.ndarray,
                  put: Callable) -> None:
    if joins.empty:
        return
    horizon = edges[-1]
    stop = pd.Series(leaves.day.to_numpy(), index=leaves.carer.to_numpy()).reindex(joins.carer.to_numpy()).fillna(horizon).to_numpy()
    alive = overlap(joins.day.to_numpy(), stop, edges)
    places = joins.value.to_numpy()
    skills = joins.option.astype(str).to_numpy()
    ends = edges[1:]
    at_end = (joins.day.to_numpy()[:, None] <= ends[None, :] - 1e-9) & (stop[:, None] > ends[None, :] - 1e-9)
    put("households_end", "all", at_end.sum(axis=0))
    put("households_mean", "all", alive.sum(axis=0) / DAYS_PER_YEAR)
    put("approved_places_mean", "all", (alive * places[:, None]).sum(axis=0) / DAYS_PER_YEAR)
    put("approvals", "all", np.histogram(joins.day[joins.reason.isin(("approved", "from_inhouse"))], edges)[0])
    for route in ("deregistered", "to_ifa", "retired"):
        put("deregistrations", route, np.histogram(leaves.day[leaves.reason == route], edges)[0])
    put("deregistrations", "all", np.histogram(leaves.day, edges)[0])

    with_carer = place[place.carer >= 0]
    child_days = overlap(with_carer.start.to_numpy(), with_carer.stop.to_numpy(), edges)
    place_days = alive * places[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        put("carer_occupancy", "all", child_days.sum(axis=0) / place_days.sum(axis=0))
    skill_of = dict(zip(joins.carer.to_numpy(), skills))
    child_skill = np.array([skill_of.get(c, "general") for c in with_carer.carer.to_numpy()])
    for skill in SKILLS:
        free = place_days[skills == skill].sum(axis=0) - child_days[child_skill == skill].sum(axis=0)
        put("vacancies_mean", skill, free / DAYS_PER_YEAR)
    put("vacancies_mean", "all", (place_days.sum(axis=0) - child_days.sum(axis=0)) / DAYS_PER_YEAR)
    ends = ev["end"]
    ids = joins.carer.to_numpy()
    moved = ends[(ends.reason == "carer_left") & ends.carer.isin(ids)]
    put("carer_moves", "all", np.histogram(moved.day, edges)[0])


def parent_child_metrics(ev: ByKind, place: pd.DataFrame, wait: pd.DataFrame, edges: np.ndarray, put: Callable) -> None:
    """Babies entering care with a parent: how many, where they were first placed, how long they waited."""
    enter = ev["enter"]
    if "parent_child" not in enter:  # a log written before the column existed
        return
    pac = enter[enter.parent_child & (enter.reason == "entry")]
    if pac.empty:
        return
    babies = pac.child.to_numpy()
    put("parent_child_entries", "all", np.histogram(pac.day, edges)[0])
    first = place[(place.k == 0) & place.child.isin(babies)]
    waited = set(wait.child[wait.child.isin(babies)].tolist())
    pools = np.array([OPTIONS[o][0] for o in first.option.astype(str)]) if len(first) else np.array([], dtype=str)
    after_wait = first.child.isin(waited).to_numpy()
    for pool in ("kinship", "inhouse_fostering", "ifa", "residential"):
        put("parent_child_placed", pool, np.histogram(first.start[(pools == pool) & ~after_wait], edges)[0])
    put("parent_child_placed", "waiting", np.histogram(first.start[after_wait], edges)[0])
    w = wait[wait.child.isin(babies)]
    put("parent_child_waiting_days", "all", overlap(w.start.to_numpy(), w.stop.to_numpy(), edges).sum(axis=0))
