"""The command line as a user meets it: outputs, reproducibility, and clean errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cli import main
from models.scenario import Scenario

FAST = ["--replications", "2", "--years", "2", "--set", "run.warmup_years=1", "--no-figures"]


@pytest.fixture
def runner():
    return CliRunner()


def test_run_writes_every_documented_file_and_a_summary(runner, tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(main, ["run", "--replications", "2", "--years", "2", "--set", "run.warmup_years=1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("metrics.parquet", "events.parquet", "summary.csv", "summary.txt", "manifest.json",
                 "children_by_pool.png", "spend_by_pool.png"):
        assert (out / name).stat().st_size > 0, name
    assert "Children with 3+ placements in the year" in res.output
    m = pd.read_parquet(out / "metrics.parquet")
    assert list(m.columns) == ["replication", "year", "metric", "pool", "value"]
    assert sorted(m.replication.unique()) == [0, 1]
    assert sorted(m.year.unique()) == [2019, 2020]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == Scenario.default().run.seed
    assert manifest["replications"] == 2
    assert manifest["scenario"]["run"]["years"] == 2
    assert manifest["placesim_version"]
    assert manifest["runtime_seconds"] > 0
    assert "run" in manifest["command"]


def test_same_seed_gives_byte_identical_metrics(runner, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert runner.invoke(main, ["run", *FAST, "--out", str(a)]).exit_code == 0
    assert runner.invoke(main, ["run", *FAST, "--out", str(b)]).exit_code == 0
    assert runner.invoke(main, ["run", *FAST, "--seed", "7", "--out", str(c)]).exit_code == 0
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()
    assert (a / "metrics.parquet").read_bytes() != (c / "metrics.parquet").read_bytes()


def test_events_of_every_replication_with_keep_events(runner, tmp_path):
    out = tmp_path / "e"
    assert runner.invoke(main, ["run", *FAST, "--keep-events", "--out", str(out)]).exit_code == 0
    ev = pd.read_parquet(out / "events.parquet")
    assert sorted(ev.replication.unique()) == [0, 1]
    assert {"day", "event", "child", "option", "reason", "value", "age", "need", "uasc"} <= set(ev.columns)


def test_block_contract_set_on_the_command_line_shows_utilisation(runner, tmp_path):
    res = runner.invoke(main, ["run", *FAST, "--set", "contracts.ifa.places=8", "--out", str(tmp_path / "x")])
    assert res.exit_code == 0, res.output
    assert "Utilisation, ifa block" in res.output
    m = pd.read_parquet(tmp_path / "x" / "metrics.parquet")
    util = m[(m.metric == "block_utilisation") & (m.pool == "ifa")].value
    assert len(util) == 4 and ((util >= 0) & (util <= 1)).all()


def test_scenario_show_init_and_run_an_edited_file(runner, tmp_path):
    shown = runner.invoke(main, ["scenario", "show"])
    assert shown.exit_code == 0
    assert Scenario.from_toml(shown.output) == Scenario.default()
    path = tmp_path / "s.toml"
    assert runner.invoke(main, ["scenario", "init", str(path)]).exit_code == 0
    assert runner.invoke(main, ["scenario", "init", str(path)]).exit_code == 2  # refuses to overwrite
    path.write_text(path.read_text().replace('name = "default"', 'name = "edited"').replace("places = 0", "places = 4", 1))
    check = runner.invoke(main, ["scenario", "check", str(path)])
    assert check.exit_code == 0 and "contracts.ifa.places = 4" in check.output
    res = runner.invoke(main, ["run", str(path), *FAST, "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["scenario_name"] == "edited"


@pytest.mark.parametrize("text, key", [
    ("[entries]\nrate_per_yer = 3\n", "entries.rate_per_yer"),
    ("[run]\nyears = 'ten'\n", "run.years"),
    ("[inhouse.fostering]\nplaces = -3\n", "inhouse.fostering.places"),
    ("[spot.ifa]\ntightness = 1.2\n", "spot.ifa.tightness"),
    ("[contracts.ifa]\nplaces = 4\nstart = 2021-04-01\nend = 2020-04-01\n", "contracts.ifa.end"),
    ("[entries\n", "not valid TOML"),
])
def test_bad_scenario_files_exit_2_naming_the_key(runner, tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    res = runner.invoke(main, ["run", str(path), *FAST, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert key in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_missing_file_and_bad_set_exit_2(runner, tmp_path):
    res = runner.invoke(main, ["run", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(main, ["run", *FAST, "--set", "contracts.ifa.seats=3"])
    assert res.exit_code == 2 and "contracts.ifa.seats" in res.output
