"""Metrics of the in-house carer market, derived from the carer events of the log.

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
                             (general, siblings, complex, siblings+complex) and all; a free place
                             is not always usable (wrong skills, or max_placements reached)
carer_moves (all)            moves because the child's household left
===========================  =====================================================================
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR
from results.intervals import ByKind, overlap

SKILLS = ("general", "siblings", "complex", "siblings+complex")


def carer_metrics(ev: ByKind, place: pd.DataFrame, edges: np.ndarray, put: Callable) -> None:
    joins = ev["carer_join"]
    if joins.empty:
        return
    leaves = ev["carer_leave"]
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
    apps = ev["carer_application"]
    put("applications", "all", np.histogram(apps.day, edges)[0])
    put("approvals", "all", np.histogram(joins.day[joins.reason == "approved"], edges)[0])
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
    moved = ev["end"][ev["end"].reason == "carer_left"]
    put("carer_moves", "all", np.histogram(moved.day, edges)[0])
