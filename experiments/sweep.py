"""Sweeps: every scenario of an experiment x every replication, in parallel, saved run by run.

A run is one replication of one scenario of the grid. Its id is the scenario's id
(a hash of its factor values) and the replication number, so it is the same
whenever and wherever the run happens. Replication k of every scenario uses the
same seeds (common random numbers).

The output folder::

    manifest.json          the experiment (fingerprint, scenarios, thresholds), status, history
    experiment.toml        the experiment file as given
    parts/<run id>.parquet the metrics of one finished run, written atomically
    failures/<run id>.json the error of one failed run
    risk.*                 the risk register (see :func:`write_risk`)

Only metrics are kept, never events, and the parent holds no results: memory
stays flat in the number of runs. A folder that was interrupted is finished with
``resume=True``, which runs only the runs that have no part yet (failed runs are
tried again); a folder started by a different experiment is refused.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd
import pyarrow.dataset as ds

from experiments.experiment import Experiment, ExperimentError, RunSpec
from experiments.runner import _pkg, version
from models.scenario import Scenario
from results.metrics import METRIC_COLUMNS, replication_metrics
from results.store import write_json, write_parquet
from simulation.engine import simulate

PARTS = "parts"
FAILURES = "failures"
MANIFEST = "manifest.json"
EXPERIMENT_COPY = "experiment.toml"
EXECUTORS = ("local", "dask")
PART_COLUMNS = ["scenario", *METRIC_COLUMNS]


class SweepAborted(RuntimeError):
    """The sweep could not go on (a worker process died, the cluster went away). Finished runs are saved."""


@dataclass(frozen=True)
class Task:
    """What a worker needs for one run. With ``parts_dir`` the worker writes the part itself."""

    run_id: str
    scenario_id: str
    replication: int
    scenario: Scenario
    parts_dir: str | None = None


@dataclass
class Outcome:
    run_id: str
    scenario_id: str
    replication: int
    ok: bool
    metrics: pd.DataFrame | None = None  # only when the worker did not write the part
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0


@dataclass
class SweepResult:
    out: Path
    total: int
    skipped: int  # already done before this call
    done: int  # finished in this call
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    risk_text: str = ""


# --------------------------------------------------------------------------- one run


def run_task(task: Task) -> Outcome:
    """Run one replication and compute its metrics. Never raises: an error becomes a failed outcome."""
    t0 = time.perf_counter()
    try:
        rep = simulate(task.scenario, task.replication)
        metrics = replication_metrics(rep.events, task.scenario, task.replication)
        del rep
        metrics.insert(0, "scenario", task.scenario_id)
        if task.parts_dir is not None:
            write_part(metrics, Path(task.parts_dir), task.run_id)
            metrics = None
        return Outcome(task.run_id, task.scenario_id, task.replication, True, metrics,
                       seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - any error of a run is recorded, and the sweep goes on
        return Outcome(task.run_id, task.scenario_id, task.replication, False, error=f"{type(e).__name__}: {e}",
                       traceback=traceback.format_exc(), seconds=time.perf_counter() - t0)


def write_part(metrics: pd.DataFrame, parts_dir: Path, run_id: str) -> Path:
    path = parts_dir / f"{run_id}.parquet"
    write_parquet(metrics[PART_COLUMNS], path)
    return path


# --------------------------------------------------------------------------- executors


def _serial(tasks: Iterable[Task]) -> Iterator[Outcome]:
    for t in tasks:
        yield run_task(t)


def _pool_context():
    """How worker processes start.

    Fork, when this process runs a single thread: workers start at once with everything imported.
    With other threads running (a dask client, say), forking could copy a held lock, so a clean
    forkserver with the modules preloaded; else the platform's default.
    """
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["experiments.sweep"])
        return ctx
    return mp.get_context()


def _local(tasks: Iterable[Task], workers: int) -> Iterator[Outcome]:
    """A pool of ``workers`` processes; at most a few runs per worker are in flight at once."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    it = iter(tasks)
    pending = {pool.submit(run_task, t): t for t in itertools.islice(it, 4 * workers)}
    try:
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                task = pending.pop(fut)
                try:
                    outcome = fut.result()
                except BrokenProcessPool:
                    raise SweepAborted(f"a worker process died (running {task.run_id} or another run)") from None
                nxt = next(it, None)
                if nxt is not None:
                    pending[pool.submit(run_task, nxt)] = nxt
                yield outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(tasks: Iterable[Task], scheduler: Any, workers: int, prefix: str) -> Iterator[Outcome]:
    """The same runs on a dask.distributed cluster: ``scheduler`` is an address (or a cluster), or None
    for a local cluster of ``workers`` processes. The client, not the workers, writes the parts."""
    from distributed import Client, LocalCluster, as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        scheduler = cluster
    client = Client(scheduler)
    try:
        slots = max(sum(client.nthreads().values()), 1)
        it = iter(tasks)
        pending: dict[str, Task] = {}

        def submit(t: Task):
            fut = client.submit(run_task, t, key=f"{prefix}-{t.run_id}", pure=False, retries=0)
            pending[fut.key] = t
            return fut

        queue = as_completed([submit(t) for t in itertools.islice(it, 4 * slots)])
        for fut in queue:
            task = pending.pop(fut.key)
            try:
                outcome = fut.result()
            except KilledWorker as e:  # the run killed its worker again and again: record it
                outcome = Outcome(task.run_id, task.scenario_id, task.replication, False,
                                  error=f"KilledWorker: {e}", traceback="")
            except (FutureCancelledError, OSError) as e:
                raise SweepAborted(f"lost the dask cluster ({type(e).__name__}: {e})") from None
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                queue.add(submit(nxt))
            yield outcome
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- the folder


def completed(out: Path) -> set[str]:
    """Ids of the runs whose part is on disk."""
    parts = Path(out) / PARTS
    return {p.name[: -len(".parquet")] for p in parts.glob("*.parquet")} if parts.is_dir() else set()


def read_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise ExperimentError("", f"{out} holds no sweep (no {MANIFEST})")
    return json.loads(path.read_text(encoding="utf-8"))


def read_failures(out: Path) -> list[dict]:
    folder = Path(out) / FAILURES
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def read_metrics(out: Path, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """The metrics of every finished run (optionally only some metrics), sorted by run."""
    files = sorted(str(p) for p in (Path(out) / PARTS).glob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=PART_COLUMNS)
    data = ds.dataset(files, format="parquet")
    table = data.to_table(filter=ds.field("metric").isin(list(metrics))) if metrics is not None else data.to_table()
    df = table.to_pandas()
    return df.sort_values(["scenario", "replication", "year", "metric", "pool"], kind="stable").reset_index(drop=True)


def check_folder(out: str | Path, experiment: Experiment, resume: bool) -> dict:
    """Refuse a folder that holds another sweep (or, with ``resume``, none or a different experiment).

    Returns the folder's manifest when resuming, else a new one. Writes nothing.
    """
    out = Path(out)
    fingerprint = experiment.fingerprint()
    manifest_path = out / MANIFEST
    if resume:
        if not manifest_path.is_file():
            raise ExperimentError("", f"nothing to resume: {out} holds no sweep (no {MANIFEST})")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        theirs = manifest.get("fingerprint")
        if theirs != fingerprint:
            raise ExperimentError("", f"cannot resume: {out} holds a different experiment "
                                      f"('{manifest.get('experiment', {}).get('name', '?')}', fingerprint {theirs}); "
                                      f"this experiment's fingerprint is {fingerprint}. Use the experiment file that "
                                      f"started the folder, or choose another --out")
        return manifest
    if manifest_path.exists() or (out / PARTS).is_dir() and any((out / PARTS).iterdir()):
        raise ExperimentError("", f"{out} already holds a sweep: finish it with --resume, or choose another --out")
    return {"kind": "placesim sweep", "fingerprint": fingerprint, "history": []}


def _prepare(out: Path, experiment: Experiment, resume: bool) -> dict:
    """Check the folder, make its sub-folders, clear half-written files, and return its manifest."""
    manifest = check_folder(out, experiment, resume)
    for sub in (PARTS, FAILURES):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for tmp in (out / sub).glob("*.tmp"):  # left by a run killed while writing
            tmp.unlink()
    if experiment.source:  # on resume, the same runs; the thresholds may have changed
        (out / EXPERIMENT_COPY).write_text(experiment.source, encoding="utf-8")
    manifest.update({
        "experiment": experiment.describe(),
        "base_scenario": experiment.base.to_dict(),
        "runs_total": len(experiment.points) * experiment.replications,
        "replication_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replication, crc32(stream), *key)); "
                             "replication k of every scenario uses the same seeds",
        "run_id": "<scenario id>-r<replication, 4 digits>; scenario id = first 10 hex digits of sha1 of its sorted factor values",
    })
    return manifest


def sweep(experiment: Experiment, out: str | Path, *, workers: int | None = None, executor: str = "local",
          scheduler: Any = None, resume: bool = False, progress: Callable[[Outcome], None] | None = None,
          figures: bool = True, command: str | None = None) -> SweepResult:
    """Run every missing run of ``experiment`` into ``out``, and write the risk register.

    ``executor="local"`` uses ``workers`` processes (default: all cores; 1 runs in this process).
    ``executor="dask"`` submits to the dask.distributed scheduler at ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``, or a cluster object), or to a local dask cluster of ``workers`` processes.
    """
    if executor not in EXECUTORS:
        raise ExperimentError("executor", f"must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = workers or os.cpu_count() or 1
    out = Path(out)
    fingerprint = experiment.fingerprint()
    manifest = _prepare(out, experiment, resume)
    done_before = completed(out)
    specs: list[RunSpec] = [r for r in experiment.runs() if r.run_id not in done_before]
    skipped = len(experiment.runs()) - len(specs)
    entry = {"command": command if command is not None else " ".join(sys.argv), "executor": executor,
             "workers": workers if executor == "local" or scheduler is None else None,
             "scheduler": str(scheduler) if scheduler is not None else None, "resume": resume,
             "started_utc": _now(), "runs_missing_at_start": len(specs)}
    manifest["history"].append(entry)
    manifest["status"] = "running"
    manifest.update(placesim_version=version(), python=sys.version.split()[0],
                    packages={p: _pkg(p) for p in ("simpy", "numpy", "pandas", "pyarrow", "dask", "distributed")})
    write_json(manifest, out / MANIFEST)

    parts_dir = out / PARTS
    client_writes = executor == "dask"
    scenarios = {p.id: p.scenario for p in experiment.points}
    tasks = (Task(s.run_id, s.scenario_id, s.replication, scenarios[s.scenario_id],
                  None if client_writes else str(parts_dir)) for s in specs)
    if executor == "dask":
        stream = _dask(tasks, scheduler, workers, f"placesim-{fingerprint}")
    elif workers == 1:
        stream = _serial(tasks)
    else:
        stream = _local(tasks, workers)

    labels = {p.id: p.label for p in experiment.points}
    t0 = time.perf_counter()
    n_done, failures = 0, []
    status = "interrupted"
    try:
        for outcome in stream:
            failure_path = out / FAILURES / f"{outcome.run_id}.json"
            if outcome.ok:
                if outcome.metrics is not None:
                    write_part(outcome.metrics, parts_dir, outcome.run_id)
                if failure_path.exists():
                    failure_path.unlink()
                n_done += 1
            else:
                record = {"run_id": outcome.run_id, "scenario": outcome.scenario_id, "label": labels[outcome.scenario_id],
                          "replication": outcome.replication, "error": outcome.error, "traceback": outcome.traceback}
                write_json(record, failure_path)
                failures.append(record)
            if progress:
                progress(outcome)
        status = "finished"
    finally:
        seconds = time.perf_counter() - t0
        entry.update(finished_utc=_now(), runtime_seconds=round(seconds, 3), runs_done=n_done, runs_failed=len(failures))
        all_failures = read_failures(out)
        manifest.update(status=status if not all_failures else f"{status} with failures",
                        runs_done=len(completed(out)), runs_failed=len(all_failures))
        write_json(manifest, out / MANIFEST)
    _reg, text = write_risk(out, figures=figures)
    return SweepResult(out, len(experiment.runs()), skipped, n_done, read_failures(out), seconds, text)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------- the risk register


def scenario_table(manifest: dict) -> tuple[pd.DataFrame, list[str]]:
    """The scenarios of a sweep folder: ``scenario, label, block_places`` and one column per factor."""
    exp = manifest["experiment"]
    factors = list(exp["factors"])
    rows = [{"scenario": s["id"], "label": s["label"], "block_places": s["block_places"],
             **{k: s["overrides"].get(k) for k in factors}} for s in exp["scenarios"]]
    return pd.DataFrame(rows, columns=["scenario", "label", "block_places", *factors]), factors


RISK_FILES = {
    "risk.parquet": "the risk register, tidy: scenario, label, factors, block_places, measure, statistic, value, unit, n, flags",
    "risk.csv": "the same table as CSV",
    "risk.txt": "the register as printed: one line per scenario, the picks and the failures",
    "risk_by_year.parquet": "yearly spend quantiles by scenario and year (the fan chart's data)",
    "risk_heatmap_spend.png": "P50 yearly spend over the two factors (sweeps with two factors)",
    "risk_heatmap_waiting.png": "P90 waiting days over the two factors (sweeps with two factors)",
    "risk_frontier.png": "the stability-spend frontier",
    "risk_fan_spend.png": "fan charts of yearly spend over the years",
}


def write_risk(out: str | Path, figures: bool = True):
    """Compute the risk register of a sweep folder from its parts and write ``risk.*`` (see RISK_FILES)."""
    from results.risk import METRICS_USED, RiskSettings, format_register, register

    out = Path(out)
    manifest = read_manifest(out)
    settings = RiskSettings.from_dict(manifest["experiment"]["risk"])
    scenarios, factors = scenario_table(manifest)
    from results.measures import AGE_METRIC, BY_YEAR, measures
    from results.store import write_year_tables

    wanted = sorted(set(METRICS_USED) | {m.metric for m in measures(BY_YEAR)} | {AGE_METRIC})
    metrics = read_metrics(out, wanted)
    reg = register(metrics, scenarios, settings, factors)
    start = manifest.get("base_scenario", {}).get("run", {}).get("start_date", "2019-04-01")
    write_year_tables(out, metrics, int(str(start)[5:7]) if len(str(start)) >= 7 else 4)
    write_parquet(reg.tidy, out / "risk.parquet")
    reg.tidy.to_csv(out / "risk.csv", index=False)
    write_parquet(reg.yearly, out / "risk_by_year.parquet")
    failures = read_failures(out)
    missing = manifest["runs_total"] - len(completed(out)) - len(failures)
    text = format_register(reg, failures)
    if missing > 0:
        text += f"\n{missing} run(s) have not run yet: finish them with placesim sweep --resume.\n"
    (out / "risk.txt").write_text(text, encoding="utf-8")
    if figures:
        from results.risk_figures import write_risk_figures

        write_risk_figures(reg, out)
    return reg, text
