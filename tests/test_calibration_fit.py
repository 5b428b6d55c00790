"""Calibration always gives an answer and says how far to trust it.

A set of returns whose entries fall steeply (built here, as a council's might look after a change of
recording, or read a year out) fits a trend beyond the scenario's limit: ``calibrate`` holds it at the
limit, warns, writes the scenario and the report, and exits 0. The trust warnings (steep trend, too few
children, codes sent to ``other``) and the backtest's words are checked on small sets.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from calibration.backtest import Backtest, explain
from calibration.clean import clean
from calibration.estimate import estimate
from calibration.fit import fit, fit_warnings, render
from calibration.read903 import read_returns
from experiments.cli import main
from models.scenario import Scenario

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"
EPIS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"


def synthetic_returns(folder, entries: dict[int, int], seed: int = 3, place: str = "U6", stock: int = 60):
    """Year folders of 903 returns: ``entries[year]`` children enter in each return year (plus ``stock`` in care
    before the first), each placed in ``place`` (PR1), a third moving once after a breakdown, leaving home after
    an exponential stay of mean 1.5 years."""
    rng = np.random.default_rng(seed)
    years = sorted(entries)
    first = dt.date(years[0] - 1, 4, 1)
    kids = []
    for y in [years[0] - 1] + years:
        n = stock if y == years[0] - 1 else entries[y]
        lo = dt.date(y - 1, 4, 1)
        for _ in range(n):
            start = lo + dt.timedelta(days=int(rng.integers(0, 365)))
            if y == years[0] - 1:
                start = first - dt.timedelta(days=int(rng.integers(1, 700)))
            age = int(rng.integers(0, 16 * 365))
            stay = max(2, int(rng.exponential(1.5 * 365)))
            move = start + dt.timedelta(days=int(rng.integers(1, stay))) if rng.random() < 0.33 and stay > 2 else None
            kids.append((f"K{len(kids):04d}", start - dt.timedelta(days=age), start, move, start + dt.timedelta(days=stay)))
    f = "%d/%m/%Y"
    for y in years:
        lo, hi = dt.date(y - 1, 4, 1), dt.date(y, 3, 31)
        heads, rows = [], []
        for c, dob, start, move, end in kids:
            if start > hi or end < lo:
                continue
            heads.append(f"{c},1,{dob.strftime(f)},WBRI,,,")
            spans = [(start, move or end, "S", place, "PR1"), (move, end, "P", place, "PR4")] if move else \
                [(start, end, "S", place, "PR1")]
            for i, (a, b, rne, pl, pr) in enumerate(spans):
                if a > hi or b < lo:
                    continue
                last = i == len(spans) - 1
                if b > hi:
                    rows.append(f"{c},{a.strftime(f)},{rne},C2,N1,{pl},{pr},,,,,,")
                else:
                    rec, rpc = ("E4A", "") if last else ("X1", "CREQB")
                    rows.append(f"{c},{a.strftime(f)},{rne},C2,N1,{pl},{pr},{b.strftime(f)},{rec},{rpc},,,")
        d = folder / str(y)
        d.mkdir(parents=True, exist_ok=True)
        (d / "header.csv").write_text(HEADER + "\n" + "\n".join(heads) + "\n")
        (d / "episodes.csv").write_text(EPIS + "\n" + "\n".join(rows) + "\n")
    return folder


STEEP = {2020: 150, 2021: 45, 2022: 12}


def test_a_steep_fall_is_held_at_the_limit_with_a_warning_and_the_scenario_loads(tmp_path):
    eps = clean(read_returns(synthetic_returns(tmp_path, STEEP)))
    est = estimate(eps)
    assert est.trend.value < -0.6  # beyond the scenario's limit of -0.5
    warns: list = []
    s, notes = fit(est, Scenario.default(), eps, refine_replications=0, warnings=warns)
    assert s.entries.trend == -0.5
    (held,) = [w for w in warns if w.kind == "value held at a limit"]
    assert held.message.startswith(f"entries.trend: the fit gave {round(est.trend.value, 4):g}")
    assert "(at least -0.5 and at most 1); held at -0.5" in held.message
    assert "HELD at the scenario's limit" in notes["entries.trend"]
    # the rate is the fitted count of the year after the last return, carried back along the held trend
    g = np.log1p(-0.5)
    assert s.entries.rate_per_year == pytest.approx(round(est.entry_rate.value * g / np.expm1(g), 2))
    trust = fit_warnings(est, eps)
    kinds = [w.kind for w in trust]
    assert "steep trend" in kinds
    steep = trust[kinds.index("steep trend")]
    assert "fall" in steep.message and "2020: 150" in steep.message and "halve every" in steep.message
    text = render(s, notes, "the default scenario", warns + trust)
    assert Scenario.from_toml(text) == s
    assert "# WARNING value held at a limit: entries.trend" in text


def test_calibrate_on_steeply_falling_entries_writes_both_and_exits_0(tmp_path):
    data = synthetic_returns(tmp_path / "data", STEEP)
    out, report = tmp_path / "fitted.toml", tmp_path / "report"
    res = CliRunner().invoke(main, ["calibrate", str(data), "--out", str(out), "--report", str(report), "--refine", "2"])
    assert res.exit_code == 0, res.output
    assert Scenario.load(out).entries.trend == -0.5
    assert "warning: value held at a limit: entries.trend" in res.output
    assert "warning: steep trend" in res.output
    text = (report / "report.txt").read_text()
    assert "How far to trust the fit" in text and "entries.trend: the fit gave" in text
    w = pd.read_csv(report / "warnings.csv")
    assert {"value held at a limit", "steep trend"} <= set(w.kind) and set(w.stage) == {"fit"}
    res = CliRunner().invoke(main, ["backtest", str(data), str(out), "--replications", "6", "--out", str(tmp_path / "bt")])
    assert res.exit_code == 0, res.output
    assert "Outside the bands, in words" in res.output and "Likely:" in res.output


def test_few_children_and_unmodelled_codes_are_warned_about(tmp_path):
    eps = clean(read_returns(synthetic_returns(tmp_path, {2020: 12, 2021: 12, 2022: 12}, place="R3", stock=5)))
    est = estimate(eps)
    kinds = {w.kind: w for w in fit_warnings(est, eps)}
    assert set(kinds) >= {"too few children", "mapped to other"}
    other = kinds["mapped to other"]
    assert other.message.startswith("100% of placement-days") and other.examples == ["R3 100%"]
    few = kinds["too few children"]
    assert any(e.startswith("exits.return_home") for e in few.examples)
    # a large, well-mapped set has neither
    eps = clean(read_returns(synthetic_returns(tmp_path / "big", {2020: 150, 2021: 150, 2022: 150}, stock=200)))
    assert not {"mapped to other", "steep trend"} & {w.kind for w in fit_warnings(estimate(eps), eps)}


def test_a_value_the_scenario_refuses_is_left_at_the_base_with_a_warning(tmp_path):
    eps = clean(read_returns(synthetic_returns(tmp_path, {2020: 80, 2021: 80, 2022: 80})))
    est = estimate(eps)
    base = Scenario.default().replace({"entries.growth": {"by": 0.2, "years": 5}, "entries.trend": 0.0})
    warns: list = []
    s, _notes = fit(est, base, eps, refine_replications=0, warnings=warns)
    assert s.entries.growth is None and s.entries.trend == round(est.trend.value, 4)  # the data's trend replaces the plan
    assert not [w for w in warns if w.kind == "value not used"]


def test_the_backtest_says_in_words_which_measures_miss_and_why():
    rows = []
    for y in range(2022, 2029):
        rows.append((y, "stock", "all", 300.0 + 10 * (y - 2022) * (y >= 2025), 250.0, 280.0, 310.0))
        rows.append((y, "entries", "all", 100.0, 90.0, 110.0, 130.0))
        rows.append((y, "moves", "all", 40.0 if y == 2023 else 100.0, 80.0, 100.0, 120.0))
    t = pd.DataFrame(rows, columns=["year", "measure", "pool", "observed", "p5", "p50", "p95"])
    t["inside"] = (t.observed >= t.p5) & (t.observed <= t.p95)
    lines = explain(Backtest(t, 2020, 40))
    assert lines[0].startswith("5 of 21 observed points fall outside") and "only in part" in lines[0]
    assert lines[1] == ("  stock: observed above the band in 2025, 2026, 2027, 2028 (consecutive years: a drift the "
                        "scenario does not follow). Likely: more children in care than simulated: they stay longer "
                        "than the fitted exit hazards say, or enter faster than the scenario's rate and trend.")
    assert lines[2].startswith("  moves: observed below the band in 2023. Likely: fewer moves than simulated")
    assert len(lines) == 3
