"""Engine speed: replications and events per second, default authority and one ten times larger.

Prints medians over several replications, for the engine alone and with metrics.
Targets (one core): under 0.1 s per replication of 10 simulated years of the
default authority; the 10x authority within 12x that.
Times are CPU seconds of this process (time.process_time), so other programs on the machine
disturb them less than wall-clock time.
Run: .venv/bin/python benchmarks/bench_engine.py [--rounds N] [--without-dynamics]
"""

from __future__ import annotations

import argparse
import statistics
import time

from models.catalogue import MARKETS
from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.engine import simulate


DYNAMICS = ("carers", "recruitment", "turnover", "siblings", "reviews", "step_down", "escalation", "staying_put",
            "ifa_carers", "parent_child")


def scaled(factor: int, dynamics: bool = True) -> Scenario:
    s = Scenario.default()
    if not dynamics:  # the market without households, siblings and transitions: the fixed-capacity model
        s = s.replace({f"{d}.enabled": False for d in DYNAMICS})
    if factor == 1:
        return s
    e, ih = s.entries, s.inhouse
    return s.replace({
        "entries.rate_per_year": e.rate_per_year * factor,
        "entries.initial_children": e.initial_children * factor,
        "inhouse.fostering.places": ih.fostering.places * factor,
        "inhouse.residential.places": ih.residential.places * factor,
        "inhouse.supported.places": ih.supported.places * factor,
        "carers.households": s.carers.households * factor,
        "recruitment.enquiries_per_year": s.recruitment.enquiries_per_year * factor,
        "recruitment.assessment_capacity": s.recruitment.assessment_capacity * factor,
        "ifa_carers.households": s.ifa_carers.households * factor,
        "ifa_carers.approvals_per_year": s.ifa_carers.approvals_per_year * factor,
        **{f"contracts.{m}.places": getattr(s.contracts, m).places * factor for m in MARKETS},
    })


def one(s: Scenario, r: int) -> tuple[float, float, int]:
    t0 = time.process_time()
    rep = simulate(s, r)
    t1 = time.process_time()
    replication_metrics(rep.events, s, r)
    return t1 - t0, time.process_time() - t0, rep.n_events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (each: 10 default + 1 large replication)")
    ap.add_argument("--without-dynamics", action="store_true",
                    help="switch off households, recruitment, turnover, siblings, reviews, step-downs, step-ups and staying put")
    args = ap.parse_args()
    sizes = {1: scaled(1, not args.without_dynamics), 10: scaled(10, not args.without_dynamics)}
    for s in sizes.values():
        simulate(s, 999)  # warm caches and imports
    runs: dict[int, list] = {1: [], 10: []}
    ratios = []
    for k in range(args.rounds):  # interleaved, so machine drift hits both sizes alike
        small = [one(sizes[1], 10 * k + j) for j in range(10)]
        large = one(sizes[10], k)
        runs[1] += small
        runs[10].append(large)
        ratios.append(large[0] / statistics.median(x[0] for x in small))
    print(f"{'authority':<12}{'events':>10}{'engine s/rep':>14}{'+metrics s/rep':>16}{'s per 10 years':>16}{'events/s':>12}")
    med = {}
    for f, rows in runs.items():
        years = sizes[f].run.years + sizes[f].run.warmup_years
        e = statistics.median(r[0] for r in rows)
        t = statistics.median(r[1] for r in rows)
        n = statistics.median(r[2] for r in rows)
        med[f] = (e, n)
        print(f"{'x' + str(f):<12}{n:>10,.0f}{e:>14.3f}{t:>16.3f}{e * 10 / years:>16.3f}{n / e:>12,.0f}")
    per_event = (med[10][0] / med[10][1]) / (med[1][0] / med[1][1])
    print(f"\n10x authority / default: median {statistics.median(ratios):.1f}x time over {args.rounds} interleaved rounds "
          f"(range {min(ratios):.1f}-{max(ratios):.1f}; target <= 12x); cost per event ratio {per_event:.2f} (1.0 = flat)")
    years = sizes[1].run.years + sizes[1].run.warmup_years
    print(f"default, 10 simulated years: {med[1][0] * 10 / years:.3f} s engine (target < 0.1 s)")


if __name__ == "__main__":
    main()
