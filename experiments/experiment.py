"""Experiment files: a base scenario, factors to vary, replications, a seed, and risk thresholds.

An experiment file is TOML::

    name = "IFA block size x retainer"
    replications = 20
    seed = 20190401                  # optional: the base scenario's run.seed

    [base]
    scenario = "default"             # or a scenario file, relative to this file
    set = { "run.years" = 5 }        # optional overrides of the base, dotted keys

    [factors]                        # full factorial over every listed value
    "contracts.ifa.places" = [0, 2, 4, 6, 8]
    "contracts.ifa.retainer" = { from = 0.0, to = 1.0, step = 0.25 }

    [risk]
    budget = 9_500_000               # GBP a year
    max_wait_days = 7                # a child waiting longer than this is a breach
    min_utilisation = 0.7            # a block used less than this is a breach
    appetite = ["waiting_days.p90 <= 40"]
    frontier = ["spend.p50", "waiting_days.p90"]

    [limits]                         # optional: raise the size limits below
    scenarios = 20_000               # default MAX_SCENARIOS
    runs = 400_000                   # scenarios x replications, default MAX_RUNS

:func:`load_experiment` validates all of it, and builds every scenario of the
grid, before anything runs. A grid larger than the limits is refused before any
scenario is built. Problems raise :class:`ExperimentError` (a
:class:`~models.scenario.ScenarioError`) naming the key and the value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.catalogue import MARKETS
from models.scenario import Scenario, ScenarioError
from models.schema import load_toml
from results.risk import RiskSettings, short_names

#: keys a factor may not vary: the experiment sets them for every scenario
RESERVED_FACTORS = {
    "run.seed": "every scenario uses the experiment's seed (common random numbers); set `seed` instead",
    "run.replications": "set `replications` in the experiment instead",
    "name": "scenario names are made from the factor values",
    **{k: "every scenario of a sweep is reported over the same period, so they compare year for year; "
          "set it in [base] set instead" for k in ("run.years", "run.start_date", "run.warmup_years")},
}
GRID_KEYS = {"from", "to", "step"}

#: the most scenarios (combinations of factor values) an experiment may have, unless [limits] scenarios raises it
MAX_SCENARIOS = 10_000
#: the most runs (scenarios x replications), unless [limits] runs raises it
MAX_RUNS = 200_000
LIMIT_KEYS = {"scenarios": MAX_SCENARIOS, "runs": MAX_RUNS}


class ExperimentError(ScenarioError):
    """An experiment file, or a sweep folder, that cannot be used. ``key`` names the entry."""


@dataclass(frozen=True)
class Point:
    """One scenario of the grid: its stable id, the factor values that make it, and the scenario."""

    id: str
    overrides: dict[str, Any]
    label: str
    scenario: Scenario


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario of the grid and a replication number."""

    run_id: str
    scenario_id: str
    replication: int


@dataclass
class Experiment:
    name: str
    base: Scenario
    factors: dict[str, list[Any]]
    replications: int
    risk: RiskSettings
    points: list[Point] = field(default_factory=list)
    source: str = ""  # the experiment file's text, kept in the sweep folder
    root: Path | None = None  # the folder a base scenario file is relative to
    limits: dict[str, int] = field(default_factory=lambda: dict(LIMIT_KEYS))

    @property
    def seed(self) -> int:
        return self.base.run.seed

    def runs(self) -> list[RunSpec]:
        """Every scenario x replication, scenario by scenario."""
        return [RunSpec(run_id(p.id, r), p.id, r) for p in self.points for r in range(self.replications)]

    def point(self, scenario_id: str) -> Point:
        return next(p for p in self.points if p.id == scenario_id)

    def fingerprint(self) -> str:
        """Hash of everything that decides the runs' results: base scenario, factor values, replications.

        The risk thresholds are left out, so they can change without invalidating the runs.
        """
        blob = json.dumps({"base": self.base.to_dict(), "factors": [[k, v] for k, v in self.factors.items()],
                           "replications": self.replications}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> dict:
        return {"name": self.name, "replications": self.replications, "seed": self.seed,
                "factors": self.factors, "risk": self.risk.to_dict(), "limits": self.limits,
                "scenarios": [{"id": p.id, "label": p.label, "overrides": p.overrides, "block_places": block_places(p.scenario)}
                              for p in self.points]}


def block_places(scenario: Scenario) -> int:
    """Block places reserved across all markets."""
    return sum(getattr(scenario.contracts, m).places for m in MARKETS)


def scenario_id(overrides: dict[str, Any]) -> str:
    """A stable id for a scenario of the grid: a hash of its dotted overrides (order does not matter)."""
    blob = json.dumps(sorted(overrides.items()), default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def run_id(scenario: str, replication: int) -> str:
    return f"{scenario}-r{replication:04d}"


# --------------------------------------------------------------------------- loading


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file, and build every scenario of its grid."""
    path = Path(path)
    if not path.exists():
        raise ExperimentError("", f"experiment file not found: {path}")
    if path.is_dir():
        raise ExperimentError("", f"experiment path is a folder, not a file: {path}")
    return experiment_from_text(path.read_bytes(), root=path.parent, origin=str(path))


def experiment_from_text(raw: bytes | str, root: Path | None = None, origin: str = "experiment") -> Experiment:
    """Parse and validate the text of an experiment file (``origin`` names it in messages).

    A UTF-8 byte-order mark at the start is accepted; text that is not UTF-8 is refused.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ExperimentError("", f"{origin} is not a UTF-8 text file (byte {e.start} is {raw[e.start]:#04x})") from None
    else:
        text = raw.removeprefix("\ufeff")
    try:
        data = load_toml(text, origin)
    except ScenarioError as e:
        raise ExperimentError(e.key, e.problem) from None
    try:
        return experiment_from_dict(data, root=root, source=text)
    except RecursionError:
        raise ExperimentError("", f"{origin}: tables nested too deeply") from None


def experiment_from_dict(data: dict, root: Path | None = None, source: str = "") -> Experiment:
    allowed = {"name", "replications", "seed", "base", "factors", "risk", "limits"}
    _no_unknown(data, allowed, "")
    name = data.get("name", "experiment")
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError("name", f"expected a non-empty string, got {name!r}")

    base = _base(data.get("base", {}), root or Path("."))
    replications = data.get("replications", base.run.replications)
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise ExperimentError("replications", f"expected a whole number of at least 1, got {replications!r}")
    seed = data.get("seed", base.run.seed)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ExperimentError("seed", f"expected a whole number of at least 0, got {seed!r}")
    base = base.replace({"run.seed": seed, "run.replications": replications})
    limits = _limits(data.get("limits", {}))

    specs = _factor_specs(data.get("factors", {}), limits["scenarios"])
    _check_size(specs, replications, limits)  # before any scenario is built
    factors, typed = _factors(specs, base)
    risk = _risk(data.get("risk", {}))
    points = build_points(base, factors, typed)
    return Experiment(name=name, base=base, factors=factors, replications=replications, risk=risk,
                      points=points, source=source, root=root, limits=limits)


def _limits(table: Any) -> dict[str, int]:
    _no_unknown(table, set(LIMIT_KEYS), "limits")
    limits = dict(LIMIT_KEYS)
    for key, value in table.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ExperimentError(f"limits.{key}", f"expected a whole number of at least 1, got {value!r}")
        limits[key] = value
    return limits


def _check_size(specs: dict[str, list[Any]], replications: int, limits: dict[str, int]) -> None:
    """Refuse a grid with more scenarios, or more runs, than the limits, naming both numbers."""
    sizes = [len(v) for v in specs.values()]
    n = math.prod(sizes)
    if n > limits["scenarios"]:
        raise ExperimentError("factors", f"{' x '.join(map(str, sizes))} values make {n:,} scenarios, more than the limit "
                                         f"of {limits['scenarios']:,} scenarios; use fewer values, or raise the limit with "
                                         f"`scenarios = {n}` under [limits] in the experiment file")
    runs = n * replications
    if runs > limits["runs"]:
        raise ExperimentError("replications", f"{n:,} scenarios x {replications:,} replications make {runs:,} runs, more "
                                              f"than the limit of {limits['runs']:,} runs; use fewer, or raise the limit "
                                              f"with `runs = {runs}` under [limits] in the experiment file")


def _no_unknown(table: dict, allowed: set[str], prefix: str) -> None:
    if not isinstance(table, dict):
        raise ExperimentError(prefix, f"expected a table, got {table!r}")
    for key in table:
        if key not in allowed:
            full = f"{prefix}.{key}" if prefix else key
            raise ExperimentError(full, f"unknown key (allowed here: {', '.join(sorted(allowed))})")


def _flatten(table: dict, prefix: str = "", leaf=lambda v: not isinstance(v, dict)) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if leaf(v):
            out[key] = v
        else:
            out.update(_flatten(v, key, leaf))
    return out


def _base(table: Any, root: Path) -> Scenario:
    _no_unknown(table, {"scenario", "set"}, "base")
    ref = table.get("scenario", "default")
    if not isinstance(ref, str):
        raise ExperimentError("base.scenario", f"expected \"default\" or a scenario file, got {ref!r}")
    try:
        scenario = Scenario.default() if ref == "default" else Scenario.load(root / ref)
    except ScenarioError as e:
        raise ExperimentError(f"base.scenario{'.' + e.key if e.key else ''}", f"{ref}: {e.problem}") from None
    overrides = table.get("set", {})
    if not isinstance(overrides, dict):
        raise ExperimentError("base.set", f"expected a table of dotted keys, got {overrides!r}")
    for key, value in _flatten(overrides).items():
        try:
            scenario = scenario.replace({key: value})
        except ScenarioError as e:
            raise ExperimentError(e.key or key, f"{e.problem} (base.set {key} = {value!r})") from None
    return scenario


def _grid(key: str, spec: dict, max_values: int) -> list[Any]:
    unknown = set(spec) - GRID_KEYS
    if unknown or not {"from", "to"} <= set(spec):
        raise ExperimentError(f"factors.{key}", f"a grid needs `from` and `to` (and optionally `step`), got {spec!r}")
    lo, hi, step = spec["from"], spec["to"], spec.get("step", 1)
    for k, v in (("from", lo), ("to", hi), ("step", step)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ExperimentError(f"factors.{key}.{k}", f"expected a number, got {v!r}")
    if step <= 0 or hi < lo:
        raise ExperimentError(f"factors.{key}", f"a grid needs step > 0 and to >= from, got {spec!r}")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n > max_values:
        raise ExperimentError(f"factors.{key}", f"a grid of {n:,} values makes more scenarios than the limit of "
                                                f"{max_values:,}; use a larger step, or raise the limit with "
                                                f"`scenarios = {n}` under [limits] in the experiment file")
    if all(isinstance(v, int) for v in (lo, hi, step)):
        return [lo + i * step for i in range(n)]
    return [round(lo + i * step, 12) for i in range(n)]


def _factor_specs(table: Any, max_values: int) -> dict[str, list[Any]]:
    """Each factor's values as written (grids spelled out), before any is checked against the scenario."""
    if not isinstance(table, dict):
        raise ExperimentError("factors", f"expected a table of dotted keys, got {table!r}")
    is_grid = lambda v: isinstance(v, dict) and bool(v) and set(v) <= GRID_KEYS  # noqa: E731
    flat = _flatten(table, leaf=lambda v: not isinstance(v, dict) or is_grid(v))
    specs: dict[str, list[Any]] = {}
    for key, spec in flat.items():
        if key in RESERVED_FACTORS:
            raise ExperimentError(f"factors.{key}", RESERVED_FACTORS[key])
        if is_grid(spec):
            values = _grid(key, spec, max_values)
        elif isinstance(spec, list):
            values = list(spec)
        else:
            raise ExperimentError(f"factors.{key}", f"expected a list of values or a grid {{from, to, step}}, got {spec!r}")
        if not values:
            raise ExperimentError(f"factors.{key}", "needs at least one value")
        specs[key] = values
    return specs


def _factors(specs: dict[str, list[Any]], base: Scenario) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Check each factor's values once, each alone against the base scenario.

    Returns the values as plain TOML data (for the manifest and the ids) and as the scenario holds them.
    """
    factors: dict[str, list[Any]] = {}
    typed: dict[str, list[Any]] = {}
    for key, values in specs.items():
        coerced, held = [], []
        for value in values:
            # each value alone must make a valid scenario: names the key and the value
            try:
                s = base.replace({key: value})
            except ScenarioError as e:
                raise ExperimentError(e.key or key, f"{e.problem} (factor {key} = {value!r})") from None
            coerced.append(_get(s.to_dict(), key))
            held.append(_attr(s, key))
        if len(set(map(repr, coerced))) != len(coerced):
            raise ExperimentError(f"factors.{key}", f"values repeat: {values!r}")
        factors[key] = coerced
        typed[key] = held
    return factors, typed


def _get(data: dict, key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


def _attr(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def build_points(base: Scenario, factors: dict[str, list[Any]], typed: dict[str, list[Any]] | None = None) -> list[Point]:
    """Every combination of the factor values (full factorial), each validated as a whole scenario.

    ``typed`` holds the same values as the scenario holds them, each already checked alone (see
    :func:`_factors`). Then a combination is built from the base by replacing only the sections on
    the factors' paths, all at once, so every section on the way checks itself again (a contract's
    dates, shares adding up, the scenario's own checks) without rebuilding the rest of the scenario.
    That is the same scenario, and the same errors, as ``base.replace``, checked on the first and the
    last combination; if they ever differ, every combination is built by ``base.replace``.
    """
    keys = list(factors)
    names = short_names(keys)
    if typed is None:
        typed = {k: [_attr(base.replace({k: v}), k) for v in vals] for k, vals in factors.items()}
    fast = _can_assemble(base, keys)
    n = math.prod(len(factors[k]) for k in keys)
    points = []
    combos = zip(itertools.product(*(factors[k] for k in keys)), itertools.product(*(typed[k] for k in keys)))
    for i, (combo, held) in enumerate(combos):
        overrides = dict(zip(keys, combo))
        label = ", ".join(f"{names[k]}={_fmt_value(v)}" for k, v in overrides.items()) or "base"
        slow = lambda: base.replace({**overrides, "name": label})  # noqa: E731
        try:
            if not fast:
                scenario = slow()
            else:
                try:
                    scenario = _assemble(base, dict(zip(keys, held)), label)
                except ScenarioError:
                    scenario = slow()  # the schema's own message for this combination
                    fast = False  # the two ways disagree: build every combination the slow way
                if fast and i in (0, n - 1) and slow() != scenario:
                    fast = False
                    scenario = slow()
        except ScenarioError as e:
            raise ExperimentError(e.key, f"{e.problem} (in the scenario {label})") from None
        points.append(Point(scenario_id(overrides), overrides, label, scenario))
    return points


class _Changes(dict):
    """The changes to one section of a scenario: field name -> new value or nested _Changes."""


def _can_assemble(base: Scenario, keys: list[str]) -> bool:
    """Whether every factor is a field of a section (so the fast build applies), none inside another."""
    for key in keys:
        node: Any = base
        *path, leaf = key.split(".")
        for part in path:
            node = getattr(node, part, None)
            if not dataclasses.is_dataclass(node):
                return False
        if not dataclasses.is_dataclass(node) or leaf not in {f.name for f in dataclasses.fields(node)}:
            return False
        if any(other.startswith(key + ".") for other in keys):
            return False
    return True


def _assemble(base: Scenario, values: dict[str, Any], name: str) -> Scenario:
    tree = _Changes()
    for key, value in values.items():
        node = tree
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, _Changes())
        node[leaf] = value
    tree["name"] = name
    return _apply(base, tree, "")


def _apply(obj: Any, changes: _Changes, prefix: str) -> Any:
    kwargs = {}
    for name, change in changes.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _apply(getattr(obj, name), change, key) if isinstance(change, _Changes) else change
    try:
        return dataclasses.replace(obj, **kwargs)
    except ScenarioError as e:  # a section's own check: name it as the schema does
        if prefix and not e.key.startswith(prefix):
            raise ScenarioError(f"{prefix}.{e.key}" if e.key else prefix, e.problem) from None
        raise


def _risk(table: Any) -> RiskSettings:
    try:
        return RiskSettings.from_dict(table)
    except ExperimentError:
        raise
    except ScenarioError as e:
        raise ExperimentError(e.key, e.problem) from None
