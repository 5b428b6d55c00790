"""Import speed: 5 years of SSDA903 returns for an authority of about 1,000 children in care.

Builds the returns once by exporting a run of the default authority scaled up (entries, starting stock
and in-house capacity x3.7, carer households off), then times reading and cleaning them (the import)
and the estimates, and prints medians. Target: the import under 10 s.
Run: .venv/bin/python benchmarks/bench_calibrate.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from calibration.clean import clean
from calibration.estimate import estimate
from calibration.export import write_returns
from calibration.measures import in_care_on
from calibration.read903 import read_returns
from models.catalogue import DAYS_PER_YEAR
from models.scenario import Scenario
from simulation.engine import simulate

FACTOR = 3.7


def authority() -> Scenario:
    s = Scenario.default()
    e, ih = s.entries, s.inhouse
    return s.replace({
        "run.years": 6, "carers.enabled": False, "ifa_carers.enabled": False,
        "entries.rate_per_year": e.rate_per_year * FACTOR, "entries.initial_children": int(e.initial_children * FACTOR),
        "inhouse.fostering.places": int(ih.fostering.places * FACTOR), "inhouse.residential.places": int(ih.residential.places * FACTOR),
        "inhouse.supported.places": int(ih.supported.places * FACTOR),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    s = authority()
    rep = simulate(s, 0)
    with tempfile.TemporaryDirectory() as folder:
        written = write_returns(rep.events, s.run.start_date, s.run.years * DAYS_PER_YEAR, s.run.seed, 0, folder)
        rows = sum(h + e for h, e in written.values())
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.csv"))
        imports, estimates = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            eps = clean(read_returns(folder))
            t1 = time.perf_counter()
            estimate(eps)
            imports.append(t1 - t0)
            estimates.append(time.perf_counter() - t1)
    stock = int(in_care_on(eps.table, eps.last_day).sum())
    print(f"{len(written)} returns {min(written)}-{max(written)}: {rows} rows ({size / 1e6:.1f} MB), "
          f"{stock} children in care at the last return, {len(eps.table)} episodes after cleaning")
    print(f"import (read + clean), median of {args.rounds}: {statistics.median(imports):.2f} s "
          f"(min {min(imports):.2f}, max {max(imports):.2f}); target < 10 s")
    print(f"estimates, median of {args.rounds}: {statistics.median(estimates):.2f} s")


if __name__ == "__main__":
    main()
