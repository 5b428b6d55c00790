"""Engine speed: replications and events per second, default authority and one ten times larger.

Prints medians over several replications, for the engine alone and with metrics.
Targets (one core): under 0.1 s per replication of 10 simulated years of the
default authority; the 10x authority within 12x that.
Run: .venv/bin/python benchmarks/bench_engine.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.engine import simulate


def scaled(factor: int) -> Scenario:
    s = Scenario.default()
    if factor == 1:
        return s
    e, ih = s.entries, s.inhouse
    return s.replace({
        "entries.rate_per_year": e.rate_per_year * factor,
        "entries.initial_children": e.initial_children * factor,
        "inhouse.fostering.places": ih.fostering.places * factor,
        "inhouse.residential.places": ih.residential.places * factor,
        "inhouse.supported.places": ih.supported.places * factor,
    })


def measure(s: Scenario, reps: int) -> dict:
    engine, total, events = [], [], []
    for r in range(reps):
        t0 = time.perf_counter()
        rep = simulate(s, r)
        t1 = time.perf_counter()
        replication_metrics(rep.events, s, r)
        t2 = time.perf_counter()
        engine.append(t1 - t0)
        total.append(t2 - t0)
        events.append(rep.n_events)
    years = s.run.years + s.run.warmup_years
    med_e, med_t = statistics.median(engine), statistics.median(total)
    return {"engine_s": med_e, "with_metrics_s": med_t, "events": statistics.median(events),
            "per_10y_s": med_e * 10 / years, "events_per_s": statistics.median(events) / med_e}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    print(f"{'authority':<12}{'events':>10}{'engine s/rep':>14}{'+metrics s/rep':>16}{'s per 10 years':>16}{'events/s':>12}")
    rows = {}
    for factor, reps in ((1, args.reps), (10, max(3, args.reps // 3))):
        s = scaled(factor)
        simulate(s, 999)  # warm caches and imports
        m = rows[factor] = measure(s, reps)
        print(f"{'x' + str(factor):<12}{m['events']:>10,.0f}{m['engine_s']:>14.3f}{m['with_metrics_s']:>16.3f}"
              f"{m['per_10y_s']:>16.3f}{m['events_per_s']:>12,.0f}")
    ratio = rows[10]["engine_s"] / rows[1]["engine_s"]
    per_event = (rows[10]["engine_s"] / rows[10]["events"]) / (rows[1]["engine_s"] / rows[1]["events"])
    print(f"\n10x authority / default: {ratio:.1f}x time (target <= 12x); cost per event ratio {per_event:.2f} (1.0 = flat)")
    print(f"default, 10 simulated years: {rows[1]['per_10y_s']:.3f} s engine (target < 0.1 s)")


if __name__ == "__main__":
    main()
