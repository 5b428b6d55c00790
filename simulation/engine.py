"""One replication, end to end: draw the cohort, run the market, return the event log."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from models.catalogue import DAYS_PER_YEAR
from models.scenario import Scenario
from simulation.cohort import Cohort, draw_cohort
from simulation.log import EventLog
from simulation.market import Market
from simulation.streams import Streams


@dataclass
class Replication:
    replication: int
    events: pd.DataFrame
    n_events: int
    seconds: float


def horizon_days(scenario: Scenario) -> tuple[float, float]:
    """(engine day the reported period starts, engine day the run ends)."""
    offset = scenario.run.warmup_years * DAYS_PER_YEAR
    return offset, offset + scenario.run.years * DAYS_PER_YEAR


def simulate(scenario: Scenario, replication: int = 0, cohort: Cohort | None = None) -> Replication:
    """Run one replication. ``cohort`` replaces the random children (for hand-made tests)."""
    t0 = time.perf_counter()
    offset, horizon = horizon_days(scenario)
    streams = Streams(scenario.run.seed, replication)
    if cohort is None:
        cohort = draw_cohort(scenario, streams, horizon, offset)
    log = EventLog()
    Market(scenario, cohort, log, offset, horizon, streams).run()
    events = log.frame(cohort, offset)
    return Replication(replication, events, len(log), time.perf_counter() - t0)
