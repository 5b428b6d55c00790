"""The calibration report folder and the backtest's outputs: tables, text and figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from calibration.backtest import Backtest, format_backtest  # noqa: E402
from calibration.clean import Episodes  # noqa: E402
from calibration.codes import CodeMap  # noqa: E402
from calibration.estimate import Estimates  # noqa: E402
from calibration.read903 import Returns  # noqa: E402
from models.catalogue import POOL_LABELS  # noqa: E402

LABELS = {**POOL_LABELS, "all": "All children in care", "other": "Other placements"}


def calibration_text(ret: Returns, eps: Episodes, est: Estimates, codes: CodeMap, fit_warnings=()) -> str:
    """The report: rows read, warnings with counts and examples, repairs, cleaning, the fit's warnings, every estimate."""
    used = len(ret.episodes)
    lines = [f"SSDA903 returns {eps.years[0]}-{eps.years[-1]} ({len(eps.years)} years), {len(ret.files)} files",
             f"Rows read: {ret.rows_read}; rejected: {len(ret.rejected)} (see rejected_rows.csv); "
             f"episode rows used: {used}"]
    if len(ret.rejected):
        lines.append("Rejected rows by reason:")
        reasons = ret.rejected.reason.str.replace(r" ('.*'|\(\d+, the column line has \d+\))$", "", regex=True).value_counts()
        lines += [f"  {n:>6}  {r}" for r, n in reasons.items()]
    lines.append(f"Layout: {ret.layout}" if ret.layout else "Layout: (built in memory)")
    if ret.date_orders:
        lines.append("Date order, told from each file's values:")
        lines += [f"  {f}: {note}" for f, note in ret.date_orders.items()]
    if ret.warnings:
        lines.append(f"Warnings ({len(ret.warnings)}): what was odd, what was done, how often, examples")
        lines += [f"  {w.line()}" for w in ret.warnings]
    else:
        lines.append("Warnings: none")
    if ret.repairs:
        lines.append("Repairs (rows kept, not rejected):")
        lines += [f"  {n:>6}  {k}" for k, n in ret.repairs.items()]
    lines.append("Cleaning:")
    lines += [f"  {n:>6}  {k}" for k, n in eps.counts.items()]
    lines.append("")
    if fit_warnings:
        lines.append(f"How far to trust the fit ({len(fit_warnings)} warnings)")
        lines += [f"  {w.line()}" for w in fit_warnings]
    else:
        lines.append("How far to trust the fit: no warnings")
    lines.append("")
    lines.append("Estimates (95% intervals)")
    table = est.table()
    for r in table.itertuples():
        interval = f"[{r.lo95:.4g}, {r.hi95:.4g}]" if np.isfinite(r.lo95) else ""
        lines.append(f"  {r.quantity:<45} {r.group:<45} {r.value:>10.4g} {interval}")
    lines.append("")
    lines.append("Time in care, Kaplan-Meier by age band at entry (periods starting in the window)")
    lines.append(est.km.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    lines.append("")
    lines.append("Exit routes by age band at exit (shares)")
    lines.append(est.exit_shares.to_string(float_format=lambda v: f"{v:.3f}"))
    lines.append("")
    lines.append("Code mapping (PLACE or PLACE/PLACE_PROVIDER -> pool); unplanned REASON_PLACE_CHANGE: " + ", ".join(codes.unplanned))
    lines.append("  " + ", ".join(f"{c}={p}" for c, p in codes.describe()))
    return "\n".join(lines)


def write_calibration_report(folder: Path, ret: Returns, eps: Episodes, est: Estimates, codes: CodeMap,
                             fit_warnings=()) -> str:
    """``report.txt``, ``warnings.csv``, ``estimates.csv``, ``rejected_rows.csv``, ``episodes_clean.csv`` and ``entries.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = calibration_text(ret, eps, est, codes, fit_warnings)
    pd.DataFrame([(stage, w.kind, w.message, w.count, "; ".join(w.examples)) for stage, ws in
                  (("import", ret.warnings), ("fit", fit_warnings)) for w in ws],
                 columns=["stage", "kind", "message", "count", "examples"]).to_csv(folder / "warnings.csv", index=False)
    (folder / "report.txt").write_text(text + "\n", encoding="utf-8")
    est.table().to_csv(folder / "estimates.csv", index=False)
    ret.rejected.to_csv(folder / "rejected_rows.csv", index=False)
    eps.table.to_csv(folder / "episodes_clean.csv", index=False)
    _entries_figure(est, folder / "entries.png")
    return text


def _entries_figure(est: Estimates, path: Path) -> None:
    years = list(est.entries_by_year)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    ax.bar(years, list(est.entries_by_year.values()), color="#0072B2", alpha=0.7, label="entries (RNE S)")
    ax.errorbar([years[-1] + 1], [est.entry_rate.value],
                yerr=[[est.entry_rate.value - est.entry_rate.lo], [est.entry_rate.hi - est.entry_rate.value]],
                fmt="o", color="black", capsize=4, label="fitted, year after the last return (95%)")
    ax.set_xlabel("Return (year ending 31 March)")
    ax.set_ylabel("Children entering care")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_backtest(folder: Path, bt: Backtest) -> str:
    """``backtest.csv``, ``backtest.txt``, ``backtest_stock.png`` and ``backtest_flows.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = format_backtest(bt)
    bt.table.to_csv(folder / "backtest.csv", index=False)
    (folder / "backtest.txt").write_text(text + "\n", encoding="utf-8")
    t = bt.table
    stock = t[t.measure == "stock"]
    _panels(stock, list(dict.fromkeys(stock.pool)), "pool", folder / "backtest_stock.png",
            "Children in care on 31 March: observed (dots) and simulated median with 90% interval")
    flows = t[t.measure != "stock"]
    _panels(flows, list(dict.fromkeys(flows.measure)), "measure", folder / "backtest_flows.png",
            "Entries, exits, moves and the share with 3+ placements: observed and simulated")
    return text


def _panels(data: pd.DataFrame, keys: list[str], column: str, path: Path, title: str) -> None:
    cols = 3
    rows = max(1, -(-len(keys) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.0 * rows), dpi=100, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        d = data[data[column] == key].sort_values("year")
        ax.fill_between(d.year, d.p5, d.p95, color="#0072B2", alpha=0.2, lw=0)
        ax.plot(d.year, d.p50, color="#0072B2", lw=1.5)
        colours = np.where(d.inside, "black", "#D55E00")
        ax.scatter(d.year, d.observed, c=colours, s=18, zorder=3)
        ax.set_title(LABELS.get(key, key.replace("_", " ")), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
