"""Scenario sections for changes of need over time: reviews, step-downs, step-ups and staying put."""

from __future__ import annotations

from dataclasses import dataclass

from models.catalogue import NEED_BANDS
from models.schema import ScenarioError, param, probability

from models.sources import ASSUMED


@dataclass(frozen=True)
class Reviews:
    """Looked-after reviews, at which a child's need level may change by one band."""

    enabled: bool = param(True, "needs change at periodic reviews (off: a child's need never changes)")
    interval_days: float = param(182.0, "days between reviews", "statutory looked-after reviews: at most every 6 months after the first",
                                 gt=0.0, le=3650.0, unit="days")
    need_down: float = probability(0.10, "probability a review lowers the need by one band", ASSUMED)
    need_up: float = probability(0.05, "probability a review raises the need by one band", ASSUMED)

    def __post_init__(self) -> None:
        if self.need_down + self.need_up > 1.0:
            raise ScenarioError("need_up", f"need_down + need_up must not exceed 1, got {self.need_down + self.need_up:g}")


@dataclass(frozen=True)
class StepDown:
    enabled: bool = param(True, "a child in residential care whose need has fallen moves to foster care when a suitable place is free")
    max_need: str = param("high", "highest need band that can step down", "Placements Commissioning Strategy 5.3: step down as needs reduce; " + ASSUMED,
                          choices=NEED_BANDS)


@dataclass(frozen=True)
class Escalation:
    enabled: bool = param(True, "repeated breakdowns escalate a child to residential care")
    breakdowns: int = param(3, "breakdowns within the window that trigger escalation", "domain primer: escalation after repeated breakdowns; 3 because breakdowns here include planned short-term moves", ge=1, le=20)
    window_days: float = param(365.0, "the window", "domain primer: e.g. 2 within 12 months", gt=0.0, le=3650.0, unit="days")
    min_age: float = param(10.0, "youngest age at which a child is escalated to residential care", ASSUMED, ge=0.0, le=18.0, unit="years")
    max_age: float = param(16.0, "age from which young people are no longer escalated (16+ accommodation applies)", ASSUMED, ge=0.0, le=18.0, unit="years")


@dataclass(frozen=True)
class StayingPut:
    enabled: bool = param(True, "young people in foster care at 18 may stay with their carers")
    probability: float = probability(0.35, "share of 18-year-olds in foster care who stay put",
                                     "DfE care leavers statistics: about a third of 18-year-olds in foster care stay put; " + ASSUMED)
    until_age: float = param(21.0, "age at which staying put ends", "Children and Families Act 2014: up to 21", ge=18.0, le=25.0, unit="years")
    weekly_cost: float = param(300.0, "weekly cost of a staying-put arrangement to the council", ASSUMED, ge=0.0, le=100_000.0,
                               unit="GBP/week")


@dataclass(frozen=True)
class ParentChild:
    """Babies entering care with a parent, for a parent-and-child assessment placement.

    Such a baby needs, in foster care, a household with the parent-and-child skill
    (``carers.parent_child_skill``, ``ifa_carers.parent_child_skill``) that has nobody else
    placed, and it takes that household whole. Kinship, block and residential places (a
    residential family unit) take it as any child. When the assessment ends the parent
    leaves: a baby still with a parent-and-child carer moves (reason ``assessment_end``)
    and from then on is placed as any child.
    """

    enabled: bool = param(True, "some babies enter care with a parent and need a parent-and-child placement")
    share: float = probability(0.08, "share of babies (under 1) entering care alone who enter with a parent",
                               "Placements Commissioning Strategy 5.3 and 8: parent & child placements are low-incidence, high-cost, and short of carers; " + ASSUMED)
    assessment_days: float = param(84.0, "length of the parent-and-child assessment", "the usual 12-week parenting assessment; " + ASSUMED,
                                   gt=0.0, le=3650.0, unit="days")
