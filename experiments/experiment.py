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

:func:`load_experiment` validates all of it, and builds every scenario of the
grid, before anything runs. Problems raise :class:`ExperimentError` (a
:class:`~models.scenario.ScenarioError`) naming the key and the value.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.catalogue import MARKETS
from models.scenario import Scenario, ScenarioError
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
                "factors": self.factors, "risk": self.risk.to_dict(),
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
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ExperimentError("", f"{path} is not valid TOML: {e}") from None
    return experiment_from_dict(data, root=path.parent, source=text)


def experiment_from_dict(data: dict, root: Path | None = None, source: str = "") -> Experiment:
    allowed = {"name", "replications", "seed", "base", "factors", "risk"}
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

    factors = _factors(data.get("factors", {}), base)
    risk = _risk(data.get("risk", {}))
    points = build_points(base, factors)
    return Experiment(name=name, base=base, factors=factors, replications=replications, risk=risk,
                      points=points, source=source)


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


def _grid(key: str, spec: dict) -> list[Any]:
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
    if n > 10_000:
        raise ExperimentError(f"factors.{key}", f"a grid of {n} values is too large")
    if all(isinstance(v, int) for v in (lo, hi, step)):
        return [lo + i * step for i in range(n)]
    return [round(lo + i * step, 12) for i in range(n)]


def _factors(table: Any, base: Scenario) -> dict[str, list[Any]]:
    if not isinstance(table, dict):
        raise ExperimentError("factors", f"expected a table of dotted keys, got {table!r}")
    is_grid = lambda v: isinstance(v, dict) and bool(v) and set(v) <= GRID_KEYS  # noqa: E731
    flat = _flatten(table, leaf=lambda v: not isinstance(v, dict) or is_grid(v))
    factors: dict[str, list[Any]] = {}
    for key, spec in flat.items():
        if key in RESERVED_FACTORS:
            raise ExperimentError(f"factors.{key}", RESERVED_FACTORS[key])
        if is_grid(spec):
            values = _grid(key, spec)
        elif isinstance(spec, list):
            values = list(spec)
        else:
            raise ExperimentError(f"factors.{key}", f"expected a list of values or a grid {{from, to, step}}, got {spec!r}")
        if not values:
            raise ExperimentError(f"factors.{key}", "needs at least one value")
        coerced = []
        for value in values:
            # each value alone must make a valid scenario: names the key and the value
            try:
                s = base.replace({key: value})
            except ScenarioError as e:
                raise ExperimentError(e.key or key, f"{e.problem} (factor {key} = {value!r})") from None
            coerced.append(_get(s.to_dict(), key))
        if len(set(map(repr, coerced))) != len(coerced):
            raise ExperimentError(f"factors.{key}", f"values repeat: {values!r}")
        factors[key] = coerced
    return factors


def _get(data: dict, key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def build_points(base: Scenario, factors: dict[str, list[Any]]) -> list[Point]:
    """Every combination of the factor values (full factorial), each validated as a whole scenario."""
    keys = list(factors)
    names = short_names(keys)
    points = []
    for combo in itertools.product(*(factors[k] for k in keys)):
        overrides = dict(zip(keys, combo))
        label = ", ".join(f"{names[k]}={_fmt_value(v)}" for k, v in overrides.items()) or "base"
        try:
            scenario = base.replace({**overrides, "name": label})
        except ScenarioError as e:
            raise ExperimentError(e.key, f"{e.problem} (in the scenario {label})") from None
        points.append(Point(scenario_id(overrides), overrides, label, scenario))
    return points


def _risk(table: Any) -> RiskSettings:
    try:
        return RiskSettings.from_dict(table)
    except ExperimentError:
        raise
    except ScenarioError as e:
        raise ExperimentError(e.key, e.problem) from None
