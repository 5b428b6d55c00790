"""The ``placesim`` command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
import pandas as pd

from models.scenario import Scenario, ScenarioError
from simulation.budget import check_workload

EXIT_BAD_INPUT = 2


#: click 8.2 raises this for a group called without a command (older versions print the help themselves)
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """Turns every input error into one line naming the problem, exit code 2, no traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Usage errors (an unknown option, a value out of its range) as one ``error:`` line naming the
        option and what it allows, instead of click's usage block."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as e:  # a bare command: its help, as click would show it
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(0)
        except click.UsageError as e:
            click.echo(f"error: {' '.join(e.format_message().split())}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        if isinstance(rv, int) and rv != 0:  # ctx.exit(code) returns the code when not standalone
            sys.exit(rv)
        return rv

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ScenarioError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OSError as e:
            click.echo(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), err=True)
            ctx.exit(EXIT_BAD_INPUT)


def _run_settings(years: int | None, seed: int | None) -> dict:
    """The run settings given as options (--years, --seed), as scenario changes."""
    return {k: v for k, v in (("run.years", years), ("run.seed", seed)) if v is not None}


def _load(path: str | None, assignments: tuple[str, ...]) -> Scenario:
    scenario = Scenario.load(path) if path else Scenario.default()
    return scenario.with_assignments(list(assignments)) if assignments else scenario


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="placesim")
def main() -> None:
    """placesim: stress-test placement sufficiency, block contracts and spend for children in care."""


@main.group()
def scenario() -> None:
    """Show, write out or check scenario files."""


@scenario.command("show")
@click.argument("path", required=False)
def scenario_show(path: str | None) -> None:
    """Print a scenario (the built-in default if PATH is omitted) as commented TOML."""
    click.echo(_load(path, ()).to_toml(), nl=False)


@scenario.command("init")
@click.argument("path")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def scenario_init(path: str, force: bool) -> None:
    """Write the default scenario to PATH for editing."""
    p = Path(path)
    if p.exists() and not force:
        raise ScenarioError("", f"{p} already exists (use --force to overwrite)")
    p.write_text(Scenario.default().to_toml(), encoding="utf-8")
    click.echo(f"wrote {p}")


@scenario.command("check")
@click.argument("path")
def scenario_check(path: str) -> None:
    """Validate a scenario file and list what differs from the default."""
    s = Scenario.load(path)
    diffs = s.differences()
    click.echo(f"{path}: valid; {len(diffs)} value(s) differ from the default")
    for key, (mine, default) in diffs.items():
        click.echo(f"  {key} = {_toml_value(mine)}   (default {_toml_value(default)})")


@main.command("run")
@click.argument("path", required=False)
@click.option("-r", "--replications", type=click.IntRange(1), help="Replications (default: run.replications).")
@click.option("-y", "--years", type=click.IntRange(1, 200), help="Simulated years reported (default: run.years).")
@click.option("-s", "--seed", type=click.IntRange(0), help="Root seed (default: run.seed).")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under runs/).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Change one scenario value, e.g. --set contracts.ifa.places=8. Repeatable.")
@click.option("--keep-events", is_flag=True, help="Keep the event log of every replication, not just the first.")
@click.option("--force", is_flag=True, help="Run even when the estimated work is over run.max_events (the limit still stops a replication that reaches it).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the output folder.")
def run_cmd(path, replications, years, seed, out, assignments, keep_events, force, no_figures, quiet) -> None:
    """Run a scenario (the built-in default authority if PATH is omitted) and summarise it."""
    from experiments.runner import run
    from results.figures import write_figures
    from results.store import new_run_dir, write_tables, write_year_tables
    from results.summary import format_by_year, format_summary, summarise

    s = _load(path, assignments)
    if _run_settings(years, seed):
        s = s.replace(_run_settings(years, seed))
    n = replications or s.run.replications
    check_workload(s, force=force)  # before the output folder is made
    out_dir = Path(out) if out else new_run_dir("runs", s.name)
    _writable(out_dir)
    command = _command_line(click.get_current_context())
    if not quiet:
        click.echo(f"placesim: scenario '{s.name}', {n} replications x {s.run.years} years "
                   f"(+{s.run.warmup_years} warm-up), seed {s.run.seed}", err=True)
    with click.progressbar(length=n, label="simulating", file=sys.stderr) if not quiet else _NoBar() as bar:
        result = run(s, n, keep_events=keep_events, progress=bar.update, command=command, force=force)
    table = summarise(result.metrics)
    text = format_summary(table, title=f"Scenario '{s.name}': yearly means over {s.run.years} years, {n} replications")
    write_tables(out_dir, result.metrics, result.events, table, text, result.manifest)
    yearly, _ages = write_year_tables(out_dir, result.metrics, s.run.start_date.month)
    (out_dir / "by_year.txt").write_text(format_by_year(yearly) + "\n", encoding="utf-8")
    if not no_figures:
        write_figures(result.metrics, out_dir)
    _report(out_dir)
    if quiet:
        click.echo(str(out_dir))
        return
    click.echo(text)
    click.echo(f"\nThe same measures by financial year are in {out_dir / 'by_year.txt'} (and by_year.csv); children by "
               f"age band and pool in by_age.csv; everything in workbook.xlsx.")
    click.echo(f"Runtime {result.manifest['runtime_seconds']:.1f} s. Results in {out_dir}/")


@main.command("compare")
@click.argument("base")
@click.argument("alt")
@click.option("-r", "--replications", type=click.IntRange(2), help="Replications of each (default: BASE's run.replications).")
@click.option("-y", "--years", type=click.IntRange(1, 200), help="Simulated years reported, for both (default: run.years).")
@click.option("-s", "--seed", type=click.IntRange(0), help="Root seed, for both (default: BASE's run.seed).")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under runs/).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Change one value of BOTH scenarios. Repeatable.")
@click.option("--set-base", "base_assignments", multiple=True, metavar="KEY=VALUE", help="Change one value of BASE only. Repeatable.")
@click.option("--set-alt", "alt_assignments", multiple=True, metavar="KEY=VALUE", help="Change one value of ALT only. Repeatable.")
@click.option("--force", is_flag=True, help="Run even when the estimated work is over run.max_events.")
def compare_cmd(base, alt, replications, years, seed, out, assignments, base_assignments, alt_assignments, force) -> None:
    """Compare ALT with BASE under common random numbers (either may be 'default').

    --set changes both, --set-base and --set-alt one side; --years and --seed apply to both.
    Scenarios whose reported periods differ (run.years, run.start_date, run.warmup_years) are refused."""
    from experiments.compare import check_like_for_like, compare, format_comparison, side_name
    from results.store import new_run_dir, write_json, write_parquet, write_year_tables

    b = _load(None if base == "default" else base, assignments + base_assignments)
    a = _load(None if alt == "default" else alt, assignments + alt_assignments)
    common = _run_settings(years, seed)
    if common:
        b, a = b.replace(common), a.replace(common)
    b_name = side_name(base, b, base_assignments)
    a_name = side_name(alt, a, alt_assignments)
    if b_name == a_name:
        b_name, a_name = f"{b_name} (base)", f"{a_name} (alt)"
    check_like_for_like(b, a, f"BASE {b_name!r}", f"ALT {a_name!r}")
    n = replications or b.run.replications
    for side in (b, a):  # refused before the output folder is made; compare() checks the same for the Python API
        check_workload(side, force=force)
    out_dir = Path(out) if out else new_run_dir("runs", f"compare-{a.name}")
    _writable(out_dir)
    with click.progressbar(length=2 * n, label="simulating", file=sys.stderr) as bar:
        result = compare(b, a, n, progress=bar.update, force=force)
    text = format_comparison(result.table, b_name, a_name, result.by_year)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = pd.concat([result.base.metrics.assign(scenario="base"), result.alt.metrics.assign(scenario="alt")], ignore_index=True)
    write_parquet(metrics, out_dir / "metrics.parquet")
    write_year_tables(out_dir, metrics, b.run.start_date.month)
    result.table.to_csv(out_dir / "comparison.csv", index=False)
    result.by_year.to_csv(out_dir / "comparison_by_year.csv", index=False)
    (out_dir / "comparison.txt").write_text(text + "\n", encoding="utf-8")
    write_json({"kind": "placesim comparison", "command": _command_line(click.get_current_context()),
                "base_name": b_name, "alt_name": a_name, "base": result.base.manifest,
                "alt": result.alt.manifest}, out_dir / "manifest.json")
    _report(out_dir)
    click.echo(text)
    click.echo(f"\nResults in {out_dir}/")


def _writable(out_dir: Path) -> None:
    """Refuse, before any simulation, an output folder that cannot be created or written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".placesim-write-check"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as e:
        raise ScenarioError("--out", f"cannot write to {out_dir}: {e.strerror or e}") from None


@main.command("sweep")
@click.argument("experiment")
@click.option("-w", "--workers", type=click.IntRange(1), help="Worker processes (default: all cores). 1 runs in this process.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under runs/).")
@click.option("--resume", is_flag=True, help="Finish the runs missing from --out (the same experiment only).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a pool of processes on this machine; dask: a dask.distributed cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="Address of a dask scheduler, e.g. tcp://10.0.0.5:8786 "
              "(with --executor dask; without it a local dask cluster of --workers processes is started).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures of the risk register.")
@click.option("--force", is_flag=True, help="Run scenarios whose estimated work is over run.max_events.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; print only the output folder.")
def sweep_cmd(experiment, workers, out, resume, executor, scheduler, no_figures, force, quiet) -> None:
    """Run every scenario x replication of an EXPERIMENT file, then write the risk register."""
    import os
    import time

    from experiments.experiment import load_experiment
    from experiments.sweep import SweepAborted, check_folder, scan_parts, sweep
    from results.store import new_run_dir

    if scheduler and executor != "dask":
        raise ScenarioError("--scheduler", "needs --executor dask")
    if resume and not out:
        raise ScenarioError("--resume", "needs --out, the folder of the sweep to finish")
    exp = load_experiment(experiment)  # validates every scenario before anything runs
    for point in exp.points:  # and refuses, before anything runs, a scenario that would take too much
        try:
            check_workload(point.scenario, force=force, workers=1)
        except ScenarioError as e:
            raise ScenarioError(e.key, f"{e.problem} (scenario {point.label})") from None
    out_dir = Path(out) if out else new_run_dir("runs", f"sweep-{exp.name}")
    manifest = check_folder(out_dir, exp, resume)  # writes nothing; rebuilds a damaged manifest if it can
    _writable(out_dir)
    total = len(exp.runs())
    workers = workers or os.cpu_count() or 1
    where = f"dask scheduler {scheduler}" if scheduler else (
        f"a local dask cluster of {workers} workers" if executor == "dask" else f"{workers} local worker(s)")
    if not quiet:
        click.echo(f"placesim sweep '{exp.name}': {len(exp.points)} scenarios x {exp.replications} replications = "
                   f"{total} runs on {where}, seed {exp.seed}; results in {out_dir}/", err=True)
    for note in manifest.get("rebuilt", []) if resume else []:
        click.echo(f"note: {note['damage']}; rebuilt from {experiment} ({note['evidence']})", err=True)
    scan = scan_parts(out_dir) if resume else None
    for path, why in scan.damaged.items() if scan else ():
        click.echo(f"note: {path} cannot be read ({why}); it is set aside as {path.name}.damaged and run again", err=True)
    already = len(set(scan.good) & {r.run_id for r in exp.runs()}) if scan else 0
    t0 = time.perf_counter()
    state = {"done": 0, "failed": 0}
    label = f"runs ({already} done before)" if already else "runs"
    bar_cm = click.progressbar(length=total - already, label=label, file=sys.stderr, show_eta=True, show_pos=True,
                               item_show_func=lambda s: s) if not quiet else _NoBar()
    with bar_cm as bar:
        def progress(outcome) -> None:
            state["done" if outcome.ok else "failed"] += 1
            rate = (state["done"] + state["failed"]) / max(time.perf_counter() - t0, 1e-9)
            bar.update(1, f"{rate:.1f} runs/s" + (f", {state['failed']} failed" if state["failed"] else ""))

        try:
            result = sweep(exp, out_dir, workers=workers, executor=executor, scheduler=scheduler, resume=resume,
                           progress=progress, figures=not no_figures, command=_command_line(click.get_current_context()))
        except SweepAborted as e:
            click.echo(f"\nerror: {e}. Finished runs are saved in {out_dir}/; finish them with: "
                       f"placesim sweep {experiment} --out {out_dir} --resume", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted. Finished runs are saved in {out_dir}/; finish them with: "
                       f"placesim sweep {experiment} --out {out_dir} --resume", err=True)
            sys.exit(130)
    text = result.risk_text
    _report(out_dir)
    if quiet:
        click.echo(str(out_dir))
        return
    click.echo(f"{result.total} runs: {result.skipped} done before, {result.done} done now, "
               f"{len(result.failures)} failed, in {result.seconds:.1f} s")
    click.echo("")
    click.echo(text, nl=False)
    click.echo(f"\nResults in {out_dir}/")


@main.command("risk")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
def risk_cmd(folder, no_figures) -> None:
    """Write the risk register of a sweep FOLDER again (risk.parquet, risk.csv, risk.txt, figures)."""
    from experiments.sweep import write_risk

    _reg, text = write_risk(Path(folder), figures=not no_figures)
    _report(Path(folder))
    click.echo(text, nl=False)
    click.echo(f"\nResults in {folder}/")


@main.command("report")
@click.argument("folder", type=click.Path(file_okay=False))
def report_cmd(folder) -> None:
    """Write report.html (one self-contained page) and workbook.xlsx for a run, comparison, sweep or appraisal FOLDER."""
    from results.report import write_report
    from results.workbook import write_workbook

    click.echo(str(write_report(Path(folder))))
    click.echo(str(write_workbook(Path(folder))))


def _report(folder: Path) -> None:
    """Write the folder's report.html and workbook.xlsx at the end of a command."""
    from results.report import write_report
    from results.workbook import write_workbook

    write_report(folder)
    write_workbook(folder)


@main.command("appraise")
@click.option("-p", "--phase", type=click.Choice(["fostering", "16plus", "residential", "all"]), default="all",
              show_default=True, help="Which phase's options A-E to appraise.")
@click.option("-r", "--replications", type=click.IntRange(2), default=200, show_default=True,
              help="Replications per option (the same seeds for every option).")
@click.option("-w", "--workers", type=click.IntRange(1), help="Worker processes (default: all cores). 1 runs in this process.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under runs/).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures (report.html still has its own).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; print only the output folder.")
def appraise_cmd(phase, replications, workers, out, no_figures, quiet) -> None:
    """Appraise the council's commissioning options A-E: the appraisal's own figures against simulated spend and risk."""
    from experiments.appraise import appraise, format_appraisal, load_options, write_appraisal
    from results.report import write_report
    from results.workbook import write_workbook
    from results.store import new_run_dir

    n_runs = len({o.id for o in load_options(phase)}) * replications
    out_dir = Path(out) if out else new_run_dir("runs", f"appraise-{phase}")
    _writable(out_dir)  # before any simulation
    with click.progressbar(length=n_runs, label="simulating", file=sys.stderr, show_eta=True) if not quiet else _NoBar() as bar:
        result = appraise(phase, replications, workers=workers, progress=bar.update)
    write_appraisal(result, out_dir, command=_command_line(click.get_current_context()), figures=not no_figures)
    report = write_report(out_dir)
    write_workbook(out_dir)
    if quiet:
        click.echo(str(out_dir))
        return
    click.echo(format_appraisal(result.table, replications))
    click.echo(f"\n{len(result.options)} options x {replications} replications in {result.seconds:.1f} s on "
               f"{result.workers} worker(s). Results in {out_dir}/ (report: {report.name})")


def _toml_value(v) -> str:
    """A scenario value as it would be written on one line of a scenario file."""
    import datetime as dt
    import json

    if v is None:
        return "not set"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, int, float)):
        return v.isoformat() if isinstance(v, dt.date) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def _command_line(ctx: click.Context) -> str:
    """The command as it was given, rebuilt from the parsed parameters (works the same in tests)."""
    parts: list[str] = []
    for p in ctx.command.params:
        value = ctx.params.get(p.name)
        if value in (None, False, ()) or not isinstance(p, (click.Option, click.Argument)):
            continue
        flag = p.opts[-1] if isinstance(p, click.Option) else None
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if flag and v is True:
                parts.append(flag)
            elif flag:
                parts += [flag, str(v)]
            else:
                parts.append(str(v))
    return " ".join([ctx.command_path, shlex.join(parts)]).strip()


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int, current_item=None) -> None:
        pass


from experiments.calibrate_cli import backtest_cmd, calibrate_cmd, export_cmd  # noqa: E402

main.add_command(calibrate_cmd)
main.add_command(backtest_cmd)
main.add_command(export_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
