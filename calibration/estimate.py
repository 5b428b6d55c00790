"""Estimates from cleaned 903 episodes, each with its standard error or 95% interval.

Everything that is a rate is estimated inside the observation window (1 April of the first return
to 31 March of the last): events in the window over time at risk in the window. This handles both
censoring (episodes still open at the last return) and left truncation (children already in care
when the window opens) without bias when the hazard is piecewise constant, which is how placesim
models exits (by current age band) and, apart from the early-placement multiplier, breakdowns.

- **Entries**: a log-linear Poisson regression of the yearly count of periods of care starting
  (RNE S) on the year; the dispersion is estimated from the Pearson residuals (quasi-Poisson), so
  sibling groups entering together widen the interval as they should.
- **Exits**: for each route and age band, exits at that age / days in care at that age: the
  maximum-likelihood estimate of a piecewise-constant hazard, with exact Poisson intervals. Leaving
  at 18 is not a hazard and censors. The mean time in care of an entrant follows from these hazards
  and the ages at entry; its interval comes from a parametric bootstrap.
- A Kaplan-Meier curve by age band at entry, over the periods that start in the window, is reported
  alongside as a check that needs no model.
- **Moves and breakdowns**: changes of placement out of each pool per placement-year in it, all moves
  and those with an unplanned REASON_PLACE_CHANGE; intervals are cluster-robust by child.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from calibration.clean import Episodes
from calibration.codes import ADOPTION_PLACES, CodeMap
from calibration.measures import in_care_on
from calibration.read903 import return_end
from models.catalogue import AGE_BANDS, AGE_EDGES_YEARS, DAYS_PER_YEAR, EXIT_ROUTES, POOLS

EDGES = np.asarray(AGE_EDGES_YEARS) * DAYS_PER_YEAR
Z95 = 1.959964
FOSTER = ("kinship", "inhouse_fostering", "ifa")


@dataclass
class Estimate:
    """One estimated number: value, standard error (NaN if none) and 95% interval."""

    value: float
    lo: float
    hi: float
    se: float = np.nan
    n: float = np.nan  # events or children behind it
    exposure: float = np.nan  # years at risk, for rates

    def text(self, digits: int = 3) -> str:
        f = f"{{:.{digits}g}}"
        return f"{f.format(self.value)} [{f.format(self.lo)}, {f.format(self.hi)}]"


@dataclass
class Estimates:
    """Everything estimated from one history; ``table()`` gives the tidy form for the report."""

    window: tuple[int, int]
    years: list[int]
    entries_by_year: dict[int, int]
    entry_rate: Estimate  # fitted entries in the year after the last return
    entry_mean: Estimate  # mean yearly entries over the returns
    trend: Estimate
    age_shares: list[Estimate]
    uasc_share: list[Estimate] | None
    exit_hazards: dict[str, list[Estimate | None]]  # route -> per age band (None: no time at risk)
    exit_shares: pd.DataFrame  # age band at exit x route shares
    mean_time_in_care: Estimate
    km: pd.DataFrame  # age band at entry: periods, exits, median years, share in care after 1, 2, 5 years
    mix_at_entry: dict[str, Estimate]
    kin_by_age: list[Estimate | None]
    moves: dict[str, Estimate]  # pool -> moves out per placement-year; 'all' per child-year in care
    unplanned: dict[str, Estimate]
    early_share: dict[str, float]  # share of placement-days in the first early_days of a placement
    transitions: dict[str, Estimate]
    stock: dict[str, int]
    stock_ages: list[float]
    counts: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        rows = []

        def add(quantity, group, e):
            if e is not None:
                rows.append((quantity, group, e.value, e.se, e.lo, e.hi, e.n, e.exposure))
        for y, n in self.entries_by_year.items():
            rows.append(("entries", str(y), float(n), np.sqrt(n), np.nan, np.nan, n, np.nan))
        add("entry rate, year after the last return", "all", self.entry_rate)
        add("entry rate, mean over the returns", "all", self.entry_mean)
        add("entry trend (yearly growth)", "all", self.trend)
        for band, e in zip(AGE_BANDS, self.age_shares):
            add("age at entry share", band, e)
        for band, e in zip(AGE_BANDS, self.uasc_share or []):
            add("UASC share of entrants", band, e)
        for route, es in self.exit_hazards.items():
            for band, e in zip(AGE_BANDS, es):
                add(f"exit hazard: {route} (per year)", band, e)
        add("mean time in care of an entrant (years)", "all", self.mean_time_in_care)
        for pool, e in self.mix_at_entry.items():
            add("first placement share", pool, e)
        for band, e in zip(AGE_BANDS, self.kin_by_age):
            add("first placement with kin, non-UASC", band, e)
        for pool, e in self.moves.items():
            add("moves per placement-year out of pool" if pool != "all" else "moves per child-year in care", pool, e)
        for pool, e in self.unplanned.items():
            add("unplanned endings per placement-year", pool, e)
        for name, e in self.transitions.items():
            add("transitions per placement-year", name, e)
        for pool, n in self.stock.items():
            rows.append(("stock at the last return", pool, float(n), np.nan, np.nan, np.nan, n, np.nan))
        return pd.DataFrame(rows, columns=["quantity", "group", "value", "se", "lo95", "hi95", "n", "years_at_risk"])


# --------------------------------------------------------------------------- helpers


def poisson_rate(events: float, years: float) -> Estimate:
    """Events per year at risk, with the exact (Garwood) 95% interval."""
    if years <= 0:
        return Estimate(np.nan, np.nan, np.nan, np.nan, events, years)
    lo = stats.chi2.ppf(0.025, 2 * events) / 2 if events > 0 else 0.0
    hi = stats.chi2.ppf(0.975, 2 * events + 2) / 2
    return Estimate(events / years, lo / years, hi / years, np.sqrt(events) / years, events, years)


def share(k: float, n: float) -> Estimate:
    """A proportion with its Wilson 95% interval."""
    if n <= 0:
        return Estimate(np.nan, np.nan, np.nan, np.nan, n)
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), np.sqrt(p * (1 - p) / n), n)


def clustered_rate(events: np.ndarray, exposure: np.ndarray, cluster: np.ndarray) -> Estimate:
    """Sum of events over sum of exposure (years), with a cluster-robust (by child) standard error."""
    total_e, total_x = float(events.sum()), float(exposure.sum())
    if total_x <= 0:
        return Estimate(np.nan, np.nan, np.nan, np.nan, total_e, total_x)
    r = total_e / total_x
    m = pd.Series(events).groupby(cluster).sum().to_numpy()
    x = pd.Series(exposure).groupby(cluster).sum().to_numpy()
    k = len(m)
    se = np.sqrt(((m - r * x) ** 2).sum() * k / max(k - 1, 1)) / total_x if k > 1 else np.sqrt(total_e) / total_x
    return Estimate(r, max(0.0, r - Z95 * se), r + Z95 * se, se, total_e, total_x)


def band_of(age_days: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(EDGES, age_days, side="right") - 1, 0, len(AGE_BANDS) - 1)


def _exposure_by_band(dob, a, b) -> np.ndarray:
    """Days of [a, b) at each age band (capped at 18), shape (n, 5)."""
    lo = np.maximum((a - dob)[:, None], EDGES[None, :-1])
    hi = np.minimum((b - dob)[:, None], EDGES[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def poisson_trend(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Log-linear Poisson regression of counts on 0..n-1 by IRLS: (coefficients, covariance, dispersion)."""
    n = len(y)
    x = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
    beta = np.array([np.log(max(y.mean(), 0.5)), 0.0])
    for _ in range(50):
        mu = np.exp(x @ beta)
        z = x @ beta + (y - mu) / mu
        w = mu
        new = np.linalg.solve(x.T @ (w[:, None] * x), x.T @ (w * z))
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    mu = np.exp(x @ beta)
    cov = np.linalg.inv(x.T @ (mu[:, None] * x))
    phi = max(1.0, float(((y - mu) ** 2 / mu).sum() / (n - 2))) if n > 2 else 1.0
    return beta, cov * phi, phi


def mean_stay(hazard: np.ndarray, age_shares: np.ndarray, step: float = 7.0) -> np.ndarray:
    """Expected years in care of an entrant, given total exit hazards per age band (per year) and the age mix.

    ``hazard`` is (draws, 5) and ``age_shares`` (draws, 5); ages are uniform within a band, care ends at 18.
    """
    grid = np.arange(0.0, EDGES[-1] + step / 2, step)  # ages in days
    band = band_of(grid[:-1])
    h = hazard[:, band] / DAYS_PER_YEAR  # per day on each grid step
    H = np.concatenate([np.zeros((len(hazard), 1)), np.cumsum(h * step, axis=1)], axis=1)
    surv = np.exp(-H)
    # G(a) = integral from a to 18 of exp(-H): trapezoid, from the top down
    seg = (surv[:, 1:] + surv[:, :-1]) / 2 * step
    G = np.concatenate([np.cumsum(seg[:, ::-1], axis=1)[:, ::-1], np.zeros((len(hazard), 1))], axis=1)
    stay = G / surv / DAYS_PER_YEAR  # (draws, grid): expected years from entry at each age
    out = np.zeros(len(hazard))
    for b in range(len(AGE_BANDS)):
        in_band = (grid >= EDGES[b]) & (grid < EDGES[b + 1])
        out += age_shares[:, b] * stay[:, in_band].mean(axis=1)
    return out


def kaplan_meier(duration: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival at times ``at`` (same units as ``duration``)."""
    order = np.argsort(duration, kind="stable")
    d, e = duration[order], event[order]
    times, first = np.unique(d, return_index=True)
    at_risk = len(d) - first
    deaths = np.add.reduceat(e.astype(float), first) if len(d) else np.zeros(0)
    surv = np.cumprod(1.0 - deaths / at_risk)
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, surv[np.clip(idx, 0, None)] if len(surv) else 1.0, 1.0)


def move_rates(t: pd.DataFrame, w0: float, w1: float, codes: CodeMap, early_days: float = 120.0):
    """Moves and unplanned endings out of each pool per placement-year in it (inside the window
    [w0, w1)), the share of placement-days in the first ``early_days`` of a placement, and
    step-down, step-up and move-on rates. Each move is counted on the episode it ends, and is a breakdown
    when that episode's REASON_PLACE_CHANGE is unplanned."""
    start, stop, child, pool = t.start.to_numpy(), t.stop.to_numpy(), t.child.to_numpy(), t.pool.to_numpy()
    a, b = np.maximum(start, w0), np.minimum(stop, w1)
    days_in = np.clip(b - a, 0.0, None)
    same = np.r_[False, child[1:] == child[:-1]] if len(t) else np.zeros(0, bool)
    move_in = t.move.to_numpy() & (start >= w0) & (start < w1)
    years_in = days_in / DAYS_PER_YEAR
    moves, unpl, early = {}, {}, {}
    ends_move = np.r_[move_in[1:] & same[1:], False] if len(t) else np.zeros(0, bool)
    # REASON_PLACE_CHANGE is on the episode that ends (DfE rule 225); a move into a placement for adoption
    # carries out the care plan and is never a breakdown
    next_place = np.append(t.place.to_numpy()[1:], "") if len(t) else np.zeros(0, dtype=object)
    ends_unpl = ends_move & t.rpc.isin(list(codes.unplanned)).to_numpy() & ~np.isin(next_place, list(ADOPTION_PLACES))
    nxt_pool = np.append(pool[1:], "") if len(t) else np.zeros(0, dtype=object)
    early_days_in = np.clip(np.minimum(b, start + early_days) - a, 0.0, None)
    for p in POOLS:
        m = pool == p
        moves[p] = clustered_rate(ends_move[m].astype(float), years_in[m], child[m])
        unpl[p] = clustered_rate(ends_unpl[m].astype(float), years_in[m], child[m])
        early[p] = float(early_days_in[m].sum() / max(days_in[m].sum(), 1e-9))
    moves["all"] = clustered_rate(move_in.astype(float), years_in, child)
    fost = np.isin(pool, FOSTER)
    resi = pool == "residential"

    def rate(event, among):
        return clustered_rate(event[among].astype(float), years_in[among], child[among])
    trans = {
        "step-down: residential to foster care": rate(ends_move & np.isin(nxt_pool, FOSTER), resi),
        "step-up: foster care to residential": rate(ends_move & (nxt_pool == "residential"), fost),
        "move-on: foster or residential care to 16+": rate(ends_move & (nxt_pool == "supported"), fost | resi),
    }
    return moves, unpl, early, trans


# --------------------------------------------------------------------------- the estimates


def estimate(eps: Episodes, codes: CodeMap | None = None, early_days: float = 120.0, draws: int = 400,
             seed: int = 903) -> Estimates:
    """Every estimate of the module docstring from one cleaned history."""
    codes = codes or CodeMap()
    t = eps.table
    w0, w1 = eps.first_day, eps.last_day + 1  # window [w0, w1)
    start, stop, dob = t.start.to_numpy(), t.stop.to_numpy(), t.dob.to_numpy()
    a, b = np.maximum(start, w0), np.minimum(stop, w1)
    pool = t.pool.to_numpy()

    # entries
    entry = t.entry.to_numpy() & (start >= w0) & (start < w1)
    years = eps.years
    counts = {y: int((entry & (start >= return_end(y - 1) + 1) & (start <= return_end(y))).sum()) for y in years}
    y = np.array([counts[k] for k in years], dtype=float)
    if len(y) >= 2 and y.sum() > 0:
        beta, cov, phi = poisson_trend(y)
        n = len(y)
        q = stats.t.ppf(0.975, n - 2) if n > 2 else Z95
        xn = np.array([1.0, float(n)])
        log_rate, se_log = float(xn @ beta), float(np.sqrt(xn @ cov @ xn))
        rate = Estimate(np.exp(log_rate), np.exp(log_rate - q * se_log), np.exp(log_rate + q * se_log),
                        np.exp(log_rate) * se_log, y.sum())
        se_b = float(np.sqrt(cov[1, 1]))
        trend = Estimate(np.expm1(beta[1]), np.expm1(beta[1] - q * se_b), np.expm1(beta[1] + q * se_b), se_b, y.sum())
        se_mean = np.sqrt(phi * y.sum()) / n
        mean = Estimate(y.mean(), y.mean() - q * se_mean, y.mean() + q * se_mean, se_mean, y.sum())
    else:
        mean = rate = poisson_rate(y.sum(), max(len(y), 1))
        trend = Estimate(0.0, np.nan, np.nan)

    # ages at entry and UASC
    e_rows = t[entry]
    e_band = band_of((e_rows.start - e_rows.dob).to_numpy())
    n_entry = len(e_rows)
    age_shares = [share(float((e_band == k).sum()), n_entry) for k in range(len(AGE_BANDS))]
    uasc_flag = e_rows.uasc.to_numpy()
    uasc_share = None
    if eps.has_uasc:
        uasc_share = [share(float(((e_band == k) & (uasc_flag > 0)).sum()), float((e_band == k).sum())) for k in range(len(AGE_BANDS))]

    # exits: piecewise-constant hazards by current age band
    in_care = _exposure_by_band(dob, a, b)
    care_years = in_care.sum(axis=0) / DAYS_PER_YEAR
    route = t.route.to_numpy()
    end = t.end.to_numpy()
    out = (route != "") & (end >= w0) & (end < w1)
    exit_band = band_of(np.where(out, end - dob, 0.0))
    hazards: dict[str, list[Estimate | None]] = {}
    for r in EXIT_ROUTES:
        hazards[r] = [poisson_rate(float((out & (route == r) & (exit_band == k)).sum()), care_years[k])
                      if care_years[k] > 0 else None for k in range(len(AGE_BANDS))]
    ex = pd.crosstab(pd.Categorical(np.array(AGE_BANDS)[exit_band[out]], categories=AGE_BANDS),
                     pd.Categorical(route[out], categories=EXIT_ROUTES + ("turned_18",)), normalize="index", dropna=False)

    # mean time in care implied by the hazards and the age mix, with a parametric bootstrap
    events = np.array([[h.n if h is not None else 0.0 for h in hazards[r]] for r in EXIT_ROUTES]).sum(axis=0)
    rng = np.random.default_rng(seed)
    safe_years = np.where(care_years > 0, care_years, 1.0)
    total = np.where(care_years > 0, events / safe_years, 0.0)
    boot_h = np.where(care_years > 0, rng.gamma(np.maximum(events, 1e-9), 1.0, size=(draws, len(AGE_BANDS))) / safe_years, 0.0)
    k_entry = np.array([s.n * s.value if n_entry else 0.0 for s in age_shares])
    shares_hat = k_entry / max(k_entry.sum(), 1.0)
    boot_s = rng.dirichlet(k_entry + 1e-9, size=draws) if n_entry else np.tile(shares_hat, (draws, 1))
    m_hat = float(mean_stay(total[None, :], shares_hat[None, :])[0])
    m_boot = mean_stay(boot_h, boot_s)
    lo, hi = np.quantile(m_boot, [0.025, 0.975])
    stay_est = Estimate(m_hat, float(lo), float(hi), float(m_boot.std(ddof=1)), float(events.sum()), float(care_years.sum()))

    # Kaplan-Meier by age band at entry, over periods that start in the window
    per = t.groupby("period", sort=False).agg(first_start=("start", "first"), last_stop=("stop", "last"),
                                              route=("route", "last"), entry=("entry", "first"), dob=("dob", "first"))
    per = per[per.entry & (per.first_start >= w0)]
    dur = (np.minimum(per.last_stop.to_numpy(), w1) - per.first_start.to_numpy()) / DAYS_PER_YEAR
    left = per.route.to_numpy() != ""
    p_band = band_of((per.first_start - per.dob).to_numpy())
    km_rows = []
    for k, name in enumerate(AGE_BANDS):
        m = p_band == k
        s = kaplan_meier(dur[m], left[m], np.array([1.0, 2.0, 5.0])) if m.any() else np.full(3, np.nan)
        grid = np.linspace(0, 18, 721)
        sg = kaplan_meier(dur[m], left[m], grid) if m.any() else np.full(len(grid), np.nan)
        below = np.flatnonzero(sg <= 0.5)
        km_rows.append((name, int(m.sum()), int(left[m].sum()), float(grid[below[0]]) if len(below) else np.nan, *s))
    km = pd.DataFrame(km_rows, columns=["age band at entry", "periods", "left care", "median years", "in care after 1y",
                                        "after 2y", "after 5y"])

    # placement mix at entry (the first placement in a modelled pool), and kin by age among non-UASC entrants
    placed = t[t.pool.to_numpy() != "other"].drop_duplicates("period")
    first_pool = pd.Series(placed.pool.to_numpy(), index=placed.period.to_numpy()).reindex(e_rows.period.to_numpy()).to_numpy()
    n_placed = float(pd.notna(first_pool).sum())
    mix = {p: share(float((first_pool == p).sum()), n_placed) for p in POOLS}
    mix["other (first episode not in a modelled pool)"] = share(float((e_rows.pool.to_numpy() == "other").sum()), n_entry)
    not_uasc = ~(uasc_flag > 0) & pd.notna(first_pool)
    kin = [share(float(((e_band == k) & not_uasc & (first_pool == "kinship")).sum()),
                 float(((e_band == k) & not_uasc).sum())) if ((e_band == k) & not_uasc).any() else None
           for k in range(len(AGE_BANDS))]

    moves, unpl, early, trans = move_rates(t, w0, w1, codes, early_days)

    # the stock at the last return
    now = in_care_on(t, eps.last_day)
    stock = {p: int((now & (pool == p)).sum()) for p in POOLS + ("other",)}
    kids = t[now].drop_duplicates("child")
    stock["all"] = len(kids)
    s_band = band_of(eps.last_day - kids.dob.to_numpy())
    stock_ages = [float((s_band == k).mean()) if len(kids) else 0.0 for k in range(len(AGE_BANDS))]
    return Estimates(
        window=(w0, w1), years=list(years), entries_by_year=counts, entry_rate=rate, entry_mean=mean, trend=trend,
        age_shares=age_shares, uasc_share=uasc_share, exit_hazards=hazards, exit_shares=ex, mean_time_in_care=stay_est,
        km=km, mix_at_entry=mix, kin_by_age=kin, moves=moves, unplanned=unpl, early_share=early, transitions=trans,
        stock=stock, stock_ages=stock_ages,
        counts={"entries": float(n_entry), "child-years in care": float(care_years.sum()), "exits": float(out.sum())},
    )
