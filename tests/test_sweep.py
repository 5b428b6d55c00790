"""Sweeps and the risk register: grids and ids, validation, executors, kill and resume, failures, risk maths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import experiments.sweep as sweep_mod
from experiments.cli import main
from experiments.experiment import ExperimentError, experiment_from_dict, load_experiment, scenario_id
from experiments.sweep import read_failures, read_manifest, read_metrics, sweep
from models.scenario import Scenario
from results.metrics import replication_metrics
from results.risk import (Constraint, RiskSettings, exceedance, factor_order, format_register, pareto, per_replication,
                          quantiles, register)

ROOT = Path(__file__).resolve().parents[1]
TINY = '{ "run.years" = 2, "run.warmup_years" = 1 }'


def write_experiment(folder: Path, replications: int = 3, places: str = "[0, 6]", retainers: str = "[0.0, 1.0]",
                     name: str = "tiny", extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f"""
name = "{name}"
replications = {replications}
seed = 11

[base]
scenario = "default"
set = {TINY}

[factors]
"contracts.ifa.places" = {places}
"contracts.ifa.retainer" = {retainers}

[risk]
budget = 9_000_000
appetite = ["waiting_days.p90 <= 1000"]
{extra}
""", encoding="utf-8")
    return path


def sorted_metrics(out: Path) -> pd.DataFrame:
    m = read_metrics(out)
    return m.sort_values(["scenario", "replication", "year", "metric", "pool"]).reset_index(drop=True)


# --------------------------------------------------------------------------- the grid


def test_factor_grid_is_full_factorial_with_stable_ids():
    data = {"replications": 2, "base": {"set": {"run": {"years": 2}}},
            "factors": {"contracts": {"ifa": {"places": {"from": 0, "to": 8, "step": 4},
                                              "retainer": {"from": 0.0, "to": 1.0, "step": 0.25}}},
                        "spot.ifa.tightness": [0.1, 0.3]}}
    exp = experiment_from_dict(data)
    assert exp.factors["contracts.ifa.places"] == [0, 4, 8]
    assert exp.factors["contracts.ifa.retainer"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(exp.points) == 3 * 5 * 2
    assert len({p.id for p in exp.points}) == 30
    combos = {tuple(p.overrides.values()) for p in exp.points}
    assert (8, 0.75, 0.3) in combos and (0, 0.0, 0.1) in combos
    p = next(p for p in exp.points if p.overrides == {"contracts.ifa.places": 4, "contracts.ifa.retainer": 0.5,
                                                      "spot.ifa.tightness": 0.3})
    assert p.scenario.contracts.ifa.places == 4 and p.scenario.contracts.ifa.retainer == 0.5
    assert p.scenario.spot.ifa.tightness == 0.3 and p.scenario.run.years == 2
    assert p.label == "places=4, retainer=0.5, tightness=0.3"
    # every scenario shares the experiment's seed: common random numbers
    assert {q.scenario.run.seed for q in exp.points} == {Scenario.default().run.seed}

    # the id depends only on the values: not on the order of the factors nor on 1 vs 1.0
    reordered = experiment_from_dict({"replications": 2, "base": {"set": {"run.years": 2}},
                                      "factors": {"spot.ifa.tightness": [0.3, 0.1], "contracts.ifa.retainer": [1, 0.5, 0, 0.25, 0.75],
                                                  "contracts.ifa.places": [8, 0, 4]}})
    assert {q.id for q in reordered.points} == {q.id for q in exp.points}
    assert p.id == scenario_id({"spot.ifa.tightness": 0.3, "contracts.ifa.places": 4, "contracts.ifa.retainer": 0.5})
    runs = exp.runs()
    assert len(runs) == 60 and len({r.run_id for r in runs}) == 60
    assert f"{p.id}-r0001" in {r.run_id for r in runs}
    # the fingerprint ignores thresholds but not the runs
    assert reordered.fingerprint() != exp.fingerprint()  # factor order changes the grid's order, so the folder
    same = experiment_from_dict({**data, "risk": {"budget": 1.0}})
    assert same.fingerprint() == exp.fingerprint()
    assert experiment_from_dict({**data, "replications": 3}).fingerprint() != exp.fingerprint()
    assert experiment_from_dict({**data, "seed": 5}).fingerprint() != exp.fingerprint()


def test_base_scenario_file_is_relative_to_the_experiment(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.toml").write_text("name = 'mine'\n[run]\nyears = 3\n", encoding="utf-8")
    (tmp_path / "sub" / "exp.toml").write_text(
        "replications = 2\n[base]\nscenario = 'base.toml'\nset = { 'contracts.ifa.weekly_price' = 700.0 }\n"
        "[factors]\n'contracts.ifa.places' = [1, 2]\n", encoding="utf-8")
    exp = load_experiment(tmp_path / "sub" / "exp.toml")
    assert exp.base.run.years == 3 and exp.base.contracts.ifa.weekly_price == 700.0
    assert [p.scenario.contracts.ifa.places for p in exp.points] == [1, 2]


# --------------------------------------------------------------------------- validation before any run


@pytest.mark.parametrize("factors, risk, top, expected", [
    ('"contracts.ifa_block.places" = [0, 2]', "", "", "contracts.ifa_block: unknown key (factor contracts.ifa_block.places = 0)"),
    ('"contracts.ifa.placez" = [0, 2]', "", "", "contracts.ifa.placez: unknown key"),
    ('"contracts.ifa.places" = [0, -2]', "", "", "contracts.ifa.places: must be at least 0, got -2 (factor contracts.ifa.places = -2)"),
    ('"contracts.ifa.retainer" = { from = 0.5, to = 1.5, step = 0.5 }', "", "",
     "contracts.ifa.retainer: must be at most 1, got 1.5 (factor contracts.ifa.retainer = 1.5)"),
    ('"contracts.ifa.places" = ["many"]', "", "", "contracts.ifa.places: expected a whole number, got 'many'"),
    ('"contracts.ifa.places" = 4', "", "", "factors.contracts.ifa.places: expected a list of values or a grid"),
    ('"run.seed" = [1, 2]', "", "", "factors.run.seed: every scenario uses the experiment's seed"),
    ('"contracts.ifa.places" = [0, 2]', 'appetite = ["waiting.p90 <= 3"]', "", "risk.appetite: 'waiting.p90 <= 3': unknown measure"),
    ('"contracts.ifa.places" = [0, 2]', "min_utilisation = 1.5", "", "risk.min_utilisation: expected a number from 0 to 1, got 1.5"),
    ('"contracts.ifa.places" = [0, 2]', "", "replicatons = 3", "replicatons: unknown key"),
])
def test_bad_experiment_fails_naming_key_and_value_before_any_run(tmp_path, monkeypatch, factors, risk, top, expected):
    def no_runs(*_a, **_k):
        raise AssertionError("a run started")

    monkeypatch.setattr(sweep_mod, "run_task", no_runs)
    path = tmp_path / "bad.toml"
    path.write_text(f'{top}\n[base]\nset = {TINY}\n[factors]\n{factors}\n[risk]\n{risk}\n', encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 2, res.output
    assert expected in res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.output
    assert not out.exists()


def test_combination_that_is_invalid_names_the_scenario():
    with pytest.raises(ExperimentError) as e:
        experiment_from_dict({"base": {"set": {"contracts.ifa.start": "2020-01-01", "contracts.ifa.places": 2}},
                              "factors": {"contracts.ifa.end": ["2021-01-01", "2019-06-01"]}})
    assert e.value.key == "contracts.ifa.end" and "2019-06-01" in str(e.value)


# --------------------------------------------------------------------------- executors give the same results


def test_same_results_with_one_worker_two_workers_and_dask(tmp_path):
    from distributed import LocalCluster

    path = write_experiment(tmp_path)
    exp = load_experiment(path)
    r1 = sweep(exp, tmp_path / "w1", workers=1, figures=False)
    r2 = sweep(exp, tmp_path / "w2", workers=2, figures=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = CliRunner().invoke(main, ["sweep", str(path), "--executor", "dask", "--scheduler", cluster.scheduler_address,
                                        "--out", str(tmp_path / "dask"), "--no-figures", "--quiet"])
    assert res.exit_code == 0, res.output
    assert r1.done == r2.done == len(exp.runs()) == 12 and not r1.failures and not r2.failures

    one = sorted_metrics(tmp_path / "w1")
    assert len(one) > 0 and set(one.scenario) == {p.id for p in exp.points}
    assert one.groupby("scenario").replication.nunique().eq(3).all()
    for other in ("w2", "dask"):
        pd.testing.assert_frame_equal(one, sorted_metrics(tmp_path / other), check_exact=True)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "w1" / "risk.parquet"),
                                      pd.read_parquet(tmp_path / other / "risk.parquet"), check_exact=True)
    # a part is exactly one run's metrics, the same as running that replication directly
    p = exp.points[-1]
    from simulation.engine import simulate

    direct = replication_metrics(simulate(p.scenario, 2).events, p.scenario, 2)
    part = pd.read_parquet(tmp_path / "w2" / "parts" / f"{p.id}-r0002.parquet")
    pd.testing.assert_frame_equal(part.drop(columns="scenario"), direct, check_exact=True)
    # common random numbers: every scenario's replication 0 meets the same entries
    entries = one[(one.metric == "entries") & (one.replication == 0)].groupby("scenario").value.sum()
    assert entries.nunique() == 1


# --------------------------------------------------------------------------- kill and resume


def test_killed_sweep_resumes_without_duplicates_and_matches_an_uninterrupted_one(tmp_path):
    path = write_experiment(tmp_path, replications=8, places="[0, 4, 8]")
    exp = load_experiment(path)
    total = len(exp.runs())  # 3 x 2 x 8 = 48
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "sweep", str(path), "--out", str(out),
                             "--workers", "2", "--quiet", "--no-figures"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while len(list((out / "parts").glob("*.parquet"))) < 4:
            assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "no parts appeared"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, at once
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name for p in (out / "parts").glob("*.parquet")}
    assert 4 <= len(before) < total
    assert read_manifest(out)["status"] == "running"

    res = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--resume", "--workers", "2", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert f"{len(before)} done before, {total - len(before)} done now, 0 failed" in res.output
    manifest = read_manifest(out)
    assert manifest["status"] == "finished" and manifest["runs_done"] == total
    assert [h["runs_missing_at_start"] for h in manifest["history"]] == [total, total - len(before)]
    after = sorted(p.name for p in (out / "parts").glob("*"))
    assert len(after) == total and all(name.endswith(".parquet") for name in after)  # no duplicates, no .tmp
    assert sorted(f"{r.run_id}.parquet" for r in exp.runs()) == after

    whole = sweep(exp, tmp_path / "whole", workers=1, figures=False)
    assert whole.done == total
    resumed = sorted_metrics(out)
    assert not resumed.duplicated(["scenario", "replication", "year", "metric", "pool"]).any()
    pd.testing.assert_frame_equal(resumed, sorted_metrics(tmp_path / "whole"), check_exact=True)
    # a second resume has nothing left to do
    again = sweep(exp, out, workers=1, resume=True, figures=False)
    assert again.done == 0 and again.skipped == total


def test_resume_refuses_a_folder_from_a_different_experiment(tmp_path):
    a = write_experiment(tmp_path, replications=1, places="[0]", retainers="[0.0]", name="a")
    b = write_experiment(tmp_path, replications=1, places="[2]", retainers="[0.0]", name="b")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(a), "--out", str(out), "-w", "1", "-q", "--no-figures"]).exit_code == 0
    res = CliRunner().invoke(main, ["sweep", str(b), "--out", str(out), "-w", "1", "--resume"])
    assert res.exit_code == 2
    assert "cannot resume" in res.output and "different experiment ('a'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["sweep", str(a), "--out", str(out), "-w", "1"])
    assert res.exit_code == 2 and "already holds a sweep" in res.output
    res = CliRunner().invoke(main, ["sweep", str(a), "--out", str(tmp_path / "empty"), "-w", "1", "--resume"])
    assert res.exit_code == 2 and "nothing to resume" in res.output
    # changing only the thresholds keeps the same experiment
    c = write_experiment(tmp_path, replications=1, places="[0]", retainers="[0.0]", name="a",
                         extra="max_wait_days = 3")
    assert CliRunner().invoke(main, ["sweep", str(c), "--out", str(out), "-w", "1", "--resume", "-q"]).exit_code == 0


# --------------------------------------------------------------------------- failures


def test_a_failing_run_is_recorded_the_sweep_goes_on_and_resume_retries_it(tmp_path, monkeypatch):
    path = write_experiment(tmp_path, replications=2)
    exp = load_experiment(path)
    bad = next(p for p in exp.points if p.overrides["contracts.ifa.places"] == 6 and p.overrides["contracts.ifa.retainer"] == 1.0)
    real = sweep_mod.simulate

    def flaky(scenario, replication):
        if scenario.contracts.ifa.places == 6 and scenario.contracts.ifa.retainer == 1.0 and replication == 1:
            raise RuntimeError("the market fell over")
        return real(scenario, replication)

    monkeypatch.setattr(sweep_mod, "simulate", flaky)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "-w", "1", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "8 runs: 0 done before, 7 done now, 1 failed" in res.output
    assert f"{bad.id}-r0001 (places=6, retainer=1, replication 1): RuntimeError: the market fell over" in res.output
    failures = read_failures(out)
    assert [f["run_id"] for f in failures] == [f"{bad.id}-r0001"]
    assert "the market fell over" in failures[0]["traceback"]
    assert len(list((out / "parts").glob("*.parquet"))) == 7
    assert "1 run(s) failed" in (out / "risk.txt").read_text()
    assert read_manifest(out)["status"] == "finished with failures"

    monkeypatch.setattr(sweep_mod, "simulate", real)
    again = sweep(exp, out, workers=1, resume=True, figures=False)
    assert again.done == 1 and not again.failures and not read_failures(out)
    assert len(list((out / "parts").glob("*.parquet"))) == 8


# --------------------------------------------------------------------------- the register, by hand


def synthetic(values: dict[str, dict[str, list[list[float]]]], pool: dict[str, str] | None = None) -> pd.DataFrame:
    """metrics rows from values[scenario][metric] = [[year values] per replication]."""
    rows = []
    for scen, by_metric in values.items():
        for metric, reps in by_metric.items():
            for r, years in enumerate(reps):
                for k, v in enumerate(years):
                    rows.append((scen, r, 2019 + k, metric, (pool or {}).get(metric, "all"), v))
    return pd.DataFrame(rows, columns=["scenario", "replication", "year", "metric", "pool", "value"])


def test_quantiles_and_exceedance_by_hand():
    # replication r (0..10) spends r+1 on average: r+0.5 in year one, r+1.5 in year two
    spend = [[r + 0.5, r + 1.5] for r in range(11)]
    waits = [[3.0, 8.0]] * 5 + [[7.0, 7.0]] * 6  # 5 of 22 years exceed 7 days; exactly 7 is not over
    util_ifa = [[0.5, 0.9]] * 11
    util_res = [[0.9, np.nan]] * 11  # contract not running in year two: that year counts for ifa only
    m = pd.concat([
        synthetic({"a": {"spend_total": spend, "max_wait_days": waits}}),
        synthetic({"a": {"block_utilisation": util_ifa}}, {"block_utilisation": "ifa"}),
        synthetic({"a": {"block_utilisation": util_res}}, {"block_utilisation": "residential"}),
    ], ignore_index=True)
    q = quantiles(per_replication(m)).set_index(["measure", "statistic"]).value
    assert q["spend", "p50"] == 6.0 and q["spend", "mean"] == 6.0
    assert q["spend", "p10"] == 2.0 and q["spend", "p90"] == 10.0
    assert q["spend", "p5"] == 1.5 and q["spend", "p95"] == 10.5
    assert q["max_wait_days", "p50"] == 7.0
    assert q["block_utilisation", "p50"] == pytest.approx((0.5 + 0.9 + 0.9) / 3)  # mean over markets and years

    e = exceedance(m, RiskSettings(budget=5.0, max_wait_days=7.0, min_utilisation=0.7)).set_index("measure")
    # years over 5: year one r+0.5 > 5 for r >= 5 (6 years), year two r+1.5 > 5 for r >= 4 (7 years)
    assert e.loc["spend_over_budget", "value"] == pytest.approx(13 / 22) and e.loc["spend_over_budget", "n"] == 22
    assert e.loc["wait_over_max", "value"] == pytest.approx(5 / 22)
    # the worst block of each year: year one 0.5 (under), year two 0.9
    assert e.loc["utilisation_under_min", "value"] == pytest.approx(0.5)
    assert "spend_over_budget" not in set(exceedance(m, RiskSettings()).measure)  # no budget, no row


def test_pareto_frontier_by_hand():
    pts = np.array([[1.0, 9.0], [2.0, 5.0], [3.0, 5.0], [4.0, 1.0], [5.0, 2.0], [2.0, 5.0], [0.5, np.nan]])
    assert pareto(pts).tolist() == [True, True, False, True, False, True, False]


def test_register_marks_frontier_appetite_and_picks():
    scen = pd.DataFrame({"scenario": ["s0", "s4", "s8", "s12"], "label": ["0", "4", "8", "12"],
                         "block_places": [0, 4, 8, 12], "contracts.ifa.places": [0, 4, 8, 12]})
    spend = {"s0": 10.0, "s4": 9.0, "s8": 9.5, "s12": 8.0}
    wait = {"s0": 50.0, "s4": 30.0, "s8": 20.0, "s12": 35.0}
    m = synthetic({s: {"spend_total": [[spend[s]]] * 3, "waiting_days": [[wait[s]]] * 3,
                       "max_wait_days": [[5.0]] * 3} for s in spend})
    appetite = (Constraint("waiting_days", "p90", "<=", 36.0),)
    reg = register(m, scen, RiskSettings(appetite=appetite), ["contracts.ifa.places"])
    w = reg.wide.set_index("scenario")
    # s0 is beaten on both by s4; s4, s8 and s12 each win on one measure
    assert w.on_frontier.to_dict() == {"s0": False, "s4": True, "s8": True, "s12": True}
    assert w.meets_appetite.to_dict() == {"s0": False, "s4": True, "s8": True, "s12": True}
    assert w.recommended.to_dict() == {"s0": False, "s4": False, "s8": False, "s12": True}  # lowest P50 spend that meets it
    assert w.smallest_block.to_dict() == {"s0": False, "s4": True, "s8": False, "s12": False}  # fewest places that meet it
    text = format_register(reg)
    assert "Recommended, the lowest P50 spend that meets the risk appetite: 12 (12 block places)" in text
    assert "Smallest block that meets the risk appetite: 4 (4 block places)" in text
    assert "the P90 of days waiting without a suitable placement at most 36 days a year" in text
    tidy = reg.tidy
    assert {"scenario", "label", "contracts.ifa.places", "block_places", "measure", "statistic", "value", "unit",
            "on_frontier", "recommended"} <= set(tidy.columns)
    row = tidy[(tidy.scenario == "s8") & (tidy.measure == "waiting_days") & (tidy.statistic == "p90")]
    assert row.value.item() == 20.0 and row.unit.item() == "days/year"
    # nothing meets a stricter appetite
    strict = register(m, scen, RiskSettings(appetite=(Constraint("waiting_days", "p90", "<=", 10.0),)))
    assert not strict.wide.recommended.any() and not strict.wide.meets_appetite.any()


# --------------------------------------------------------------------------- files and the risk command


def test_sweep_writes_the_register_and_risk_rewrites_it(tmp_path):
    path = write_experiment(tmp_path, replications=2)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "-w", "1"])
    assert res.exit_code == 0, res.output
    assert "Risk register: 4 scenarios" in res.output and "P50 spend" in res.output
    for name in ("manifest.json", "experiment.toml", "risk.parquet", "risk.csv", "risk.txt", "risk_by_year.parquet",
                 "risk_heatmap_spend.png", "risk_heatmap_waiting.png", "risk_frontier.png", "risk_fan_spend.png"):
        assert (out / name).stat().st_size > 0, name
    tidy = pd.read_csv(out / "risk.csv")
    assert set(tidy.measure) >= {"spend", "voids", "waiting_days", "moves", "share_3plus", "spend_over_budget", "wait_over_max"}
    assert tidy.groupby("scenario").recommended.first().sum() == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment"]["risk"]["budget"] == 9_000_000 and len(manifest["experiment"]["scenarios"]) == 4
    (out / "risk.parquet").unlink()
    res = CliRunner().invoke(main, ["risk", str(out), "--no-figures"])
    assert res.exit_code == 0 and (out / "risk.parquet").exists() and "Risk register" in res.output
    res = CliRunner().invoke(main, ["risk", str(tmp_path)])
    assert res.exit_code == 2 and "holds no sweep" in res.output


def test_max_wait_days_is_the_longest_single_spell_of_the_year():
    s = Scenario.default().replace({"run.years": 2})
    rows = [  # day, event, child, option, reason
        (0.0, "enter", 0, "", "entry"), (0.0, "wait_start", 0, "", "entry"), (10.0, "wait_end", 0, "", "search"),
        (10.0, "place", 0, "ifa_spot", "search"),
        (300.0, "enter", 1, "", "entry"), (300.0, "wait_start", 1, "", "entry"), (380.0, "wait_end", 1, "", "search"),
        (380.0, "place", 1, "ifa_spot", "search"),
        (400.0, "enter", 2, "", "entry"), (400.0, "wait_start", 2, "", "entry"), (403.0, "wait_end", 2, "", "search"),
        (403.0, "place", 2, "ifa_spot", "search"),
    ]
    ev = pd.DataFrame(rows, columns=["day", "event", "child", "option", "reason"])
    ev = ev.assign(value=np.where(ev.event == "enter", 3000.0, 0.0), age=3000.0, need="standard", uasc=False)
    m = replication_metrics(ev, s)
    got = m[m.metric == "max_wait_days"].sort_values("year").value.tolist()
    # child 1's 80-day wait spans both years and counts whole in each; child 0's and child 2's are shorter
    assert got == [80.0, 80.0]
    assert m[m.metric == "waiting_days"].sort_values("year").value.tolist() == [10.0 + 65.0, 15.0 + 3.0]


def test_recommended_ties_go_to_fewer_block_places_and_numbers_sort_as_numbers():
    """Two scenarios with the same P50 spend both meet the appetite: the one with fewer block places
    is recommended. Factor values given as 0, 12, 16, 4, 8 are read in numeric order."""
    places = [0, 12, 16, 4, 8]
    scen = pd.DataFrame({"scenario": [f"s{p}" for p in places], "label": [str(p) for p in places],
                         "block_places": places, "contracts.ifa.places": places})
    spend = {"s0": 10.0, "s12": 8.0, "s16": 9.0, "s4": 9.5, "s8": 8.0}
    m = synthetic({s: {"spend_total": [[spend[s]]] * 3, "waiting_days": [[1.0]] * 3, "max_wait_days": [[1.0]] * 3}
                   for s in spend})
    reg = register(m, scen, RiskSettings(appetite=(Constraint("waiting_days", "p90", "<=", 5.0),)), ["contracts.ifa.places"])
    assert reg.wide.label.tolist() == ["0", "4", "8", "12", "16"]
    assert reg.pick("recommended").scenario == "s8"  # 8 and 12 tie at the lowest spend: fewer places
    assert reg.pick("smallest_block").scenario == "s0"
    assert reg.tidy.drop_duplicates("scenario").scenario.tolist() == ["s0", "s4", "s8", "s12", "s16"]
    assert factor_order([0, 12, 16, 4, 8]) == [0, 4, 8, 12, 16]
    assert factor_order([0.5, 0.25, 1]) == [0.25, 0.5, 1]
    assert factor_order(["cascade", "demarcated"]) == ["cascade", "demarcated"]
    text = format_register(reg)
    assert "It is also the smallest block" not in text and "Smallest block that meets the risk appetite: 0" in text


def test_time_settings_cannot_be_factors(tmp_path):
    """A sweep compares its scenarios year for year, so the reported period is the experiment's."""
    for key, values in (("run.years", [3, 5]), ("run.start_date", ["2019-04-01", "2020-04-01"]), ("run.warmup_years", [1, 2])):
        with pytest.raises(ExperimentError, match=rf"^factors\.{key}|{key}"):
            experiment_from_dict({"name": "x", "replications": 2, "factors": {key: values}}, tmp_path)
