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

A damaged folder is met with one message naming the file. A part file that cannot
be read (empty, truncated) is set aside as ``parts/<run id>.parquet.damaged``:
resuming runs it again, and the risk register leaves it out with a note. A
damaged ``manifest.json`` is rebuilt on resume when the experiment is shown to
be the folder's (the folder's copy of the experiment file and the fingerprint
that every part carries agree with it). Worker processes end when the process
that started them ends, even when it is killed.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import multiprocessing as mp
import os
import signal
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
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from experiments.experiment import Experiment, ExperimentError, RunSpec, experiment_from_text
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
KIND = "placesim sweep"
#: every part carries the fingerprint of its experiment in its parquet metadata
FINGERPRINT_KEY = b"placesim.fingerprint"
#: a part that cannot be read is renamed parts/<run id>.parquet.damaged, and run again on resume
DAMAGED_SUFFIX = ".damaged"


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
    fingerprint: str = ""


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
    damaged: list[str] = field(default_factory=list)  # runs whose part was damaged, run again
    rebuilt: list[dict] = field(default_factory=list)  # how the manifest was rebuilt, if it was


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
            write_part(metrics, Path(task.parts_dir), task.run_id, task.fingerprint)
            metrics = None
        return Outcome(task.run_id, task.scenario_id, task.replication, True, metrics,
                       seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - any error of a run is recorded, and the sweep goes on
        return Outcome(task.run_id, task.scenario_id, task.replication, False, error=f"{type(e).__name__}: {e}",
                       traceback=traceback.format_exc(), seconds=time.perf_counter() - t0)


def write_part(metrics: pd.DataFrame, parts_dir: Path, run_id: str, fingerprint: str = "") -> Path:
    """Write one run's metrics atomically: a temporary file, flushed to disk, then renamed.

    The file's metadata carries the experiment's fingerprint, so a part tells which experiment made it.
    """
    path = parts_dir / f"{run_id}.parquet"
    table = pa.Table.from_pandas(metrics[PART_COLUMNS], preserve_index=False)
    if fingerprint:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), FINGERPRINT_KEY: fingerprint.encode()})
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pq.write_table(table, f, compression="zstd")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- workers end with their parent


def exit_with_parent(main_pid: int | None = None) -> None:
    """Make this worker process end when the process that started it ends, even by SIGKILL.

    On Linux the kernel kills the worker at once (``prctl(PR_SET_PDEATHSIG, SIGKILL)``). On every
    platform a daemon thread checks twice a second whether the worker's parent has changed (the
    worker was orphaned) or ``main_pid`` (the sweep's process) is gone, and ends the worker.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the thread below still works
            pass

    def orphaned() -> bool:
        if os.getppid() != parent:
            return True
        if main_pid is not None and main_pid != parent:
            try:
                os.kill(main_pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:  # pragma: no cover - the pid is someone else's now
                return True
        return False

    if orphaned():  # the parent ended before the worker started watching
        os._exit(1)

    def watch() -> None:
        while not orphaned():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="placesim-exit-with-parent", daemon=True).start()


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
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=exit_with_parent,
                               initargs=(os.getpid(),))
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


class DamagedManifest(ExperimentError):
    """A sweep folder's manifest.json that cannot be read, or lacks what a sweep's manifest holds."""


@dataclass(frozen=True)
class PartScan:
    """The part files of a folder: the readable ones (run id -> the fingerprint they carry, "" if none)
    and the damaged ones (path -> why they cannot be read)."""

    good: dict[str, str]
    damaged: dict[Path, str]


def scan_parts(out: Path) -> PartScan:
    """Check every part file's parquet footer (not its data): cheap, and finds empty and truncated files."""
    folder = Path(out) / PARTS
    good: dict[str, str] = {}
    damaged: dict[Path, str] = {}
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else ():
        problem, fingerprint = _read_footer(path)
        if problem:
            damaged[path] = problem
        else:
            good[path.name[: -len(".parquet")]] = fingerprint
    return PartScan(good, damaged)


def _read_footer(path: Path) -> tuple[str, str]:
    """(why the part cannot be used, or ""; the fingerprint it carries, or "") from its parquet footer."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (OSError, ValueError, pa.ArrowException) as e:
        return (str(e).split("\n")[0] or type(e).__name__), ""
    missing = [c for c in PART_COLUMNS if c not in schema.names]
    if missing:
        return f"no column {missing[0]!r}", ""
    return "", (schema.metadata or {}).get(FINGERPRINT_KEY, b"").decode("ascii", "replace")


def set_aside(damaged: dict[Path, str]) -> list[str]:
    """Rename damaged parts to ``<run id>.parquet.damaged`` (so they count as not run); their run ids."""
    ids = []
    for path in damaged:
        os.replace(path, path.with_name(path.name + DAMAGED_SUFFIX))
        ids.append(path.name[: -len(".parquet")])
    return ids


def completed(out: Path) -> set[str]:
    """Ids of the runs whose part is on disk and readable."""
    return set(scan_parts(out).good)


def read_manifest(out: Path) -> dict:
    """The manifest of a sweep folder, checked: one message naming the file if it is not a sweep's, or damaged."""
    out = Path(out)
    path = out / MANIFEST
    if not path.is_file():
        raise ExperimentError("", f"{out} holds no sweep (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DamagedManifest("", f"{path} is damaged (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise DamagedManifest("", f"{path} is damaged (not valid JSON: {e})") from None
    if not isinstance(manifest, dict):
        raise DamagedManifest("", f"{path} is damaged (not a JSON object)")
    kind = manifest.get("kind")
    if kind != KIND:
        what = f"of a {kind}" if isinstance(kind, str) and kind.startswith("placesim ") else "not a sweep's"
        raise ExperimentError("", f"{out} is not a sweep folder: its {MANIFEST} is {what} "
                                  f"(placesim risk and placesim sweep --resume need a folder made by placesim sweep)")
    problem = _manifest_problem(manifest)
    if problem:
        raise DamagedManifest("", f"{path} is damaged ({problem})")
    return manifest


def _manifest_problem(m: dict) -> str:
    """What a sweep's manifest lacks, or ""."""
    checks = [("fingerprint", str), ("history", list), ("runs_total", int), ("experiment", dict)]
    for key, tp in checks:
        if not isinstance(m.get(key), tp):
            return f"no {key}" if key not in m else f"{key} is not a {tp.__name__}"
    exp = m["experiment"]
    for key, tp in (("name", str), ("replications", int), ("factors", dict), ("risk", dict), ("scenarios", list)):
        if not isinstance(exp.get(key), tp):
            return f"no experiment.{key}" if key not in exp else f"experiment.{key} is not a {tp.__name__}"
    for i, sc in enumerate(exp["scenarios"]):
        if not isinstance(sc, dict) or not {"id", "label", "overrides", "block_places"} <= set(sc):
            return f"experiment.scenarios[{i}] is incomplete"
    return ""


def read_failures(out: Path) -> list[dict]:
    """The failed runs' records; a record that cannot be read still counts, with that as its error."""
    folder = Path(out) / FAILURES
    if not folder.is_dir():
        return []
    records = []
    for p in sorted(folder.glob("*.json")):
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or "run_id" not in record:
                raise ValueError("not a failure record")
        except (ValueError, OSError) as e:
            run = p.name[: -len(".json")]
            record = {"run_id": run, "scenario": run.rsplit("-r", 1)[0], "label": "",
                      "replication": int(run.rsplit("-r", 1)[-1]) if run.rsplit("-r", 1)[-1].isdigit() else -1,
                      "error": f"the record {p} is damaged ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
                      "traceback": ""}
        records.append(record)
    return records


def read_metrics(out: Path, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """The metrics of every finished run (optionally only some metrics), sorted by run.

    Raises :class:`ExperimentError` naming a part file that cannot be read.
    """
    files = sorted(str(p) for p in (Path(out) / PARTS).glob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=PART_COLUMNS)
    try:
        data = ds.dataset(files, format="parquet")
        table = data.to_table(filter=ds.field("metric").isin(list(metrics))) if metrics is not None else data.to_table()
    except (OSError, ValueError, pa.ArrowException) as e:
        bad = _unreadable(files)
        name = next(iter(bad)) if bad else (Path(out) / PARTS)
        raise ExperimentError("", f"{name} is damaged ({bad.get(name) or str(e).splitlines()[0]})") from None
    df = table.to_pandas()
    return df.sort_values(["scenario", "replication", "year", "metric", "pool"], kind="stable").reset_index(drop=True)


def _unreadable(files: Iterable[str | Path]) -> dict[Path, str]:
    """The part files whose data (not only their footer) cannot be read, each with why."""
    bad: dict[Path, str] = {}
    for f in files:
        try:
            pq.read_table(f, columns=PART_COLUMNS)
        except (OSError, ValueError, KeyError, pa.ArrowException) as e:
            bad[Path(f)] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return bad


def check_folder(out: str | Path, experiment: Experiment, resume: bool) -> dict:
    """Refuse a folder that holds another sweep (or, with ``resume``, none or a different experiment).

    Returns the folder's manifest when resuming, else a new one. Writes nothing. When resuming a
    folder whose manifest is damaged, the manifest is rebuilt from ``experiment`` if the folder shows
    it is the same experiment (see :func:`_rebuilt_manifest`); the new manifest's ``rebuilt`` says why.
    """
    out = Path(out)
    fingerprint = experiment.fingerprint()
    manifest_path = out / MANIFEST
    if resume:
        if not manifest_path.is_file():
            raise ExperimentError("", f"nothing to resume: {out} holds no sweep (no {MANIFEST})")
        try:
            manifest = read_manifest(out)
        except DamagedManifest as e:
            return _rebuilt_manifest(out, experiment, e.problem)
        except ExperimentError as e:
            raise ExperimentError(e.key, f"cannot resume: {e.problem}") from None
        theirs = manifest.get("fingerprint")
        if theirs != fingerprint:
            raise ExperimentError("", f"cannot resume: {out} holds a different experiment "
                                      f"('{manifest.get('experiment', {}).get('name', '?')}', fingerprint {theirs}); "
                                      f"this experiment's fingerprint is {fingerprint}. Use the experiment file that "
                                      f"started the folder, or choose another --out")
        return manifest
    if manifest_path.exists() or (out / PARTS).is_dir() and any((out / PARTS).iterdir()):
        raise ExperimentError("", f"{out} already holds a sweep: finish it with --resume, or choose another --out")
    return {"kind": KIND, "fingerprint": fingerprint, "history": []}


def _rebuilt_manifest(out: Path, experiment: Experiment, damage: str) -> dict:
    """A new manifest for a folder whose manifest is damaged, when nothing in the folder contradicts
    ``experiment``: the folder's copy of the experiment file must give the same fingerprint (read
    beside the experiment file given, so a base scenario file resolves), and every readable part
    must be a run of this experiment carrying this fingerprint (older parts carry none: then their
    run ids must be this experiment's). A copy that cannot be read (its base scenario file moved,
    say) shows nothing either way. Else the resume is refused, naming the file that differs."""
    fingerprint = experiment.fingerprint()
    refuse = f"cannot resume: {damage}, and"
    evidence = []
    copy = out / EXPERIMENT_COPY
    if not copy.is_file():
        evidence.append(f"no {EXPERIMENT_COPY}")
    else:
        try:
            theirs = experiment_from_text(copy.read_bytes(), root=experiment.root, origin=str(copy)).fingerprint()
        except (ExperimentError, OSError):
            theirs = None
        if theirs is None:
            evidence.append(f"{EXPERIMENT_COPY} could not be read")
        elif theirs != fingerprint:
            raise ExperimentError("", f"{refuse} {copy} is a different experiment (fingerprint {theirs}; this "
                                      f"experiment's is {fingerprint}): use the experiment file that started the folder")
        else:
            evidence.append(f"{EXPERIMENT_COPY} gives the same fingerprint")
    scan = scan_parts(out)
    run_ids = {r.run_id for r in experiment.runs()}
    for run, theirs in scan.good.items():
        if run not in run_ids or (theirs and theirs != fingerprint):
            why = "not a run of this experiment" if run not in run_ids else f"made by fingerprint {theirs}"
            raise ExperimentError("", f"{refuse} {out / PARTS / (run + '.parquet')} is {why} (this experiment's "
                                      f"fingerprint is {fingerprint}): use the experiment file that started the folder")
    if scan.good:
        signed = sum(1 for fp in scan.good.values() if fp)
        evidence.append(f"the {len(scan.good)} part(s) are runs of this experiment"
                        + (f", {signed} carrying its fingerprint" if signed else ""))
    else:
        evidence.append("no finished runs")
    return {"kind": KIND, "fingerprint": fingerprint, "history": [],
            "rebuilt": [{"utc": _now(), "damage": damage, "evidence": "; ".join(evidence)}]}


def _prepare(out: Path, experiment: Experiment, resume: bool) -> tuple[dict, list[str]]:
    """Check the folder, make its sub-folders, clear half-written files, set damaged parts aside,
    and return its manifest and the run ids of the damaged parts (to run again)."""
    manifest = check_folder(out, experiment, resume)
    for sub in (PARTS, FAILURES):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for tmp in (out / sub).glob("*.tmp"):  # left by a run killed while writing
            tmp.unlink()
    damaged = set_aside(scan_parts(out).damaged) if resume else []
    if resume and manifest.get("rebuilt") and not manifest["history"]:  # rebuilt just now: keep the old one
        os.replace(out / MANIFEST, out / (MANIFEST + DAMAGED_SUFFIX))
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
    return manifest, damaged


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
    manifest, damaged = _prepare(out, experiment, resume)
    done_before = completed(out)
    specs: list[RunSpec] = [r for r in experiment.runs() if r.run_id not in done_before]
    skipped = len(experiment.runs()) - len(specs)
    entry = {"command": command if command is not None else " ".join(sys.argv), "executor": executor,
             "workers": workers if executor == "local" or scheduler is None else None,
             "scheduler": str(scheduler) if scheduler is not None else None, "resume": resume,
             "started_utc": _now(), "runs_missing_at_start": len(specs)}
    if damaged:
        entry["damaged_parts_run_again"] = damaged
    manifest["history"].append(entry)
    manifest["status"] = "running"
    manifest.update(placesim_version=version(), python=sys.version.split()[0],
                    packages={p: _pkg(p) for p in ("simpy", "numpy", "pandas", "pyarrow", "dask", "distributed")})
    write_json(manifest, out / MANIFEST)

    parts_dir = out / PARTS
    client_writes = executor == "dask"
    scenarios = {p.id: p.scenario for p in experiment.points}
    tasks = (Task(s.run_id, s.scenario_id, s.replication, scenarios[s.scenario_id],
                  None if client_writes else str(parts_dir), fingerprint) for s in specs)
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
                    write_part(outcome.metrics, parts_dir, outcome.run_id, fingerprint)
                if failure_path.exists():
                    failure_path.unlink()
                (parts_dir / f"{outcome.run_id}.parquet{DAMAGED_SUFFIX}").unlink(missing_ok=True)  # replaced now
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
                        runs_done=len(done_before) + n_done, runs_failed=len(all_failures))
        write_json(manifest, out / MANIFEST)
    _reg, text = write_risk(out, figures=figures)
    return SweepResult(out, len(experiment.runs()), skipped, n_done, read_failures(out), seconds, text, damaged,
                       manifest.get("rebuilt", []))


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
    try:
        manifest = read_manifest(out)
    except DamagedManifest as e:
        raise DamagedManifest(e.key, f"{e.problem}: rebuild it with placesim sweep EXPERIMENT --out {out} --resume, "
                                     f"EXPERIMENT being the experiment file that started the folder") from None
    settings = RiskSettings.from_dict(manifest["experiment"]["risk"])
    scenarios, factors = scenario_table(manifest)
    from results.measures import AGE_METRIC, BY_YEAR, measures
    from results.store import write_year_tables

    wanted = sorted(set(METRICS_USED) | {m.metric for m in measures(BY_YEAR)} | {AGE_METRIC})
    # parts that cannot be read are set aside (and left out, with a note); the report and the
    # workbook then read only whole parts
    damaged: dict[Path, str] = {}
    try:
        metrics = read_metrics(out, wanted)
    except ExperimentError:
        damaged = scan_parts(out).damaged  # empty or truncated: their footers do not read
        set_aside(damaged)
        try:
            metrics = read_metrics(out, wanted)
        except ExperimentError:  # a footer that reads over data that does not
            more = _unreadable(sorted((out / PARTS).glob("*.parquet")))
            set_aside(more)
            damaged.update(more)
            metrics = read_metrics(out, wanted)
    if metrics.empty:  # nothing to write a register of
        failed = len(read_failures(out))
        why = "; ".join(w for w in (
            f"{len(damaged)} part file(s) could not be read (set aside as *.parquet{DAMAGED_SUFFIX})" if damaged else "",
            f"{failed} run(s) failed (see {out / FAILURES})" if failed else "") if w) or "no run has finished yet"
        raise ExperimentError("", f"{out} holds no finished runs ({why}): run them with placesim sweep EXPERIMENT "
                                  f"--out {out} --resume")
    reg = register(metrics, scenarios, settings, factors)
    start = manifest.get("base_scenario", {}).get("run", {}).get("start_date", "2019-04-01")
    write_year_tables(out, metrics, int(str(start)[5:7]) if len(str(start)) >= 7 else 4)
    write_parquet(reg.tidy, out / "risk.parquet")
    reg.tidy.to_csv(out / "risk.csv", index=False)
    write_parquet(reg.yearly, out / "risk_by_year.parquet")
    failures = read_failures(out)
    missing = manifest["runs_total"] - sum(1 for _ in (out / PARTS).glob("*.parquet")) - len(failures)
    text = format_register(reg, failures)
    if damaged:
        shown = "; ".join(f"{p.relative_to(out)} ({why})" for p, why in list(damaged.items())[:5])
        text += (f"\n{len(damaged)} part file(s) could not be read and are left out (renamed *.parquet{DAMAGED_SUFFIX}): "
                 f"{shown}{' ...' if len(damaged) > 5 else ''}. placesim sweep --resume runs them again.\n")
    if missing > 0:
        text += f"\n{missing} run(s) have not run yet: finish them with placesim sweep --resume.\n"
    (out / "risk.txt").write_text(text, encoding="utf-8")
    if figures:
        from results.risk_figures import write_risk_figures

        write_risk_figures(reg, out)
    return reg, text
