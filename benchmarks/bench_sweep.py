"""Sweep throughput and memory on the local executor.

The sweep: 10 IFA block sizes (0, 2, ..., 18 places) x 5 retainers (0, 0.25, ..., 1)
x 20 replications of the default authority = 1,000 runs. Each measurement runs
in a fresh process, so that imports and peak memory do not carry over:

- runs per second with 1 worker (in the sweep's own process) and with 2 worker
  processes, and the speed-up;
- peak resident memory for 4 and for 20 replications: of the main process up to
  the last run, which should not grow with the number of runs; and of the main
  process and of all processes over the whole sweep (sampled every 50 ms with
  psutil), which includes reading the metrics back for the risk register;
- "other load": the cores that other programs kept busy during the measurement
  (machine CPU time less the sweep's own). Each measurement waits for a quiet
  machine first, and is taken again (up to 3 times) if other load passed 0.15 cores.

    python benchmarks/bench_sweep.py            # about 5 minutes on 2 cores
    python benchmarks/bench_sweep.py --quick    # 10 x 2 x 2 and 10 x 2 x 6 replications, 1 year
"""

from __future__ import annotations

import argparse
import json
import resource
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
    rss = [0]

    def progress(_outcome) -> None:
        stamps.append(time.perf_counter())
        rss[0] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB; the last one: peak while running

    t0 = time.perf_counter()
    result = sweep(exp, out, workers=workers, figures=False, progress=progress, command="bench_sweep")
    total = time.perf_counter() - t0
    assert result.done + len(result.failures) == len(exp.runs()), (result.done, len(result.failures))
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime  # the worker processes have been reaped
    print(json.dumps({"runs": result.done + len(result.failures), "failed": len(result.failures),
                      "first_error": result.failures[0]["error"] if result.failures else "", "run_seconds": stamps[-1] - t0, "total_seconds": total, "cpu_seconds": cpu,
                      "runs_peak_main_mb": rss[0] / 1024}))


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
        busy0, t0 = _busy(), time.perf_counter()
        thread.start()
        stdout, _ = proc.communicate()
        done.set()
        thread.join()
        busy, wall = _busy() - busy0, time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"measurement failed: {' '.join(cmd)}")
        out = json.loads(stdout.strip().splitlines()[-1])
        # cores kept busy by other programs meanwhile: a busy machine makes the speed-up meaningless
        out["other_cores"] = max(busy - out["cpu_seconds"], 0.0) / wall
        out.update(workers=workers, replications=replications, peak_main_mb=peak["main"] / 2**20,
                   peak_all_mb=peak["all"] / 2**20, runs_per_s=out["runs"] / out["run_seconds"])
        return out


BUSY_CORES = 0.15


def wait_quiet(limit_s: float = 900.0) -> None:
    """Wait (up to ``limit_s``) until other programs use under 10% of the machine for 3 s."""
    deadline = time.monotonic() + limit_s
    while psutil.cpu_percent(interval=3.0) >= 10 and time.monotonic() < deadline:
        pass


def _busy() -> float:
    """CPU seconds spent by the whole machine so far (all cores, not idle)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


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
          f"{'MB main, runs':>14} {'MB main':>8} {'MB all':>7} {'other load':>11} {'failed':>7}")
    rows = {}
    for replications in (small, large):
        for workers in (1, 2):
            for attempt in range(3):  # measure again if other programs took CPU meanwhile
                wait_quiet()
                r = measure(workers, replications, args.quick)
                if r["other_cores"] <= BUSY_CORES:
                    break
                print(f"  (other programs kept {r['other_cores']:.2f} cores busy: measuring again)", flush=True)
            rows[(workers, replications)] = r
            print(f"{replications:>12} {r['runs']:>6} {workers:>8} {r['run_seconds']:>8.1f} {r['runs_per_s']:>8.2f} "
                  f"{r['total_seconds']:>8.1f} {r['runs_peak_main_mb']:>14.0f} {r['peak_main_mb']:>8.0f} {r['peak_all_mb']:>7.0f} "
                  f"{r['other_cores']:>6.2f} cores {r['failed']:>7}", flush=True)
    errors = {r["first_error"] for r in rows.values() if r["failed"]}
    if errors:
        print("failed runs count in runs/s (they ran until the error); first error: " + "; ".join(sorted(errors)))
    for replications in (small, large):
        one, two = rows[(1, replications)], rows[(2, replications)]
        print(f"speed-up with 2 workers, {one['runs']} runs: {two['runs_per_s'] / one['runs_per_s']:.2f}x "
              f"(target >= 1.8x on 2 cores)")
    for workers in (1, 2):
        a, b = rows[(workers, small)], rows[(workers, large)]
        print(f"memory, {workers} worker(s), {a['runs']} -> {b['runs']} runs: main process while running "
              f"{a['runs_peak_main_mb']:.0f} -> {b['runs_peak_main_mb']:.0f} MB; main process overall (with the risk register) "
              f"{a['peak_main_mb']:.0f} -> {b['peak_main_mb']:.0f} MB; all processes {a['peak_all_mb']:.0f} -> {b['peak_all_mb']:.0f} MB")
    print("columns: 'MB main, runs' = peak resident memory of the main process up to the last run (getrusage); "
          "'MB main' and 'MB all' = peak of the main process and of all its processes over the whole sweep, "
          "including reading the parts back for the risk register (psutil, sampled every 50 ms)")


if __name__ == "__main__":
    main()
