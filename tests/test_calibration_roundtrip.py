"""Export, calibrate, backtest: known parameters are recovered, and the fitted default authority passes its backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from calibration.backtest import backtest
from calibration.clean import load
from calibration.estimate import estimate, mean_stay, move_rates
from calibration.export import run_episodes, write_returns
from calibration.fit import fit, render
from experiments.cli import main
from models.catalogue import DAYS_PER_YEAR
from models.scenario import Scenario
from simulation.engine import simulate

DATA_SEED = 7  # the "observed" authority; the fitted scenario keeps the base seed, so no random numbers are shared


@pytest.fixture(scope="module")
def truth():
    return Scenario.default()


@pytest.fixture(scope="module")
def observed(truth, tmp_path_factory):
    """The default authority's run exported as 903 files (export-903) and read back: the real round trip."""
    s = truth.replace({"run.seed": DATA_SEED})
    rep = simulate(s, 0)
    folder = tmp_path_factory.mktemp("observed903")
    assert list(write_returns(rep.events, s.run.start_date, s.run.years * DAYS_PER_YEAR, DATA_SEED, 0, folder)) == \
        list(range(2020, 2029))
    ret, eps = load(folder)
    assert len(ret.rejected) == 0 and ret.warnings == [] and ret.repairs == {}
    return eps


@pytest.fixture(scope="module")
def estimates(observed):
    return estimate(observed)


def test_files_read_back_exactly_as_built_in_memory(tmp_path):
    s = Scenario.default().replace({"run.years": 4, "run.seed": 3})
    rep = simulate(s, 0)
    horizon = s.run.years * DAYS_PER_YEAR
    written = write_returns(rep.events, s.run.start_date, horizon, 3, 0, tmp_path)
    assert list(written) == [2020, 2021, 2022]  # the return ending 31/03/2023 falls after the run's last day
    ret, eps = load(tmp_path)
    assert len(ret.rejected) == 0 and eps.years == [2020, 2021, 2022]
    mem = run_episodes(rep.events, s.run.start_date, horizon, 3, 0).table
    mem = mem.assign(child=mem.child.map(lambda c: f"C{c:06d}"))
    cols = ["child", "start", "end", "stop", "rne", "ls", "place", "provider", "rec", "rpc", "pool", "period",
            "move", "entry", "route", "year", "dob", "uasc"]
    pd.testing.assert_frame_equal(eps.table[cols].reset_index(drop=True), mem[cols].reset_index(drop=True),
                                  check_dtype=False)
    # every simulated entry in a return year is an RNE S episode that year
    enter = rep.events[(rep.events.event == "enter") & (rep.events.reason == "entry")]
    in_2021 = ((enter.day >= 366) & (enter.day < 731)).sum()  # 1 April 2020 to 31 March 2021
    t = eps.table
    assert in_2021 == (t.entry & (t.start >= _day("2020-04-01")) & (t.start <= _day("2021-03-31"))).sum()


def _day(text):
    from calibration.read903 import to_day
    return to_day(text)


def test_round_trip_recovers_entry_rate_time_in_care_and_move_rate(truth, estimates):
    e = estimates
    # entry rate: the default has no trend, so the expected count is rate_per_year every year
    assert e.entry_mean.lo <= truth.entries.rate_per_year <= e.entry_mean.hi
    assert e.entry_rate.lo <= truth.entries.rate_per_year <= e.entry_rate.hi
    assert e.trend.lo <= 0.0 <= e.trend.hi
    # mean time in care implied by the true hazards and ages at entry
    x = truth.exits
    hazard = np.array([x.return_home, x.adoption, x.special_guardianship, x.other]).sum(axis=0)
    true_stay = float(mean_stay(hazard[None, :], np.asarray(truth.entries.age_shares)[None, :])[0])
    assert 2.0 < true_stay < 2.8
    assert e.mean_time_in_care.lo <= true_stay <= e.mean_time_in_care.hi
    assert e.mean_time_in_care.hi - e.mean_time_in_care.lo < 0.5
    # move rate: the expected 903 move rate of the true model, from 8 other replications
    events = years = 0.0
    for r in range(1, 9):
        rep = simulate(truth.replace({"run.seed": DATA_SEED}), r)
        h = run_episodes(rep.events, truth.run.start_date, truth.run.years * DAYS_PER_YEAR, DATA_SEED, r)
        moves, *_ = move_rates(h.table, h.first_day, h.last_day + 1, _codes())
        events += moves["all"].n
        years += moves["all"].exposure
    true_moves = events / years
    assert e.moves["all"].lo <= true_moves <= e.moves["all"].hi
    # and the exit hazards: the 1-4 band's total is recovered within its interval
    total = sum(e.exit_hazards[r][1].n for r in ("return_home", "adoption", "special_guardianship", "other"))
    lo, hi = (q / e.exit_hazards["return_home"][1].exposure for q in _garwood(total))
    assert lo <= hazard[1] <= hi


def _codes():
    from calibration.codes import CodeMap
    return CodeMap()


def _garwood(n):
    from scipy import stats
    return stats.chi2.ppf(0.025, 2 * n) / 2, stats.chi2.ppf(0.975, 2 * n + 2) / 2


def test_fitted_scenario_sets_the_estimated_keys_with_sources(truth, observed, estimates):
    s, notes = fit(estimates, truth, observed, refine_replications=0)
    text = render(s, notes, "the default scenario")
    back = Scenario.from_toml(text)
    assert back == s
    assert back.run.start_date.isoformat() == "2028-04-01" and back.run.warmup_years == 0
    assert back.entries.initial_children == estimates.stock["all"]
    assert back.exits.adoption[0] == pytest.approx(estimates.exit_hazards["adoption"][0].value, abs=1e-4)
    assert set(back.differences(truth)) >= {"entries.rate_per_year", "exits.return_home", "breakdowns.ifa", "kinship.probability_by_age"}
    assert back.carers == truth.carers and back.spot == truth.spot  # not in 903 data
    lines = text.splitlines()
    i = lines.index(f"rate_per_year = {s.entries.rate_per_year}")
    assert lines[i - 1].startswith("#   estimated (SSDA903 2020-2028)") and "95% interval" in lines[i - 1]
    j = next(k for k, line in enumerate(lines) if line.startswith("retirement_age = "))
    assert "from the base scenario (the default scenario)" in lines[j - 1]


def test_calibrated_default_authority_passes_its_backtest(truth, observed, estimates):
    fitted, _notes = fit(estimates, truth, observed, refine_replications=6)
    # breakdown hazards come back near the truth once simulated unplanned endings match the data
    assert fitted.breakdowns.inhouse_fostering[0] == pytest.approx(truth.breakdowns.inhouse_fostering[0], rel=0.35)
    bt = backtest(fitted, observed, replications=40)
    assert len(bt.table) == 7 * 10  # 2022-2028: 6 stocks, entries, exits, moves, 3+ placements
    print(f"round trip export -> calibrate -> backtest coverage: {bt.coverage:.1%}")
    assert bt.coverage >= 0.80
    by = bt.by_measure().set_index("measure")
    assert by.loc["stock", "coverage"] >= 0.7


def test_a_wrong_scenario_fails_its_backtest(truth, observed):
    wrong = truth.replace({"entries.rate_per_year": 60.0, "breakdowns.ifa": [0.5, 0.6, 0.7, 0.8]})
    bt = backtest(wrong, observed, replications=10)
    assert bt.coverage < 0.5


def test_commands_end_to_end_and_clean_errors(tmp_path):
    runner = CliRunner()
    run_dir, data, report = tmp_path / "run", tmp_path / "903", tmp_path / "report"
    res = runner.invoke(main, ["run", "--replications", "1", "--years", "4", "--seed", "5", "--no-figures", "--quiet", "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["export-903", str(run_dir), "--out", str(data)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in data.iterdir()) == ["2020", "2021", "2022"]
    assert (data / "2021" / "header.csv").read_text().startswith("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n")
    assert (data / "2021" / "uasc.csv").read_text().startswith("CHILD,SEX,DOB,DUC\n")
    out = tmp_path / "fitted.toml"
    res = runner.invoke(main, ["calibrate", str(data), "--out", str(out), "--report", str(report), "--refine", "0"])
    assert res.exit_code == 0, res.output
    assert Scenario.load(out).run.start_date.isoformat() == "2022-04-01"
    for name in ("report.txt", "estimates.csv", "rejected_rows.csv", "entries.png"):
        assert (report / name).stat().st_size > 0
    assert "rejected: 0" in (report / "report.txt").read_text()
    res = runner.invoke(main, ["backtest", str(data), str(out), "--replications", "3", "--out", str(tmp_path / "bt")])
    assert res.exit_code == 0, res.output
    assert "Overall coverage" in res.output and (tmp_path / "bt" / "backtest_stock.png").stat().st_size > 0
    # clean, one-line errors with exit code 2
    for args, message in [
        (["calibrate", str(tmp_path / "missing"), "--out", str(tmp_path / "x.toml")], "data folder not found"),
        (["calibrate", str(data), "--out", str(out)], "already exists"),
        (["export-903", str(data)], "is not a run folder"),
        (["backtest", str(data), str(out), "--start", "2021"], "needs two returns after"),
    ]:
        res = runner.invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and "Traceback" not in res.output
