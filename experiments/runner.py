"""Run a scenario for R replications and collect its metrics, events and provenance."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable

import pandas as pd

from models.scenario import Scenario
from results.metrics import METRIC_COLUMNS, replication_metrics
from results.summary import summarise
from simulation.budget import check_workload
from simulation.engine import simulate


def version() -> str:
    try:
        return metadata.version("placesim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


@dataclass
class RunResult:
    """Everything a run produced: tidy metrics, the event log(s) and the manifest."""

    scenario: Scenario
    metrics: pd.DataFrame
    events: pd.DataFrame
    manifest: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean and 90% interval across replications of each headline measure."""
        return summarise(self.metrics)


def run(scenario: Scenario, replications: int | None = None, keep_events: bool = False,
        progress: Callable[[int], None] | None = None, command: str | None = None, force: bool = False) -> RunResult:
    """Run ``replications`` (default: the scenario's) and return metrics and events.

    Events are kept for the first replication only unless ``keep_events``.
    ``progress`` is called with 1 after each replication. A scenario whose estimated work is
    over ``run.max_events`` is refused (:func:`simulation.budget.check_workload`) unless ``force``.
    """
    n = replications if replications is not None else scenario.run.replications
    if n < 1:
        raise ValueError("replications must be at least 1")
    check_workload(scenario, force=force)
    t0 = time.perf_counter()
    metrics, events = [], []
    n_events = 0
    for r in range(n):
        rep = simulate(scenario, r)
        n_events += rep.n_events
        metrics.append(replication_metrics(rep.events, scenario, r))
        if keep_events or r == 0:
            events.append(rep.events.assign(replication=r))
        if progress:
            progress(1)
    seconds = time.perf_counter() - t0
    manifest = {
        "kind": "placesim run",
        "placesim_version": version(),
        "scenario_name": scenario.name,
        "scenario": scenario.to_dict(),
        "seed": scenario.run.seed,
        "replications": n,
        "replication_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replication, crc32(stream), *key)), replications 0.." + str(n - 1),
        "events_kept_for": "all replications" if keep_events else "replication 0",
        "n_events": n_events,
        "runtime_seconds": round(seconds, 3),
        "command": command if command is not None else " ".join(sys.argv),
        "python": sys.version.split()[0],
        "packages": {p: _pkg(p) for p in ("simpy", "numpy", "pandas", "pyarrow")},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return RunResult(scenario, pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame(columns=METRIC_COLUMNS),
                     pd.concat(events, ignore_index=True), manifest)


def _pkg(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "not installed"
