"""``report.html``: one self-contained page a commissioner can read, print and share.

The page is written from what a results folder already holds (tidy parquet tables and
``manifest.json``), for the four kinds of folder placesim writes: a run, a comparison, a
sweep and an options appraisal. It has a plain-English summary computed from the numbers,
the scenarios or options table, the figures (embedded as base64 PNG data URIs), every
parameter that differs from the default authority with its source, and the provenance.
It loads nothing from the network, uses inline CSS only, and prints cleanly.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from models.catalogue import MARKETS, POOL_LABELS
from models.scenario import ScenarioError
from results.assumptions import assumptions_table, contract_terms, field_info, scenario_differences
from results.risk import risk_words, sort_scenarios
from results import report_figures as rf
from results.formatting import fmt, money, num, pct
from results.measures import COST_TYPES, MIN_UTILISATION

REPORT = "report.html"


class ReportError(ScenarioError):
    """A folder that holds no placesim results."""


# --------------------------------------------------------------------------- formatting


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def chance(p: float, clause: str) -> str:
    """A sentence on the chance of a year in which ``clause`` holds: "There is a 1 in 5 chance of a year in which ..."."""
    if p is None or pd.isna(p):
        return ""
    if p <= 0:
        return f"In no simulated year {clause}."
    odds = f"a {100 * p:.0f}%" if p >= 0.5 else f"a 1 in {max(2, round(1 / p))}"
    return f"There is {odds} chance of a year in which {clause}."


def _png(draw: Callable[[io.BytesIO], Any]) -> str | None:
    """Run a figure function into memory and return a ``data:`` URI, or None if it drew nothing."""
    buf = io.BytesIO()
    ok = draw(buf)
    if ok is False or ok is None and buf.tell() == 0:
        return None
    data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii") if data else None


def figure(title: str, uri: str | None, caption: str = "") -> str:
    if uri is None:
        return ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{esc(title)}">{cap}</figure>'


def table_html(df: pd.DataFrame, cls: str = "", numeric: set[str] | None = None) -> str:
    numeric = numeric if numeric is not None else set(df.columns[1:])
    head = "".join(f"<th{' class=num' if c in numeric else ''}>{esc(c)}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = "".join(f"<td{' class=num' if c in numeric else ''}>{esc(v)}</td>" for c, v in zip(df.columns, r))
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


# --------------------------------------------------------------------------- the page


CSS = """
:root { --ink:#1b1b1b; --muted:#555; --rule:#d0d0d0; --accent:#0072B2; --band:#f3f6f9; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1080px; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--accent); }
h3 { font-size: 1.02em; margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.summary { background: var(--band); border-left: 4px solid var(--accent); padding: 12px 16px; margin: 16px 0; }
.summary p { margin: 6px 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 0.86em; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
th.num { white-space: normal; }
td, th { overflow-wrap: anywhere; }
td:first-child { min-width: 11em; overflow-wrap: break-word; }
table.years { font-size: 0.8em; } table.years td.num { white-space: nowrap; }
.range { color: var(--muted); font-size: 0.9em; }
.wrap { overflow-x: auto; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 0.85em; margin-top: 4px; }
.note { color: var(--muted); font-size: 0.88em; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 0.88em; }
dl.prov dt { font-weight: 600; } dl.prov dd { margin: 0; word-break: break-word; }
nav { font-size: 0.88em; margin-bottom: 8px; } nav a { color: var(--accent); margin-right: 12px; }
@media print {
  @page { size: A4; margin: 14mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, tr, .summary { break-inside: avoid; }
  table { font-size: 7.5pt; width: 100%; }
  th, td { padding: 2px 3px; }
  td.num, th.num, table.years td.num { white-space: normal; }
  td:first-child { min-width: 0; }
  .wrap { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""


@dataclasses.dataclass
class Page:
    title: str
    subtitle: str
    summary: list[str]
    table_title: str
    table: str
    figures: list[str]
    assumptions: str
    provenance: dict[str, Any]
    notes: str = ""

    def render(self) -> str:
        prov = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in self.provenance.items())
        summary = "".join(f"<p>{esc(p)}</p>" for p in self.summary)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(self.title)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>{esc(self.title)}</h1><p class="sub">{esc(self.subtitle)}</p>
<nav><a href="#summary">Summary</a><a href="#table">{esc(self.table_title)}</a><a href="#figures">Figures</a>
<a href="#assumptions">Assumptions</a><a href="#provenance">Provenance</a></nav></header>
<section id="summary"><h2>Summary</h2><div class="summary">{summary}</div></section>
<section id="table"><h2>{esc(self.table_title)}</h2><div class="wrap">{self.table}</div>{self.notes}</section>
<section id="figures"><h2>Figures</h2>{"".join(self.figures) or '<p class="note">No figures for this folder.</p>'}</section>
<section id="assumptions"><h2>Assumptions</h2>{self.assumptions}</section>
<section id="provenance"><h2>Provenance</h2><dl class="prov">{prov}</dl></section>
</body></html>
"""


def folder_kind(folder: Path) -> str:
    """``run``, ``compare``, ``sweep`` or ``appraisal``, from the folder's manifest."""
    path = Path(folder) / "manifest.json"
    if not Path(folder).is_dir():
        raise ReportError("", f"not a folder: {folder}")
    if not path.is_file():
        raise ReportError("", f"{folder} holds no placesim results (no manifest.json)")
    m = json.loads(path.read_text(encoding="utf-8"))
    if m.get("kind") == "placesim appraisal":
        return "appraisal"
    if m.get("kind") == "placesim sweep":
        return "sweep"
    if "base" in m and "alt" in m:
        return "compare"
    if "scenario" in m:
        return "run"
    raise ReportError("", f"{folder}/manifest.json is not from a placesim run, comparison, sweep or appraisal")


def write_report(folder: str | Path) -> Path:
    """Write ``report.html`` into ``folder`` and return its path."""
    folder = Path(folder)
    kind = folder_kind(folder)
    page = {"run": _run_page, "compare": _compare_page, "sweep": _sweep_page, "appraisal": _appraisal_page}[kind](folder)
    out = folder / REPORT
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page.render(), encoding="utf-8")
    tmp.replace(out)
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _metrics(folder: Path) -> pd.DataFrame:
    path = folder / "metrics.parquet"
    if not path.is_file():
        raise ReportError("", f"{folder} has no metrics.parquet")
    return pd.read_parquet(path)


def _per_rep(m: pd.DataFrame, metric: str, pool: str = "all") -> pd.Series:
    sub = m[(m.metric == metric) & (m.pool == pool) & m.value.notna()]
    return sub.groupby("replication").value.mean()


def _block_breach(m: pd.DataFrame) -> tuple[list[str], float]:
    """Markets with a block, and the share of replication-years in which some block is under the minimum."""
    util = m[(m.metric == "block_utilisation") & m.value.notna()]
    if util.empty:
        return [], float("nan")
    markets = [mk for mk in MARKETS if (util.pool == mk).any()]
    worst = util.groupby(["replication", "year"]).value.min()
    return markets, float((worst < MIN_UTILISATION).mean())


def _standard_figures(m: pd.DataFrame, labels: dict[str, str], colours: dict[str, str] | None = None) -> list[str]:
    figs = [
        figure("Children by pool over time", _png(lambda b: rf.children_fan(m, labels, b)),
               "Median across replications (line), P10–P90 (darker band) and P5–P95 (lighter band)."),
        figure("Spend by cost type", _png(lambda b: rf.spend_by_cost_type(m, labels, b)),
               "Mean yearly spend by cost type: " + ", ".join(v.lower() for v in COST_TYPES.values()) + "."),
        figure("Block utilisation", _png(lambda b: rf.block_utilisation(m, labels, b, MIN_UTILISATION)),
               f"Share of reserved block places occupied in each simulated year; the dashed line is {pct(MIN_UTILISATION)}."),
        figure("Stability and sufficiency", _png(lambda b: rf.stability(m, labels, b, colours=colours)),
               "Each replication's yearly mean; dot: median replication, bar: P10–P90."),
    ]
    if not (m.metric == "block_utilisation").any():
        figs.insert(2, '<p class="note">Block utilisation: no block contracts in this folder.</p>')
    return figs


def _provenance(man: dict, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"placesim version": man.get("placesim_version", "–")}
    out.update(extra or {})
    for key, label in (("seed", "root seed"), ("replications", "replications"), ("replication_seeds", "replication seeds"),
                       ("created_utc", "run date (UTC)"), ("runtime_seconds", "runtime (s)"), ("command", "command"),
                       ("python", "Python")):
        if key in man and key not in ("seed",) or key == "seed" and "seed" in man:
            out[label] = man[key]
    if "packages" in man:
        out["packages"] = ", ".join(f"{k} {v}" for k, v in man["packages"].items())
    out["report written (UTC)"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _assumptions_html(diffs: dict, notes: dict[str, str] | None = None, heading: str = "",
                      scenario: dict | None = None) -> str:
    head = f"<h3>{esc(heading)}</h3>" if heading else ""
    terms = ""
    if scenario:
        t = contract_terms(scenario)
        if not t.empty:
            terms = ('<p class="note">Contracts and the council\'s own places (always shown, default or not):</p>'
                     f'<div class="wrap">{table_html(t, "terms", numeric=set())}</div>')
    t = assumptions_table(diffs, notes)
    if t.empty:
        return head + terms + '<p class="note">Every other parameter has its default value (the built-in authority).</p>'
    return (head + terms + '<p class="note">Parameters that differ from the built-in authority:</p>'
            f'<div class="wrap">{table_html(t, "assumptions", numeric=set())}</div>')


# --------------------------------------------------------------------------- a run


def _run_summary(m: pd.DataFrame, name: str) -> list[str]:
    spend = _per_rep(m, "spend_total")
    kids = _per_rep(m, "children_mean")
    wait = _per_rep(m, "waiting_days")
    waited = _per_rep(m, "share_waited")
    three = _per_rep(m, "share_3plus_placements")
    ooa = _per_rep(m, "share_out_of_area")
    p10, p50, p90 = np.percentile(spend, [10, 50, 90])
    text = (f"Scenario '{name}' looks after {kids.mean():,.0f} children on average and costs {money(p50)} a year "
            f"(P50, the median replication); in 8 of 10 replications the yearly cost is between {money(p10)} and {money(p90)}. "
            f"Children spend {wait.mean():,.0f} days a year in all waiting for a suitable placement, and "
            f"{pct(waited.mean(), 1)} of children wait at some point in a year. "
            f"{pct(three.mean(), 1)} of children have 3 or more placements in a year, and "
            f"{pct(ooa.mean())} of placement days are out of area.")
    levers = [(COST_TYPES[k], _per_rep(m, k)) for k in ("spend_fee_uplift", "spend_recruitment", "spend_fixed", "spend_capital")]
    levers = [(label, v.median()) for label, v in levers if len(v) and v.abs().max() > 0]
    if levers:
        text += (" The total includes the council's own costs of " +
                 "; ".join(f"{label.lower()} {money(v)} a year (P50)" for label, v in levers) + ".")
    markets, breach = _block_breach(m)
    if markets:
        util = m[(m.metric == "block_utilisation") & m.value.notna()].value.mean()
        voids = _per_rep(m, "spend_retainers").mean()
        text += (f" The block contract{'s' if len(markets) > 1 else ''} ({', '.join(POOL_LABELS[x] for x in markets)}) "
                 f"{'are' if len(markets) > 1 else 'is'} {pct(util)} used on average, with {money(voids)} a year paid "
                 f"in retainers for empty places. " + chance(breach, f"a block stands more than {pct(1 - MIN_UTILISATION)} empty"))
    else:
        text += " There are no block contracts."
    return [text]


def _summary_table(m: pd.DataFrame) -> pd.DataFrame:
    from results.summary import summarise

    t = summarise(m)
    return pd.DataFrame({"section": t.section, "measure": t.measure,
                         "P50 (median)": [fmt(v, u) for v, u in zip(t["p50"], t.unit)],
                         "P10 – P90": [f"{fmt(a, u)} – {fmt(b, u)}" for a, b, u in zip(t.p10, t.p90, t.unit)],
                         "mean": [fmt(v, u) for v, u in zip(t["mean"], t.unit)]})


SUMMARY_NOTE = ('<p class="note">Each measure is a yearly figure: its mean over the reported years in one replication. '
                'P50 is the median of those across replications, P10 – P90 the range holding 8 replications in 10, and '
                'mean their mean. Cost lines add up to the total: a lever\'s own cost (a fee uplift, recruitment, fixed '
                'costs of a home, opening costs) is its own line, beside what it saves elsewhere.</p>')


def _years_table(first: str, years: list[str], rows: list[tuple[str, dict]]) -> str:
    """A table with one column per financial year; each cell is a value with its range beneath.
    ``rows``: (label, {financial year: (value, range)})."""
    head = f"<th>{esc(first)}</th>" + "".join(f"<th class=num>{esc(fy)}</th>" for fy in years)
    body = "".join(f"<tr><td>{esc(label)}</td>" + "".join(
        f"<td class=num>{esc(cells[fy][0])}<br><span class=range>{esc(cells[fy][1])}</span></td>" if fy in cells
        else "<td class=num>–</td>" for fy in years) + "</tr>" for label, cells in rows)
    return f'<div class="wrap"><table class="years"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _paired_years(folder: Path) -> str:
    """The paired difference ALT - BASE year by year, from comparison_by_year.csv."""
    path = folder / "comparison_by_year.csv"
    if not path.is_file():
        return ""
    t = pd.read_csv(path)
    if t.empty:
        return ""
    years = list(dict.fromkeys(t.financial_year))
    rows = []
    for label, g in t.groupby("measure", sort=False):
        u = g.unit.iloc[0]
        show = lambda x: fmt(x, u, True, compact=True)  # noqa: E731
        rows.append((label, {r.financial_year: (show(r.difference), f"{show(r.lo)} to {show(r.hi)}") for r in g.itertuples()}))
    return ("<h3>The difference year by year</h3>"
            '<p class="note">Mean paired difference ALT − BASE in each financial year, with its 90% confidence interval beneath.</p>'
            + _years_table("difference ALT − BASE", years, rows))


def _year_tables(folder: Path, labels: dict[str, str] | None = None) -> str:
    """The tables by financial year and by age band, from the folder's by_year and by_age files."""
    out = []
    yp, ap = folder / "by_year.parquet", folder / "by_age.parquet"
    if yp.is_file():
        y = pd.read_parquet(yp)
        for sid, g in (y.groupby("scenario", sort=False) if "scenario" in y else [(None, y)]):
            if labels is not None and sid is not None and sid not in labels:
                continue
            head = f" — {labels.get(sid, sid)}" if sid is not None and labels else ""
            years = list(dict.fromkeys(g.financial_year))
            rows = []
            for (sect, label, u), h in g.groupby(["section", "measure", "unit"], sort=False):
                name = f"{label} ({sect.split(',')[0].lower()})" if sect.startswith(("Spend", "Children")) else label
                show = lambda x, u=u: fmt(x, u, compact=True)  # noqa: E731
                rows.append((name, {r.financial_year: (show(r.p50), f"{show(r.p10)} – {show(r.p90)}") for r in h.itertuples()}))
            out.append(f"<h3>By financial year{esc(head)}</h3>"
                       '<p class="note">P50 across replications, with P10–P90 beneath.</p>' + _years_table("measure", years, rows))
    if ap.is_file():
        a = pd.read_parquet(ap)
        for sid, g in (a.groupby("scenario", sort=False) if "scenario" in a else [(None, a)]):
            if labels is not None and sid is not None and sid not in labels:
                continue
            last = g[g.year == g.year.max()]
            if last.empty:
                continue
            head = f" — {labels.get(sid, sid)}" if sid is not None and labels else ""
            piv = last.pivot_table(index="pool_label", columns="age_band", values="p50", aggfunc="first", sort=False)
            piv = piv[[c for c in dict.fromkeys(last.age_band) if c in piv.columns]]
            piv = piv.reset_index().rename(columns={"pool_label": "pool"})
            piv[piv.columns[1:]] = piv[piv.columns[1:]].map(lambda v: num(v, 0) if v >= 10 else num(v, 1))
            out.append(f"<h3>Children in care at the end of {esc(last.financial_year.iloc[0])} by age{esc(head)}</h3>"
                       '<p class="note">P50 across replications of the children in each pool on the last day of the '
                       'year, by age band (all years are in by_age.csv and the workbook).</p>'
                       f'<div class="wrap">{table_html(piv, "ages")}</div>')
    return "".join(out)


def _run_page(folder: Path) -> Page:
    man = _manifest(folder)
    m = _metrics(folder)
    name = man.get("scenario_name", "run")
    labels = {"run": name}
    table = table_html(_summary_table(m), numeric={"P50 (median)", "P10 – P90", "mean"}) + SUMMARY_NOTE + _year_tables(folder)
    return Page(f"placesim report: scenario '{name}'",
                f"{man.get('replications', '?')} replications x {man.get('scenario', {}).get('run', {}).get('years', '?')} years "
                f"from {man.get('scenario', {}).get('run', {}).get('start_date', '?')}; yearly figures across replications.",
                _run_summary(m, name), "Summary table", table, _standard_figures(m, labels),
                _assumptions_html(scenario_differences(man.get("scenario", {})), scenario=man.get("scenario")), _provenance(man))


# --------------------------------------------------------------------------- a comparison


def _compare_page(folder: Path) -> Page:
    man = _manifest(folder)
    m = _metrics(folder)
    base, alt = man["base"], man["alt"]
    bn, an = man.get("base_name", base.get("scenario_name", "base")), man.get("alt_name", alt.get("scenario_name", "alt"))
    labels = {"base": f"BASE: {bn}", "alt": f"ALT: {an}"}
    comp_path = folder / "comparison.csv"
    comp = pd.read_csv(comp_path) if comp_path.is_file() else pd.DataFrame()
    summary = []
    if not comp.empty:
        c = comp.set_index("metric")
        s = c.loc["spend_total"] if "spend_total" in c.index else None
        w = c.loc["waiting_days"] if "waiting_days" in c.index else None
        text = ""
        if s is not None:
            word = "less" if s.difference < 0 else "more"
            text += (f"'{an}' costs {money(s.alt)} a year on average, {money(abs(s.difference))} {word} than '{bn}' "
                     f"(90% confidence interval of the paired difference: {money(s.lo, True)} to {money(s.hi, True)}). ")
        if w is not None and w.base > 0:
            change = w.alt / w.base - 1
            text += (f"Days waiting for a suitable placement go from {w.base:,.0f} to {w.alt:,.0f} a year "
                     f"({'+' if change >= 0 else ''}{100 * change:.0f}%). ")
        markets, breach = _block_breach(m[m.scenario == "alt"])
        if markets:
            text += f"Under '{an}': " + chance(breach, f"a block stands more than {pct(1 - MIN_UTILISATION)} empty")
        summary.append(text.strip())
        rows = []
        for r in comp.itertuples():
            if r.base == 0 and r.alt == 0 and r.lo == 0 and r.hi == 0:
                continue  # a cost line neither scenario has
            rows.append({"measure": r.measure, f"BASE ({bn})": fmt(r.base, r.unit), f"ALT ({an})": fmt(r.alt, r.unit),
                         "difference": fmt(r.difference, r.unit, True),
                         "90% interval": f"{fmt(r.lo, r.unit, True)} to {fmt(r.hi, r.unit, True)}"})
        table = table_html(pd.DataFrame(rows))
    else:
        summary.append(f"Comparison of '{an}' with '{bn}'.")
        table = '<p class="note">No comparison.csv in this folder.</p>'
    assumptions = (_assumptions_html(scenario_differences(base.get("scenario", {})), heading=f"BASE: {bn}",
                                     scenario=base.get("scenario"))
                   + _assumptions_html(scenario_differences(alt.get("scenario", {})), heading=f"ALT: {an}",
                                       scenario=alt.get("scenario")))
    prov = _provenance(base, {"command": man.get("command", "–")})
    return Page(f"placesim report: '{an}' against '{bn}'",
                f"Paired under common random numbers, {base.get('replications', '?')} replications each.",
                summary, "The two scenarios, paired",
                table + '<p class="note">BASE and ALT: means across replications of each replication\'s yearly mean. '
                'Difference: the mean of the paired differences ALT − BASE (percentage points, pp, for shares), with its '
                '90% confidence interval. Rows that are zero in both scenarios are left out.</p>'
                + _paired_years(folder) + _year_tables(folder, labels), _standard_figures(m, labels), assumptions, prov)


# --------------------------------------------------------------------------- a sweep


def _register(folder: Path, man: dict):
    """The sweep's risk register, rebuilt from ``risk.parquet`` and ``risk_by_year.parquet``."""
    from results.risk import Register, RiskSettings

    tidy = pd.read_parquet(folder / "risk.parquet")
    exp = man["experiment"]
    factors = list(exp["factors"])
    keep = ["scenario", "label", *factors, "block_places"]
    flags = ["on_frontier", "meets_appetite", "recommended", "smallest_block"]
    info = tidy.drop_duplicates("scenario")[keep + flags]
    stats = tidy.assign(col=tidy.measure + "." + tidy.statistic).pivot(index="scenario", columns="col", values="value")
    wide = sort_scenarios(info, factors).set_index("scenario").join(stats).reset_index()
    yearly_path = folder / "risk_by_year.parquet"
    yearly = pd.read_parquet(yearly_path) if yearly_path.is_file() else pd.DataFrame(columns=["scenario", "year", "measure", "statistic", "value"])
    return Register(tidy, wide, yearly, RiskSettings.from_dict(exp["risk"]), factors)


def _sweep_page(folder: Path) -> Page:
    from results import risk_figures

    man = _manifest(folder)
    if not (folder / "risk.parquet").is_file():
        raise ReportError("", f"{folder} has no risk register yet (run placesim risk {folder})")
    reg = _register(folder, man)
    w = reg.wide
    exp = man["experiment"]
    rec, small = reg.pick("recommended"), reg.pick("smallest_block")
    settings = reg.settings
    appetite = "; ".join(c.words(settings) for c in settings.appetite)
    # the reference a pick is compared with: the scenario with no block places (else the first), never the pick itself
    none = w[w.block_places == 0]
    ref = none.iloc[0] if not none.empty else w.iloc[0]
    summary = []
    if rec is not None:
        why = (f"the lowest P50 spend of the {int(w.meets_appetite.sum())} scenarios that meet the risk appetite ({appetite})"
               if settings.appetite else "the lowest P50 spend (no risk appetite was set)")
        text = (f"Recommended: {rec['label']} ({rec['block_places']} block places), {why}. It costs "
                f"{money(rec['spend.p50'])} a year (P50, the median replication; 8 in 10 replications between "
                f"{money(rec['spend.p10'])} and {money(rec['spend.p90'])}).")
        if ref["scenario"] != rec["scenario"]:
            diff = rec["spend.p50"] - ref["spend.p50"]
            text += (f" That is {money(abs(diff))} {'less' if diff < 0 else 'more'} than {ref['label']}, whose P50 spend is "
                     f"{money(ref['spend.p50'])}; its P90 waiting days are {num(rec.get('waiting_days.p90'), 0)} a year "
                     f"against {num(ref.get('waiting_days.p90'), 0)}.")
        else:
            text += f" Its P90 waiting days are {num(rec.get('waiting_days.p90'), 0)} a year."
        p = rec.get("utilisation_under_min.probability", np.nan)
        if not pd.isna(p):
            text += " " + chance(p, f"its block stands more than {pct(1 - settings.min_utilisation)} empty")
        if small is not None and small["scenario"] != rec["scenario"]:
            text += (f" The smallest block that meets the appetite is {small['label']} ({small['block_places']} block places) "
                     f"at {money(small['spend.p50'])} (P50), {money(small['spend.p50'] - rec['spend.p50'])} a year more.")
        elif small is not None:
            text += " It is also the smallest block that meets the appetite."
        summary.append(text)
    else:
        summary.append(f"No scenario of the {len(w)} meets the risk appetite "
                       f"({appetite}). The lowest P50 spend is "
                       f"{money(w['spend.p50'].min())} ({w.loc[w['spend.p50'].idxmin(), 'label']}).")
    summary.append(f"{len(w)} scenarios x {exp['replications']} replications; {int(w.on_frontier.sum())} on the "
                   f"stability–spend frontier.")
    cols = [("label", "scenario", str), ("block_places", "block places", str),
            ("spend.p10", "spend P10", money), ("spend.p50", "spend P50", money), ("spend.p90", "spend P90", money),
            ("voids.p50", "voids P50", money), ("waiting_days.p90", "waiting days P90", lambda x: num(x, 0)),
            ("share_3plus.p50", "3+ placements P50", lambda x: pct(x, 1)),
            ("block_utilisation.p50", "block use P50", pct), ("utilisation_under_min.probability", "P(block under min)", pct),
            ("spend_over_budget.probability", "P(over budget)", pct)]
    rows = []
    for r in w.to_dict("records"):
        row = {name: show(r.get(col, np.nan)) for col, name, show in cols if col in w}
        row["flags"] = "".join(f for f, k in (("F", "on_frontier"), ("A", "meets_appetite"), ("R", "recommended"),
                                              ("S", "smallest_block")) if r[k])
        rows.append(row)
    table = table_html(pd.DataFrame(rows))
    notes = ('<p class="note">Flags: F on the stability–spend frontier (no other scenario is at least as good on every '
             'frontier measure and better on one), A meets the risk appetite, R recommended (the lowest P50 spend that '
             'meets it), S the smallest block that meets it. P50 is the median replication; P10 and P90 bound 8 in 10 '
             'replications; P(...) are shares of simulated years.</p>')
    figs = [figure("Heatmap of P50 spend", _png(lambda b: risk_figures.heatmap(reg, "spend", "p50", b))),
            figure("Heatmap of P90 waiting days", _png(lambda b: risk_figures.heatmap(reg, "waiting_days", "p90", b))),
            figure("Frontier", _png(lambda b: risk_figures.frontier(reg, b) if len(w) else None)),
            figure("Fan chart of spend", _png(lambda b: risk_figures.fan_chart(reg, b)))]
    picks = list(dict.fromkeys([ref["scenario"], *(p["scenario"] for p in (rec, small) if p is not None)]))
    parts = [folder / "parts" / f"{sid}-r{r:04d}.parquet" for sid in picks for r in range(exp["replications"])]
    parts = [p for p in parts if p.is_file()]
    if parts:
        m = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        labels = {sid: w.loc[w.scenario == sid, "label"].iloc[0] for sid in picks}
        figs.append('<p class="note">The figures below show the scenario with no block places (or the first) and the picks.</p>')
        figs += _standard_figures(m, labels)
    base = scenario_differences(man.get("base_scenario", {}))
    factors = "".join(f"<li><code>{esc(k)}</code>: {esc(', '.join(map(str, v)))} — {esc(field_info(k)[0])}</li>"
                      for k, v in exp["factors"].items())
    assumptions = (_assumptions_html(base, heading="Base scenario", scenario=man.get("base_scenario")) + "<h3>Factors varied</h3><ul>" + factors + "</ul>"
                   + "<h3>Risk thresholds and appetite</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in risk_words(settings))
                   + "</ul>")
    hist = man.get("history", [])
    prov = _provenance(man, {"root seed": exp.get("seed"), "replications": exp.get("replications"),
                             "fingerprint": man.get("fingerprint"),
                             "run date (UTC)": hist[-1].get("started_utc") if hist else "–",
                             "command": hist[-1].get("command") if hist else "–", "status": man.get("status")})
    return Page(f"placesim report: sweep '{exp['name']}'", f"Risk register of {len(w)} scenarios.", summary,
                "Risk register", table, figs, assumptions, prov, notes)


# --------------------------------------------------------------------------- an appraisal


#: the option the appraisal recommends in each phase (Placements Commissioning Strategy section 11)
SEED_RECOMMENDS = {"fostering": "E", "16plus": "E", "residential": "B"}


def _appraisal_summary(w: pd.DataFrame, phase_titles: dict[str, str]) -> list[str]:
    out = []
    for phase, title in phase_titles.items():
        d = w[w.phase == phase].set_index("letter")
        if d.empty or "A" not in d.index:
            continue
        a = d.loc["A"]
        rec_letter = SEED_RECOMMENDS.get(phase, "A")
        r = d.loc[rec_letter] if rec_letter in d.index else a
        diff = r.get("total_spend_vs_A.difference", np.nan)
        text = (f"{title}: option {rec_letter}, the appraisal's recommendation, costs {money(r['phase_spend.p50'])} a year in "
                f"this phase (P50; P10–P90 {money(r['phase_spend.p10'])} to {money(r['phase_spend.p90'])}) against a "
                f"figure of {money(r['static_cost.value'])} from the appraisal's own arithmetic (average weekly cost x placements "
                f"x 52 weeks). " + chance(r["over_static.probability"], "it costs 10% or more above that"))
        if rec_letter != "A" and not pd.isna(diff):
            text += (f" Across the whole authority it costs {money(abs(diff))} {'less' if diff < 0 else 'more'} a year "
                     f"than option A (paired, 90% interval {money(r['total_spend_vs_A.lo90'], True)} to "
                     f"{money(r['total_spend_vs_A.hi90'], True)}).")
            wa, wr = a.get("waiting_days.mean", np.nan), r.get("waiting_days.mean", np.nan)
            if wa and not pd.isna(wr):
                ratio = wr / wa
                what = "the days children wait for a suitable placement"
                phrase = (f"leaves {what} about the same" if abs(ratio - 1) < 0.02 else
                          f"halves {what}" if 0.4 <= ratio <= 0.6 else f"doubles {what}" if 1.8 <= ratio <= 2.2 else
                          f"cuts {what} by {100 * (1 - ratio):.0f}%" if ratio < 1 else f"raises {what} by {100 * (ratio - 1):.0f}%")
                text += f" It {phrase} ({wr:,.0f} a year against {wa:,.0f} under A)."
        p = r.get("block_under_min.probability", np.nan)
        if not pd.isna(p):
            text += " " + chance(p, f"its block stands more than {pct(1 - MIN_UTILISATION)} empty")
        cheapest = d["phase_spend.p50"].idxmin()
        fewest = d["waiting_days.mean"].idxmin() if "waiting_days.mean" in d else None
        text += f" Lowest P50 spend: option {cheapest} ({money(d.loc[cheapest, 'phase_spend.p50'])})"
        text += f"; fewest waiting days: option {fewest}." if fewest else "."
        out.append(text)
    return out


def _appraisal_page(folder: Path) -> Page:
    man = _manifest(folder)
    table = pd.read_parquet(folder / "appraisal.parquet")
    m = _metrics(folder)
    phase_titles = {p: man["phase_titles"][p] for p in man["phases"]}
    t = table.assign(col=table.measure + "." + table.statistic)
    w = t.pivot_table(index=["phase", "option", "letter", "title"], columns="col", values="value", aggfunc="first").reset_index()
    w["_p"] = w.phase.map({p: i for i, p in enumerate(phase_titles)})
    w = w.sort_values(["_p", "letter"]).drop(columns="_p")
    rows, rows2 = [], []
    for r in w.to_dict("records"):
        g = lambda k: r.get(k, np.nan)  # noqa: E731
        rows.append({"option": r["title"], "appraisal's figure": money(g("static_cost.value")),
                     "spend P10": money(g("phase_spend.p10")), "spend P50": money(g("phase_spend.p50")),
                     "spend P90": money(g("phase_spend.p90")), "P(≥110% of the appraisal's figure)": pct(g("over_static.probability")),
                     "authority spend vs A": money(g("total_spend_vs_A.difference"), True) if r["letter"] != "A" else "–",
                     "voids": money(g("voids.mean")), "block use": pct(g("block_utilisation.mean"))})
        rows2.append({"option": r["title"], "children in phase": num(g("phase_children.mean"), 0),
                      "moves per child-year": num(g("moves.mean")), "3+ placements": pct(g("share_3plus.mean"), 1),
                      "waiting days": num(g("waiting_days.mean"), 0), "children who waited": pct(g("share_waited.mean"), 1),
                      "out of area": pct(g("out_of_area.mean")), "siblings together": pct(g("siblings_together.mean")),
                      "P(block >30% empty)": pct(g("block_under_min.probability"))})
    html_table = ("<h3>Cost</h3>" + table_html(pd.DataFrame(rows), "options") +
                  "<h3>Stability and sufficiency</h3>" + table_html(pd.DataFrame(rows2), "options"))
    notes = ('<p class="note">Appraisal\'s figure: the options appraisal\'s own arithmetic, average weekly cost x placements x 52 weeks '
             'at 2019/20 volumes, with no capacity limits, breakdowns or waiting (the formula of each option is under '
             'Assumptions). Spend P10/P50/P90: yearly spend of the phase\'s pools; P50 is the median replication, and 8 in 10 '
             'replications lie between P10 and P90 (each replication\'s value is its yearly mean). P(≥110%): share of '
             'simulated years in which that spend is 10% or more above the appraisal\'s figure. Authority spend vs A: the mean paired difference of the '
             'whole authority\'s yearly spend against option A under common random numbers. Voids: retainers paid on '
             'empty block places (£ a year). Other measures are whole-authority yearly means.</p>')
    labels = rf.option_labels(table)
    colours = rf.option_colours(table)
    figs = [figure("The appraisal's figure against simulated spend", _png(lambda b: rf.appraisal_spend(table, phase_titles, b)),
                   "Diamond: the appraisal's own arithmetic (weekly cost x placements x 52). Dot: simulated P50. Bar: simulated P10–P90.")]
    for phase, ptitle in phase_titles.items():
        pl = rf.option_labels(table, phase)
        figs.append(figure(f"{ptitle}: children by pool", _png(lambda b, pl=pl, ptitle=ptitle: rf.children_fan(
            m, pl, b, title=f"{ptitle} options: children by pool over time (median, P10–P90, P5–P95)")),
            "Median across replications (line), P10–P90 (darker band) and P5–P95 (lighter band)."))
    figs += [figure("Spend by cost type", _png(lambda b: rf.spend_by_cost_type(m, labels, b, title="Yearly spend by cost type and option (whole authority)")),
                    "Mean yearly spend of the whole authority, by cost type."),
             figure("Block utilisation", _png(lambda b: rf.block_utilisation(m, labels, b, MIN_UTILISATION)),
                    f"Options with block contracts; the dashed line is {pct(MIN_UTILISATION)} occupied."),
             figure("Stability and sufficiency", _png(lambda b: rf.stability(m, labels, b, colours=colours,
                    title="Stability and sufficiency by option (yearly means, whole authority)")),
                    "Each replication's yearly mean; dot: median replication, bar: P10–P90.")]
    parts = []
    for o in man["options"]:
        static = "; ".join(f"{ln['what']}: {ln['placements']} x £{ln['weekly_cost']:,.2f} ({ln['source']})" for ln in o["static_lines"])
        parts.append(f"<h3>{esc(o['title'])}</h3><p class=\"note\">Preset <code>{esc(o['preset'])}</code>. The appraisal's figure "
                     f"{esc(o['static_formula'])} = {esc(money(o['static_cost']))}: {esc(static)}.</p>")
        diffs = {k: tuple(v) for k, v in o["differences"].items()}
        parts.append(_assumptions_html(diffs, o.get("notes", {}), scenario=o.get("scenario")))
    prov = _provenance(man, {"phases": ", ".join(man["phases"]), "workers": man.get("workers")})
    return Page("placesim report: options appraisal",
                f"The commissioning options A–E of the Placements Commissioning Strategy (options appraisal), {man['replications']} replications each under common random "
                f"numbers, {man['options'][0]['scenario']['run']['years']} years from "
                f"{man['options'][0]['scenario']['run']['start_date']}.",
                _appraisal_summary(w, phase_titles), "Options", html_table, figs, "".join(parts), prov, notes)
