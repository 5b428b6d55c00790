"""``workbook.xlsx``: a results folder as one formatted Excel workbook.

Many commissioners open a spreadsheet and nothing else, so every folder placesim writes (a run,
a comparison, a sweep and an options appraisal) also gets a workbook. Like ``report.html`` it is
written only from the files the folder already holds, so ``write_workbook`` can be run again on
any finished folder. It has six sheets:

- **Summary**: the folder's headline table: the summary measures of a run, the paired table of
  a comparison, the risk register of a sweep (one row per scenario), or the options of an
  appraisal (one row per option);
- **By year**: P50, P10, P90 and mean of spend, children by pool and waiting, by financial year;
- **By pool**: yearly spend and mean children in care for each pool, per scenario;
- **By age**: children in care at the end of each year by pool and age band;
- **Assumptions**: every parameter that differs from the default authority, with its value, who
  set it, its default, meaning and sources, and the contract terms, per scenario;
- **Provenance**: placesim version, seeds, replications, dates, runtime, command and versions.

Every number is stored as a number, so it can be summed, charted and filtered, and shown through
its unit's number format (:func:`results.formatting.excel_format`): money as £ with thousands
separators, shares and probabilities as percentages, other quantities with 0-2 decimals by size.
Each sheet has a title row and a note saying what the columns are, a bold filled header, frozen
panes below the header and column widths fitted to the content.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from models.catalogue import POOLS
from results.formatting import MONEY_UNITS, SHARE_UNITS, excel_format, fmt
from results.assumptions import assumptions_table, contract_terms, field_info, scenario_differences
from results.report import ReportError, folder_kind

WORKBOOK = "workbook.xlsx"
SHEETS: tuple[str, ...] = ("Summary", "By year", "By pool", "By age", "Assumptions", "Provenance")

#: pseudo-units of this module: ``TEXT`` cells are written as they are, ``ROW`` cells take the
#: unit of their row (its ``unit`` field), ``INTEGER`` cells are whole numbers, ``GENERAL`` cells
#: (factor values of a sweep) keep Excel's general format, which shows them as they were given
TEXT, ROW, INTEGER, GENERAL = "text", "@row", "integer", "general"

TITLE_FONT = Font(bold=True, size=14)
HEADING_FONT = Font(bold=True, size=12)
NOTE_FONT = Font(italic=True, color="555555")
HEADER_FONT = Font(bold=True, color="1B1B1B")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
HEADER_BORDER = Border(bottom=Side(style="thin", color="7F7F7F"))
HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
WRAP_ALIGN = Alignment(wrap_text=True, vertical="top")
TOP_ALIGN = Alignment(vertical="top")

#: column widths (characters): a column is as wide as its content, within these limits; a header
#: longer than HEADER_WIDTH wraps rather than widening its column
MIN_WIDTH, MAX_WIDTH, WRAP_WIDTH, HEADER_WIDTH = 6, 50, 60, 22
#: notes longer than this are split over several rows
NOTE_CHARS = 140
LINE_HEIGHT = 15.0

STATS_NOTE = ("P50 is the median across replications; P10 and P90 are the 10th and 90th percentiles (8 replications in "
              "10 lie between them); mean is the mean across replications.")


# --------------------------------------------------------------------------- number formats


def number_format(unit: str, magnitude: float | None = None, signed: bool = False) -> str:
    """The number format of a cell of ``unit``: :func:`results.formatting.excel_format` for money
    and shares; for other quantities 0, 1 or 2 decimals as the size of the numbers needs (as
    :func:`results.formatting.fmt` writes them). ``signed`` differences get a leading + or -."""
    if unit == INTEGER:
        f = "#,##0"
    elif unit in MONEY_UNITS or unit in SHARE_UNITS:
        f = excel_format(unit)
    else:
        m = abs(magnitude) if magnitude is not None and _finite(magnitude) else 0.0
        f = "#,##0" if m >= 100 else ("#,##0.0" if m >= 10 else "#,##0.00")
    if signed:
        first = f.split(";")[0]
        f = f"+{first};-{first};{first}"
    return f


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _number(x: Any) -> float | int | None:
    """A cell value: a plain Python number, or None (an empty cell) for missing values."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return int(x) if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iu") else v


def _text(x: Any) -> Any:
    if x is None or not isinstance(x, (list, tuple, dict)) and pd.isna(x):
        return None
    if isinstance(x, (bool, str, int, float)):
        return x
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return str(x)


# --------------------------------------------------------------------------- sheet writing


@dataclass(frozen=True)
class Col:
    """One column of a table: its header, the row field it shows, and its unit (``TEXT``, ``ROW``,
    ``INTEGER``, ``GENERAL`` or a catalogue unit). ``signed`` writes differences with + and -;
    ``wrap`` wraps long text within a capped width."""

    header: str
    key: str
    unit: str = TEXT
    signed: bool = False
    wrap: bool = False


class Sheet:
    """A worksheet being filled top to bottom: a title, notes, headings and tables, with the
    column widths fitted to everything written into the tables."""

    def __init__(self, wb: Workbook, name: str, title: str, notes: tuple[str, ...] | list[str] = ()):
        self.ws: Worksheet = wb.create_sheet(name)
        self.row = 1
        self.widths: dict[int, float] = {}
        self.wrapped: set[int] = set()
        self.header_rows: list[int] = []
        c = self.ws.cell(self.row, 1, title)
        c.font = TITLE_FONT
        self.ws.row_dimensions[self.row].height = 20
        self.row += 1
        for n in notes:
            self.note(n)
        self.title_end = self.row - 1

    def note(self, text: str) -> None:
        """A note in grey italics, split over rows so it reads without scrolling sideways."""
        for line in textwrap.wrap(text, NOTE_CHARS) or [""]:
            self.ws.cell(self.row, 1, line).font = NOTE_FONT
            self.row += 1

    def heading(self, text: str) -> None:
        """A bold heading above a table, after an empty row (sheets that hold several tables)."""
        self.row += 1
        self.ws.cell(self.row, 1, text).font = HEADING_FONT
        self.row += 1

    def table(self, rows: list[dict], cols: list[Col]) -> int:
        """Write a header and ``rows``; return the header's row number."""
        ws = self.ws
        head = self.row
        self.header_rows.append(head)
        lines = 1
        for j, c in enumerate(cols, 1):
            cell = ws.cell(head, j, c.header)
            cell.font, cell.fill, cell.border, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_BORDER, HEADER_ALIGN
            self._fit(j, min(len(c.header), HEADER_WIDTH) + 3)  # room for the filter button
        for i, r in enumerate(rows, head + 1):
            # the cells of one unit in a row share their decimals (P10, P50, P90 and mean of a measure)
            units = {c.key: (r.get("unit", "") if c.unit == ROW else c.unit) for c in cols if c.unit not in (TEXT, GENERAL)}
            row_mag: dict[str, float] = {}
            for key, unit in units.items():
                if _finite(r.get(key)):
                    row_mag[unit] = max(row_mag.get(unit, 0.0), abs(float(r[key])))
            row_lines = 1
            for j, c in enumerate(cols, 1):
                v = r.get(c.key)
                cell = ws.cell(i, j)
                if c.unit == TEXT:
                    cell.value = _text(v)
                    shown = "" if cell.value is None else str(cell.value)
                elif c.unit == GENERAL:
                    cell.value = round(v, 10) if _finite(v) and isinstance(v, float) else _text(v)
                    shown = "" if cell.value is None else str(cell.value)
                else:
                    unit = units[c.key]
                    cell.value = _number(v)
                    mag = row_mag.get(unit)
                    cell.number_format = number_format(unit, mag, c.signed)
                    shown = _shown(cell.value, unit, mag, c.signed)
                if c.wrap:
                    cell.alignment = WRAP_ALIGN
                    self.wrapped.add(j)
                    row_lines = max(row_lines, _lines(shown, WRAP_WIDTH))
                else:
                    cell.alignment = TOP_ALIGN
                self._fit(j, len(shown) + 2)
            if row_lines > 1:
                ws.row_dimensions[i].height = LINE_HEIGHT * row_lines
        for j, c in enumerate(cols, 1):
            lines = max(lines, _lines(c.header, self._width(j) - 2))
        ws.row_dimensions[head].height = LINE_HEIGHT * lines
        if rows:
            ws.auto_filter.ref = ws.auto_filter.ref or f"A{head}:{get_column_letter(len(cols))}{head + len(rows)}"
        self.row = head + len(rows) + 1
        return head

    def _fit(self, j: int, width: float) -> None:
        self.widths[j] = max(self.widths.get(j, MIN_WIDTH), width)

    def _width(self, j: int) -> float:
        cap = WRAP_WIDTH if j in self.wrapped else MAX_WIDTH
        return min(max(self.widths.get(j, MIN_WIDTH), MIN_WIDTH), cap)

    def finish(self, freeze_row: int | None = None) -> Worksheet:
        """Set the column widths, freeze the panes below ``freeze_row`` (default: below the first
        table's header) and set up printing. Only rows are frozen: a frozen column would cut the
        title and notes, which run on across the columns, at the frozen edge."""
        ws = self.ws
        if len(self.header_rows) > 1:
            ws.auto_filter.ref = None  # one filter per sheet: it would cover only the first of several tables
        for j in self.widths:
            ws.column_dimensions[get_column_letter(j)].width = self._width(j)
        row = freeze_row if freeze_row is not None else (self.header_rows[0] if self.header_rows else self.title_end)
        ws.freeze_panes = f"A{row + 1}"
        if self.header_rows and freeze_row is None:
            ws.print_title_rows = f"{self.header_rows[0]}:{self.header_rows[0]}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        return ws


def _shown(v: Any, unit: str, magnitude: float | None, signed: bool) -> str:
    """Roughly the text Excel shows for a number, to fit the column width to it."""
    if v is None:
        return ""
    if unit == INTEGER:
        return f"{v:,.0f}"
    if unit in MONEY_UNITS or unit in SHARE_UNITS:
        return fmt(v, unit, signed)
    f = number_format(unit, magnitude)
    digits = f.count("0") - 1 if "." in f else 0
    return f"{v:{'+' if signed else ''},.{digits}f}"


def _lines(text: str, width: float) -> int:
    return max(1, sum(max(1, math.ceil(len(part) / max(width, 1))) for part in str(text).split("\n")))


# --------------------------------------------------------------------------- reading a folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ReportError("", f"{path.parent} has no {path.name} ({what})")
    return path


def _table_file(folder: Path, stem: str) -> pd.DataFrame | None:
    """``<stem>.parquet`` (types kept: scenario ids stay text), else ``<stem>.csv``, else None."""
    if (folder / f"{stem}.parquet").is_file():
        return pd.read_parquet(folder / f"{stem}.parquet")
    if (folder / f"{stem}.csv").is_file():
        return pd.read_csv(folder / f"{stem}.csv", dtype={"scenario": str, "financial_year": str})
    return None


POOL_METRICS = ("spend_total", "children_mean")


def _pool_metrics(folder: Path, kind: str) -> pd.DataFrame | None:
    """The metrics the By pool sheet needs: ``metrics.parquet``, or a sweep's ``parts/``."""
    filters = [("metric", "in", list(POOL_METRICS))]
    if (folder / "metrics.parquet").is_file():
        return pd.read_parquet(folder / "metrics.parquet", filters=filters)
    parts = sorted((folder / "parts").glob("*.parquet")) if kind == "sweep" else []
    if parts:
        return pd.concat([pd.read_parquet(p, filters=filters) for p in parts], ignore_index=True)
    return None


@dataclass
class Folder:
    """What every sheet needs to know about a folder: its kind, manifest, and the scenarios it
    holds (id -> label, in order; empty for a single run), and the heading of that column."""

    path: Path
    kind: str
    manifest: dict
    scenarios: dict[str, str]
    scenario_header: str = "scenario"

    @property
    def multi(self) -> bool:
        return bool(self.scenarios)

    def label(self, sid: Any) -> str:
        return self.scenarios.get(str(sid), str(sid))


def _folder(path: Path) -> Folder:
    kind = folder_kind(path)
    man = _manifest(path)
    if kind == "compare":
        bn = man.get("base_name", man["base"].get("scenario_name", "base"))
        an = man.get("alt_name", man["alt"].get("scenario_name", "alt"))
        return Folder(path, kind, man, {"base": f"BASE: {bn}", "alt": f"ALT: {an}"})
    if kind == "sweep":
        return Folder(path, kind, man, {s["id"]: s["label"] for s in man["experiment"]["scenarios"]})
    if kind == "appraisal":
        return Folder(path, kind, man, {o["id"]: o["title"] for o in man["options"]}, "option")
    return Folder(path, kind, man, {})


# --------------------------------------------------------------------------- Summary


def _run_years(scenario: dict) -> str:
    run = scenario.get("run", {})
    return f"{run.get('years', '?')} years from {run.get('start_date', '?')}"


def _summary_run(wb: Workbook, f: Folder) -> None:
    man = f.manifest
    t = pd.read_csv(_need(f.path / "summary.csv", "the summary table"))
    name = man.get("scenario_name", "run")
    n = man.get("replications", "?")
    s = Sheet(wb, "Summary", f"Scenario '{name}': {n} replications × {_run_years(man.get('scenario', {}))}",
              ["Each measure is a yearly figure: its mean over the reported years in one replication. " + STATS_NOTE
               + f" Across {n} replications."])
    cols = [Col("section", "section"), Col("measure", "measure"), Col("P50 (median)", "p50", ROW), Col("P10", "p10", ROW),
            Col("P90", "p90", ROW), Col("mean", "mean", ROW), Col("unit", "unit"), Col("replications", "replications", INTEGER),
            Col("metric", "metric"), Col("pool", "pool")]
    s.table(t.to_dict("records"), cols)
    if not (t.metric == "block_utilisation").any():
        s.row += 1
        s.note("Block contracts: none in this scenario (set contracts.<ifa|residential|supported>.places).")
    s.finish()


def _summary_compare(wb: Workbook, f: Folder) -> None:
    man = f.manifest
    t = pd.read_csv(_need(f.path / "comparison.csv", "the paired comparison"))
    base, alt = f.scenarios["base"], f.scenarios["alt"]
    n = man["base"].get("replications", "?")
    s = Sheet(wb, "Summary", f"{alt} against {base}",
              [f"Paired under common random numbers, {n} replications each, {_run_years(man['base'].get('scenario', {}))}. "
               "BASE and ALT: means across replications; difference: mean paired difference ALT − BASE with its 90% "
               "confidence interval. Notes below the table."])
    cols = [Col("measure", "measure"), Col(base, "base", ROW), Col(alt, "alt", ROW),
            Col("difference (ALT − BASE)", "difference", ROW, signed=True),
            Col("90% interval: low", "lo", ROW, signed=True), Col("90% interval: high", "hi", ROW, signed=True),
            Col("unit", "unit"), Col("replications", "replications", INTEGER), Col("metric", "metric"), Col("pool", "pool")]
    s.table(t.to_dict("records"), cols)
    s.row += 1
    s.note("BASE and ALT are the means across replications of each replication's yearly figure (its mean over the "
           "reported years). Replication k of both scenarios meets the same children, so the difference is taken "
           "replication by replication; its 90% confidence interval is a Student t interval over replications. For "
           "shares the difference and its interval are in percentage points.")
    s.finish()


def _wide(tidy: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    t = tidy.assign(col=tidy.measure + "." + tidy.statistic)
    w = t.pivot_table(index=index, columns="col", values="value", aggfunc="first", sort=False)
    return w.reset_index()


FLAGS = (("recommended", "recommended"), ("smallest_block", "smallest block"), ("cheapest", "cheapest"),
         ("meets_appetite", "meets appetite"), ("on_frontier", "on frontier"))


def _summary_sweep(wb: Workbook, f: Folder) -> None:
    from results.risk import RiskSettings, risk_words, sort_scenarios

    man = f.manifest
    exp = man["experiment"]
    tidy = pd.read_parquet(_need(f.path / "risk.parquet", f"the risk register; run placesim risk {f.path}"))
    factors = [k for k in exp["factors"] if k in tidy.columns]
    flags = [(k, h) for k, h in FLAGS if k in tidy.columns]
    info = sort_scenarios(tidy.drop_duplicates("scenario")[["scenario", "label", *factors, "block_places",
                                                            *(k for k, _ in flags)]], factors)
    stats = _wide(tidy, ["scenario"]).set_index("scenario")
    w = info.set_index("scenario").join(stats).reset_index()
    units = dict(zip(tidy.measure + "." + tidy.statistic, tidy.unit))
    settings = RiskSettings.from_dict(exp["risk"])
    wanted = [("spend.p10", "spend P10"), ("spend.p50", "spend P50"), ("spend.p90", "spend P90"),
              ("voids.p50", "voids P50 (retainers on empty places)"), ("waiting_days.p90", "waiting days P90"),
              ("max_wait_days.p90", "longest single wait P90 (days)"), ("moves.p50", "moves per child-year P50"),
              ("share_3plus.p50", "3+ placements P50"), ("block_utilisation.p50", "block utilisation P50"),
              ("spend_over_budget.probability", "P(spend over budget)"),
              ("wait_over_max.probability", f"P(a wait over {settings.max_wait_days:g} days)"),
              ("utilisation_under_min.probability", f"P(a block under {100 * settings.min_utilisation:.0f}% used)")]
    cols = [Col("scenario", "label"), *(Col(k, k, GENERAL) for k in factors), Col("block places", "block_places", INTEGER)]
    cols += [Col(h, k, units.get(k, "")) for k, h in wanted if k in w.columns]
    cols += [Col(h, k) for k, h in flags] + [Col("scenario id", "scenario")]
    rows = w.to_dict("records")
    for r in rows:
        for k, _ in flags:
            r[k] = "yes" if bool(r[k]) else "no"
    s = Sheet(wb, "Summary", f"Sweep '{exp['name']}': risk register of {len(w)} scenarios × {exp['replications']} replications",
              ["One row per scenario. Each replication's value is its mean over the reported years; P10, P50 and P90 are "
               "taken across replications (P50 the median; 8 replications in 10 lie between P10 and P90). P(...) are "
               "shares of simulated years (replication × year). Notes below the table."])
    s.table(rows, cols)
    s.row += 1
    s.note("Flags: recommended is the scenario with the fewest block places that meets the risk appetite, and the "
           "lowest P50 spend among those; smallest block is the smallest block that meets the appetite; meets appetite: "
           "every line of the appetite holds; on frontier: no other scenario is at least as good on every frontier "
           "measure (" + ", ".join(f"{m}.{st}" for m, st in settings.frontier) + ") and better on one.")
    for line in risk_words(settings):
        s.note(line)
    s.finish()


def _summary_appraisal(wb: Workbook, f: Folder) -> None:
    man = f.manifest
    tidy = pd.read_parquet(_need(f.path / "appraisal.parquet", "the appraisal table"))
    w = _wide(tidy, ["phase", "option", "letter", "title"])
    phases = {p: i for i, p in enumerate(man.get("phases", []))}
    w = w.assign(_p=w.phase.map(phases)).sort_values(["_p", "letter"], kind="stable").drop(columns="_p")
    titles = man.get("phase_titles", {})
    w["phase"] = w.phase.map(lambda p: titles.get(p, p))
    units = dict(zip(tidy.measure + "." + tidy.statistic, tidy.unit))
    wanted = [("static_cost.value", "appraisal's figure (weekly cost × placements × 52)", False),
              ("phase_spend.p10", "phase spend P10", False), ("phase_spend.p50", "phase spend P50", False),
              ("phase_spend.p90", "phase spend P90", False),
              ("over_static.probability", "P(phase spend ≥ 110% of the appraisal's figure)", False),
              ("spend.p50", "whole authority spend P50", False),
              ("total_spend_vs_A.difference", "authority spend vs option A", True),
              ("total_spend_vs_A.lo90", "vs A: 90% interval low", True),
              ("total_spend_vs_A.hi90", "vs A: 90% interval high", True),
              ("voids.mean", "voids (retainers on empty places)", False), ("emergency.mean", "emergency placements", False),
              ("block_utilisation.mean", "block utilisation", False),
              ("block_under_min.probability", "P(a block more than 30% empty in a year)", False),
              ("phase_children.mean", "children in the phase's pools", False), ("moves.mean", "moves per child-year", False),
              ("share_3plus.mean", "3+ placements", False), ("waiting_days.mean", "waiting days a year", False),
              ("waiting_days_vs_A.difference", "waiting days vs option A", True),
              ("share_waited.mean", "children who waited", False), ("out_of_area.mean", "placement days out of area", False),
              ("siblings_together.mean", "sibling groups placed together", False)]
    cols = [Col("phase", "phase"), Col("option", "title")]
    cols += [Col(h, k, units.get(k, ""), signed=sg) for k, h, sg in wanted if k in w.columns]
    cols += [Col("option id", "option")]
    s = Sheet(wb, "Summary", f"Options appraisal: {len(w)} options × {man.get('replications', '?')} replications "
              "under common random numbers",
              ["One row per option. P50 is the median across replications, 8 replications in 10 lie between P10 and P90; "
               "other statistics are means across replications. P(...) are shares of simulated years. Notes below the table."])
    s.table(w.to_dict("records"), cols)
    s.row += 1
    s.note("The appraisal's figure is its own arithmetic: average weekly cost × placements × 52 weeks at 2019/20 volumes, "
           "with no capacity limits, breakdowns or waiting (each option's formula is on the Assumptions sheet).")
    s.note("Phase spend: yearly spend of the phase's pools (each replication's value is its mean over the reported years). "
           "Authority spend and waiting days vs option A: the mean paired difference against option A of the same phase "
           "under common random numbers, with its 90% interval. Measures other than phase spend and children in the "
           "phase's pools are for the whole authority.")
    s.finish()


# --------------------------------------------------------------------------- By year, By pool, By age


def _scenario_rows(f: Folder, t: pd.DataFrame) -> list[dict]:
    rows = t.to_dict("records")
    if f.multi and "scenario" in t.columns:
        for r in rows:
            r["scenario_label"] = f.label(r["scenario"])
    return rows


def _by_year(wb: Workbook, f: Folder) -> None:
    t = _table_file(f.path, "by_year")
    s = Sheet(wb, "By year", "By financial year: spend, children by pool and waiting",
              ["Each row is one measure in one financial year. " + STATS_NOTE])
    if t is None:
        s.note("This folder has no by_year table.")
        s.finish()
        return
    t = t.assign(financial_year=t.financial_year.astype(str))
    multi = f.multi and "scenario" in t.columns
    cols = ([Col(f.scenario_header, "scenario_label")] if multi else []) + [
        Col("financial year", "financial_year"), Col("section", "section"), Col("measure", "measure"),
        Col("P50 (median)", "p50", ROW), Col("P10", "p10", ROW), Col("P90", "p90", ROW), Col("mean", "mean", ROW),
        Col("unit", "unit"), Col("replications", "replications", INTEGER), Col("metric", "metric"), Col("pool", "pool")]
    s.table(_scenario_rows(f, t), cols)
    s.finish()


def _pool_table(summary: pd.DataFrame) -> list[dict]:
    """Spend and children of each pool, from a summary table (:func:`results.summary.summarise`),
    with the mean yearly spend per child in care (mean spend / mean children)."""
    idx = {(r["metric"], r["pool"]): r for r in summary.to_dict("records")}
    rows = []
    for pool in (*POOLS, "waiting", "staying_put", "all"):
        sp, ch = idx.get(("spend_total", pool)), idx.get(("children_mean", pool))
        if sp is None and ch is None:
            continue
        row = {"pool": (sp or ch)["measure"], "pool_id": pool}
        for name, r in (("spend", sp), ("children", ch)):
            for st in ("p50", "p10", "p90", "mean"):
                row[f"{name}_{st}"] = r[st] if r is not None else None
        row["per_child"] = (sp["mean"] / ch["mean"]) if sp is not None and ch is not None and ch["mean"] > 0 else None
        rows.append(row)
    return rows


def _by_pool(wb: Workbook, f: Folder) -> None:
    from results.summary import summarise

    s = Sheet(wb, "By pool", "Spend and children in care by pool",
              ["Yearly spend (£ a year) and mean children in care in each pool. Each replication's value is its mean "
               "over the reported years; " + STATS_NOTE + " Spend per child: mean spend / mean children."])
    parts: list[tuple[str | None, pd.DataFrame]] = []
    if f.kind == "run" and (f.path / "summary.csv").is_file():
        parts = [(None, pd.read_csv(f.path / "summary.csv"))]
    else:
        m = _pool_metrics(f.path, f.kind)
        if m is not None and "scenario" in m.columns:
            present = [sid for sid in dict.fromkeys([*f.scenarios, *m.scenario.unique()]) if (m.scenario == sid).any()]
            parts = [(sid, summarise(m[m.scenario == sid].drop(columns="scenario"))) for sid in present]
        elif m is not None:
            parts = [(None, summarise(m))]
    if not parts:
        s.note("This folder holds no metrics (metrics.parquet or parts/) to compute spend and children by pool.")
        s.finish()
        return
    rows = []
    for sid, summary in parts:
        for r in _pool_table(summary):
            rows.append({"scenario_label": f.label(sid) if sid is not None else "", **r})
    multi = any(sid is not None for sid, _ in parts)
    cols = ([Col(f.scenario_header, "scenario_label")] if multi else []) + [Col("pool", "pool")]
    cols += [Col(f"spend {h}", f"spend_{st}", "GBP/year") for st, h in (("p50", "P50"), ("p10", "P10"), ("p90", "P90"),
                                                                          ("mean", "mean"))]
    cols += [Col(f"children {h}", f"children_{st}", "children") for st, h in (("p50", "P50"), ("p10", "P10"),
                                                                               ("p90", "P90"), ("mean", "mean"))]
    cols += [Col("spend per child (mean, £ a year)", "per_child", "GBP/year"), Col("pool id", "pool_id")]
    s.table(rows, cols)
    s.finish()


def _by_age(wb: Workbook, f: Folder) -> None:
    t = _table_file(f.path, "by_age")
    s = Sheet(wb, "By age", "Children in care at the end of each year, by pool and age band",
              ["Children in each pool on the last day of each financial year (31 March for a year from April), by age "
               "band. " + STATS_NOTE])
    if t is None:
        s.note("This folder has no by_age table.")
        s.finish()
        return
    t = t.assign(financial_year=t.financial_year.astype(str), unit="children")
    multi = f.multi and "scenario" in t.columns
    cols = ([Col(f.scenario_header, "scenario_label")] if multi else []) + [
        Col("financial year", "financial_year"), Col("pool", "pool_label"), Col("age band", "age_band"),
        Col("P50 (median)", "p50", ROW), Col("P10", "p10", ROW), Col("P90", "p90", ROW), Col("mean", "mean", ROW),
        Col("replications", "replications", INTEGER), Col("pool id", "pool")]
    s.table(_scenario_rows(f, t), cols)
    s.finish()


# --------------------------------------------------------------------------- Assumptions


def _differences_rows(label: str, diffs: dict, notes: dict | None = None) -> list[dict]:
    t = assumptions_table(diffs, notes)
    if t.empty:
        return [{"scenario": label, "parameter": "–",
                 "meaning": "every parameter has its default value (the built-in authority)"}]
    return [{"scenario": label, **r} for r in t.to_dict("records")]


def _terms_rows(label: str, scenario: dict | None) -> list[dict]:
    t = contract_terms(scenario or {})
    return [{"scenario": label, **r} for r in t.to_dict("records")]


def _dotted(d: dict, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


DIFF_COLS = [Col("parameter", "parameter"), Col("value", "value", wrap=True), Col("set by", "set by"),
             Col("default", "default", wrap=True), Col("meaning", "meaning", wrap=True),
             Col("source of the value", "source of the value", wrap=True),
             Col("source of the default", "source of the default", wrap=True)]
TERMS_COLS = [Col("what", "what"), Col("places", "places", wrap=True), Col("weekly price", "weekly price", wrap=True),
              Col("an empty place costs", "an empty place costs", wrap=True), Col("from", "from"), Col("to", "to"),
              Col("needs", "needs", wrap=True)]


def _assumptions(wb: Workbook, f: Folder) -> None:
    man = f.manifest
    s = Sheet(wb, "Assumptions", "Assumptions: what differs from the default authority, and the contracts",
              ["Every parameter that differs from the built-in default authority, with its value, who set it, its default, "
               "what it means and where the value and the default come from; then every block contract and the council's "
               "own places, default or not."])
    scen = [Col(f.scenario_header, "scenario")] if f.multi or f.kind == "sweep" else []
    diffs: list[dict] = []
    terms: list[dict] = []
    if f.kind == "run":
        diffs = _differences_rows("", scenario_differences(man.get("scenario", {})))
        terms = _terms_rows("", man.get("scenario"))
    elif f.kind == "compare":
        for side in ("base", "alt"):
            sc = man[side].get("scenario", {})
            diffs += _differences_rows(f.scenarios[side], scenario_differences(sc))
            terms += _terms_rows(f.scenarios[side], sc)
    elif f.kind == "sweep":
        base = man.get("base_scenario", {})
        diffs = _differences_rows("base scenario", scenario_differences(base))
        terms = _terms_rows("base scenario", base)
    else:
        for o in man["options"]:
            diffs += _differences_rows(o["title"], {k: tuple(v) for k, v in o.get("differences", {}).items()}, o.get("notes", {}))
            terms += _terms_rows(o["title"], o.get("scenario"))
    if f.kind == "appraisal":
        s.heading("The appraisal's own arithmetic")
        rows = [{"option": o["title"], "formula": o.get("static_formula", ""), "figure": o.get("static_cost"),
                 "lines": "; ".join(f"{ln['what']}: {ln['placements']} × £{ln['weekly_cost']:,.2f} a week ({ln['source']})"
                                    for ln in o.get("static_lines", []))} for o in man["options"]]
        s.table(rows, [Col("option", "option"), Col("formula", "formula"), Col("figure", "figure", "GBP/year"),
                       Col("placements, weekly costs and sources", "lines", wrap=True)])
    if f.kind == "sweep":
        from results.risk import RiskSettings, risk_words

        exp = man["experiment"]
        base = man.get("base_scenario", {})
        s.heading("Factors varied (every combination is run)")
        rows = []
        for k, values in exp["factors"].items():
            doc, source = field_info(k)
            rows.append({"factor": k, "values": ", ".join(map(str, values)), "base": _text(_dotted(base, k)),
                         "meaning": doc, "source": source or "–"})
        s.table(rows, [Col("factor", "factor"), Col("values", "values", wrap=True),
                       Col("in the base scenario", "base", GENERAL), Col("meaning", "meaning", wrap=True),
                       Col("source of the default", "source", wrap=True)])
        s.heading("Risk thresholds and appetite")
        s.table([{"line": x} for x in risk_words(RiskSettings.from_dict(exp["risk"]))],
                [Col("threshold or appetite", "line", wrap=True)])
    s.heading("Parameters that differ from the default")
    s.table(diffs, scen + DIFF_COLS)
    if terms:
        s.heading("Contracts and the council's own places (always shown, default or not)")
        s.table(terms, scen + TERMS_COLS)
    s.finish(freeze_row=s.title_end)


# --------------------------------------------------------------------------- Provenance


def _versions(man: dict) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if man.get("python"):
        out.append(("Python", man["python"]))
    out += [(f"package: {k}", v) for k, v in man.get("packages", {}).items()]
    return out


def _provenance_rows(f: Folder) -> list[tuple[str, Any]]:
    man = f.manifest
    rows: list[tuple[str, Any]] = [("kind", {"run": "run", "compare": "comparison", "sweep": "sweep",
                                             "appraisal": "options appraisal"}[f.kind])]
    if f.kind == "compare":
        b = man["base"]
        rows += [("placesim version", b.get("placesim_version", "–")), ("BASE", man.get("base_name")),
                 ("ALT", man.get("alt_name")), ("root seed", b.get("seed")), ("replications", b.get("replications")),
                 ("replication seeds", b.get("replication_seeds")), ("run date (UTC)", b.get("created_utc")),
                 ("runtime of BASE (s)", b.get("runtime_seconds")), ("runtime of ALT (s)", man["alt"].get("runtime_seconds")),
                 ("command", man.get("command"))]
        rows += _versions(b)
    elif f.kind == "sweep":
        exp = man["experiment"]
        rows += [("placesim version", man.get("placesim_version", "–")), ("experiment", exp.get("name")),
                 ("fingerprint", man.get("fingerprint")), ("root seed", exp.get("seed")),
                 ("replications", exp.get("replications")), ("scenarios", len(exp.get("scenarios", []))),
                 ("runs", man.get("runs_total")), ("runs done", man.get("runs_done")), ("runs failed", man.get("runs_failed")),
                 ("status", man.get("status")), ("replication seeds", man.get("replication_seeds")),
                 ("run id", man.get("run_id"))]
        for i, h in enumerate(man.get("history", []), 1):
            rows += [(f"sweep command {i}", h.get("command")), (f"sweep {i} started (UTC)", h.get("started_utc")),
                     (f"sweep {i} finished (UTC)", h.get("finished_utc")), (f"sweep {i} runtime (s)", h.get("runtime_seconds")),
                     (f"sweep {i} executor and workers", f"{h.get('executor')}, {h.get('workers') or h.get('scheduler') or '–'}"),
                     (f"sweep {i} runs done", h.get("runs_done"))]
        rows += _versions(man)
    else:
        rows += [("placesim version", man.get("placesim_version", "–"))]
        if f.kind == "run":
            rows += [("scenario", man.get("scenario_name"))]
        else:
            rows += [("phases", ", ".join(man.get("phases", []))), ("options", len(man.get("options", []))),
                     ("workers", man.get("workers"))]
        rows += [("root seed", man.get("seed")), ("replications", man.get("replications")),
                 ("replication seeds", man.get("replication_seeds")), ("run date (UTC)", man.get("created_utc")),
                 ("runtime (s)", man.get("runtime_seconds")), ("command", man.get("command"))]
        if f.kind == "run":
            rows += [("events kept for", man.get("events_kept_for"))]
        rows += _versions(man)
    rows.append(("workbook written (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")))
    return [(k, v) for k, v in rows if v is not None]


def _provenance(wb: Workbook, f: Folder) -> None:
    s = Sheet(wb, "Provenance", "Provenance: how these results were made",
              ["From the folder's manifest.json, which also holds the full scenario(s)."])
    head = s.table([], [Col("item", "item"), Col("value", "value", wrap=True)])
    ws = s.ws
    for i, (k, v) in enumerate(_provenance_rows(f), head + 1):
        ws.cell(i, 1, k).alignment = TOP_ALIGN
        cell = ws.cell(i, 2, v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
        cell.alignment = WRAP_ALIGN
        if isinstance(cell.value, float):
            cell.number_format = "0.0##"
        elif isinstance(cell.value, int):
            cell.number_format = "0"  # a seed reads 20190401, not 20,190,401
        s._fit(1, len(k) + 2)
        s._fit(2, len(str(v)) + 2)
        s.wrapped.add(2)
        lines = _lines(str(v), WRAP_WIDTH)
        if lines > 1:
            ws.row_dimensions[i].height = LINE_HEIGHT * lines
    s.finish()


# --------------------------------------------------------------------------- the workbook


SUMMARIES = {"run": _summary_run, "compare": _summary_compare, "sweep": _summary_sweep, "appraisal": _summary_appraisal}


def write_workbook(folder: str | Path) -> Path:
    """Write ``workbook.xlsx`` into a run, comparison, sweep or appraisal ``folder`` and return its path.

    Only the folder's own files are read. The workbook is saved to a temporary file and then
    renamed, so ``workbook.xlsx`` is always whole. A folder that holds no placesim results, or
    lacks its headline table, raises :class:`results.report.ReportError`."""
    path = Path(folder)
    f = _folder(path)
    wb = Workbook()
    wb.remove(wb.active)
    SUMMARIES[f.kind](wb, f)
    for sheet in (_by_year, _by_pool, _by_age, _assumptions, _provenance):
        sheet(wb, f)
    wb.properties.title = wb["Summary"]["A1"].value
    wb.properties.creator = "placesim"
    wb.active = 0
    out = path / WORKBOOK
    tmp = path / f".{WORKBOOK}.tmp"
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
