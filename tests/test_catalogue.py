"""The one catalogue of measures: every table reads it, and the README documents every metric."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from experiments import appraise, compare
from experiments.runner import run
from models.scenario import Scenario
from results import measures, risk, summary
from results.formatting import excel_format, fmt

ROOT = Path(__file__).resolve().parents[1]


def readme_metrics() -> set[str]:
    """The metric names in the first column of the README's Metrics table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names.update(re.findall(r"`([a-z0-9_]+)`", first))
    return names


@pytest.fixture(scope="module")
def produced() -> set[str]:
    """Every metric a short run of the default authority (with a block, a fee uplift and a new home) writes."""
    s = Scenario.default().replace({"run.years": 2, "run.warmup_years": 1, "contracts.ifa.places": 4,
                                    "recruitment.fee_uplift": 0.1,
                                    "inhouse.residential.openings": [{"start": "2020-04-01", "places": 2}]})
    return set(run(s, replications=1).metrics.metric.unique())


def test_every_metric_is_documented_in_the_readme(produced):
    documented = readme_metrics()
    assert produced - documented == set(), "metrics missing from the README's Metrics table"
    catalogued = {m.metric for m in measures.MEASURES.values()}
    assert catalogued - documented == set(), "catalogue metrics missing from the README"
    assert catalogued - produced == set(), "catalogue metrics the engine never writes"


def test_every_table_reads_its_measures_from_the_catalogue():
    keys = set(measures.MEASURES)
    assert set(measures.COMPARE) <= keys and set(measures.RISK) <= keys and set(measures.APPRAISAL) <= keys
    assert set(measures.BY_YEAR) <= keys
    # the register's and the appraisal's measures are the catalogue's, label and unit included
    for key, (label, metric, pool, unit) in risk.MEASURES.items():
        m = measures.measure(key)
        assert (label, metric, pool, unit) == (m.label, m.metric, m.pool, m.unit)
    assert appraise.MEASURES is measures.APPRAISAL
    assert all(appraise.LABELS[k] == measures.measure(k).label for k in measures.APPRAISAL)
    # summary rows come in catalogue order with catalogue labels
    assert summary.SUMMARY_COLUMNS[:5] == ["section", "measure", "metric", "pool", "unit"]
    labels = [(m.label, m.metric, m.pool) for m in measures.SUMMARY]
    assert len(set(labels)) == len(labels)
    assert compare.paired_table.__module__ == "experiments.compare"


def test_the_utilisation_threshold_is_declared_once():
    hits = []
    for path in [*ROOT.glob("results/*.py"), *ROOT.glob("experiments/*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "#" in line:  # a documented example, not a default
                continue
            if re.search(r"MIN_UTILISATION\s*=\s*[0-9]", line) or re.search(r"min_utilisation\s*[:=].*\b0\.7", line):
                hits.append((path.name, line.strip()))
    assert hits == [("measures.py", "MIN_UTILISATION = 0.70")], hits


def test_one_formatter_per_unit():
    assert fmt(1234567.4, "GBP/year") == "£1,234,567"
    assert fmt(-950.0, "GBP/year", signed=True) == "-£950"
    assert fmt(2.5e6, "GBP/year", compact=True) == "£2.50m"
    assert fmt(0.1234, "share") == "12.3%" and fmt(0.012, "share", signed=True) == "+1.2pp"
    assert fmt(349.35, "days/year") == "349" and fmt(12.34, "children") == "12.3" and fmt(0.5, "moves") == "0.50"
    assert fmt(float("nan"), "share") == "–"
    assert excel_format("GBP/year").startswith('"£"') and excel_format("share") == "0.0%"


def test_financial_year_labels():
    assert measures.financial_year(2019) == "2019/20" and measures.financial_year(2099) == "2099/00"
    assert measures.financial_year(2019, start_month=1) == "2019"


def test_the_readme_scenario_example_and_the_question_files_are_valid():
    """What the README shows and the question files a commissioner copies are real, valid scenarios."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    example = text.split('```toml\nname = "IFA block, complex needs"', 1)[1].split("\n```", 1)[0]
    s = Scenario.from_toml('name = "IFA block, complex needs"' + example)
    assert s.entries.growth is not None and s.inhouse.residential.openings and s.recruitment.campaigns
    files = sorted((ROOT / "experiments" / "questions").glob("*.toml"))
    assert len(files) == 4
    for path in files:
        q = Scenario.load(path)
        assert q.name != "default" and q.differences()
