"""How much work a scenario asks for, and the limits that keep a run bounded.

Before a run, :func:`check_workload` estimates from the scenario alone the children, carer
households and events of one replication, and the memory they need, and refuses, naming the key
that drives it, a run that would log more than ``run.max_events`` events (unless forced) or need
more memory than the machine has (always). During a run, :class:`EventBudget` stops a replication
that logs more than ``run.max_events`` events, whatever the estimate said: pathological but valid
input (searches retried every half day for children nobody can place) then ends with one clear
line instead of running on.

The estimate is deliberately rough (an upper-end guess of events per child-year, from the
breakdown hazards, reviews and carer turnover); it exists to refuse the absurd, and the budget
during the run is the guarantee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.catalogue import DAYS_PER_YEAR, POOLS
from models.scenario import Scenario, ScenarioError

#: memory of one logged event through the run, the event frame and the metrics (measured: a
#: national-scale replication of 4.8 million events peaked at 2.9 GB)
BYTES_PER_EVENT = 600
#: events a child logs whatever happens (enter, place, end, exit, and a few searches)
EVENTS_PER_CHILD = 8
#: events of one placement move (end, searches, place)
EVENTS_PER_MOVE = 3
#: events a child-year that no real authority comes near (the default has about 1)
ABNORMAL_EVENTS_PER_CHILD_YEAR = 20.0
#: how often the running budget is checked, in simulated days
CHECK_EVERY_DAYS = 7.0


class RunLimitError(ScenarioError):
    """A run that would take, or has taken, more than its limits allow. ``key`` names the setting."""


@dataclass(frozen=True)
class Workload:
    children: float
    households: float
    events: float
    driver: str  # the key most responsible for the events

    @property
    def bytes(self) -> float:
        return self.events * BYTES_PER_EVENT


def estimate(s: Scenario) -> Workload:
    """A rough upper-end estimate of one replication's children, households and events."""
    years = s.run.years + s.run.warmup_years
    e = s.entries
    if e.enabled:
        rates = e.yearly_rates(s.run.years) or [e.rate_per_year * (1 + e.trend) ** k for k in range(s.run.years)]
        entrants = max(rates) * years
    else:
        entrants = 0.0
    children = e.initial_children + entrants
    stay = min(float(years), 3.0)  # years in care a child contributes at most, on average
    child_years = children * stay
    b = s.breakdowns
    moves_per_year = _breakdowns_per_year(s) if b.enabled else 0.0
    reviews = (DAYS_PER_YEAR / s.reviews.interval_days) if s.reviews.enabled else 0.0
    households = 0.0
    if s.carers.enabled:
        households += s.carers.households + (s.recruitment.enquiries_per_year * years if s.recruitment.enabled else 0.0)
    if s.ifa_carers.enabled:
        households += s.ifa_carers.households + s.ifa_carers.approvals_per_year * years
    per_child_year = moves_per_year * EVENTS_PER_MOVE + reviews * 0.2
    size = {"entries.initial_children": e.initial_children, "entries.forecast" if e.forecast else "entries.rate_per_year": entrants}
    events = children * EVENTS_PER_CHILD + child_years * per_child_year + households * 3
    if per_child_year > ABNORMAL_EVENTS_PER_CHILD_YEAR:  # the hazards, not the size, make the work
        driver = "breakdowns.early_multiplier" if b.early_multiplier > 1 else "breakdowns"
    elif households * 3 > children * EVENTS_PER_CHILD:
        driver = "carers.households" if s.carers.enabled and s.carers.households >= s.ifa_carers.households else "ifa_carers.households"
    else:
        driver = max(size, key=size.get)
    return Workload(children, households, events, driver)


def _breakdowns_per_year(s: Scenario) -> float:
    """Breakdowns a placement-year, for the mean hazard over pools and needs: a renewal process whose
    cycles are an early phase at ``early_multiplier`` x the hazard for ``early_days``, then the hazard."""
    b = s.breakdowns
    h = sum(sum(b.for_pool(p)) for p in POOLS) / (4 * len(POOLS))
    if h <= 0:
        return 0.0
    h_early, d = h * b.early_multiplier, b.early_days / DAYS_PER_YEAR
    stay_early = (1 - math.exp(-h_early * d)) / h_early if h_early > 0 else d
    cycle = stay_early + math.exp(-h_early * d) / h
    return 1.0 / cycle


def available_memory() -> float:
    """Bytes of memory free for a run (psutil, installed with dask); infinite if unknown."""
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil missing or unreadable
        return math.inf


def check_workload(s: Scenario, force: bool = False, workers: int = 1) -> Workload:
    """Refuse, naming the key, a scenario whose replication would log more than ``run.max_events``
    events (unless ``force``) or need more memory than the machine has (``workers`` replications at once)."""
    w = estimate(s)
    need = w.bytes * max(1, workers)
    if need > available_memory():
        raise RunLimitError(w.driver, f"one replication would need about {need / 1e9:,.1f} GB of memory "
                                      f"({w.events:,.0f} events{f' x {workers} workers' if workers > 1 else ''}), more than "
                                      f"the {available_memory() / 1e9:,.1f} GB free")
    if w.events > s.run.max_events and not force:
        raise RunLimitError(w.driver, f"one replication would log about {w.events:,.0f} events, more than run.max_events "
                                      f"({s.run.max_events:,}); raise run.max_events, or give --force to run it anyway")
    return w


class EventBudget:
    """A SimPy process that stops the replication once its log holds more than ``run.max_events`` events."""

    def __init__(self, market):
        self.m = market
        self.limit = market.s.run.max_events

    def process(self):
        env, log = self.m.env, self.m.log
        while True:
            yield env.timeout(CHECK_EVERY_DAYS)
            if len(log) > self.limit:
                day = env.now - self.m.offset
                raise RunLimitError("run.max_events", f"the replication logged {len(log):,} events by day {day:,.0f} of "
                                                      f"the run, more than run.max_events ({self.limit:,}): stopped. Check "
                                                      "waiting.retry_days and the breakdown hazards, or raise run.max_events")
