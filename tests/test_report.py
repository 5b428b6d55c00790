"""report.html: one self-contained page for a run, a comparison, a sweep and an appraisal."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main
from results.assumptions import assumptions_table, field_info
from results.report import chance, folder_kind, write_report

SMALL = ["--set", "run.years=2", "--set", "run.warmup_years=1"]


def _self_contained(text: str) -> None:
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the page loads something from the network"
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "@media print" in text


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    res = CliRunner().invoke(main, ["run", "-r", "3", "--out", str(out), "--quiet", "--no-figures",
                                    "--set", "contracts.ifa.places=6", *SMALL])
    assert res.exit_code == 0, res.output
    return out


def test_run_writes_a_self_contained_report_with_its_numbers(run_dir):
    import pandas as pd

    text = (run_dir / "report.html").read_text(encoding="utf-8")
    _self_contained(text)
    assert len(re.findall(r"<img ", text)) == 4  # fan chart, spend by cost type, block utilisation, stability
    m = pd.read_parquet(run_dir / "metrics.parquet")
    spend = m[(m.metric == "spend_total") & (m.pool == "all")].groupby("replication").value.mean().median()
    assert f"£{spend:,.0f} a year (P50, the median replication)" in text
    assert "IFA fostering) is" in text and "chance of a year in which a block stands more than 30% empty" in text \
        or "In no simulated year a block stands more than 30% empty" in text
    # the assumptions list every changed value with its source from the schema
    assert "contracts.ifa.places" in text and "run.years" in text
    assert "Placements Commissioning Strategy" in text and "seed 00" not in text  # sources cited by title
    # contract terms are always shown, and the tables by year and by age are there
    assert "IFA fostering block contract" in text and "£750" in text and "60% of the price" in text
    assert "By financial year" in text and "2019/20" in text and "2020/21" in text
    assert "by age" in text and "under 1" in text and "10-15" in text
    assert "P50 is the median" in text
    assert "placesim version" in text and "20190401" in text


def test_report_command_rewrites_and_bad_folders_are_one_line_errors(run_dir, tmp_path):
    (run_dir / "report.html").unlink()
    (run_dir / "workbook.xlsx").unlink()
    res = CliRunner().invoke(main, ["report", str(run_dir)])
    assert res.exit_code == 0 and (run_dir / "report.html").is_file() and (run_dir / "workbook.xlsx").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["report", str(empty)])
    assert res.exit_code == 2
    assert res.output.strip() == f"error: {empty} holds no placesim results (no manifest.json)"


def test_compare_report(tmp_path):
    out = tmp_path / "c"
    res = CliRunner().invoke(main, ["compare", "default", "default", "-r", "3", "--out", str(out),
                                    "--set-alt", "contracts.ifa.places=6", *SMALL])
    assert res.exit_code == 0, res.output
    assert folder_kind(out) == "compare"
    text = (out / "report.html").read_text(encoding="utf-8")
    _self_contained(text)
    assert "The two scenarios, paired" in text and "90% confidence interval of the paired difference" in text
    assert "BASE: default" in text and "ALT: default with contracts.ifa.places=6" in text


def test_sweep_report_has_heatmap_and_frontier(tiny_sweep):
    out = tiny_sweep
    text = (out / "report.html").read_text(encoding="utf-8")
    _self_contained(text)
    assert 'alt="Heatmap of P50 spend"' in text and 'alt="Frontier"' in text
    assert "Recommended: " in text and "Risk register" in text
    assert "the median (P50) of days waiting without a suitable placement" not in text  # the appetite is on P90
    assert "the P90 of days waiting without a suitable placement at most 100,000 days a year" in text
    assert "waiting_days.p90 &lt;= " not in text and "waiting_days.p90 <= " not in text  # limits in words, not code
    assert text.count("<tr>") >= 1 + 4  # header + the 4 scenarios


def test_chance_and_sources():
    assert chance(0.2, "x") == "There is a 1 in 5 chance of a year in which x."
    assert chance(0.0, "x") == "In no simulated year x."
    assert chance(0.75, "x") == "There is a 75% chance of a year in which x."
    doc, source = field_info("spot.ifa.tightness")
    assert "search fails" in doc and "Complex Needs Accommodation Sufficiency Strategy" in source  # the section's
    t = assumptions_table({"contracts.ifa.places": (8, 0)}, {"contracts.ifa.places": "appraisal 11.1"})
    row = t.iloc[0].to_dict()
    assert row["source of the value"] == "appraisal 11.1" and row["set by"] == "preset"
    # a value the user set is labelled as the user's, not given the default's source
    row = assumptions_table({"spot.ifa.tightness": (0.5, 0.2)}).iloc[0].to_dict()
    assert row["set by"] == "this scenario" and row["source of the value"] == "the user's own value (no source recorded)"
    assert "Placements Commissioning Strategy" in row["source of the default"]


# --------------------------------------------------------------------------- in a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--hide-scrollbars"]
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images), d = document.documentElement;
  d.setAttribute('data-images', imgs.length);
  d.setAttribute('data-broken', imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length);
  var s = document.querySelector('#summary .summary');
  d.setAttribute('data-summary-visible', s && s.offsetHeight > 0 ? s.innerText.length : 0);
  d.setAttribute('data-table-rows', document.querySelectorAll('#table tbody tr').length);
  d.setAttribute('data-table-visible', document.querySelector('#table table').offsetHeight);
});
</script>"""


def browse(page: Path, profile: Path, *extra: str) -> str:
    """Load ``page`` in headless Chromium with a fresh profile; returns the DOM after load."""
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000", *extra,
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)")
def test_appraisal_report_renders_in_headless_chromium(tmp_path):
    assert CHROMIUM, "chromium is missing: .ci/run installs the Debian packages chromium and chromium-driver"
    from experiments.appraise import appraise, write_appraisal

    out = write_appraisal(appraise("fostering", replications=2, workers=1), tmp_path / "a", figures=False)
    report = write_report(out)
    text = report.read_text(encoding="utf-8")
    _self_contained(text)
    probed = tmp_path / "probed.html"  # the page as written, plus a script that records what rendered
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = browse(probed, tmp_path / "profile", "--dump-dom")
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', dom[:2000]))
    assert int(attrs["images"]) >= 5 and int(attrs["broken"]) == 0, attrs
    assert int(attrs["summary-visible"]) > 200 and int(attrs["table-visible"]) > 100, attrs
    assert int(attrs["table-rows"]) == 2 * 5  # cost and stability tables, five options each
    assert "Fostering: option E, the appraisal's recommendation, costs £" in dom
    shot = tmp_path / "shot.png"
    browse(report, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,1600")
    assert shot.stat().st_size > 20_000


def test_colours_come_from_one_palette():
    """No figure module defines its own colours, so a pool keeps its colour in every figure."""
    from results import figures, palette, report_figures, risk_figures

    for module in (figures, risk_figures, report_figures):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.findall(r'"#[0-9A-Fa-f]{6}"', source), module.__name__
        assert "from results.palette import" in source, module.__name__
    assert figures.POOL_COLOURS is palette.POOL_COLOURS
    assert len(set(palette.POOL_COLOURS.values())) == len(palette.POOL_COLOURS)
    assert palette.MARKET_COLOURS == {m: palette.POOL_COLOURS[m] for m in palette.MARKET_COLOURS}


def _print_widths(page: Path, profile: Path) -> list[list]:
    """Every table's width against its container's, laid out for print on A4 (182 mm of text width,
    688 CSS pixels, once the report's 14 mm margins are taken off), in headless Chromium via Selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", *FLAGS[1:], f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    try:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 688, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        driver.get(page.as_uri())
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('table')).map("
            "t => [t.className, t.scrollWidth, t.parentElement.clientWidth]);")
    finally:
        driver.quit()


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)")
def test_printed_reports_keep_every_table_column_on_a4(tmp_path):
    """A 10-year comparison (two tables by year of 10 columns, the contract terms, the assumptions with a custom
    policy) and an appraisal (its wide options tables): printed on A4, no table is wider than the page."""
    assert CHROMIUM, "chromium is missing: .ci/run installs the Debian packages chromium and chromium-driver"
    cmp = tmp_path / "c"
    res = CliRunner().invoke(main, ["compare", "default", "experiments/questions/ifa_block_complex.toml", "-r", "2",
                                    "--set", "run.warmup_years=0", "--set", "entries.initial_children=100",
                                    "--set-alt", 'policy.rules=[{order = ["kinship", "inhouse_fostering", "ifa_block", '
                                    '"ifa_spot", "residential_inhouse", "residential_spot", "supported_inhouse", "supported_spot"]}]',
                                    "--out", str(cmp)])
    assert res.exit_code == 0, res.output
    from experiments.appraise import appraise, write_appraisal

    app = write_appraisal(appraise("fostering", replications=2, workers=1), tmp_path / "a", figures=False)
    write_report(app)
    for folder in (cmp, app):
        widths = _print_widths(folder / "report.html", tmp_path / f"profile-{folder.name}")
        assert len(widths) >= 4, widths
        too_wide = [w for w in widths if w[1] > w[2] + 1]
        assert not too_wide, (folder.name, too_wide)
