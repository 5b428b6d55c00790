"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from experiments.cli import main

#: a 2 x 2 sweep of one-year runs: IFA block places x retainer, with an appetite every scenario meets
TINY_EXPERIMENT = ('name = "tiny"\nreplications = 2\n[base]\nset = { "run.years" = 1, "run.warmup_years" = 1 }\n'
                   '[factors]\n"contracts.ifa.places" = [0, 4]\n"contracts.ifa.retainer" = [0.0, 0.5]\n'
                   '[risk]\nappetite = ["waiting_days.p90 <= 100000"]\n')


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The folder of :data:`TINY_EXPERIMENT` swept once (no figures), for the tests that read its report and workbook."""
    root = tmp_path_factory.mktemp("tiny-sweep")
    exp = root / "e.toml"
    exp.write_text(TINY_EXPERIMENT, encoding="utf-8")
    out = root / "s"
    res = CliRunner().invoke(main, ["sweep", str(exp), "--workers", "1", "--out", str(out), "--quiet", "--no-figures"])
    assert res.exit_code == 0, res.output
    return out
