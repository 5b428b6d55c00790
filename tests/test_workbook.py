"""workbook.xlsx: one formatted Excel workbook for a run, a comparison, a sweep and an appraisal.

Each folder is made by the command line on a small scenario, then ``write_workbook`` is called on it
and the workbook is read back with openpyxl: its sheets, its numbers (stored as numbers, equal to the
folder's own tables) and their formats (£ for money, % for shares, no unformatted fractions).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from experiments.cli import main
from models.scenario import ScenarioError
from results.formatting import MONEY_UNITS, SHARE_UNITS
from results.report import ReportError
from results.workbook import SHEETS, WORKBOOK, write_workbook

SMALL = ["--set", "run.years=2", "--set", "run.warmup_years=1"]
STATS = ("P50 (median)", "P10", "P90", "mean")


def _stored(x):
    """``x`` as an .xlsx file holds it: openpyxl writes numbers with 16 significant digits (Excel
    itself shows 15), so a float that needs 17 digits comes back rounded in its last digit."""
    if isinstance(x, (tuple, list)):
        return type(x)(_stored(v) for v in x)
    if isinstance(x, str) or x is None:
        return x
    return float(f"{float(x):.16g}")


def _cli(args: list[str]) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output + repr(res.exception)


def _header_row(ws) -> int:
    """The row of the sheet's first table header: the first row with a bold, filled first cell."""
    for row in ws.iter_rows(min_col=1, max_col=1):
        c = row[0]
        if c.value is not None and c.font.bold and c.fill.fill_type == "solid":
            return c.row
    raise AssertionError(f"no header on sheet {ws.title}")


def _table(ws) -> tuple[list[str], list[dict], list[dict]]:
    """The first table of a sheet: its headers, its rows as {header: value}, and the same rows as
    {header: cell} (for number formats); it ends at the first empty row."""
    head = _header_row(ws)
    headers = [c.value for c in ws[head] if c.value is not None]
    values, cells = [], []
    for row in ws.iter_rows(min_row=head + 1, max_col=len(headers)):
        if all(c.value is None for c in row):
            break
        values.append({h: c.value for h, c in zip(headers, row)})
        cells.append({h: c for h, c in zip(headers, row)})
    return headers, values, cells


def _open(folder: Path):
    path = write_workbook(folder)
    assert path == folder / WORKBOOK and path.is_file()
    assert not list(folder.glob(f"*{WORKBOOK}.tmp")), "the temporary file is left behind"
    return load_workbook(path)


def _check_formats(wb) -> None:
    """Every number on every sheet has a number format chosen for it: no float is left in Excel's
    General format (which would show 0.12345678 as such), except a sweep's factor values, which are
    written as they were given."""
    for ws in wb.worksheets:
        general_ok = set()
        if ws.title in ("Summary", "Assumptions"):
            head = _header_row(ws)
            general_ok = {c.column for c in ws[head] if isinstance(c.value, str)
                          and (c.value.startswith("contracts.") or c.value == "in the base scenario")}
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, float) and not c.value.is_integer() and c.column not in general_ok:
                    assert c.number_format != "General", f"{ws.title}!{c.coordinate} = {c.value} is unformatted"


def _check_units(cells: list[dict], columns) -> int:
    """Money cells of ``columns`` have a £ format and shares a % format, by the row's unit; returns
    how many cells were checked."""
    n = 0
    for r in cells:
        unit = r["unit"].value
        for col in columns:
            c = r[col]
            if c.value is None:
                continue
            assert isinstance(c.value, (int, float)), f"{c.coordinate} holds {c.value!r}, not a number"
            if unit in MONEY_UNITS:
                assert "£" in c.number_format and "#,##0" in c.number_format, (c.coordinate, c.number_format)
            elif unit in SHARE_UNITS:
                assert "%" in c.number_format, (c.coordinate, c.number_format)
            else:
                assert "£" not in c.number_format and "%" not in c.number_format
            n += 1
    return n


# --------------------------------------------------------------------------- a run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wb") / "run"
    _cli(["run", "-r", "3", "--out", str(out), "--quiet", "--no-figures", "--set", "contracts.ifa.places=6", *SMALL])
    return out


def test_run_workbook_has_the_six_sheets_and_the_summary_numbers(run_dir):
    wb = _open(run_dir)
    assert wb.sheetnames == list(SHEETS)
    ws = wb["Summary"]
    assert ws["A1"].value.startswith("Scenario 'default': 3 replications")
    assert "median across replications" in ws["A2"].value  # the note on which statistic each column is
    head = _header_row(ws)
    assert ws.freeze_panes == f"A{head + 1}"  # below the header
    headers, rows, cells = _table(ws)
    assert headers[:7] == ["section", "measure", "P50 (median)", "P10", "P90", "mean", "unit"]
    summary = pd.read_csv(run_dir / "summary.csv")
    assert len(rows) == len(summary)
    total = next(r for r in rows if r["metric"] == "spend_total" and r["pool"] == "all")
    want = summary[(summary.metric == "spend_total") & (summary.pool == "all")].iloc[0]
    assert total["measure"] == "Total, whole authority"
    assert isinstance(total["P50 (median)"], float) and isinstance(total["mean"], float)
    assert total["P50 (median)"] == _stored(want.p50) and total["mean"] == _stored(want["mean"])
    assert total["P10"] == _stored(want.p10) and total["P90"] == _stored(want.p90) and total["replications"] == 3
    assert total["P50 (median)"] == pytest.approx(want.p50, rel=1e-15)
    assert total["P50 (median)"] > 1e6
    for r, (_i, s) in zip(rows, summary.iterrows()):
        got = (r["measure"], r["P50 (median)"], r["P10"], r["P90"], r["mean"])
        assert got == _stored((s.measure, s.p50, s.p10, s.p90, s["mean"]))
    assert _check_units(cells, STATS) == 4 * len(summary)
    assert any(r["unit"] == "share" for r in rows) and any(r["unit"] == "GBP/year" for r in rows)
    _check_formats(wb)


def test_run_workbook_by_year_by_pool_and_by_age_match_the_folder(run_dir):
    wb = load_workbook(write_workbook(run_dir))
    headers, rows, cells = _table(wb["By year"])
    yearly = pd.read_csv(run_dir / "by_year.csv")
    assert len(rows) == len(yearly) > 0
    got = [(r["financial year"], r["section"], r["measure"], r["P50 (median)"], r["P10"], r["P90"], r["mean"]) for r in rows]
    want = [_stored(w) for w in zip(yearly.financial_year, yearly.section, yearly.measure, yearly.p50, yearly.p10, yearly.p90,
                                    yearly["mean"])]
    assert got == want
    assert {r["financial year"] for r in rows} == {"2019/20", "2020/21"}
    _check_units(cells, STATS)

    _h, pools, pool_cells = _table(wb["By pool"])
    summary = pd.read_csv(run_dir / "summary.csv").set_index(["metric", "pool"])
    by_id = {r["pool id"]: r for r in pools}
    assert by_id["all"]["spend P50"] == _stored(summary.loc[("spend_total", "all"), "p50"])
    assert by_id["ifa"]["children mean"] == _stored(summary.loc[("children_mean", "ifa"), "mean"])
    assert by_id["ifa"]["spend per child (mean, £ a year)"] == pytest.approx(
        summary.loc[("spend_total", "ifa"), "mean"] / summary.loc[("children_mean", "ifa"), "mean"])
    for r in pool_cells:
        assert "£" in r["spend P50"].number_format and "%" not in r["children P50"].number_format

    _h, ages, _c = _table(wb["By age"])
    by_age = pd.read_csv(run_dir / "by_age.csv")
    assert [(r["financial year"], r["pool"], r["age band"], r["P50 (median)"], r["mean"]) for r in ages] == \
        [_stored(w) for w in zip(by_age.financial_year, by_age.pool_label, by_age.age_band, by_age.p50, by_age["mean"])]


def test_run_workbook_assumptions_and_provenance(run_dir):
    wb = load_workbook(write_workbook(run_dir))
    ws = wb["Assumptions"]
    text = [[c.value for c in row] for row in ws.iter_rows()]
    flat = [v for row in text for v in row if v is not None]
    places = next(row for row in text if row[0] == "contracts.ifa.places")
    assert places[1:4] == ["6", "this scenario", "0"] and "block contract" in places[4]
    assert "IFA block contract" in places[6]  # the source of the default, from the scenario schema
    assert any(row[0] == "run.years" and row[1] == "2" for row in text)
    ifa = next(row for row in text if row[0] == "IFA fostering block contract")
    assert ifa[1] == "6" and ifa[2].startswith("£")
    assert "Contracts and the council's own places (always shown, default or not)" in flat

    prov = {row[0].value: row[1].value for row in wb["Provenance"].iter_rows(min_row=_header_row(wb["Provenance"]) + 1)}
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert prov["root seed"] == man["seed"] == 20190401 and prov["replications"] == 3
    assert prov["placesim version"] == man["placesim_version"]
    assert "run --replications 3" in prov["command"] and prov["run date (UTC)"] == man["created_utc"]
    assert prov["package: pandas"] == man["packages"]["pandas"]
    assert isinstance(prov["runtime (s)"], (int, float))
    assert wb["Provenance"]["B" + str(_header_row(wb["Provenance"]) + 4)].number_format != "#,##0"  # seeds: no separators


def test_headers_are_bold_filled_and_columns_fitted(run_dir):
    wb = load_workbook(write_workbook(run_dir))
    for name in SHEETS:
        ws = wb[name]
        head = _header_row(ws)
        frozen = int("".join(ch for ch in ws.freeze_panes if ch.isdigit()))
        # below the header; the Assumptions sheet holds several tables, so only its title is kept in view
        assert frozen == (head + 1 if name != "Assumptions" else 4), (name, ws.freeze_panes)
        assert ws.cell(head, 1).fill.fgColor.rgb.endswith("D9E1F2")
        assert ws["A1"].font.bold and ws["A1"].value
        widths = [d.width for d in ws.column_dimensions.values()]
        assert widths and all(6 <= w <= 60 for w in widths), (name, widths)
    ws = wb["Summary"]
    assert ws.column_dimensions["B"].width > ws.column_dimensions["D"].width  # measure labels are wider than numbers


# --------------------------------------------------------------------------- a comparison


def test_comparison_workbook_difference_equals_comparison_csv(tmp_path):
    out = tmp_path / "c"
    _cli(["compare", "default", "default", "-r", "3", "--out", str(out), "--set-alt", "contracts.ifa.places=6", *SMALL])
    wb = _open(out)
    assert wb.sheetnames == list(SHEETS)
    headers, rows, cells = _table(wb["Summary"])
    assert headers[:6] == ["measure", "BASE: default", "ALT: default with contracts.ifa.places=6",
                           "difference (ALT − BASE)", "90% interval: low", "90% interval: high"]
    comp = pd.read_csv(out / "comparison.csv")
    assert len(rows) == len(comp)
    for r, (_i, c) in zip(rows, comp.iterrows()):
        assert r["measure"] == c.measure
        assert (r[headers[1]], r[headers[2]], r[headers[3]], r[headers[4]], r[headers[5]]) == \
            _stored((c.base, c.alt, c.difference, c.lo, c.hi))
    spend = next(cell for cell in cells if cell["metric"].value == "spend_total")
    assert spend[headers[3]].number_format.startswith('+"£"')  # a difference is signed
    _check_units(cells, headers[1:6])
    _check_formats(wb)

    _h, yearly, _c = _table(wb["By year"])
    by_year = pd.read_csv(out / "by_year.csv")
    labels = {"base": "BASE: default", "alt": "ALT: default with contracts.ifa.places=6"}
    assert [(r["scenario"], r["measure"], r["P50 (median)"]) for r in yearly] == \
        [(labels[s], m, _stored(v)) for s, m, v in zip(by_year.scenario, by_year.measure, by_year.p50)]
    _h, pools, _c = _table(wb["By pool"])
    assert {r["scenario"] for r in pools} == set(labels.values())
    text = [[c.value for c in row] for row in wb["Assumptions"].iter_rows()]
    alt_places = [row for row in text if row[0] == labels["alt"] and row[1] == "contracts.ifa.places"]
    assert alt_places and alt_places[0][2] == "6"
    assert not [row for row in text if row[0] == labels["base"] and row[1] == "contracts.ifa.places"]


# --------------------------------------------------------------------------- a sweep


def test_sweep_workbook_has_one_row_per_scenario_and_the_registers_flags(tiny_sweep):
    out = tiny_sweep
    wb = _open(out)
    assert wb.sheetnames == list(SHEETS)
    headers, rows, cells = _table(wb["Summary"])
    risk = pd.read_parquet(out / "risk.parquet")
    assert len(rows) == risk.scenario.nunique() == 4
    assert {"contracts.ifa.places", "contracts.ifa.retainer", "block places", "spend P50", "recommended",
            "smallest block", "meets appetite", "on frontier"} <= set(headers)
    flags = risk.drop_duplicates("scenario").set_index("scenario")
    spend = risk[(risk.measure == "spend") & (risk.statistic == "p50")].set_index("scenario").value
    for r, c in zip(rows, cells):
        sid = r["scenario id"]
        assert r["recommended"] == ("yes" if flags.loc[sid, "recommended"] else "no")
        assert r["meets appetite"] == ("yes" if flags.loc[sid, "meets_appetite"] else "no")
        assert r["block places"] == flags.loc[sid, "block_places"] == r["contracts.ifa.places"]
        assert r["spend P50"] == _stored(spend[sid]) and "£" in c["spend P50"].number_format
        assert "%" in c["3+ placements P50"].number_format
    assert sum(r["recommended"] == "yes" for r in rows) == 1
    _check_formats(wb)
    _h, yearly, _c = _table(wb["By year"])
    assert {r["scenario"] for r in yearly} == {r["scenario"] for r in rows}
    _h, pools, _c = _table(wb["By pool"])
    assert {r["scenario"] for r in pools} == {r["scenario"] for r in rows}
    flat = [c.value for row in wb["Assumptions"].iter_rows() for c in row if c.value is not None]
    assert "Factors varied (every combination is run)" in flat and "0.0, 0.5" in flat
    assert "Risk appetite: the P90 of days waiting without a suitable placement at most 100,000 days a year." in flat


# --------------------------------------------------------------------------- an appraisal


def test_appraisal_workbook_has_one_row_per_option(tmp_path):
    out = tmp_path / "a"
    _cli(["appraise", "--phase", "fostering", "-r", "2", "--workers", "1", "--out", str(out), "--no-figures", "--quiet"])
    wb = _open(out)
    assert wb.sheetnames == list(SHEETS)
    headers, rows, cells = _table(wb["Summary"])
    table = pd.read_parquet(out / "appraisal.parquet")
    assert [r["option id"] for r in rows] == [f"fostering_{x}" for x in "ABCDE"]
    value = table.set_index(["option", "measure", "statistic"]).value
    for r, c in zip(rows, cells):
        o = r["option id"]
        assert r["appraisal's figure (weekly cost × placements × 52)"] == value[(o, "static_cost", "value")]
        assert r["phase spend P50"] == _stored(value[(o, "phase_spend", "p50")])
        assert r["waiting days a year"] == _stored(value[(o, "waiting_days", "mean")])
        assert "£" in c["phase spend P90"].number_format and "%" in c["3+ placements"].number_format
    assert rows[1]["appraisal's figure (weekly cost × placements × 52)"] == 4_381_104  # 236 x £357 x 52
    assert rows[0]["authority spend vs option A"] is None  # A is not compared with itself
    assert rows[4]["authority spend vs option A"] == _stored(value[("fostering_E", "total_spend_vs_A", "difference")])
    _check_formats(wb)
    _h, pools, _c = _table(wb["By pool"])
    assert {r["option"] for r in pools} == {r["option"] for r in rows}
    flat = [c.value for row in wb["Assumptions"].iter_rows() for c in row if c.value is not None]
    assert "236 x £357 x 52" in flat and "The appraisal's own arithmetic" in flat
    assert any(isinstance(v, str) and "Placements Commissioning Strategy 10.1 B" in v for v in flat)  # a preset's note


# --------------------------------------------------------------------------- errors


def test_a_folder_without_results_is_a_report_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReportError, match="holds no placesim results") as e:
        write_workbook(empty)
    assert isinstance(e.value, ScenarioError)
    assert not (empty / WORKBOOK).exists()
    with pytest.raises(ReportError, match="not a folder"):
        write_workbook(tmp_path / "missing")
    (empty / "manifest.json").write_text(json.dumps({"kind": "placesim run", "scenario": {}}), encoding="utf-8")
    with pytest.raises(ReportError, match="summary.csv"):
        write_workbook(empty)
