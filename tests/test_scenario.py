"""Scenario loading, validation, rendering and the small derived properties.

Every validation error must be a :class:`ScenarioError` whose message starts with
the dotted key of the offending entry, so a user can find it in their file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib

import pytest

from models.scenario import POLICIES, BlockContract, Capacity, Policy, Rule, Scenario, ScenarioError
from models.schema import parse_value


def _error(fn, *args, **kwargs) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        fn(*args, **kwargs)
    return info.value


def _assert_names(err: ScenarioError, key: str) -> None:
    """The message starts with the dotted key (followed by ': '), and ``err.key`` is that key."""
    assert err.key == key, str(err)
    assert str(err).startswith(f"{key}: "), str(err)


# --------------------------------------------------------------------------- round trip


def test_default_round_trips_through_toml():
    text = Scenario.default().to_toml()
    assert Scenario.from_toml(text) == Scenario.default()


def test_modified_scenario_round_trips_through_toml():
    """Non-default values of every kind: dates, optional numbers, custom rules (array of tables)."""
    s = Scenario.default().replace({
        "name": "option E",
        "run.start_date": dt.date(2020, 4, 1),
        "contracts.ifa.places": 8,
        "contracts.ifa.retainer_weekly": 120.5,
        "contracts.ifa.start": dt.date(2020, 10, 1),
        "contracts.ifa.end": dt.date(2025, 3, 31),
        "contracts.ifa.needs": ["high", "complex"],
        "entries.age_shares": [0.2, 0.2, 0.2, 0.2, 0.2],
        "policy.rules": [
            {"ages": ["16-17"], "order": ["supported_spot", "ifa_spot"]},
            {"order": ["inhouse_fostering", "ifa_block", "ifa_spot"]},
        ],
    })
    back = Scenario.from_toml(s.to_toml())
    assert back == s
    assert back.policy.rules[0] == Rule(ages=("16-17",), order=("supported_spot", "ifa_spot"))
    assert back.contracts.ifa.end == dt.date(2025, 3, 31)


_KEY_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")


def _leaf_fields(obj, path=""):
    """Dotted names of every non-section field of a scenario dataclass."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        sub = f"{path}.{f.name}" if path else f.name
        if f.metadata.get("section"):
            yield from _leaf_fields(value, sub)
        else:
            yield sub, f.name, value


@pytest.mark.parametrize("scenario", [
    Scenario.default(),
    Scenario.default().replace({"policy.rules": [{"order": ["inhouse_fostering", "ifa_spot"]}],
                                "contracts.ifa.end": dt.date(2022, 1, 1)}),
], ids=["default", "custom-rules"])
def test_every_rendered_key_and_table_has_a_comment_above(scenario):
    lines = scenario.to_toml().splitlines()
    keys = 0
    for i, line in enumerate(lines):
        if _KEY_LINE.match(line) or line.startswith("["):
            keys += 1
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above line {i + 1}: {line!r}"
    assert keys > 50


def test_every_field_is_rendered():
    """Each leaf field appears as ``name = value`` or, when unset, as ``# name = (not set)``."""
    s = Scenario.default()
    text = s.to_toml()
    for dotted, name, value in _leaf_fields(s):
        if value is None:
            assert f"# {name} = (not set)" in text, dotted
        else:
            assert re.search(rf"^{re.escape(name)} = ", text, re.M), dotted


# --------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize("text, key", [
    ("bogus = 1", "bogus"),
    ("[bogus]\nx = 1", "bogus"),
    ("[run]\nbogus = 1", "run.bogus"),
    ("[inhouse.fostering]\nplace = 3", "inhouse.fostering.place"),
    ("[contracts.ifa]\nretainer_wekly = 3.0", "contracts.ifa.retainer_wekly"),
    ("[[policy.rules]]\nages = ['0']\nneeds = ['standard']\norder = ['kinship']\npriority = 1", "policy.rules[0].priority"),
], ids=["top", "top-table", "nested", "nested2", "nested3", "rule"])
def test_unknown_key_is_named(text, key):
    _assert_names(_error(Scenario.from_toml, text), key)
    assert "unknown key" in str(_error(Scenario.from_toml, text))


@pytest.mark.parametrize("text, key", [
    ('[run]\nyears = "ten"', "run.years"),
    ("[run]\nyears = 2.5", "run.years"),
    ("[run]\nyears = true", "run.years"),
    ('[run]\nstart_date = "1 April 2019"', "run.start_date"),
    ("[run]\nstart_date = 5", "run.start_date"),
    ('[entries]\nrate_per_year = "lots"', "entries.rate_per_year"),
    ("[entries]\nenabled = 1", "entries.enabled"),
    ("[entries]\nage_shares = 0.2", "entries.age_shares"),
    ("[entries]\nage_shares = [0.2, 0.2, 0.2, 0.2, 'x']", "entries.age_shares[4]"),
    ("name = 3", "name"),
    ("run = 3", "run"),
    ("[policy]\nrules = {order = ['ifa_spot']}", "policy.rules"),
    ("[contracts.ifa]\nretainer_weekly = 'free'", "contracts.ifa.retainer_weekly"),
])
def test_wrong_type_is_named(text, key):
    err = _error(Scenario.from_toml, text)
    _assert_names(err, key)
    assert "expected" in err.problem


@pytest.mark.parametrize("key", ["inhouse.fostering.places", "inhouse.residential.places", "inhouse.supported.places",
                                 "contracts.ifa.places", "contracts.residential.places"])
def test_negative_capacity_is_refused(key):
    err = _error(Scenario.default().replace, {key: -1})
    _assert_names(err, key)
    assert "at least 0" in err.problem


@pytest.mark.parametrize("key, value, named", [
    ("spot.ifa.tightness", 1.5, "spot.ifa.tightness"),
    ("spot.residential.out_of_area", -0.1, "spot.residential.out_of_area"),
    ("inhouse.fostering.usable_share", 1.01, "inhouse.fostering.usable_share"),
    ("contracts.ifa.retainer", 2.0, "contracts.ifa.retainer"),
    ("move_on.probability", -1.0, "move_on.probability"),
    ("kinship.probability_by_age", [0.1, 0.1, 1.2, 0.1, 0.1], "kinship.probability_by_age[2]"),
])
def test_probability_outside_unit_interval_is_refused(key, value, named):
    err = _error(Scenario.default().replace, {key: value})
    _assert_names(err, named)


def test_probability_bounds_are_inclusive():
    s = Scenario.default().replace({"spot.ifa.tightness": 1.0, "spot.supported.tightness": 0.0})
    assert s.spot.ifa.tightness == 1.0 and s.spot.supported.tightness == 0.0


@pytest.mark.parametrize("end", [dt.date(2019, 3, 31), dt.date(2019, 4, 1)], ids=["before", "same-day"])
def test_contract_ending_before_it_starts_is_named(end):
    err = _error(Scenario.default().replace, {"contracts.ifa.start": dt.date(2019, 4, 1), "contracts.ifa.end": end})
    _assert_names(err, "contracts.ifa.end")
    # and the same from a file
    text = "[contracts.ifa]\nplaces = 4\nstart = 2020-04-01\nend = 2020-01-01\n"
    _assert_names(_error(Scenario.from_toml, text), "contracts.ifa.end")


def test_contract_with_no_needs_is_named():
    _assert_names(_error(Scenario.default().replace, {"contracts.residential.needs": []}), "contracts.residential.needs")


@pytest.mark.parametrize("key, value", [
    ("entries.age_shares", [0.2, 0.2, 0.2, 0.2, 0.1]),
    ("entries.need_shares", [0.5, 0.3, 0.2, 0.1]),
    ("entries.initial_age_shares", [0.0, 0.0, 0.0, 0.0, 0.0]),
])
def test_shares_must_add_up_to_one(key, value):
    err = _error(Scenario.default().replace, {key: value})
    _assert_names(err, key)
    assert "add up to 1" in err.problem


def test_wrong_number_of_shares_is_named():
    _assert_names(_error(Scenario.default().replace, {"entries.need_shares": [0.5, 0.5]}), "entries.need_shares")


def test_policy_leaving_a_cell_uncovered_is_named():
    rules = [{"ages": ["0", "1-4", "5-9", "10-15"], "order": ["inhouse_fostering"]},
             {"ages": ["16-17"], "needs": ["standard", "moderate", "high"], "order": ["supported_spot"]}]
    err = _error(Scenario.default().replace, {"policy.rules": rules})
    _assert_names(err, "policy.rules")
    assert "'16-17'" in err.problem and "'complex'" in err.problem


def test_policy_uncovered_from_toml():
    text = "[[policy.rules]]\nages = ['0']\norder = ['inhouse_fostering']\n"
    err = _error(Scenario.from_toml, text)
    _assert_names(err, "policy.rules")
    assert "'1-4'" in err.problem


def test_unknown_option_in_policy_rules_is_named():
    rules = [{"order": ["inhouse_fostering", "ifa_spott"]}]
    err = _error(Scenario.default().replace, {"policy.rules": rules})
    _assert_names(err, "policy.rules[0].order[1]")
    assert "'ifa_spott'" in err.problem


@pytest.mark.parametrize("field, value, named", [
    ("ages", ["0", "teen"], "policy.rules[1].ages[1]"),
    ("needs", ["urgent"], "policy.rules[1].needs[0]"),
    ("order", [], "policy.rules[1].order"),
])
def test_bad_rule_fields_are_named(field, value, named):
    rules = [{"order": ["ifa_spot"]}, {field: value}]
    _assert_names(_error(Scenario.default().replace, {"policy.rules": rules}), named)


def test_unknown_policy_mode_is_named():
    _assert_names(_error(Scenario.default().replace, {"policy.mode": "random"}), "policy.mode")


def test_move_on_ages_out_of_order_are_named():
    err = _error(Scenario.default().replace, {"move_on.earliest_age": 17.0, "move_on.latest_age": 16.5})
    _assert_names(err, "move_on.latest_age")


@pytest.mark.parametrize("key, value", [
    ("run.years", 0), ("waiting.retry_days", 0.0), ("contracts.ifa.term_years", 0.0),
    ("entries.rate_per_year", float("inf")), ("entries.rate_per_year", float("nan")),
])
def test_other_limits_are_named(key, value):
    _assert_names(_error(Scenario.default().replace, {key: value}), key)


def test_malformed_toml_names_its_origin():
    err = _error(Scenario.from_toml, "[run\nyears = 3", origin="my-scenario.toml")
    # there is no key to name: the message starts with the file instead
    assert err.key == ""
    assert str(err).startswith("my-scenario.toml is not valid TOML")


def test_malformed_file_names_its_path(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("[run]\nyears = = 3\n", encoding="utf-8")
    err = _error(Scenario.load, p)
    assert str(err).startswith(f"{p} is not valid TOML")


def test_missing_file_is_a_scenario_error(tmp_path):
    p = tmp_path / "nope.toml"
    err = _error(Scenario.load, p)
    assert err.key == ""
    assert "not found" in str(err) and str(p) in str(err)
    assert isinstance(err, ValueError)


def test_folder_and_binary_files_are_scenario_errors(tmp_path):
    assert "folder" in str(_error(Scenario.load, tmp_path))
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00name")
    assert "UTF-8" in str(_error(Scenario.load, p))


def test_load_reads_a_file_with_errors_named(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('name = "small"\n[run]\nyears = 2\n', encoding="utf-8")
    s = Scenario.load(p)
    assert (s.name, s.run.years) == ("small", 2)
    assert s.run.warmup_years == Scenario.default().run.warmup_years  # missing keys: defaults
    p.write_text("[spot.ifa]\ntightness = 3\n", encoding="utf-8")
    _assert_names(_error(Scenario.load, p), "spot.ifa.tightness")


@pytest.mark.parametrize("text, section", [
    ("[inhouse.fostering]\nplaces = 150\n", ("inhouse", "fostering")),
    ("[spot.ifa]\ntightness = 0.3\n", ("spot", "ifa")),
    ("[contracts.ifa]\nplaces = 8\n", ("contracts", "ifa")),
], ids=["inhouse", "spot", "contract"])
def test_missing_keys_in_a_partial_section_take_the_rendered_default(text, section):
    """Scenario.from_dict lays the file over the default scenario: a partly given section keeps the
    default scenario's other values (e.g. [contracts.ifa] places = 8 keeps weekly_price 750)."""
    s, d = Scenario.from_toml(text), Scenario.default()
    got, want = getattr(getattr(s, section[0]), section[1]), getattr(getattr(d, section[0]), section[1])
    given = set(tomllib.loads(text)[section[0]][section[1]])
    for f in dataclasses.fields(got):
        if f.name not in given:
            assert getattr(got, f.name) == getattr(want, f.name), f"{'.'.join(section)}.{f.name}"


# --------------------------------------------------------------------------- replace / assignments


def test_replace_changes_one_value_and_leaves_the_original():
    base = Scenario.default()
    s = base.replace({"contracts.ifa.places": 8})
    assert s.contracts.ifa.places == 8
    assert base.contracts.ifa.places == 0
    assert s.differences() == {"contracts.ifa.places": (8, 0)}
    assert s.differences(s) == {}


def test_replace_sets_an_unset_optional_value():
    s = Scenario.default().replace({"contracts.ifa.end": dt.date(2024, 3, 31)})
    assert s.contracts.ifa.end_date == dt.date(2024, 3, 31)


def test_replace_whole_sections_by_keyword():
    s = Scenario.default().replace(name="option E", policy=Policy(mode="demarcated"))
    assert s.name == "option E" and s.policy.effective_rules() == POLICIES["demarcated"]


@pytest.mark.parametrize("key, named", [
    ("contracts.ifa.placez", "contracts.ifa.placez"),
    ("contracts.ifaa.places", "contracts.ifaa"),
    ("bogus", "bogus"),
    ("run.years.extra", "run.years.extra"),
])
def test_replace_unknown_dotted_key_is_named(key, named):
    err = _error(Scenario.default().replace, {key: 8})
    assert err.key == named
    assert str(err).startswith(named) and "unknown key" in str(err)


def test_replace_revalidates():
    _assert_names(_error(Scenario.default().replace, {"contracts.ifa.places": "eight"}), "contracts.ifa.places")


def test_with_assignments_parses_values():
    s = Scenario.default().with_assignments([
        "contracts.ifa.retainer=0.5",
        "contracts.ifa.places = 8",
        "contracts.ifa.start=2020-04-01",
        "contracts.ifa.needs=[\"high\", \"complex\"]",
        "name=option E",
        "policy.mode=demarcated",
    ])
    assert s.contracts.ifa.retainer == 0.5 and isinstance(s.contracts.ifa.retainer, float)
    assert s.contracts.ifa.places == 8 and isinstance(s.contracts.ifa.places, int)
    assert s.contracts.ifa.start == dt.date(2020, 4, 1)
    assert s.contracts.ifa.needs == ("high", "complex")
    assert s.name == "option E"
    assert s.policy.mode == "demarcated"


@pytest.mark.parametrize("text, value", [("false", False), ("true", True)])
def test_with_assignments_parses_booleans(text, value):
    # regression: parse_value used tomlkit's .unwrap(), which a plain bool lacks, and returned the text
    assert parse_value(text) is value
    s = Scenario.default().with_assignments([f"kinship.enabled={text}", f"breakdowns.enabled = {text}"])
    assert s.kinship.enabled is value and s.breakdowns.enabled is value


def test_parse_value_other_types():
    assert parse_value("0.5") == 0.5
    assert parse_value("8") == 8 and isinstance(parse_value("8"), int)
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("2020-04-01") == dt.date(2020, 4, 1)
    assert parse_value('"quoted text"') == "quoted text"
    assert parse_value("plain words") == "plain words"


def test_with_assignments_errors_name_the_key():
    _assert_names(_error(Scenario.default().with_assignments, ["contracts.ifa.retainer=1.5"]), "contracts.ifa.retainer")
    _assert_names(_error(Scenario.default().with_assignments, ["contracts.ifa.places"]), "contracts.ifa.places")


# --------------------------------------------------------------------------- derived properties


def test_retainer_is_the_fraction_of_the_price_by_default():
    b = BlockContract(places=4, weekly_price=800.0, retainer=0.6)
    assert b.retainer_weekly_cost == pytest.approx(480.0)


def test_fixed_retainer_replaces_the_fraction():
    assert BlockContract(weekly_price=800.0, retainer=0.6, retainer_weekly=150.0).retainer_weekly_cost == 150.0
    # a fixed retainer of zero is set, not missing
    assert BlockContract(weekly_price=800.0, retainer=0.6, retainer_weekly=0.0).retainer_weekly_cost == 0.0


def test_retainer_through_the_scenario():
    s = Scenario.default().with_assignments(["contracts.ifa.retainer=0.5"])
    assert s.contracts.ifa.retainer_weekly_cost == pytest.approx(0.5 * 750.0)
    s = s.replace({"contracts.ifa.retainer_weekly": 99.0})
    assert s.contracts.ifa.retainer_weekly_cost == 99.0


def test_contract_end_date_from_term_or_end():
    b = BlockContract(start=dt.date(2019, 4, 1), term_years=2.0)
    assert b.end_date == dt.date(2019, 4, 1) + dt.timedelta(days=730)
    assert BlockContract(start=dt.date(2019, 4, 1), term_years=2.0, end=dt.date(2020, 1, 1)).end_date == dt.date(2020, 1, 1)


@pytest.mark.parametrize("places, share, usable", [
    (178, 0.76, 135),  # 135.28
    (10, 0.55, 5),  # 5.5 -> 5: floor, not round
    (10, 0.99, 9),
    (5, 1.0, 5),
    (7, 0.0, 0),
    (0, 0.5, 0),
    (100, 0.29, 29),  # 100 * 0.29 == 28.999999999999996 in floating point: still 29 places
    (3, 1 / 3, 1),
])
def test_capacity_usable_is_floor_of_places_times_share(places, share, usable):
    assert Capacity(places=places, usable_share=share).usable == usable


def test_default_usable_places():
    assert Scenario.default().inhouse.fostering.usable == 135
    assert Scenario.default().inhouse.residential.usable == 5
