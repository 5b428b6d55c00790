"""Options appraisal: the council's commissioning options A-E, static arithmetic against simulation.

Seed 002 (section 10) appraises options A-E for three phases: fostering, 16+
semi-independent accommodation and residential care. It prices each with static
arithmetic: average weekly cost x placements x 52 at 2019/20 volumes. This module
reproduces that arithmetic (the *static check*), then runs each option's preset
(``experiments/presets/<phase>_<letter>.toml``, a partial scenario laid over the
default authority) under common random numbers: replication k of every option uses
the same seeds, so every option meets the same children. It reports the spread of
spend the arithmetic hides, what the options do to stability and sufficiency, and
the chance that an option costs 10% or more above its static figure.

Runs go through the sweep's process pool (:func:`experiments.sweep.run_task`), and
the paired differences against option A through :func:`experiments.compare.paired_table`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from experiments.compare import check_like_for_like, paired_table
from experiments.runner import _pkg, version
from experiments.sweep import Outcome, Task, _local, _serial
from models.scenario import Scenario, ScenarioError
from results import measures as catalogue
from results.formatting import money, pct
from results.risk import quantiles
from results.store import write_json, write_parquet, write_year_tables

PRESETS = Path(__file__).parent / "presets"
LETTERS = ("A", "B", "C", "D", "E")
WEEKS_PER_YEAR = 52  # the appraisal's static method: weekly cost x placements x 52

#: phase -> (title, the pools whose spend the static check prices)
PHASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fostering": ("Fostering", ("kinship", "inhouse_fostering", "ifa")),
    "16plus": ("16+ supported accommodation", ("supported",)),
    "residential": ("Residential", ("residential",)),
}
#: how far above the static figure counts as an overrun
OVERRUN = 1.10
MIN_UTILISATION = catalogue.MIN_UTILISATION


class AppraisalError(ScenarioError):
    """An appraisal that cannot run: an unknown phase, a missing preset, a failed run."""


@dataclass(frozen=True)
class StaticLine:
    """One line of the appraisal's arithmetic: placements at an average weekly cost, for 52 weeks."""

    what: str
    placements: int
    weekly_cost: float
    source: str

    @property
    def cost(self) -> float:
        return self.placements * self.weekly_cost * WEEKS_PER_YEAR


def _line(what: str, placements: int, weekly: float, source: str) -> StaticLine:
    return StaticLine(what, placements, weekly, source)


_F = "Placements Commissioning Strategy 5.2 and 10.1: 236 fostering placements in 2019/20"
#: The static check of each option: the appraisal's own volumes and average weekly costs (9.1, 10.1-10.3).
STATIC: dict[str, tuple[StaticLine, ...]] = {
    "fostering_A": (_line("in-house incl. family and friends, as-is share", 143, 357.0, _F + "; 131 of 216 in-house at 31/03/2018 (5.2)"),
                    _line("IFA, as-is share", 93, 825.0, "85 of 216 IFA at 31/03/2018 (5.2); GBP 825 (9.1)")),
    "fostering_B": (_line("in-house incl. family and friends", 236, 357.0, _F + "; GBP 357 (9.1); 10.1 B gives GBP 4,381,104"),),
    "fostering_C": (_line("IFA incl. family and friends", 236, 825.0, _F + "; GBP 825 (9.1); 10.1 C gives GBP 10,124,400"),),
    "fostering_D": (_line("in-house incl. family and friends (70%)", 165, 357.0, "Placements Commissioning Strategy 10.1 D gives GBP 6,108,960"),
                    _line("IFA framework", 71, 825.0, "Placements Commissioning Strategy 10.1 D")),
    "fostering_E": (_line("in-house incl. family and friends (70%)", 165, 357.0, "Placements Commissioning Strategy 10.1 D"),
                    _line("IFA block", 8, 750.0, "the preset's block: 8 places at GBP 750 (assumption)"),
                    _line("IFA framework", 63, 825.0, "Placements Commissioning Strategy 10.1 D: the rest of the 71 IFA placements")),
    "16plus_A": (_line("DPS and Housing at the 2018 average", 40, 760.0, "Placements Commissioning Strategy 10.2 A gives GBP 1,580,800; 40 a year (5.2); GBP 760 (9.1)"),),
    "16plus_B": (_line("Housing", 40, 350.0, "Placements Commissioning Strategy 10.2 B gives GBP 728,000"),),
    "16plus_C": (_line("DPS contract", 40, 577.31, "Placements Commissioning Strategy 10.2 C gives GBP 1,200,805"),),
    "16plus_D": (_line("Housing", 21, 350.0, "Placements Commissioning Strategy 4.2.4 (21 beds) and 10.2 B (GBP 350)"),
                 _line("framework", 19, 577.31, "Placements Commissioning Strategy 10.2 C: DPS contract average")),
    "16plus_E": (_line("Housing", 21, 350.0, "Placements Commissioning Strategy 4.2.4 and 10.2 B"),
                 _line("block", 10, 550.0, "the preset's block: 10 places at GBP 550 (Placements Commissioning Strategy 10.2 C: GBP 549.10)"),
                 _line("framework", 9, 577.31, "Placements Commissioning Strategy 10.2 C: DPS contract average")),
    "residential_A": (_line("Clophill (in-house)", 5, 1918.0, "Placements Commissioning Strategy 10.3 C: 'Clophill as block contract and remainder spot-purchased' gives GBP 1,345,240"),
                      _line("spot, out of area", 5, 3256.0, "Placements Commissioning Strategy 9.1: spot average Aug 2018")),
    "residential_B": (_line("in-house, two homes", 10, 1918.0, "Placements Commissioning Strategy 10.3: 10 mainstream placements at the Clophill rate"),),
    "residential_C": (_line("block", 10, 1918.0, "Placements Commissioning Strategy 10.3 C gives GBP 997,360"),),
    "residential_D": (_line("Clophill (in-house)", 5, 1918.0, "Placements Commissioning Strategy 9.1"),
                      _line("framework", 5, 3000.0, "Placements Commissioning Strategy 10.3 C: framework authorities pay 'in excess of GBP 3,000'")),
    "residential_E": (_line("Clophill (in-house)", 5, 1918.0, "Placements Commissioning Strategy 9.1"),
                      _line("block (Bunyan Road's 3 beds)", 3, 1918.0, "Placements Commissioning Strategy 10.3 E and 9.1"),
                      _line("framework", 2, 3000.0, "Placements Commissioning Strategy 10.3 C")),
}


def static_cost(option_id: str) -> int:
    """The option's static check in GBP a year, rounded to the pound as the appraisal rounds it."""
    return int(round(sum(line.cost for line in STATIC[option_id])))


def static_formula(option_id: str) -> str:
    """The arithmetic written out, e.g. ``(165 x £357 + 71 x £825) x 52``."""
    terms = [f"{ln.placements} x £{ln.weekly_cost:,.2f}".replace(".00", "") for ln in STATIC[option_id]]
    inner = " + ".join(terms)
    return f"({inner}) x {WEEKS_PER_YEAR}" if len(terms) > 1 else f"{inner} x {WEEKS_PER_YEAR}"


@dataclass(frozen=True)
class Option:
    """One option of one phase: its preset file and the scenario it makes."""

    phase: str
    letter: str
    path: Path
    scenario: Scenario

    @property
    def id(self) -> str:
        return f"{self.phase}_{self.letter}"

    @property
    def title(self) -> str:
        return self.scenario.name


def preset_path(phase: str, letter: str) -> Path:
    return PRESETS / f"{phase}_{letter}.toml"


def load_options(phase: str = "all") -> list[Option]:
    """The options of ``phase`` (or of every phase), each built from its preset over the default."""
    phases = list(PHASES) if phase == "all" else [phase]
    for p in phases:
        if p not in PHASES:
            raise AppraisalError("--phase", f"must be one of {', '.join([*PHASES, 'all'])}, got {phase!r}")
    options = []
    for p in phases:
        for letter in LETTERS:
            path = preset_path(p, letter)
            if not path.is_file():
                raise AppraisalError("", f"preset not found: {path}")
            options.append(Option(p, letter, path, Scenario.load(path)))
    return options


def preset_notes(path: Path) -> dict[str, str]:
    """The comment at the end of each ``key = value`` line of a preset, by dotted key (the value's source)."""
    notes: dict[str, str] = {}
    table = ""
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[[") and "]]" in line:
            table = line[2:line.index("]]")].strip()
            continue
        if line.startswith("[") and "]" in line:
            table = line[1:line.index("]")].strip()
            continue
        if "=" in line and not line.startswith("#") and "#" in line:
            key, rest = line.split("=", 1)
            note = rest.split("#", 1)[1].strip()
            dotted = f"{table}.{key.strip()}" if table else key.strip()
            notes.setdefault(dotted, note)
    return notes


def _content_key(s: Scenario) -> str:
    """Scenarios equal in everything but their name run once."""
    d = s.to_dict()
    d.pop("name", None)
    return json.dumps(d, sort_keys=True, default=str)


# --------------------------------------------------------------------------- running


@dataclass
class Appraisal:
    options: list[Option]
    metrics: pd.DataFrame  # tidy, with a ``scenario`` column holding the option id
    table: pd.DataFrame  # tidy: phase, option, letter, title, measure, statistic, value, unit, n
    replications: int
    seed: int
    seconds: float
    workers: int


def appraise(phase: str = "all", replications: int = 200, workers: int | None = None, seed: int | None = None,
             progress: Callable[[int], None] | None = None) -> Appraisal:
    """Run every option of ``phase`` for ``replications`` under common random numbers, and tabulate."""
    if replications < 2:
        raise AppraisalError("--replications", f"must be at least 2, got {replications}")
    options = load_options(phase)
    for o in options[1:]:  # options are paired against A and against each other: one reported period
        check_like_for_like(options[0].scenario, o.scenario, options[0].path.name, o.path.name)
    seed = Scenario.default().run.seed if seed is None else seed
    scenarios: dict[str, Scenario] = {}  # one per distinct content (the A options are the same authority)
    runs_of: dict[str, str] = {}
    for o in options:
        s = o.scenario.replace({"run.seed": seed})
        key = _content_key(s)
        sid = next((k for k, v in scenarios.items() if _content_key(v) == key), o.id)
        scenarios.setdefault(sid, s)
        runs_of[o.id] = sid
    workers = workers or os.cpu_count() or 1
    tasks = [Task(f"{sid}-r{r:04d}", sid, r, s) for r in range(replications) for sid, s in scenarios.items()]
    t0 = time.perf_counter()
    stream = _serial(tasks) if workers == 1 else _local(tasks, workers)
    parts: dict[str, list[pd.DataFrame]] = {sid: [] for sid in scenarios}
    for outcome in stream:
        _check(outcome)
        parts[outcome.scenario_id].append(outcome.metrics)
        if progress:  # counted per option, so options sharing a scenario count each
            progress(sum(1 for sid in runs_of.values() if sid == outcome.scenario_id))
    seconds = time.perf_counter() - t0
    by_run = {sid: pd.concat(p, ignore_index=True).sort_values(["replication", "year", "metric", "pool"], kind="stable")
              for sid, p in parts.items()}
    metrics = pd.concat([by_run[runs_of[o.id]].assign(scenario=o.id) for o in options], ignore_index=True)
    table = appraisal_table(metrics, options)
    return Appraisal(options, metrics, table, replications, seed, seconds, workers)


def _check(outcome: Outcome) -> None:
    if not outcome.ok:
        raise AppraisalError("", f"run {outcome.run_id} failed: {outcome.error}")


# --------------------------------------------------------------------------- the table

#: the catalogue's measures the appraisal reports, and their statistics (results/measures.py)
MEASURES = catalogue.APPRAISAL
LABELS: dict[str, str] = {
    "static_cost": "Static check (the appraisal's arithmetic)",
    "phase_spend": "Yearly spend, this phase's pools",
    "phase_children": "Children in this phase's pools",
    "over_static": "P(phase spend ≥ 110% of the appraisal's figure)",
    "block_utilisation": "Block utilisation",
    "block_under_min": "P(a block more than 30% empty in a year)",
    "total_spend_vs_A": "Yearly spend against option A (paired)",
    "waiting_days_vs_A": "Waiting days against option A (paired)",
    **{k: catalogue.measure(k).label for k in MEASURES},
}
UNITS: dict[str, str] = {"static_cost": "GBP/year", "phase_spend": "GBP/year", "phase_children": "children",
                         "over_static": "probability", "block_utilisation": "share", "block_under_min": "probability",
                         "total_spend_vs_A": "GBP/year", "waiting_days_vs_A": "days/year",
                         **{k: catalogue.measure(k).unit for k in MEASURES}}
TABLE_COLUMNS = ["phase", "option", "letter", "title", "measure", "statistic", "value", "unit", "n"]


def _yearly(metrics: pd.DataFrame, metric: str, pools: tuple[str, ...]) -> pd.DataFrame:
    """``scenario, replication, year, value``: the metric summed over ``pools`` in each year."""
    sub = metrics[(metrics.metric == metric) & metrics.pool.isin(pools)]
    return sub.groupby(["scenario", "replication", "year"], observed=True).value.sum().reset_index()


def appraisal_table(metrics: pd.DataFrame, options: list[Option]) -> pd.DataFrame:
    """The appraisal, tidy. Quantiles are across replications of each replication's yearly mean;
    probabilities are shares of simulated years (replication x year), as in the risk register."""
    per_rep = []
    extra = []
    for o in options:
        m = metrics[metrics.scenario == o.id]
        pools = PHASES[o.phase][1]
        spend = _yearly(m, "spend_total", pools)
        per_rep.append(spend.groupby(["scenario", "replication"]).value.mean().reset_index().assign(measure="phase_spend"))
        kids = _yearly(m, "children_mean", pools)
        per_rep.append(kids.groupby(["scenario", "replication"]).value.mean().reset_index().assign(measure="phase_children"))
        static = static_cost(o.id)
        extra.append((o.id, "static_cost", "value", float(static), 1))
        extra.append((o.id, "over_static", "probability", float((spend.value >= OVERRUN * static).mean()), len(spend)))
        util = m[(m.metric == "block_utilisation") & m.value.notna()]
        if not util.empty:
            yearly = util.groupby(["replication", "year"]).value.min()
            extra.append((o.id, "block_under_min", "probability", float((yearly < MIN_UTILISATION).mean()), len(yearly)))
            per_rep.append(util.groupby(["scenario", "replication"]).value.mean().reset_index().assign(measure="block_utilisation"))
        for name in MEASURES:
            metric, pool = catalogue.measure(name).metric, catalogue.measure(name).pool
            sub = m[(m.metric == metric) & (m.pool == pool) & m.value.notna()]
            if not sub.empty:
                per_rep.append(sub.groupby(["scenario", "replication"]).value.mean().reset_index().assign(measure=name))
        base = next(b for b in options if b.phase == o.phase and b.letter == "A")
        if o.letter != "A":
            paired = paired_table(metrics[metrics.scenario == base.id], m).set_index("metric")
            for name, metric in (("total_spend_vs_A", "spend_total"), ("waiting_days_vs_A", "waiting_days")):
                if metric in paired.index:
                    r = paired.loc[metric]
                    n = int(r.replications)
                    extra += [(o.id, name, "difference", float(r.difference), n), (o.id, name, "lo90", float(r.lo), n),
                              (o.id, name, "hi90", float(r.hi), n)]
    q = quantiles(pd.concat(per_rep, ignore_index=True)[["scenario", "replication", "measure", "value"]])
    wanted = {**MEASURES, "phase_spend": ("p10", "p50", "p90", "mean"),
              "phase_children": ("p50", "mean"), "block_utilisation": ("p10", "p50", "mean")}
    q = q[[s in wanted.get(m, ()) for m, s in zip(q.measure, q.statistic)]]
    table = pd.concat([q, pd.DataFrame(extra, columns=q.columns)], ignore_index=True).rename(columns={"scenario": "option"})
    info = pd.DataFrame([{"option": o.id, "phase": o.phase, "letter": o.letter, "title": o.title} for o in options])
    table = table.merge(info, on="option", how="left")
    table["unit"] = table.measure.map(UNITS)
    order = {o.id: i for i, o in enumerate(options)}
    m_order = {m: i for i, m in enumerate(["static_cost", "phase_spend", "over_static", "spend", "total_spend_vs_A",
                                           "voids", "block_utilisation", "block_under_min", "emergency", "phase_children",
                                           "moves", "share_3plus", "waiting_days", "waiting_days_vs_A", "share_waited",
                                           "out_of_area", "siblings_together"])}
    table = table.sort_values(["option", "measure"], key=lambda c: c.map(order if c.name == "option" else m_order),
                              kind="stable").reset_index(drop=True)
    return table[TABLE_COLUMNS]


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """One row per option, one column per ``measure.statistic``."""
    t = table.assign(col=table.measure + "." + table.statistic)
    w = t.pivot_table(index=["option"], columns="col", values="value", aggfunc="first")
    info = table.drop_duplicates("option").set_index("option")[["phase", "letter", "title"]]
    return info.join(w).reset_index()


def _money(x: float) -> str:
    return money(x)


def format_appraisal(table: pd.DataFrame, replications: int) -> str:
    """The appraisal as printed: per phase, one line per option."""
    w = wide(table)
    lines = [f"Options appraisal: {replications} replications per option under common random numbers; "
             "yearly figures are means over the reported years; P10/P50/P90 across replications."]
    for phase, (title, pools) in PHASES.items():
        sub = w[w.phase == phase]
        if sub.empty:
            continue
        lines += ["", f"{title} (spend of: {', '.join(pools)})",
                  f"  {'option':<52}{'appraisal figure':>17}{'P10':>13}{'P50':>13}{'P90':>13}{'P(≥110%)':>10}"
                  f"{'voids':>11}{'moves':>7}{'3+':>6}{'wait d':>8}{'OOA':>6}{'sibs':>6}"]
        for r in sub.to_dict("records"):
            lines.append(
                f"  {r['title'][:51]:<52}{_money(r['static_cost.value']):>17}{_money(r['phase_spend.p10']):>13}"
                f"{_money(r['phase_spend.p50']):>13}{_money(r['phase_spend.p90']):>13}{pct(r['over_static.probability']):>10}"
                f"{_money(r.get('voids.mean')):>11}{r.get('moves.mean', np.nan):>7.2f}{pct(r.get('share_3plus.mean')):>6}"
                f"{r.get('waiting_days.mean', np.nan):>8.0f}{pct(r.get('out_of_area.mean')):>6}"
                f"{pct(r.get('siblings_together.mean')):>6}")
    lines += ["", "appraisal figure: the appraisal's own arithmetic, average weekly cost x placements x 52 weeks; "
              "P(≥110%): the chance of a year 10% or more above it; voids: retainers on empty block places (mean, £/year); moves: per child-year; 3+: children with 3+ "
              "placements in the year; wait d: days waiting for a suitable placement per year; OOA: placement days out "
              "of area; sibs: sibling groups placed together at entry. All whole-authority means."]
    return "\n".join(lines)


def write_appraisal(result: Appraisal, out: Path, command: str | None = None, figures: bool = True) -> Path:
    """Write the appraisal folder: tidy table (parquet, CSV), text, metrics, manifest, figures."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(result.table, out / "appraisal.parquet")
    result.table.to_csv(out / "appraisal.csv", index=False)
    text = format_appraisal(result.table, result.replications)
    (out / "appraisal.txt").write_text(text + "\n", encoding="utf-8")
    write_parquet(result.metrics, out / "metrics.parquet")
    write_year_tables(out, result.metrics, result.options[0].scenario.run.start_date.month)
    manifest = {
        "kind": "placesim appraisal",
        "placesim_version": version(),
        "phases": sorted({o.phase for o in result.options}, key=list(PHASES).index),
        "phase_titles": {p: t for p, (t, _pools) in PHASES.items()},
        "phase_pools": {p: list(pools) for p, (_t, pools) in PHASES.items()},
        "replications": result.replications,
        "seed": result.seed,
        "replication_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replication, crc32(stream), *key)); "
                             "replication k of every option uses the same seeds (common random numbers)",
        "overrun": OVERRUN,
        "min_utilisation": MIN_UTILISATION,
        "options": [{"id": o.id, "phase": o.phase, "letter": o.letter, "title": o.title, "preset": str(o.path.name),
                     "static_cost": static_cost(o.id), "static_formula": static_formula(o.id),
                     "static_lines": [{"what": ln.what, "placements": ln.placements, "weekly_cost": ln.weekly_cost,
                                       "source": ln.source} for ln in STATIC[o.id]],
                     "differences": {k: [a, b] for k, (a, b) in o.scenario.differences().items()},
                     "notes": preset_notes(o.path), "scenario": o.scenario.to_dict()} for o in result.options],
        "workers": result.workers,
        "runtime_seconds": round(result.seconds, 3),
        "command": command if command is not None else " ".join(sys.argv),
        "python": sys.version.split()[0],
        "packages": {p: _pkg(p) for p in ("simpy", "numpy", "pandas", "pyarrow")},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(manifest, out / "manifest.json")
    if figures:
        from results.report_figures import write_appraisal_figures

        write_appraisal_figures(result.table, result.metrics, {p: PHASES[p][0] for p in manifest["phases"]}, out, MIN_UTILISATION)
    return out
