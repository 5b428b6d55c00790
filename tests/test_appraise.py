"""Options appraisal: the seed's static arithmetic, the presets, and the simulated table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from experiments.appraise import (LETTERS, PHASES, PRESETS, STATIC, AppraisalError, appraise,
                                  format_appraisal, load_options, preset_notes, static_cost, static_formula)
from models.scenario import Scenario


def test_fostering_static_figures_match_the_seed_to_the_pound():
    assert static_cost("fostering_B") == 4_381_104  # 236 x 357 x 52
    assert static_cost("fostering_C") == 10_124_400  # 236 x 825 x 52
    assert static_cost("fostering_D") == 6_108_960  # 165 x 357 x 52 + 71 x 825 x 52
    assert static_formula("fostering_D") == "(165 x £357 + 71 x £825) x 52"


def test_16plus_and_residential_static_figures_match_the_seeds_own_where_it_gives_them():
    assert static_cost("16plus_A") == 1_580_800  # 10.2 A
    assert static_cost("16plus_B") == 728_000  # 10.2 B
    assert static_cost("16plus_C") == 1_200_805  # 10.2 C, DPS contract route, rounded to the pound
    assert static_cost("residential_A") == 1_345_240  # 10.3 C, Clophill on the block rate + spot
    assert static_cost("residential_C") == 997_360  # 10.3 C, all block
    # derived with the seed's method from its own volumes and weekly costs
    assert static_cost("16plus_D") == round((21 * 350 + 19 * 577.31) * 52) == 952_582
    assert static_cost("residential_E") == (8 * 1918 + 2 * 3000) * 52 == 1_109_888


def test_static_volumes_are_the_seeds_2019_20_volumes():
    for option, lines in STATIC.items():
        placements = sum(ln.placements for ln in lines)
        assert placements == {"fostering": 236, "16plus": 40, "residential": 10}[option.rsplit("_", 1)[0]], option


def test_every_preset_is_a_valid_partial_scenario_with_its_static_figure_in_its_comments():
    options = load_options("all")
    assert [o.id for o in options] == [f"{p}_{x}" for p in PHASES for x in LETTERS]
    for o in options:
        text = o.path.read_text(encoding="utf-8")
        assert f"GBP {static_cost(o.id):,}" in text, o.id  # the header states the static check
        assert o.scenario.run.years == 3
        diffs = o.scenario.differences()
        notes = preset_notes(o.path)
        # every changed value (other than the name and the policy rules, commented per rule) is sourced in a comment
        for key in diffs:
            if key in ("name", "policy.rules"):
                continue
            assert key in notes and notes[key], (o.id, key)
            assert re.search(r"Placements Commissioning Strategy|Complex Needs Accommodation|assumption|derived|default", notes[key]), (o.id, key, notes[key])
    a = {o.phase: o.scenario for o in options if o.letter == "A"}
    assert a["fostering"].differences(Scenario.default()).keys() == {"name", "run.years"}


def test_presets_are_shipped_as_package_data():
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "presets/*.toml" in data["tool"]["setuptools"]["package-data"]["experiments"]
    assert len(list(PRESETS.glob("*.toml"))) == 15


def test_unknown_phase_is_a_clear_error():
    with pytest.raises(AppraisalError, match="--phase: must be one of fostering, 16plus, residential, all"):
        load_options("adoption")


# --------------------------------------------------------------------------- a small appraisal

REPS = 3


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from experiments.appraise import write_appraisal

    result = appraise("all", replications=REPS, workers=1)
    out = write_appraisal(result, tmp_path_factory.mktemp("appraisal") / "out", command="test")
    return result, out


def _value(table, option, measure, statistic):
    row = table[(table.option == option) & (table.measure == measure) & (table.statistic == statistic)]
    assert len(row) == 1, (option, measure, statistic)
    return float(row.value.iloc[0])


def test_options_share_seeds_so_identical_scenarios_give_identical_metrics(small):
    result, _out = small
    m = result.metrics
    a16 = m[m.scenario == "16plus_A"].drop(columns="scenario").reset_index(drop=True)
    afo = m[m.scenario == "fostering_A"].drop(columns="scenario").reset_index(drop=True)
    pd.testing.assert_frame_equal(a16, afo)  # the as-is authority, run once
    # the same children enter under every option: entries are equal replication by replication
    ent = m[(m.metric == "entries") & (m.pool == "all")].pivot_table(index=["replication", "year"], columns="scenario", values="value")
    assert (ent.nunique(axis=1) == 1).all()


def test_the_options_change_what_they_say(small):
    result, _out = small
    m = result.metrics
    kids = m[m.metric == "children_mean"].groupby(["scenario", "pool"]).value.mean()
    assert kids[("fostering_B", "ifa")] == 0.0  # all in-house: no IFA placements
    assert kids[("fostering_C", "inhouse_fostering")] == 0.0  # all IFA: no in-house carers
    assert kids[("fostering_B", "inhouse_fostering")] > 1.3 * kids[("fostering_A", "inhouse_fostering")]
    assert kids[("16plus_C", "supported")] > 0 and kids[("residential_C", "residential")] > 0
    t = result.table
    for option in ("fostering_E", "16plus_E", "residential_C", "residential_E"):  # the options with a block
        assert _value(t, option, "voids", "mean") > 0
        assert 0 < _value(t, option, "block_utilisation", "mean") <= 1
    assert _value(t, "fostering_A", "voids", "mean") == 0.0
    assert not ((t.option == "fostering_A") & (t.measure == "block_utilisation")).any()


def test_table_quantiles_static_and_exceedance_are_computed_from_the_metrics(small):
    result, _out = small
    t, m = result.table, result.metrics
    for o in load_options("all"):
        assert _value(t, o.id, "static_cost", "value") == static_cost(o.id)
        p10, p50, p90 = (_value(t, o.id, "phase_spend", s) for s in ("p10", "p50", "p90"))
        assert p10 <= p50 <= p90
    pools = PHASES["fostering"][1]
    sub = m[(m.scenario == "fostering_D") & (m.metric == "spend_total") & m.pool.isin(pools)]
    yearly = sub.groupby(["replication", "year"]).value.sum()
    per_rep = yearly.groupby("replication").mean()
    assert _value(t, "fostering_D", "phase_spend", "p50") == pytest.approx(np.percentile(per_rep, 50))
    assert _value(t, "fostering_D", "over_static", "probability") == pytest.approx((yearly >= 1.1 * 6_108_960).mean())
    # paired difference against A: the mean of replication-by-replication differences
    tot = m[(m.metric == "spend_total") & (m.pool == "all")].groupby(["scenario", "replication"]).value.mean()
    diff = (tot["fostering_C"] - tot["fostering_A"]).mean()
    assert _value(t, "fostering_C", "total_spend_vs_A", "difference") == pytest.approx(diff)
    assert diff > 1_000_000  # all IFA costs far more than the as-is mix


def test_appraisal_folder_holds_table_manifest_figures(small):
    result, out = small
    names = {p.name for p in out.iterdir()}
    assert {"appraisal.parquet", "appraisal.csv", "appraisal.txt", "metrics.parquet", "manifest.json",
            "appraisal_spend.png", "appraisal_stability.png", "appraisal_blocks.png", "appraisal_children_fostering.png"} <= names
    back = pd.read_parquet(out / "appraisal.parquet")
    pd.testing.assert_frame_equal(back, result.table)
    text = (out / "appraisal.txt").read_text()
    assert "£4,381,104" in text and "£10,124,400" in text and "£6,108,960" in text
    assert format_appraisal(result.table, REPS).splitlines()[0].startswith(f"Options appraisal: {REPS} replications")


def test_appraise_command_and_its_errors(tmp_path):
    from click.testing import CliRunner

    from experiments.cli import main

    out = tmp_path / "a"
    res = CliRunner().invoke(main, ["appraise", "--phase", "16plus", "-r", "2", "--workers", "1", "--out", str(out), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "16+ B: all in-house (Housing)" in res.output and "£728,000" in res.output
    assert (out / "report.html").is_file() and not (out / "appraisal_spend.png").exists()
    bad = CliRunner().invoke(main, ["appraise", "--phase", "adoption"])
    assert bad.exit_code == 2 and "Invalid value for '-p' / '--phase'" in bad.output
