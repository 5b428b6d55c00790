"""Results on disk: tidy parquet tables, a JSON manifest and a text summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FILES = {
    "metrics.parquet": "tidy metrics: replication, year, metric, pool, value",
    "events.parquet": "the event log of replication 0 (of all replications with --keep-events)",
    "summary.csv": "the summary table: each measure's mean and 90% interval across replications",
    "summary.txt": "the summary table as printed",
    "by_year.csv": "the yearly table: P10, P50, P90 and mean of spend, children by pool and waiting, by financial year",
    "by_age.csv": "children in care at each year end by age band and pool: P10, P50, P90 and mean",
    "workbook.xlsx": "the Excel workbook: summary, by year, by pool, by age, assumptions with sources, provenance",
    "manifest.json": "scenario, seeds, package versions, runtime, command line",
    "children_by_pool.png": "children by pool per year: mean and 90% band across replications",
    "spend_by_pool.png": "yearly spend by pool (mean across replications)",
    "step_flows.png": "step-downs, step-ups and staying-put starts per year, and the cost saved by step-downs",
    "siblings_together.png": "share of sibling groups placed together at entry and a year later",
    "carer_pool.png": "in-house households and approved places over time; approvals against households leaving",
}


def new_run_dir(base: str | Path = "runs", name: str = "run") -> Path:
    """A fresh folder ``base/YYYYmmdd-HHMMSS-name`` (suffixed if it already exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:40] or "run"
    path = Path(base) / f"{stamp}-{safe}"
    k = 1
    while path.exists():
        k += 1
        path = Path(base) / f"{stamp}-{safe}-{k}"
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write atomically (temporary file, then rename) with deterministic bytes for equal data."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def write_json(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_tables(out: Path, metrics: pd.DataFrame, events: pd.DataFrame, summary: pd.DataFrame,
                 summary_text: str, manifest: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(metrics, out / "metrics.parquet")
    write_parquet(events, out / "events.parquet")
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.txt").write_text(summary_text + "\n", encoding="utf-8")
    write_json(manifest, out / "manifest.json")


def write_year_tables(out: Path, metrics: pd.DataFrame, start_month: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``by_year`` and ``by_age`` (CSV and parquet) and return them."""
    from results.summary import by_age, by_year

    out.mkdir(parents=True, exist_ok=True)
    yearly, ages = by_year(metrics, start_month), by_age(metrics, start_month)
    for name, table in (("by_year", yearly), ("by_age", ages)):
        write_parquet(table, out / f"{name}.parquet")
        table.to_csv(out / f"{name}.csv", index=False)
    return yearly, ages


def read_run(path: str | Path) -> dict:
    """Load a run folder back: metrics, events and manifest."""
    p = Path(path)
    return {
        "metrics": pd.read_parquet(p / "metrics.parquet"),
        "events": pd.read_parquet(p / "events.parquet"),
        "manifest": json.loads((p / "manifest.json").read_text(encoding="utf-8")),
    }
