"""Bad experiment files and damaged sweep folders: one line naming the file, exit code 2, nothing lost.

Every input is made here, in tmp_path. Each error case checks the exit code, that the output is one
``error:`` line with no traceback, and that the line names the file or the key.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from click.testing import CliRunner

import experiments.experiment as experiment_mod
import experiments.sweep as sweep_mod
from experiments.cli import main
from experiments.experiment import MAX_RUNS, MAX_SCENARIOS, ExperimentError, experiment_from_dict, load_experiment
from experiments.sweep import DAMAGED_SUFFIX, read_failures, read_manifest, read_metrics, sweep

ROOT = Path(__file__).resolve().parents[1]
SHORT = '{ "run.years" = 1, "run.warmup_years" = 0 }'


def experiment_text(name: str = "faults", replications: int = 2, places: str = "[0, 4]", extra: str = "") -> str:
    return f"""name = "{name}"
replications = {replications}
seed = 7

[base]
scenario = "default"
set = {SHORT}

[factors]
"contracts.ifa.places" = {places}

[risk]
budget = 9_000_000
{extra}
"""


def write(folder: Path, text: str | bytes, name: str = "exp.toml") -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def one_error_line(res, *names: str) -> str:
    """The output is exactly one ``error:`` line, with exit code 2 and no traceback, naming each of ``names``."""
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and "Traceback" not in res.output, res.output
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def no_runs(monkeypatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("a run started")

    monkeypatch.setattr(sweep_mod, "run_task", refuse)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """One small finished sweep (2 scenarios x 2 replications): its experiment file and its folder.
    Tests copy the folder before damaging it."""
    root = tmp_path_factory.mktemp("finished")
    path = write(root, experiment_text())
    out = root / "out"
    sweep(load_experiment(path), out, workers=1, figures=False)
    return path, out


def copy_of(finished, tmp_path: Path) -> tuple[Path, Path]:
    path, out = finished
    exp = shutil.copy(path, tmp_path / path.name)
    dst = tmp_path / "out"
    shutil.copytree(out, dst)
    return Path(exp), dst


def metrics_of(out: Path) -> pd.DataFrame:
    return read_metrics(out)


# --------------------------------------------------------------------------- experiment files


def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path, monkeypatch):
    no_runs(monkeypatch)
    path = write(tmp_path, experiment_text(name="caf\u00e9").encode("latin-1"))
    line = one_error_line(invoke("sweep", path, "--out", tmp_path / "out", "-w", "1"), str(path), "not a UTF-8 text file")
    assert "0xe9" in line
    assert not (tmp_path / "out").exists()


def test_a_byte_order_mark_is_accepted(tmp_path):
    plain = load_experiment(write(tmp_path, experiment_text(), "plain.toml"))
    bom = load_experiment(write(tmp_path, b"\xef\xbb\xbf" + experiment_text().encode("utf-8"), "bom.toml"))
    assert bom.name == "faults" and bom.fingerprint() == plain.fingerprint()
    assert not bom.source.startswith("\ufeff")  # the folder's copy is the text without the mark


def test_deeply_nested_arrays_are_one_line(tmp_path, monkeypatch):
    no_runs(monkeypatch)
    path = write(tmp_path, "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_error_line(invoke("sweep", path, "--out", tmp_path / "out", "-w", "1"), str(path), "nested too deeply")


def test_a_grid_over_the_limit_is_refused_at_once_naming_size_and_limit(tmp_path, monkeypatch):
    no_runs(monkeypatch)

    def built(*_a, **_k):
        raise AssertionError("a scenario was built for a grid over the limit")

    monkeypatch.setattr(experiment_mod, "_factors", built)  # nothing is checked against the scenario
    path = write(tmp_path, f"""replications = 2
[base]
set = {SHORT}
[factors]
"contracts.ifa.places" = {{ from = 0, to = 99 }}
"contracts.ifa.retainer" = {{ from = 0.0, to = 0.99, step = 0.01 }}
"spot.ifa.tightness" = {{ from = 0.0, to = 0.99, step = 0.01 }}
""")
    t0 = time.perf_counter()
    res = invoke("sweep", path, "--out", tmp_path / "out", "-w", "1")
    assert time.perf_counter() - t0 < 5
    one_error_line(res, "factors:", "100 x 100 x 100", "1,000,000 scenarios", f"limit of {MAX_SCENARIOS:,} scenarios",
                   "[limits]")
    # one grid alone can be over the limit: refused before its values are spelled out
    big = write(tmp_path, "[factors]\n'contracts.ifa.places' = { from = 0, to = 1_000_000_000_000 }\n", "big.toml")
    one_error_line(invoke("sweep", big, "--out", tmp_path / "out", "-w", "1"), "factors.contracts.ifa.places",
                   "1,000,000,000,001 values", f"limit of {MAX_SCENARIOS:,}")
    assert not (tmp_path / "out").exists()


def test_too_many_runs_are_refused_and_limits_can_be_raised(tmp_path, monkeypatch):
    no_runs(monkeypatch)
    many = f"""replications = {MAX_RUNS // 50 + 1}
[base]
set = {SHORT}
[factors]
"contracts.ifa.places" = {{ from = 0, to = 49 }}
"""
    path = write(tmp_path, many)
    runs = 50 * (MAX_RUNS // 50 + 1)
    one_error_line(invoke("sweep", path, "--out", tmp_path / "out", "-w", "1"), "replications:", f"{runs:,} runs",
                   f"limit of {MAX_RUNS:,} runs", f"runs = {runs}")
    exp = load_experiment(write(tmp_path, many + f"[limits]\nruns = {runs}\n", "raised.toml"))
    assert len(exp.runs()) == runs and exp.limits["runs"] == runs

    small = {"base": {"set": {"run.years": 1}}, "factors": {"contracts.ifa.places": [0, 1, 2], "spot.ifa.tightness": [0.1, 0.2]}}
    with pytest.raises(ExperimentError, match=r"6 scenarios, more than the limit of 5 scenarios") as e:
        experiment_from_dict({**small, "limits": {"scenarios": 5}})
    assert e.value.key == "factors"
    assert len(experiment_from_dict({**small, "limits": {"scenarios": 6}}).points) == 6
    with pytest.raises(ExperimentError, match="expected a whole number of at least 1") as e:
        experiment_from_dict({**small, "limits": {"scenarios": 0}})
    assert e.value.key == "limits.scenarios"
    with pytest.raises(ExperimentError) as e:
        experiment_from_dict({**small, "limits": {"scenario": 10}})
    assert e.value.key == "limits.scenario" and "unknown key" in str(e.value)


def test_a_large_grid_validates_fast_and_builds_the_same_scenarios(tmp_path):
    """10,000 scenarios used to take 24 s or more just to validate; each factor's values are checked
    once, and each combination rebuilds only the sections its factors are in."""
    path = write(tmp_path, f"""replications = 2
[base]
set = {SHORT}
[factors]
"contracts.ifa.places" = {{ from = 0, to = 99 }}
"contracts.ifa.weekly_price" = {{ from = 500.0, to = 599.0, step = 1.0 }}
""")
    t0 = time.perf_counter()
    exp = load_experiment(path)
    assert time.perf_counter() - t0 < 10
    assert len(exp.points) == 10_000 and len({p.id for p in exp.points}) == 10_000
    for p in exp.points[:: 997] + [exp.points[-1]]:  # the same scenario as the schema builds, to the last field
        assert p.scenario == exp.base.replace({**p.overrides, "name": p.label})
        assert p.scenario.contracts.ifa.places == p.overrides["contracts.ifa.places"]
    assert exp.points[0].scenario.spot == exp.base.spot  # sections no factor touches are shared, not rebuilt


def test_an_invalid_combination_inside_a_grid_names_key_and_scenario():
    """The bad combination is neither the first nor the last: the fast build finds it, with the schema's message."""
    with pytest.raises(ExperimentError) as e:
        experiment_from_dict({"base": {"set": {"contracts.ifa.places": 2, "run.years": 1}},
                              "factors": {"contracts.ifa.start": ["2019-01-01", "2021-01-01", "2019-06-01"],
                                          "contracts.ifa.end": ["2020-07-01", "2022-01-01"]}})
    assert e.value.key == "contracts.ifa.end"
    assert "contract ends (2020-07-01) before it starts (2021-01-01)" in str(e.value)
    assert "(in the scenario start=2021-01-01, end=2020-07-01)" in str(e.value)


# --------------------------------------------------------------------------- sweep folders


def test_risk_on_a_run_folder_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"kind": "placesim run", "scenario": {}}), encoding="utf-8")
    one_error_line(invoke("risk", run), str(run), "not a sweep folder", "manifest.json", "placesim run")
    res = invoke("sweep", write(tmp_path, experiment_text()), "--out", run, "--resume", "-w", "1")
    one_error_line(res, "cannot resume", str(run), "not a sweep folder")


@pytest.mark.parametrize("damage", ["truncated", "empty", "incomplete"])
def test_risk_with_a_damaged_manifest_is_one_line_naming_it(finished, tmp_path, damage):
    _exp, out = copy_of(finished, tmp_path)
    manifest = out / "manifest.json"
    text = manifest.read_text(encoding="utf-8")
    if damage == "truncated":
        manifest.write_text(text[: len(text) // 3], encoding="utf-8")
    elif damage == "empty":
        manifest.write_bytes(b"")
    else:
        data = json.loads(text)
        del data["experiment"]["scenarios"]
        manifest.write_text(json.dumps(data), encoding="utf-8")
    line = one_error_line(invoke("risk", out, "--no-figures"), str(manifest), "is damaged", "--resume")
    if damage != "incomplete":
        assert "not valid JSON" in line
    else:
        assert "experiment.scenarios" in line


def test_resume_rebuilds_a_truncated_manifest_and_finishes_the_runs(finished, tmp_path):
    exp_path, out = copy_of(finished, tmp_path)
    exp = load_experiment(exp_path)
    missing = exp.runs()[-1].run_id
    (out / "parts" / f"{missing}.parquet").unlink()
    manifest = out / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(ExperimentError, match="is damaged"):
        read_manifest(out)

    res = invoke("sweep", exp_path, "--out", out, "--resume", "-w", "1", "--no-figures")
    assert res.exit_code == 0, res.output
    assert f"note: {manifest} is damaged (not valid JSON" in res.output
    assert "experiment.toml gives the same fingerprint; the 3 part(s) are runs of this experiment" in res.output
    assert "4 runs: 3 done before, 1 done now, 0 failed" in res.output
    m = read_manifest(out)
    assert m["status"] == "finished" and m["runs_done"] == 4 and m["fingerprint"] == exp.fingerprint()
    assert m["rebuilt"][0]["damage"].startswith(f"{manifest} is damaged")
    assert len(m["experiment"]["scenarios"]) == 2
    assert len((out / "manifest.json.damaged").read_text(encoding="utf-8")) == 200  # the damaged one is kept
    pd.testing.assert_frame_equal(metrics_of(out), metrics_of(finished[1]), check_exact=True)


def test_a_manifest_is_rebuilt_with_a_base_scenario_file_beside_the_experiment(tmp_path):
    """The folder's experiment.toml names its base scenario relative to the experiment file given."""
    (tmp_path / "base.toml").write_text("name = 'mine'\n[contracts.ifa]\nweekly_price = 700.0\n", encoding="utf-8")
    path = write(tmp_path, experiment_text(replications=1, places="[2]").replace('scenario = "default"',
                                                                                  'scenario = "base.toml"'))
    out = tmp_path / "out"
    sweep(load_experiment(path), out, workers=1, figures=False)
    (out / "manifest.json").write_text("", encoding="utf-8")
    res = invoke("sweep", path, "--out", out, "--resume", "-w", "1", "--no-figures", "-q")
    assert res.exit_code == 0, res.output
    assert "experiment.toml gives the same fingerprint; the 1 part(s) are runs of this experiment, 1 carrying" in res.output
    assert read_manifest(out)["base_scenario"]["contracts"]["ifa"]["weekly_price"] == 700.0
    # the base scenario file changed since the runs: the folder's copy reads to the new fingerprint, like the
    # experiment given, but the parts carry the old one
    (tmp_path / "base.toml").write_text("name = 'mine'\n[contracts.ifa]\nweekly_price = 710.0\n", encoding="utf-8")
    (out / "manifest.json").write_text("", encoding="utf-8")
    one_error_line(invoke("sweep", path, "--out", out, "--resume", "-w", "1"), "cannot resume",
                   str(out / "parts"), "made by fingerprint")


def test_resume_refuses_to_rebuild_a_manifest_for_another_experiment(finished, tmp_path):
    exp_path, out = copy_of(finished, tmp_path)
    other = write(tmp_path, experiment_text(replications=3), "other.toml")  # same scenarios, more replications
    manifest = out / "manifest.json"
    manifest.write_bytes(b"{")
    one_error_line(invoke("sweep", other, "--out", out, "--resume", "-w", "1"), "cannot resume", str(manifest),
                   str(out / "experiment.toml"), "different experiment")
    # without the folder's copy of the experiment, the parts say which experiment made them
    (out / "experiment.toml").unlink()
    line = one_error_line(invoke("sweep", other, "--out", out, "--resume", "-w", "1"), "cannot resume",
                          str(manifest), str(out / "parts"), "made by fingerprint")
    assert f"made by fingerprint {load_experiment(exp_path).fingerprint()}" in line
    assert f"this experiment's fingerprint is {load_experiment(other).fingerprint()}" in line
    assert manifest.read_bytes() == b"{"  # nothing was written
    # a part of another grid altogether
    third = write(tmp_path, experiment_text(places="[1, 5]"), "third.toml")
    one_error_line(invoke("sweep", third, "--out", out, "--resume", "-w", "1"), str(out / "parts"),
                   "not a run of this experiment")


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_resume_runs_a_damaged_part_again(finished, tmp_path, damage):
    exp_path, out = copy_of(finished, tmp_path)
    exp = load_experiment(exp_path)
    bad = out / "parts" / f"{exp.runs()[1].run_id}.parquet"
    data = bad.read_bytes()
    bad.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    assert exp.runs()[1].run_id not in sweep_mod.completed(out)

    res = invoke("sweep", exp_path, "--out", out, "--resume", "-w", "1", "--no-figures")
    assert res.exit_code == 0, res.output
    assert f"note: {bad} cannot be read" in res.output and "run again" in res.output
    assert "4 runs: 3 done before, 1 done now, 0 failed" in res.output and "Traceback" not in res.output
    assert sorted(p.name for p in (out / "parts").iterdir()) == sorted(f"{r.run_id}.parquet" for r in exp.runs())
    assert read_manifest(out)["history"][-1]["damaged_parts_run_again"] == [exp.runs()[1].run_id]
    pd.testing.assert_frame_equal(metrics_of(out), metrics_of(finished[1]), check_exact=True)


def test_risk_leaves_a_damaged_part_out_with_a_note_and_resume_runs_it(finished, tmp_path):
    exp_path, out = copy_of(finished, tmp_path)
    exp = load_experiment(exp_path)
    bad = out / "parts" / f"{exp.runs()[0].run_id}.parquet"
    bad.write_bytes(b"")
    with pytest.raises(ExperimentError, match=rf"{bad.name} is damaged"):
        read_metrics(out)  # from Python: one message naming the file, no ArrowInvalid

    res = invoke("risk", out, "--no-figures")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert f"1 part file(s) could not be read and are left out (renamed *.parquet{DAMAGED_SUFFIX}): parts/{bad.name}" in res.output
    assert "1 run(s) have not run yet" in res.output
    assert not bad.exists() and bad.with_name(bad.name + DAMAGED_SUFFIX).exists()
    assert len(pd.read_csv(out / "risk.csv").scenario.unique()) == 2

    again = sweep(load_experiment(exp_path), out, workers=1, resume=True, figures=False)
    assert again.done == 1 and again.skipped == 3
    assert not bad.with_name(bad.name + DAMAGED_SUFFIX).exists()  # replaced by the run done again
    pd.testing.assert_frame_equal(metrics_of(out), metrics_of(finished[1]), check_exact=True)


def test_risk_with_every_part_damaged_is_one_line_and_resume_runs_them_all(finished, tmp_path):
    exp_path, out = copy_of(finished, tmp_path)
    for part in (out / "parts").glob("*.parquet"):
        part.write_bytes(b"")
    one_error_line(invoke("risk", out, "--no-figures"), str(out), "holds no finished runs", "4 part file(s) could not be read")
    res = invoke("sweep", exp_path, "--out", out, "--resume", "-w", "1", "--no-figures")
    assert res.exit_code == 0, res.output
    assert "4 runs: 0 done before, 4 done now, 0 failed" in res.output
    pd.testing.assert_frame_equal(metrics_of(out), metrics_of(finished[1]), check_exact=True)


def test_a_damaged_failure_record_still_counts_as_a_failure(finished, tmp_path):
    _exp, out = copy_of(finished, tmp_path)
    (out / "failures" / "abc-r0003.json").write_text('{"run_id": ', encoding="utf-8")
    [record] = read_failures(out)
    assert record["run_id"] == "abc-r0003" and record["replication"] == 3
    assert "abc-r0003.json is damaged" in record["error"]
    res = invoke("risk", out, "--no-figures")
    assert res.exit_code == 0 and "abc-r0003.json is damaged" in res.output, res.output


# --------------------------------------------------------------------------- the output folder


def test_an_out_folder_that_cannot_be_written_is_found_before_any_run(tmp_path, monkeypatch):
    no_runs(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    out = blocker / "sweep"
    one_error_line(invoke("sweep", write(tmp_path, experiment_text()), "--out", out, "-w", "1"), "--out", str(out))

    import experiments.appraise as appraise_mod

    def no_appraisal(*_a, **_k):
        raise AssertionError("the appraisal started")

    monkeypatch.setattr(appraise_mod, "appraise", no_appraisal)
    one_error_line(invoke("appraise", "--phase", "fostering", "-r", "2", "--out", out), "--out", str(out))


# --------------------------------------------------------------------------- killed main process


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_workers_end_when_the_main_process_is_killed(tmp_path, executor):
    """SIGKILL only the sweep's main process: its worker processes are gone within 10 s."""
    path = write(tmp_path, experiment_text(replications=2000, places="[0, 4]"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "sweep", str(path), "--out", str(out),
                             "--workers", "2", "--executor", executor, "--quiet", "--no-figures"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while True:  # the workers are up and runs are being written
            assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "the workers did not start"
            workers = descendants(proc.pid)
            if len(workers) >= 2 and any((out / "parts").glob("*.parquet")):
                break
            time.sleep(0.05)
        workers = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)  # the main process only, not its process group
        proc.wait()
        t0 = time.monotonic()
        while alive(workers) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        left = alive(workers)
        assert not left, f"{len(left)} worker process(es) still running 10 s after the main process was killed"
    finally:
        for p in alive(workers):
            p.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # and nothing is lost: the folder resumes
    assert read_manifest(out)["status"] == "running"
    assert sweep_mod.completed(out) and not list((out / "parts").glob(f"*{DAMAGED_SUFFIX}"))


def test_exit_with_parent_ends_an_orphaned_process(tmp_path):
    """The watchdog alone (as on platforms without prctl): a grandchild whose parent exits ends itself."""
    flag = tmp_path / "pid"
    code = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT)!r})
pid = os.fork()
if pid == 0:
    import experiments.sweep as s
    import types
    s.sys = types.SimpleNamespace(platform="other")  # no prctl: the thread alone must end it
    s.exit_with_parent()
    open({str(flag)!r}, "w").write(str(os.getpid()))
    time.sleep(60)
    os._exit(0)
while not os.path.exists({str(flag)!r}) or not open({str(flag)!r}).read():
    time.sleep(0.01)
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    child = psutil.Process(int(flag.read_text()))
    t0 = time.monotonic()
    while alive([child]) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    try:
        assert not alive([child]), "the orphaned process is still running"
    finally:
        for p in alive([child]):
            p.kill()
