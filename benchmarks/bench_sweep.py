"""Sweep throughput and memory on the local executor.

The sweep: 10 IFA block sizes (0, 2, ..., 18 places) x 5 retainers (0, 0.25, ..., 1)
x 20 replications of the default authority = 1,000 runs. Each measurement runs
in a fresh process, so that imports and peak memory do not carry over:

- runs per second with 1 worker (in the sweep's own process) and with 2 worker
  processes, and the speed-up;
- peak resident memory, of the sweep's main process and of all its processes
  together (sampled every 50 ms with psutil), for 4 and for 20 replications, to
  show that memory does not grow with the number of runs.

    python benchmarks/bench_sweep.py            # about 5 minutes on 2 cores
    python benchmarks/bench_sweep.py --quick    # 10 x 2 x 2 and 10 x 2 x 6 replications, 1 year
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PLACES = list(range(0, 20, 2))
RETAINERS = [0.0, 0.25, 0.5, 0.75, 1.0]


def experiment(replications: int, quick: bool):
    from experiments.experiment import experiment_from_dict

    base = {"contracts.ifa.weekly_price": 750.0}
    retainers = RETAINERS
    if quick:
        base.update({"run.years": 1, "run.warmup_years": 1})
        retainers = [0.0, 1.0]
    return experiment_from_dict({"name": "bench", "replications": replications, "base": {"set": base},
                                 "factors": {"contracts.ifa.places": PLACES, "contracts.ifa.retainer": retainers}})


def child(workers: int, replications: int, quick: bool, out: str) -> None:
    """One measurement: run the sweep and print its timings as JSON."""
    from experiments.sweep import sweep

    exp = experiment(replications, quick)
    stamps: list[float] = []
    t0 = time.perf_counter()
    result = sweep(exp, out, workers=workers, figures=False, progress=lambda o: stamps.append(time.perf_counter()),
                   command="bench_sweep")
    total = time.perf_counter() - t0
    assert result.done == len(exp.runs()) and not result.failures, result
    print(json.dumps({"runs": result.done, "run_seconds": stamps[-1] - t0, "total_seconds": total}))


def measure(workers: int, replications: int, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--child", "--workers", str(workers), "--replications", str(replications),
               "--out", str(Path(tmp) / "sweep")] + (["--quick"] if quick else [])
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        peak = {"main": 0, "all": 0}
        done = threading.Event()

        def sample() -> None:
            main = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    rss_main = main.memory_info().rss
                    rss_all = rss_main + sum(_rss(c) for c in main.children(recursive=True))
                except psutil.NoSuchProcess:
                    break
                peak["main"] = max(peak["main"], rss_main)
                peak["all"] = max(peak["all"], rss_all)
                time.sleep(0.05)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        stdout, _ = proc.communicate()
        done.set()
        thread.join()
        if proc.returncode != 0:
            raise SystemExit(f"measurement failed: {' '.join(cmd)}")
        out = json.loads(stdout.strip().splitlines()[-1])
        out.update(workers=workers, replications=replications, peak_main_mb=peak["main"] / 2**20,
                   peak_all_mb=peak["all"] / 2**20, runs_per_s=out["runs"] / out["run_seconds"])
        return out


def _rss(p: psutil.Process) -> int:
    try:
        return p.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small sweep of one-year runs")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--replications", type=int, default=20, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.workers, args.replications, args.quick, args.out)
        return

    small, large = (2, 6) if args.quick else (4, 20)
    n_retainers = 2 if args.quick else len(RETAINERS)
    print(f"placesim sweep benchmark: {len(PLACES)} block sizes x {n_retainers} retainers of the default authority"
          f"{' (1 year + 1 warm-up)' if args.quick else ''}; local executor; {psutil.cpu_count()} cores")
    print(f"{'replications':>12} {'runs':>6} {'workers':>8} {'run s':>8} {'runs/s':>8} {'total s':>8} "
          f"{'peak MB main':>13} {'peak MB all':>12}")
    rows = {}
    for replications in (small, large):
        for workers in (1, 2):
            r = measure(workers, replications, args.quick)
            rows[(workers, replications)] = r
            print(f"{replications:>12} {r['runs']:>6} {workers:>8} {r['run_seconds']:>8.1f} {r['runs_per_s']:>8.2f} "
                  f"{r['total_seconds']:>8.1f} {r['peak_main_mb']:>13.0f} {r['peak_all_mb']:>12.0f}", flush=True)
    for replications in (small, large):
        one, two = rows[(1, replications)], rows[(2, replications)]
        print(f"speed-up with 2 workers, {one['runs']} runs: {two['runs_per_s'] / one['runs_per_s']:.2f}x "
              f"(target >= 1.8x on 2 cores)")
    for workers in (1, 2):
        a, b = rows[(workers, small)], rows[(workers, large)]
        print(f"memory, {workers} worker(s): {a['runs']} runs peak {a['peak_main_mb']:.0f} MB main / {a['peak_all_mb']:.0f} MB all; "
              f"{b['runs']} runs peak {b['peak_main_mb']:.0f} MB main / {b['peak_all_mb']:.0f} MB all")


if __name__ == "__main__":
    main()
