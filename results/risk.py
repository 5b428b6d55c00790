"""The risk register of a sweep: distributions, exceedance probabilities, the frontier and a pick.

Input is the tidy metrics of many scenarios (columns ``scenario, replication,
year, metric, pool, value``) and a table of the scenarios (``scenario, label,
block_places`` and one column per factor).

Definitions (also in the README):

- A replication's value of a measure is its mean over the reported years, as in
  the summary table. The quantiles P5, P10, P50, P90, P95 (numpy's linear
  interpolation) and the mean are taken across replications.
- Exceedance probabilities are shares of simulated years (replication x year):
  ``spend_over_budget``: yearly spend (``spend_total``, all) above ``budget``;
  ``wait_over_max``: some child's single wait (``max_wait_days``) longer than
  ``max_wait_days`` days; ``utilisation_under_min``: a block contract used less
  than ``min_utilisation`` in the year (only years in which a contract runs).
- The frontier: scenarios that no other scenario beats or equals on every
  frontier measure while beating on one (all measures are "lower is better").
- The appetite: constraints such as ``waiting_days.p90 <= 40``; all must hold.
  ``recommended`` is the scenario with the lowest P50 spend that meets the
  appetite (ties go to fewer block places); ``smallest_block`` is the scenario
  with the fewest block places that meets it (the lowest P50 spend among those).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.scenario import ScenarioError
from results import measures as catalogue
from results.formatting import fmt, money, num, pct

#: measure -> (label, metric, pool, unit), from the one catalogue (results/measures.py)
MEASURES: dict[str, tuple[str, str, str, str]] = {
    m.key: (m.label, m.metric, m.pool, m.unit) for m in catalogue.measures(catalogue.RISK)}
QUANTILES = catalogue.QUANTILES
STATISTICS = catalogue.STATISTICS
EXCEEDANCES: dict[str, str] = {
    "spend_over_budget": "P(yearly spend > budget)",
    "wait_over_max": "P(a child waits longer than the limit in a year)",
    "utilisation_under_min": "P(block utilisation under the minimum in a year)",
}


def exceedance_words(name: str, settings: "RiskSettings") -> str:
    """What a breach of each threshold is, in words."""
    if name == "spend_over_budget":
        return (f"spend is over the budget of {money(settings.budget)}" if settings.budget is not None
                else "spend is over budget")
    if name == "wait_over_max":
        return f"a child waits more than {settings.max_wait_days:g} days in one go"
    return f"a block is used less than {pct(settings.min_utilisation)}"


#: the metrics the register reads
METRICS_USED = sorted({m for _, m, _, _ in MEASURES.values()})
_CONSTRAINT = re.compile(r"^\s*([a-z_0-9]+)\.([a-z_0-9]+)\s*(<=|>=)\s*([-+0-9.eE_]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """One line of the risk appetite, e.g. ``waiting_days.p90 <= 40``."""

    measure: str
    statistic: str
    op: str
    limit: float

    def holds(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def __str__(self) -> str:
        return f"{self.measure}.{self.statistic} {self.op} {self.limit:g}"

    def words(self, settings: "RiskSettings | None" = None) -> str:
        """The constraint in words: "P90 of days waiting without a suitable placement at most 40 days a year"."""
        bound = "at most" if self.op == "<=" else "at least"
        if self.measure in EXCEEDANCES:
            what = exceedance_words(self.measure, settings or RiskSettings())
            return f"the chance of a year in which {what} {bound} {pct(self.limit)}"
        label, _metric, _pool, unit = MEASURES[self.measure]
        stat = {"mean": "the mean", "p50": "the median (P50)"}.get(self.statistic, "the " + self.statistic.upper())
        limit = fmt(self.limit, unit) if unit in ("GBP/year", "share") else f"{self.limit:,.10g}"
        tail = {"days/year": " days a year", "days": " days", "moves/child-year": " moves a child-year"}.get(unit, "")
        return f"{stat} of {label[0].lower() + label[1:]} {bound} {limit}{tail}"


@dataclass(frozen=True)
class RiskSettings:
    """Thresholds, appetite and frontier measures of a risk register."""

    budget: float | None = None
    max_wait_days: float = 7.0
    min_utilisation: float = catalogue.MIN_UTILISATION
    appetite: tuple[Constraint, ...] = ()
    frontier: tuple[tuple[str, str], ...] = (("spend", "p50"), ("waiting_days", "p90"))

    def to_dict(self) -> dict:
        return {"budget": self.budget, "max_wait_days": self.max_wait_days, "min_utilisation": self.min_utilisation,
                "appetite": [str(c) for c in self.appetite], "frontier": [f"{m}.{s}" for m, s in self.frontier]}

    @classmethod
    def from_dict(cls, data: dict, key: str = "risk") -> "RiskSettings":
        """Validate a ``[risk]`` table; errors name ``risk.<entry>``."""
        if not isinstance(data, dict):
            raise ScenarioError(key, f"expected a table, got {data!r}")
        allowed = {"budget", "max_wait_days", "min_utilisation", "appetite", "frontier"}
        for k in data:
            if k not in allowed:
                raise ScenarioError(f"{key}.{k}", f"unknown key (allowed here: {', '.join(sorted(allowed))})")
        out: dict = {}
        for k, lo, hi in (("budget", 0.0, math.inf), ("max_wait_days", 0.0, math.inf), ("min_utilisation", 0.0, 1.0)):
            v = data.get(k)
            if v is None:
                continue
            if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v) or not lo <= v <= hi:
                raise ScenarioError(f"{key}.{k}", f"expected a number from {lo:g} to {hi:g}, got {v!r}")
            out[k] = float(v)
        appetite = data.get("appetite", [])
        if isinstance(appetite, str):
            appetite = [appetite]
        if not isinstance(appetite, list):
            raise ScenarioError(f"{key}.appetite", f"expected a list like [\"waiting_days.p90 <= 40\"], got {appetite!r}")
        out["appetite"] = tuple(parse_constraint(c, f"{key}.appetite") for c in appetite)
        if data.get("frontier") is not None:
            f = data["frontier"]
            if not isinstance(f, list) or len(f) < 2:
                raise ScenarioError(f"{key}.frontier", f"expected two or more measures like [\"spend.p50\", \"waiting_days.p90\"], got {f!r}")
            out["frontier"] = tuple(parse_measure(m, f"{key}.frontier") for m in f)
        return cls(**out)


def parse_measure(text, key: str) -> tuple[str, str]:
    """``"spend.p50"`` -> ("spend", "p50"), checked against the known measures."""
    if not isinstance(text, str) or "." not in text:
        raise ScenarioError(key, f"expected \"<measure>.<statistic>\", got {text!r}")
    measure, statistic = text.strip().split(".", 1)
    _check(measure, statistic, key, text)
    return measure, statistic


def parse_constraint(text, key: str) -> Constraint:
    """``"waiting_days.p90 <= 40"`` -> a :class:`Constraint`."""
    m = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if not m:
        raise ScenarioError(key, f"expected \"<measure>.<statistic> <= <number>\" (or >=), got {text!r}")
    measure, statistic, op, number = m.groups()
    _check(measure, statistic, key, text)
    try:
        limit = float(number.replace("_", ""))
    except ValueError:
        raise ScenarioError(key, f"{number!r} is not a number, in {text!r}") from None
    return Constraint(measure, statistic, op, limit)


def _check(measure: str, statistic: str, key: str, text: str) -> None:
    if measure in MEASURES:
        if statistic not in STATISTICS:
            raise ScenarioError(key, f"{text!r}: the statistic must be one of {', '.join(STATISTICS)}")
    elif measure in EXCEEDANCES:
        if statistic != "probability":
            raise ScenarioError(key, f"{text!r}: the statistic of {measure} is `probability`")
    else:
        raise ScenarioError(key, f"{text!r}: unknown measure {measure!r} (one of {', '.join([*MEASURES, *EXCEEDANCES])})")


# --------------------------------------------------------------------------- computation


def _rows(metrics: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Rows of one measure; the block utilisation of all markets counts as pool ``blocks``."""
    _, metric, pool, _ = MEASURES[measure]
    sub = metrics[metrics.metric == metric]
    if pool != "blocks":
        sub = sub[sub.pool == pool]
    return sub[~sub.value.isna()]


def per_replication(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each scenario's and replication's mean over years of each measure: ``scenario, replication, measure, value``."""
    parts = []
    for measure in MEASURES:
        sub = _rows(metrics, measure)
        if sub.empty:
            continue
        g = sub.groupby(["scenario", "replication"], observed=True).value.mean().reset_index()
        parts.append(g.assign(measure=measure))
    if not parts:
        return pd.DataFrame(columns=["scenario", "replication", "measure", "value"])
    return pd.concat(parts, ignore_index=True)[["scenario", "replication", "measure", "value"]]


def quantiles(per_rep: pd.DataFrame) -> pd.DataFrame:
    """P5, P10, P50, P90, P95 and the mean across replications: ``scenario, measure, statistic, value, n``."""
    rows = []
    for (scenario, measure), g in per_rep.groupby(["scenario", "measure"], observed=True, sort=True):
        v = g.value.to_numpy(dtype=float)
        for name, q in QUANTILES.items():
            rows.append((scenario, measure, name, float(np.percentile(v, q)), len(v)))
        rows.append((scenario, measure, "mean", float(v.mean()), len(v)))
    return pd.DataFrame(rows, columns=["scenario", "measure", "statistic", "value", "n"])


def exceedance(metrics: pd.DataFrame, settings: RiskSettings) -> pd.DataFrame:
    """Shares of replication-years beyond each threshold: ``scenario, measure, statistic, value, n``."""
    rows = []

    def share(sub: pd.DataFrame, name: str, breach) -> None:
        for scenario, g in sub.groupby("scenario", observed=True, sort=True):
            rows.append((scenario, name, "probability", float(breach(g.value.to_numpy(dtype=float)).mean()), len(g)))

    if settings.budget is not None:
        share(_rows(metrics, "spend"), "spend_over_budget", lambda v: v > settings.budget)
    share(_rows(metrics, "max_wait_days"), "wait_over_max", lambda v: v > settings.max_wait_days)
    util = _rows(metrics, "block_utilisation")
    if not util.empty:  # the worst block of each replication-year
        worst = util.groupby(["scenario", "replication", "year"], observed=True).value.min().reset_index()
        share(worst, "utilisation_under_min", lambda v: v < settings.min_utilisation)
    return pd.DataFrame(rows, columns=["scenario", "measure", "statistic", "value", "n"])


def by_year(metrics: pd.DataFrame, measure: str = "spend") -> pd.DataFrame:
    """Quantiles across replications of a measure, year by year (for fan charts)."""
    sub = _rows(metrics, measure)
    rows = []
    for (scenario, year), g in sub.groupby(["scenario", "year"], observed=True, sort=True):
        v = g.value.to_numpy(dtype=float)
        for name, q in QUANTILES.items():
            rows.append((scenario, int(year), measure, name, float(np.percentile(v, q))))
    return pd.DataFrame(rows, columns=["scenario", "year", "measure", "statistic", "value"])


def pareto(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (n, k) that no other row dominates (lower is better in every column).

    A row with a missing value is never on the frontier. Rows with equal values are all kept.
    """
    values = np.asarray(values, dtype=float)
    ok = ~np.isnan(values).any(axis=1)
    on = ok.copy()
    for i in np.flatnonzero(ok):
        others = values[ok]
        dominated = (others <= values[i]).all(axis=1) & (others < values[i]).any(axis=1)
        on[i] = not dominated.any()
    return on


@dataclass
class Register:
    """The risk register: a tidy table, one row per scenario (``wide``), year-by-year spend and the picks."""

    tidy: pd.DataFrame
    wide: pd.DataFrame
    yearly: pd.DataFrame
    settings: RiskSettings
    factors: list[str] = field(default_factory=list)

    def pick(self, flag: str) -> pd.Series | None:
        hit = self.wide[self.wide[flag]]
        return None if hit.empty else hit.iloc[0]


def register(metrics: pd.DataFrame, scenarios: pd.DataFrame, settings: RiskSettings,
             factors: list[str] | None = None) -> Register:
    """Build the register from tidy metrics and the scenario table (``scenario, label, block_places, <factors>``)."""
    factors = list(factors or [])
    scenarios = sort_scenarios(scenarios, factors)
    stats = pd.concat([quantiles(per_replication(metrics)), exceedance(metrics, settings)], ignore_index=True)
    stats["unit"] = [MEASURES[m][3] if m in MEASURES else "probability" for m in stats.measure]

    wide = scenarios.set_index("scenario").copy()
    pivot = stats.assign(col=stats.measure + "." + stats.statistic).pivot(index="scenario", columns="col", values="value")
    wide = wide.join(pivot, how="left")

    columns = [f"{m}.{s}" for m, s in settings.frontier]
    for c in columns:
        if c not in wide:
            wide[c] = np.nan
    wide["on_frontier"] = pareto(wide[columns].to_numpy(dtype=float)) if len(wide) else []
    meets = np.ones(len(wide), dtype=bool)
    for c in settings.appetite:
        col = f"{c.measure}.{c.statistic}"
        vals = wide[col] if col in wide else pd.Series(np.nan, index=wide.index)
        meets &= np.array([c.holds(v) for v in vals], dtype=bool)
    wide["meets_appetite"] = meets
    spend = wide["spend.p50"] if "spend.p50" in wide else pd.Series(np.nan, index=wide.index)
    wide["recommended"] = False
    wide["smallest_block"] = False
    candidates = wide[wide.meets_appetite & spend.notna()]
    if not candidates.empty:
        c = candidates.assign(_spend=spend[candidates.index])
        best = c.sort_values(["_spend", "block_places", "label"], kind="stable").index[0]
        smallest = c.sort_values(["block_places", "_spend", "label"], kind="stable").index[0]
        wide.loc[best, "recommended"] = True
        wide.loc[smallest, "smallest_block"] = True
    wide = wide.reset_index()

    keep = ["scenario", "label", *factors, "block_places"]
    flags = wide[["scenario", "on_frontier", "meets_appetite", "recommended", "smallest_block"]]
    tidy = (stats.merge(wide[keep], on="scenario", how="left").merge(flags, on="scenario", how="left")
            [[*keep, "measure", "statistic", "value", "unit", "n", "on_frontier", "meets_appetite", "recommended", "smallest_block"]])
    order = {s: i for i, s in enumerate(scenarios.scenario)}
    m_order = {m: i for i, m in enumerate([*MEASURES, *EXCEEDANCES])}
    s_order = {s: i for i, s in enumerate([*STATISTICS, "probability"])}
    tidy = tidy.sort_values(["scenario", "measure", "statistic"],
                            key=lambda col: col.map({"scenario": order, "measure": m_order, "statistic": s_order}[col.name]),
                            kind="stable").reset_index(drop=True)
    yearly = by_year(metrics).merge(scenarios[["scenario", "label"]], on="scenario", how="left")
    return Register(tidy, wide, yearly, settings, factors)


def factor_order(values) -> list:
    """Distinct factor values in reading order: numbers numerically (0, 4, 8, 12, 16, never
    0, 12, 16, 4, 8), anything else in the order first seen."""
    seen = list(dict.fromkeys(values))
    numeric = [v for v in seen if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
    if len(numeric) == len(seen):
        return sorted(seen, key=float)
    return seen


def sort_scenarios(scenarios: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """The scenario table ordered by its factors, the first factor slowest, each in :func:`factor_order`."""
    if not factors or scenarios.empty:
        return scenarios.reset_index(drop=True)
    rank = {f: {v: i for i, v in enumerate(factor_order(scenarios[f].tolist()))} for f in factors if f in scenarios}
    keys = [scenarios[f].map(lambda v, r=r: r.get(v, len(r))) for f, r in rank.items()]
    order = np.lexsort([k.to_numpy() for k in reversed(keys)]) if keys else np.arange(len(scenarios))
    return scenarios.iloc[order].reset_index(drop=True)


def short_names(keys: list[str]) -> dict[str, str]:
    """The last part of each dotted key, or the whole key where the last parts clash."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


# --------------------------------------------------------------------------- text


def risk_words(settings: RiskSettings) -> list[str]:
    """The thresholds and the appetite of a register, each in a sentence."""
    out = [f"Budget: {money(settings.budget)} a year." if settings.budget is not None else "No budget was set.",
           f"A wait counts as a breach when a child waits more than {settings.max_wait_days:g} days in one go.",
           f"A block counts as under-used in a year when less than {pct(settings.min_utilisation)} of its places are filled."]
    if settings.appetite:
        out += [f"Risk appetite: {c.words(settings)}." for c in settings.appetite]
    else:
        out.append("No risk appetite was set: every scenario meets it.")
    return out


def format_register(reg: Register, failures: list[dict] | None = None) -> str:
    """The register as a plain-text table for the terminal and ``risk.txt``."""
    w, s = reg.wide, reg.settings
    def _money(x):
        return money(x, compact=True)

    cols = [("spend.p50", "P50 spend", _money), ("spend.p90", "P90 spend", _money),
            ("spend_over_budget.probability", "P(>budget)", pct), ("voids.p50", "P50 voids", money),
            ("waiting_days.p90", "P90 wait d", lambda x: num(x, 1)),
            ("wait_over_max.probability", f"P(wait>{s.max_wait_days:g}d)", pct),
            ("moves.p50", "P50 moves", num), ("share_3plus.p50", "P50 3+", lambda x: pct(x, 1)),
            ("utilisation_under_min.probability", f"P(util<{100 * s.min_utilisation:.0f}%)", pct)]
    cols = [c for c in cols if c[0] in w]
    width = max([len("scenario")] + [len(x) for x in w.label]) + 2
    head = f"  {'scenario':{width}}" + "".join(f"{h:>14}" for _, h, _ in cols) + "  marks"
    lines = [f"Risk register: {len(w)} scenarios; quantiles across replications of yearly means; "
             f"probabilities over replication-years", "", head]
    for row in w.to_dict("records"):
        marks = ("F" if row["on_frontier"] else "-") + ("A" if row["meets_appetite"] and s.appetite else "-") + \
                ("R" if row["recommended"] else "-")
        lines.append(f"  {row['label']:{width}}" + "".join(f"{f(row[c]):>14}" for c, _, f in cols) + f"  {marks}")
    lines += ["", "marks: F on the frontier (" + ", ".join(f"{m}.{st}" for m, st in s.frontier) + ", lower is better); "
              "A meets the risk appetite; R recommended"]
    budget = f"budget £{s.budget:,.0f} a year; " if s.budget is not None else "no budget set; "
    lines.append(f"thresholds: {budget}a child waiting more than {s.max_wait_days:g} days; block utilisation under "
                 f"{100 * s.min_utilisation:.0f}%")
    if s.appetite:
        lines.append("risk appetite: " + "; ".join(c.words(s) for c in s.appetite))
    rec, small = reg.pick("recommended"), reg.pick("smallest_block")
    if rec is None:
        lines.append("No scenario meets the risk appetite." if s.appetite else "")
    else:
        what = "that meets the risk appetite" if s.appetite else "(no risk appetite set)"
        lines.append(f"Recommended, the lowest P50 spend {what}: {rec.label} ({int(rec.block_places)} block places), "
                     f"P50 spend {_money(rec['spend.p50'])}")
        if small is not None and small.scenario != rec.scenario:
            lines.append(f"Smallest block {what}: {small.label} ({int(small.block_places)} block places), "
                         f"P50 spend {_money(small['spend.p50'])}, {money(small['spend.p50'] - rec['spend.p50'])} a year more")
        elif small is not None:
            lines.append("It is also the smallest block that meets the appetite.")
    if failures:
        lines += ["", f"{len(failures)} run(s) failed and are left out:"]
        for f in failures[:20]:
            lines.append(f"  {f['run_id']} ({f.get('label', '')}, replication {f['replication']}): {f['error']}")
        if len(failures) > 20:
            lines.append(f"  ... and {len(failures) - 20} more (see failures/)")
    return "\n".join(line for line in lines).rstrip() + "\n"
