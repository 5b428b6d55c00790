"""Statistical agreement of the simulator with results known in closed form.

Every test runs a fixed set of seeds, so it is deterministic; the tolerances are
nevertheless derived from the sample size, so that a correct model passes with
a wide margin and a wrong mechanism fails.

How the tolerances are set
--------------------------
Replications are independent (each has its own spawned random streams), so a
per-replication estimate X_r is one *batch mean*. Over R replications the
estimate is mean(X_r) with standard error SE = sd(X_r) / sqrt(R), and the test
requires |mean(X_r) - expected| <= Z * SE with Z = 4. For a correct model the
t-statistic with R - 1 degrees of freedom exceeds 4 with probability about 0.1%
(R = 16) to 0.5% (R = 8), so a new seed or a harmless change of the random
streams will not make the test flaky. Where the variance is known analytically
(M/G/inf population counts) the analytic standard error is used instead.

A loose tolerance would make the test pass whatever the model does, so each
test also checks its own power: the tolerance must be small enough to reject
the answer a plausible wrong mechanism would give (one block place more or
fewer, stays one day longer, ...). Those checks are the "deliberately wrong
expected value" made explicit.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from models.catalogue import AGE_EDGES_YEARS, DAYS_PER_YEAR
from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.engine import simulate

Z = 4.0


def erlang_b(c: int, a: float) -> float:
    """Erlang's loss formula by the stable recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def batch(x) -> tuple[float, float]:
    """Mean and standard error of independent per-replication estimates."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def metric(m: pd.DataFrame, name: str, pool: str) -> np.ndarray:
    return m[(m.metric == name) & (m.pool == pool)].sort_values("year").value.to_numpy()


# --------------------------------------------------------------------------- Erlang loss
#
# One IFA block of C places open for the whole run, Poisson entries at LAM a year,
# exponential stays of mean 1/H years (the same return-home hazard in every age band,
# no other route, no leaving at 18), nothing else: no breakdowns, no moves, no kinship,
# no in-house places (the only rule is ifa_block -> ifa_spot) and an unlimited spot
# market that answers at once (tightness 0, search_days 0). A child who finds the block
# full is placed in the spot market for its whole stay and never comes back: the block
# is an M/M/C/C loss system and the spot market an M/M/inf overflow. By PASTA the share
# of entrants whose first placement is ifa_spot is Erlang B(C, a), a = LAM / H, and the
# mean number of busy block places is a (1 - B).
#
# Sizes: a = 10, C = 10 gives B = 0.2146. With a 7.3-day mean stay the system forgets
# its state within days, so 20 reported years per replication hold ~10,000 entrants
# and ~1,000 independent "relaxation times"; the one-year warm-up (50 mean stays)
# removes the empty-start transient entirely. With R = 16 replications the measured
# standard error of the blocking share is ~0.0017 (tolerance ~0.007), while one place
# more or fewer moves B by 0.051-0.059, i.e. about 30 standard errors.

LAM, H, C = 500.0, 50.0, 10
ERLANG_YEARS, ERLANG_WARMUP, ERLANG_REPS = 20, 1, 16


def erlang_scenario() -> Scenario:
    start = Scenario.default().run.start_date
    zeros = [0.0] * 5
    return Scenario.default().replace({
        "name": "erlang loss",
        "run.years": ERLANG_YEARS, "run.warmup_years": ERLANG_WARMUP, "run.seed": 4242,
        "entries.enabled": True, "entries.rate_per_year": LAM, "entries.trend": 0.0, "entries.initial_children": 0,
        "exits.enabled": True, "exits.leave_at_18": False,
        "exits.return_home": [H] * 5, "exits.adoption": zeros, "exits.special_guardianship": zeros, "exits.other": zeros,
        "breakdowns.enabled": False, "move_on.enabled": False, "kinship.enabled": False, "carers.enabled": False, "siblings.enabled": False,
        "ifa_carers.enabled": False, "parent_child.enabled": False,
        "contracts.ifa.places": C,
        # open from the first engine day (the warm-up start) until after the horizon
        "contracts.ifa.start": start - dt.timedelta(days=round(ERLANG_WARMUP * DAYS_PER_YEAR)),
        "contracts.ifa.term_years": ERLANG_YEARS + ERLANG_WARMUP + 1,
        "spot.ifa.enabled": True, "spot.ifa.tightness": 0.0, "spot.ifa.search_days": 0.0,
        "policy.rules": [{"order": ["ifa_block", "ifa_spot"]}],
    })


@pytest.fixture(scope="module")
def erlang_runs() -> pd.DataFrame:
    """Per-replication estimates: blocking share, mean block occupancy, mean number in care."""
    s = erlang_scenario()
    rows = []
    for r in range(ERLANG_REPS):
        ev = simulate(s, r).events
        m = replication_metrics(ev, s, r)
        entrants = ev[(ev.event == "enter") & (ev.reason == "entry") & (ev.day >= 0)].child
        first = ev[ev.event == "place"].drop_duplicates("child").set_index("child").option.astype(str)
        first = first.reindex(entrants.to_numpy())
        assert first.notna().all(), "every entrant is placed at once (unlimited spot market)"
        rows.append({
            "entrants": len(entrants),
            "blocked": float((first == "ifa_spot").mean()),
            "occupancy": float(metric(m, "block_utilisation", "ifa").mean() * C),
            "in_care": float(metric(m, "children_mean", "all").mean()),
            "in_ifa": float(metric(m, "children_mean", "ifa").mean()),
            "waiting": float(metric(m, "children_mean", "waiting").mean()),
        })
    return pd.DataFrame(rows)


def test_erlang_scenario_is_the_intended_system(erlang_runs):
    s = erlang_scenario()
    ev = simulate(s.replace({"run.years": 1}), 0).events
    # the block is open from the first engine day, and only block and spot places are used
    opened = ev[ev.event == "contract_open"]
    assert len(opened) == 1 and opened.day.iloc[0] == -ERLANG_WARMUP * DAYS_PER_YEAR
    assert set(ev[ev.event == "place"].option.astype(str)) == {"ifa_block", "ifa_spot"}
    assert ev[ev.event == "place"].child.is_unique  # one placement per child: never a move
    assert (ev[ev.event == "exit"].reason.astype(str) == "return_home").all()
    # nobody ever waits: the overflow search answers at once
    assert erlang_runs.waiting.max() == 0.0
    assert erlang_runs.entrants.sum() > 0.95 * LAM * ERLANG_YEARS * ERLANG_REPS


def test_erlang_b_blocking_share(erlang_runs):
    a = LAM / H
    expected = erlang_b(C, a)
    observed, se = batch(erlang_runs.blocked)
    tol = Z * se
    # power: one place more or fewer, or an infinite-server count P(N >= C), must be rejected
    assert abs(erlang_b(C - 1, a) - expected) > 2 * tol
    assert abs(erlang_b(C + 1, a) - expected) > 2 * tol
    assert se < 0.005, f"too few entrants for a sharp test (SE {se:.4f})"
    print(f"blocked share {observed:.5f} vs B({C}, {a:g}) = {expected:.5f}, SE {se:.5f}, tol {tol:.5f}")
    assert abs(observed - expected) <= tol, f"blocked share {observed:.4f} vs Erlang B {expected:.4f} (tol {tol:.4f})"


def test_erlang_block_occupancy(erlang_runs):
    a = LAM / H
    expected = a * (1.0 - erlang_b(C, a))
    observed, se = batch(erlang_runs.occupancy)
    tol = Z * se
    for wrong in (a * (1 - erlang_b(C - 1, a)), a * (1 - erlang_b(C + 1, a)), min(a, C)):
        assert abs(wrong - expected) > 2 * tol
    print(f"block occupancy {observed:.4f} vs a(1-B) = {expected:.4f}, SE {se:.4f}, tol {tol:.4f}")
    assert abs(observed - expected) <= tol, f"block occupancy {observed:.4f} vs a(1-B) {expected:.4f} (tol {tol:.4f})"


# --------------------------------------------------------------------------- Little's law
#
# The number in care does not depend on placements at all: it is an M/G/inf count
# driven by the pre-drawn entry and exit days. For a stationary M/G/inf system with
# arrival rate lam and stay S,
#     E[N] = lam E[S]                                    (Little)
#     Cov(N(0), N(u)) = lam * integral_u^inf P(S > s) ds
# so the time average over T years has
#     Var(mean N) = (2/T^2) int_0^T (T - u) Cov(u) du <= lam E[S^2] / T,
# an upper bound used below as the (conservative) analytic variance per replication.


def test_little_exponential_stays(erlang_runs):
    """Constant hazard H, leave_at_18 off: E[S] = 1/H, E[S^2] = 2/H^2, so L = LAM/H = 10."""
    expected = LAM / H
    var_one = LAM * (2.0 / H**2) / ERLANG_YEARS
    se = math.sqrt(var_one / ERLANG_REPS)  # 0.035
    tol = Z * se
    observed = float(erlang_runs.in_care.mean())
    # power: stays one day longer than they should would give LAM (1/H + 1/365) = 11.37
    assert LAM * (1.0 / H + 1.0 / DAYS_PER_YEAR) - expected > 2 * tol
    print(f"mean in care {observed:.4f} vs LAM/H = {expected:.4f}, analytic SE {se:.4f}, tol {tol:.4f}")
    assert abs(observed - expected) <= tol, f"mean in care {observed:.3f} vs LAM/H {expected:.3f} (tol {tol:.3f})"
    # everybody is in an IFA placement (block or spot), nobody waits
    assert np.allclose(erlang_runs.in_ifa, erlang_runs.in_care, rtol=1e-12)
    # the batch-means error agrees with the analytic one (it cannot be much larger)
    assert batch(erlang_runs.in_care)[1] < 2 * se


def _age_at_entry_moments(shares) -> tuple[float, float]:
    """E[18y - age] and E[(18y - age)^2] for the sampler's ages: uniform on [lo, hi - 1 day] in each band."""
    edges = np.asarray(AGE_EDGES_YEARS) * DAYS_PER_YEAR
    k = edges[-1]
    m1 = m2 = 0.0
    for share, lo, hi in zip(shares, edges[:-1], edges[1:]):
        w = hi - lo - 1.0
        mean = k - (lo + w / 2)
        m1 += share * mean
        m2 += share * (mean**2 + w**2 / 12)
    return m1, m2


L18_LAM, L18_YEARS, L18_WARMUP, L18_REPS = 60.0, 20, 18, 8


def test_little_leave_at_18_stays():
    """No exits before 18, leave_at_18 on: a child entering at age x stays exactly 18 - x years.

    E[S] follows from the entry-age shares and the uniform age within a band. With
    no initial stock and an 18-year warm-up the count is exactly stationary over
    the reported period (everyone in care then entered in the last 18 years).
    The default market (in-house places, spot markets, breakdowns, moves to 16+)
    runs underneath: placements must not change the number in care.

    L = 60 x 8.96 = 537; the analytic standard error over 8 replications is ~6.7
    (tolerance ~27, 5%). Leaving a year early or late (at 17 or 19) would shift L
    by 60; stays cut at the entry band's upper edge instead of 18 would halve it.
    """
    s = Scenario.default().replace({
        "exits.enabled": False, "exits.leave_at_18": True, "siblings.enabled": False,
        "entries.initial_children": 0, "entries.rate_per_year": L18_LAM, "entries.trend": 0.0,
        "run.years": L18_YEARS, "run.warmup_years": L18_WARMUP, "run.seed": 1818,
    })
    m1, m2 = _age_at_entry_moments(s.entries.age_shares)
    expected = L18_LAM * m1 / DAYS_PER_YEAR
    var_one = L18_LAM * m2 / DAYS_PER_YEAR**2 / L18_YEARS
    se = math.sqrt(var_one / L18_REPS)
    tol = Z * se
    observed = []
    for r in range(L18_REPS):
        ev = simulate(s, r).events
        m = replication_metrics(ev, s, r)
        observed.append(metric(m, "children_mean", "all").mean())
        exits = ev[ev.event == "exit"]
        assert (exits.reason.astype(str) == "turned_18").all()
        # on the calendar 18th birthday: 18 years of 365 days and the 4 or 5 leap days between (one fewer
        # for a child born on 29 February, who turns 18 on 28 February)
        assert np.isin(np.round(exits.age.to_numpy() * DAYS_PER_YEAR, 6), [6573.0, 6574.0, 6575.0]).all()  # 6573: 29 Feb
    mean = float(np.mean(observed))
    assert L18_LAM * 1.0 > 2 * tol
    print(f"mean in care {mean:.2f} vs lam E[S] = {expected:.2f}, analytic SE {se:.2f}, tol {tol:.2f}")
    assert abs(mean - expected) <= tol, f"mean in care {mean:.2f} vs lam E[S] {expected:.2f} (tol {tol:.2f})"


DEFAULT_YEARS, DEFAULT_WARMUP, DEFAULT_REPS = 20, 18, 8


def test_little_default_scenario_estimated():
    """L = lambda_hat * W_hat on the default scenario, every quantity estimated from the event log.

    The default parameters are kept; only the run is lengthened so that the law
    applies: with leave_at_18 nobody stays more than 18 years, so after an
    18-year warm-up the initial stock has gone and the count is exactly stationary.
      L_hat      children_mean/all averaged over the 20 reported years (the metric)
      lambda_hat entries in the reported period / its length
      W_hat      mean stay of the entrants of the first 20 engine years, all of whom
                 have left by the horizon (no censoring)
    Per replication D_r = L_hat - lambda_hat W_hat; the tolerance is 4 batch-means
    standard errors of D (~10 children, ~3.6% of L ~ 280; the M/G/inf bound on
    sd(L_hat) alone is sqrt(118 x 12 / 20) ~ 8.4 per replication, and L_hat and
    lambda_hat W_hat err in the same direction, so sd(D) is smaller, ~7).
    """
    s = Scenario.default().replace({"run.years": DEFAULT_YEARS, "run.warmup_years": DEFAULT_WARMUP})
    T = DEFAULT_YEARS * DAYS_PER_YEAR
    last_complete = T - 18 * DAYS_PER_YEAR - 1.0  # reported day; engine day 20 years
    diffs, levels = [], []
    for r in range(DEFAULT_REPS):
        ev = simulate(s, r).events
        m = replication_metrics(ev, s, r)
        L = metric(m, "children_mean", "all").mean()
        enter = ev[(ev.event == "enter") & (ev.reason == "entry")]
        lam = ((enter.day >= 0) & (enter.day < T)).sum() / DEFAULT_YEARS
        entry = enter.set_index("child").day
        exit_ = ev[ev.event == "exit"].set_index("child").day
        cohort = entry[entry <= last_complete]
        stays = exit_.reindex(cohort.index) - cohort
        assert stays.notna().all() and len(cohort) > 1000
        W = stays.mean() / DAYS_PER_YEAR
        diffs.append(L - lam * W)
        levels.append(L)
    d, se = batch(diffs)
    tol = Z * se
    level = float(np.mean(levels))
    assert tol < 0.05 * level, f"tolerance {tol:.1f} too loose for L ~ {level:.0f}"
    print(f"L ~ {level:.2f}, mean(L - lambda W) = {d:.3f}, SE {se:.3f}, tol {tol:.3f}")
    assert abs(d) <= tol, f"L - lambda W = {d:.2f} (tol {tol:.2f}, L ~ {level:.1f})"


def test_little_sample_path_identity_default():
    """On the unmodified default run the finite-window form of Little's law holds exactly:
    mean number in care over the reported period = (children in care at some point in it /
    its length) x (their mean time in care within it). This ties the children_mean metric
    to the enter/exit events, including the stock entering in the warm-up and children
    still in care at the horizon."""
    s = Scenario.default()
    T = s.run.years * DAYS_PER_YEAR
    ev = simulate(s, 0).events
    m = replication_metrics(ev, s, 0)
    L = metric(m, "children_mean", "all").mean()
    entry = ev[ev.event == "enter"].set_index("child").day
    exit_ = ev[ev.event == "exit"].set_index("child").day.reindex(entry.index).fillna(T)
    present = (entry < T) & (exit_ > 0)
    time_in = np.minimum(exit_[present], T) - np.maximum(entry[present], 0.0)
    lam = present.sum() / T
    W = time_in.mean()
    assert lam * W == pytest.approx(L, rel=1e-12)
