"""Bad input and faults: one line naming the problem, exit code 2, never a traceback or a runaway.

The corpus is generated here: scenario files and options with huge, absurd or malformed values,
documents nested too deeply, a UTF-8 byte-order mark, usage errors, and valid but pathological
scenarios that a limit or the event budget must stop. A Hypothesis fuzz of scenario dictionaries
(random keys, types and magnitudes) checks that validation and the work estimate only ever answer
with a ScenarioError.
"""

from __future__ import annotations

import math
import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.cli import main
from models.scenario import Scenario, ScenarioError
from models.schema import to_dict
from simulation.budget import RunLimitError, check_workload, estimate
from simulation.engine import simulate


def one_line_error(args, *needles):
    """Run the command line; it must fail with exit code 2 and exactly one line naming every needle."""
    res = CliRunner().invoke(main, args)
    out = res.output.strip()
    assert res.exit_code == 2, (args, res.exit_code, out)
    assert "Traceback" not in out and len(out.splitlines()) == 1, (args, out)
    assert out.startswith("error: "), out
    for needle in needles:
        assert needle in out, (args, needle, out)
    return out


QUICK = ["--replications", "1", "--years", "1", "--no-figures", "--quiet"]


@pytest.mark.parametrize("assignment, key", [
    ("entries.rate_per_year=1e308", "entries.rate_per_year: must be at most"),
    ("entries.initial_children=1000000000000", "entries.initial_children: must be at most"),
    ("carers.households=1000000000000", "carers.households: must be at most"),
    ("ifa_carers.households=1000000000000", "ifa_carers.households: must be at most"),
    ("contracts.ifa.start=9999-12-01", "contracts.ifa.start: must be a date from 1950-01-01 to 2200-12-31"),
    ("spot.ifa.weekly_price=1e308", "spot.ifa.weekly_price: must be at most"),
    ("contracts.ifa.places=1000000000000", "contracts.ifa.places: must be at most"),
    ("breakdowns.ifa=[50.0, 50.0, 50.0, 50.0]", "breakdowns.ifa[0]: must be at most 12"),
    ("breakdowns.early_multiplier=100", "breakdowns.early_multiplier: must be at most 50"),
    ("waiting.retry_days=0.001", "waiting.retry_days: must be at least 0.5"),
    ("recruitment.enquiries_per_year=1e12", "recruitment.enquiries_per_year: must be at most"),
    ("inhouse.residential.weekly_cost=1e308", "inhouse.residential.weekly_cost: must be at most"),
])
def test_huge_values_are_refused_by_check_and_run_alike(tmp_path, assignment, key):
    key_name, _, value = assignment.partition("=")
    section, _, leaf = key_name.rpartition(".")
    path = tmp_path / "bad.toml"
    path.write_text(f"[{section}]\n{leaf} = {value}\n", encoding="utf-8")
    one_line_error(["scenario", "check", str(path)], key)
    one_line_error(["run", str(path), *QUICK, "--out", str(tmp_path / "o")], key)
    one_line_error(["run", "--set", assignment, *QUICK, "--out", str(tmp_path / "o2")], key)
    assert not (tmp_path / "o" / "metrics.parquet").exists()


def test_work_over_the_event_limit_is_refused_before_it_runs_and_force_skips_the_estimate(tmp_path):
    out = one_line_error(["run", "--set", "entries.rate_per_year=90000", "-r", "1", "--quiet", "--out", str(tmp_path / "o")],
                         "entries.rate_per_year: one replication would log about", "run.max_events", "--force")
    assert "10,000,000" in out
    s = Scenario.default().replace({"entries.rate_per_year": 90000.0, "run.max_events": 100_000_000})
    assert check_workload(s).events > 10_000_000  # a higher limit lets it through
    # --force skips the estimate; the running budget still stops a replication that reaches the limit
    small = ["--set", "run.max_events=1500", "--set", "run.warmup_years=0"]
    one_line_error(["run", *small, *QUICK, "--out", str(tmp_path / "f")], "one replication would log about")
    one_line_error(["run", *small, "--force", *QUICK, "--out", str(tmp_path / "f")],
                   "run.max_events: the replication logged", "stopped")


def test_a_pathological_valid_scenario_is_stopped_by_the_event_budget_not_left_running():
    """Nothing can be placed (no option has room and no spot market answers), searches are retried every
    half day: the replication stops at run.max_events with one message, in a few seconds."""
    s = Scenario.default().replace({
        "run.years": 5, "run.warmup_years": 0, "run.max_events": 20_000, "entries.initial_children": 300,
        "kinship.enabled": False, "carers.enabled": False, "ifa_carers.enabled": False,
        "inhouse.fostering.places": 0, "inhouse.residential.places": 0, "inhouse.supported.places": 0,
        "spot.ifa.tightness": 1.0, "spot.residential.tightness": 1.0, "spot.supported.tightness": 1.0,
        "waiting.retry_days": 0.5})
    with pytest.raises(RunLimitError, match=r"^run\.max_events: the replication logged [0-9,]+ events by day"):
        simulate(s, 0)


def test_the_estimate_is_of_the_right_size():
    """Within a factor of 3 of what the default authority and a ten-times authority really log (an
    upper-end guess: never far under)."""
    for changes in ({}, {"entries.rate_per_year": 1180.0, "entries.initial_children": 3000, "carers.households": 1030,
                         "ifa_carers.households": 700, "run.years": 2}):
        s = Scenario.default().replace(changes)
        actual = simulate(s, 0).n_events
        guess = estimate(s).events
        assert actual / 1.5 <= guess <= 3 * actual, (changes, guess, actual)


def test_documents_nested_too_deeply_are_one_line(tmp_path):
    deep_array = tmp_path / "arrays.toml"
    deep_array.write_text("[entries]\nage_shares = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    deep_table = tmp_path / "tables.toml"
    deep_table.write_text("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", encoding="utf-8")
    for path in (deep_array, deep_table):
        one_line_error(["scenario", "check", str(path)], "too deeply")
        one_line_error(["run", str(path), *QUICK, "--out", str(tmp_path / "o")], "too deeply")
    with pytest.raises(ScenarioError, match="too deeply"):
        Scenario.from_dict({"entries": {"age_shares": [[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]}})


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff[contracts.ifa]\nplaces = 4\n".encode("utf-8"))
    assert Scenario.load(path).contracts.ifa.places == 4
    res = CliRunner().invoke(main, ["scenario", "check", str(path)])
    assert res.exit_code == 0 and "contracts.ifa.places = 4" in res.output


@pytest.mark.parametrize("args, needles", [
    (["run", "--years", "0"], ["--years", "0 is not in the range 1<=x<=200"]),
    (["run", "--replications", "0"], ["--replications", "x>=1"]),
    (["run", "--seed", "-1"], ["--seed", "x>=0"]),
    (["run", "--frobnicate"], ["--frobnicate"]),
    (["sweep", "x.toml", "--workers", "0"], ["--workers", "x>=1"]),
    (["compare", "default"], ["ALT"]),
    (["run", "--set", ".=1"], ["--set", "'.=1'"]),
    (["run", "--set", "=5"], ["--set", "'=5'"]),
    (["run", "--set", "contracts.ifa.places"], ["contracts.ifa.places: expected KEY=VALUE", "'contracts.ifa.places'"]),
])
def test_usage_errors_are_one_line_naming_the_option(args, needles):
    one_line_error(args, *needles)


def test_a_contract_ending_on_its_start_day_says_so():
    with pytest.raises(ScenarioError, match=r"contracts\.ifa\.end: contract ends \(2020-04-01\) on the day it starts"):
        Scenario.default().replace({"contracts.ifa.start": "2020-04-01", "contracts.ifa.end": "2020-04-01"})


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_output_folder_that_cannot_be_written_is_found_before_the_run(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    one_line_error(["run", *QUICK, "--out", str(locked / "r")], "--out", "cannot write")


def test_an_output_path_that_is_a_file_is_found_before_the_run(tmp_path):
    f = tmp_path / "file"
    f.write_text("x", encoding="utf-8")
    one_line_error(["run", *QUICK, "--out", str(f / "r")], "--out", "cannot write")
    one_line_error(["compare", "default", "default", "-r", "2", "--out", str(f / "c")], "--out", "cannot write")


# --------------------------------------------------------------------------- fuzzing

BASE = to_dict(Scenario.default())


def _leaves(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        out += _leaves(v, key) if isinstance(v, dict) else [key]
    return out


KEYS = _leaves(BASE)
MAGNITUDES = st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e6, 1e12, 1e308, -1e308, 2**63, 10**30])
VALUES = st.one_of(
    MAGNITUDES, st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), st.booleans(),
    st.text(max_size=12), st.lists(MAGNITUDES, max_size=6), st.dictionaries(st.text(max_size=5), MAGNITUDES, max_size=3),
    st.sampled_from(["2019-04-01", "9999-12-31", "0001-01-01", "standard", "cascade", [], {}]))


def _set(data: dict, key: str, value) -> None:
    node = data
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict):
        node[parts[-1]] = value


@settings(max_examples=int(os.environ.get("PLACESIM_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=20)), VALUES), min_size=1, max_size=6))
def test_fuzzed_scenarios_only_ever_fail_with_a_named_scenario_error(changes):
    """Random keys (real and made up), types and magnitudes: validation and the work estimate either
    accept the scenario or raise ScenarioError; an accepted one estimates finite work, and a small one runs."""
    data: dict = {}
    for key, value in changes:
        _set(data, key, value)
    try:
        s = Scenario.from_dict(data)
    except ScenarioError as e:
        assert str(e) and "\n" not in str(e)
        return
    try:
        w = check_workload(s)
    except ScenarioError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert math.isfinite(w.events) and w.events >= 0
    if w.events < 60_000 and s.run.years + s.run.warmup_years <= 15:
        try:
            simulate(s.replace({"run.years": 1, "run.warmup_years": 0}), 0)
        except ScenarioError:
            pass


def test_a_sweep_with_a_scenario_over_the_event_limit_is_refused_before_it_runs(tmp_path):
    exp = tmp_path / "big.toml"
    exp.write_text('name = "big"\nreplications = 2\n[factors]\n"entries.rate_per_year" = [118, 90000]\n', encoding="utf-8")
    one_line_error(["sweep", str(exp), "--workers", "1", "--out", str(tmp_path / "s")],
                   "entries.rate_per_year: one replication would log about", "(scenario rate_per_year=90000)")
    assert not (tmp_path / "s" / "parts").exists()
