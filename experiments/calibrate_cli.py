"""The calibration commands: ``placesim calibrate``, ``placesim backtest`` and ``placesim export-903``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from models.scenario import Scenario, ScenarioError


def _base(path: str | None) -> tuple[Scenario, str]:
    if path is None or path == "default":
        return Scenario.default(), "the default scenario"
    return Scenario.load(path), f"base scenario {path}"


@click.command("calibrate")
@click.argument("data_dir", type=click.Path())
@click.option("-o", "--out", "out", default="calibrated.toml", show_default=True, help="The fitted scenario file.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), help="Report folder (default: a new folder under runs/).")
@click.option("--base", help="Scenario giving what 903 data cannot show (default: the built-in default).")
@click.option("--codes", type=click.Path(), help="TOML file overriding the code mapping ([pools], [exits], unplanned).")
@click.option("--refine", "refine", type=click.IntRange(0), default=6, show_default=True,
              help="Replications per round when fitting breakdown hazards by simulation (0: direct scaling only).")
@click.option("--force", is_flag=True, help="Overwrite the scenario file if it exists.")
def calibrate_cmd(data_dir, out, report_dir, base, codes, refine, force) -> None:
    """Fit a scenario to SSDA903 returns in DATA_DIR (year folders, or files with a YEAR column)."""
    from calibration.clean import clean
    from calibration.codes import CodeMap
    from calibration.estimate import estimate
    from calibration.fit import fit, fit_warnings, render
    from calibration.read903 import read_returns
    from calibration.report import write_calibration_report
    from results.store import new_run_dir

    out_path = Path(out)
    if out_path.exists() and not force:
        raise ScenarioError("--out", f"{out_path} already exists (use --force to overwrite)")
    base_scenario, label = _base(base)
    code_map = CodeMap.load(codes)
    ret = read_returns(data_dir)
    eps = clean(ret, code_map)
    est = estimate(eps, code_map, early_days=base_scenario.breakdowns.early_days)
    warns: list = []
    scenario, notes = fit(est, base_scenario, eps, code_map, refine_replications=refine, warnings=warns)
    warns += fit_warnings(est, eps, code_map)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render(scenario, notes, label, warns), encoding="utf-8")
    folder = Path(report_dir) if report_dir else new_run_dir("runs", "calibration")
    write_calibration_report(folder, ret, eps, est, code_map, warns)
    for w in ret.warnings + warns:
        click.echo(f"warning: {w.line()}", err=True)
    click.echo(f"{len(eps.years)} returns {eps.years[0]}-{eps.years[-1]}: {ret.rows_read} rows read, "
               f"{len(ret.rejected)} rejected, {len(eps.table)} placement episodes after cleaning")
    e = est
    click.echo(f"entries {e.entry_mean.value:.1f} a year [{e.entry_mean.lo:.1f}, {e.entry_mean.hi:.1f}], "
               f"trend {e.trend.value:+.3f}; mean time in care {e.mean_time_in_care.value:.2f} years "
               f"[{e.mean_time_in_care.lo:.2f}, {e.mean_time_in_care.hi:.2f}]; moves per child-year "
               f"{e.moves['all'].value:.3f} [{e.moves['all'].lo:.3f}, {e.moves['all'].hi:.3f}] (95%)")
    click.echo(f"wrote {out_path} ({len(notes)} keys from the data) and the report in {folder}/"
               + (f"; {len(ret.warnings)} import and {len(warns)} fit warnings (see report.txt)" if ret.warnings or warns else ""))


@click.command("backtest")
@click.argument("data_dir", type=click.Path())
@click.argument("scenario")
@click.option("-r", "--replications", type=click.IntRange(2), default=40, show_default=True)
@click.option("--start", "start", type=int, help="Return year whose 31 March stock the simulation starts from (default: the first).")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under runs/).")
@click.option("--codes", type=click.Path(), help="TOML file overriding the code mapping.")
def backtest_cmd(data_dir, scenario, replications, start, out, codes) -> None:
    """Simulate SCENARIO from an early stock in DATA_DIR and score it against the later returns."""
    from calibration.backtest import backtest
    from calibration.clean import clean
    from calibration.codes import CodeMap
    from calibration.read903 import read_returns
    from calibration.report import write_backtest
    from results.store import new_run_dir

    s = Scenario.default() if scenario == "default" else Scenario.load(scenario)
    code_map = CodeMap.load(codes)
    eps = clean(read_returns(data_dir), code_map)
    folder = Path(out) if out else new_run_dir("runs", "backtest")
    with click.progressbar(length=replications, label="simulating", file=sys.stderr) as bar:
        bt = backtest(s, eps, replications, start, code_map, progress=bar.update)
    click.echo(write_backtest(folder, bt))
    click.echo(f"\nResults in {folder}/")


@click.command("export-903")
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: RUN_DIR/903).")
@click.option("--replication", type=click.IntRange(0), default=0, show_default=True,
              help="Replication whose events to export (kept for replication 0 unless the run used --keep-events).")
def export_cmd(run_dir, out, replication) -> None:
    """Write a run's event log as synthetic SSDA903 returns (a year folder each, header and episodes)."""
    import pandas as pd

    from calibration.export import write_returns

    folder = Path(run_dir)
    for name in ("events.parquet", "manifest.json"):
        if not (folder / name).is_file():
            raise ScenarioError("", f"{folder} is not a run folder: {name} not found")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scenario = Scenario.from_dict(manifest["scenario"])
    events = pd.read_parquet(folder / "events.parquet")
    if "replication" in events.columns:
        kept = sorted(int(r) for r in events.replication.unique())
        if replication not in kept:
            raise ScenarioError("--replication", f"the run kept events for replications {kept}, not {replication}")
        events = events[events.replication == replication]
    dest = Path(out) if out else folder / "903"
    written = write_returns(events, scenario.run.start_date, scenario.run.years * 365.0, scenario.run.seed, replication, dest)
    if not written:
        raise ScenarioError("", f"the run covers no whole 1 April - 31 March year from {scenario.run.start_date}")
    for y, (h, e) in written.items():
        click.echo(f"  {y}: {h} children, {e} episodes")
    click.echo(f"wrote {len(written)} returns to {dest}/")
