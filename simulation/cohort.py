"""The children of one replication and everything the dice decide about them in advance.

A :class:`Cohort` holds, for every child, the attributes and latent draws that do
not depend on policy: when they enter, their age, need and UASC status, when and
why they would leave care, whether a connected carer exists, when they would
move on, and reservoirs of uniforms for breakdowns, spot searches and
out-of-area draws. Each child's row is drawn from a stream keyed by the child's
index, so a different policy meets exactly the same children.

Tests and researchers can also build a cohort by hand (:meth:`Cohort.scripted`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.catalogue import AGE_EDGES_YEARS, DAYS_PER_YEAR, EXIT_ROUTES
from models.scenario import Scenario
from simulation.streams import Streams

RESERVOIR = 12
_CHUNK = 512
# column layout of a child's row of uniforms
_AGE_BAND, _AGE_IN_BAND, _NEED, _UASC, _EXIT, _ROUTE, _KIN, _MOVE, _MOVE_AGE = range(9)
_BREAK = 9
_SEARCH = _BREAK + RESERVOIR
_OOA = _SEARCH + RESERVOIR
_COLUMNS = _OOA + RESERVOIR

ROUTES = EXIT_ROUTES + ("turned_18",)
_EDGES_DAYS = np.asarray(AGE_EDGES_YEARS) * DAYS_PER_YEAR


@dataclass
class Cohort:
    """Struct of arrays, one entry per child, ordered by entry time (stock first)."""

    entry_day: np.ndarray  # engine day of entry (0 for the initial stock)
    age_days: np.ndarray  # age at entry
    need: np.ndarray  # 0..3
    uasc: np.ndarray  # bool
    stock: np.ndarray  # bool: in care when the simulation starts
    exit_day: np.ndarray  # engine day the child would leave care (inf: never)
    exit_route: np.ndarray  # index into ROUTES
    kin: np.ndarray  # bool: a connected carer can be found for the first placement
    move_on_day: np.ndarray  # engine day of a planned move to 16+ accommodation (nan: none)
    breakdown_e: np.ndarray  # (n, RESERVOIR) unit exponentials, one per placement
    search_u: np.ndarray  # (n, RESERVOIR) uniforms, one per spot search
    ooa_u: np.ndarray  # (n, RESERVOIR) uniforms, one per placement
    review_u: np.ndarray  # (n, RESERVOIR) uniforms for changes of need; the last column decides staying put
    group: np.ndarray  # index of the group's first child (the child's own index when entering alone)
    group_size: np.ndarray  # children in the child's group (1 when alone)
    sibling_of: np.ndarray  # for a child entering after a sibling: the first child of its family; else -1
    stock_pool: np.ndarray  # for a stock child with entries.initial_pool_shares set: its drawn pool (index into POOLS); else -1
    parent_child: np.ndarray  # bool: a baby entering with a parent, for a parent-and-child placement

    def __len__(self) -> int:
        return len(self.entry_day)

    @classmethod
    def scripted(cls, entry_day, age_days, exit_day, need=None, uasc=None, exit_route=None, kin=None,
                 move_on_day=None, breakdown_e=None, search_u=None, ooa_u=None, group=None, review_u=None,
                 sibling_of=None, stock_pool=None, parent_child=None) -> "Cohort":
        """A hand-made cohort; omitted draws mean 'never happens' (no breakdown, searches succeed).

        ``group`` gives each child's group as the index of its first child; members must be
        consecutive and share an entry day. ``sibling_of`` marks a child entering after a sibling
        with the first child of its family (-1: none). ``stock_pool`` gives a stock child the pool
        (index into POOLS) it tries first (-1: the policy's order)."""
        n = len(entry_day)
        full = lambda v, default, dtype: np.asarray(v if v is not None else [default] * n, dtype=dtype)  # noqa: E731

        def reservoir(v, default):
            out = np.full((n, RESERVOIR), default, dtype=float)
            for i, row in enumerate(v or []):
                out[i, : len(row)] = row
            return out

        scripted_reviews = reservoir(review_u, 0.0)  # 0: the next change of need is ages away
        if review_u is None:
            scripted_reviews[:, -1] = 1.0  # and nobody stays put
        entry = np.asarray(entry_day, dtype=float)
        if np.any(np.diff(entry) < 0):
            raise ValueError("scripted cohort: entry days must be in increasing order (children are numbered by entry)")
        return cls(
            entry_day=entry, age_days=np.asarray(age_days, dtype=float), need=full(need, 0, np.int64),
            uasc=full(uasc, False, bool), stock=entry <= 0, exit_day=np.asarray(exit_day, dtype=float),
            exit_route=full(exit_route, 0, np.int64), kin=full(kin, False, bool),
            move_on_day=full(move_on_day, np.nan, float), breakdown_e=reservoir(breakdown_e, np.inf),
            search_u=reservoir(search_u, 0.0), ooa_u=reservoir(ooa_u, 1.0), review_u=scripted_reviews,
            group=np.arange(n) if group is None else np.asarray(group, dtype=np.int64),
            group_size=np.ones(n, dtype=np.int64) if group is None else np.bincount(group, minlength=n)[np.asarray(group)],
            sibling_of=full(sibling_of, -1, np.int64), stock_pool=full(stock_pool, -1, np.int64),
            parent_child=full(parent_child, False, bool),
        )


def _uniform_rows(streams: Streams, name: str, n: int, columns: int = _COLUMNS) -> np.ndarray:
    """Row i comes from chunk i // 512 of stream ``name``: keyed by the child's index."""
    n_chunks = -(-n // _CHUNK)
    rows = [streams.generator(name, c).random((_CHUNK, columns)) for c in range(n_chunks)]
    return np.concatenate(rows)[:n] if rows else np.empty((0, columns))


def arrival_days(scenario: Scenario, streams: Streams, horizon: float, offset: float) -> np.ndarray:
    """Poisson arrival times of groups on [0, horizon), so that children arrive at ``rate_per_year``
    at engine day ``offset``, growing by ``trend`` a year (continuously), or at each reported year's rate
    of ``growth`` or ``forecast`` (the warm-up at the first year's). Drawn as the order statistics of a
    Poisson count."""
    e = scenario.entries
    if not e.enabled or (e.rate_per_year == 0 and not e.forecast) or horizon <= 0:
        return np.empty(0)
    lam = e.rate_per_year / DAYS_PER_YEAR / scenario.siblings.mean_size  # group arrivals
    g = np.log1p(e.trend) / DAYS_PER_YEAR
    yearly = e.yearly_rates(scenario.run.years)
    if yearly is not None:  # a yearly forecast or growth: a rate constant within each reported year
        edges = np.concatenate([[0.0], offset + np.arange(1, len(yearly)) * DAYS_PER_YEAR, [horizon]])
        edges = np.clip(edges, 0.0, horizon)
        rates = np.asarray(yearly) / DAYS_PER_YEAR / scenario.siblings.mean_size
        cum = np.concatenate([[0.0], np.cumsum(rates * np.diff(edges))])
        total = cum[-1]

        def inverse(u):
            k = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(rates) - 1)
            return edges[k] + (u - cum[k]) / np.where(rates[k] > 0, rates[k], np.inf)
    elif abs(g) < 1e-12:
        total = lam * horizon
        inverse = lambda s: s / lam  # noqa: E731
    else:
        scale = lam * np.exp(-g * offset) / g
        total = scale * np.expm1(g * horizon)
        inverse = lambda s: np.log1p(s / scale) / g  # noqa: E731
    rng = streams.generator("arrivals")
    n = rng.poisson(total)
    return inverse(np.sort(rng.random(n)) * total)


def eighteenth_birthday_age(scenario: Scenario, entry: np.ndarray, age_days: np.ndarray, offset: float) -> np.ndarray:
    """Each child's age in days on its 18th birthday, by the calendar (6,574 or 6,575 days, not 18 x 365).

    The birth date is the calendar date of engine day ``entry - age`` (engine day ``offset`` is
    ``run.start_date``); a child born on 29 February turns 18 on 28 February, as the DfE's SSDA903
    validation (a date of birth plus 18 years) counts it."""
    origin = np.datetime64(scenario.run.start_date, "D") - np.timedelta64(int(round(offset)), "D")
    birth = origin + np.floor(entry - age_days).astype("timedelta64[D]")
    month = birth.astype("datetime64[M]")
    day_of_month = birth - month.astype("datetime64[D]")
    later = month + 18 * 12
    last_day = (later + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    birthday = np.minimum(later.astype("datetime64[D]") + day_of_month, last_day)
    return (birthday - birth).astype(float)


def _exit_days(scenario: Scenario, age_days: np.ndarray, e_draw: np.ndarray, route_u: np.ndarray,
               eighteen: np.ndarray | float = _EDGES_DAYS[-1]):
    """Age-dependent exit: invert the piecewise-constant cumulative hazard at a unit exponential.
    ``eighteen``: each child's age on its 18th birthday, when it leaves care at the latest."""
    x = scenario.exits
    routes = np.array([getattr(x, r) for r in EXIT_ROUTES], dtype=float) / DAYS_PER_YEAR  # (4, 5)
    if not x.enabled:
        routes = np.zeros_like(routes)
    h = routes.sum(axis=0)
    widths = np.diff(_EDGES_DAYS)
    cum = np.concatenate([[0.0], np.cumsum(h * widths)])  # H at band edges

    def cumulative(age):
        b = np.clip(np.searchsorted(_EDGES_DAYS, age, side="right") - 1, 0, len(h) - 1)
        return cum[b] + h[b] * (age - _EDGES_DAYS[b])

    target = cumulative(age_days) + e_draw
    b = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(h) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        age_exit = np.where(h[b] > 0, _EDGES_DAYS[b] + (target - cum[b]) / h[b], np.inf)
        # beyond the last edge only the last band's hazard applies
        age_exit = np.where(target > cum[-1], np.where(h[-1] > 0, _EDGES_DAYS[-1] + (target - cum[-1]) / h[-1], np.inf), age_exit)
    age_exit = np.maximum(age_exit, age_days)
    band = np.clip(np.searchsorted(_EDGES_DAYS, age_exit, side="right") - 1, 0, len(h) - 1)
    probs = routes[:, band] / np.where(h[band] > 0, h[band], 1.0)
    route = (route_u[None, :] > np.cumsum(probs, axis=0)).sum(axis=0).clip(0, len(EXIT_ROUTES) - 1)
    if x.leave_at_18:
        at18 = age_exit >= eighteen
        age_exit = np.where(at18, np.maximum(eighteen, age_days), age_exit)
        route = np.where(at18, len(EXIT_ROUTES), route)
    return age_exit - age_days, route


def _groups(scenario: Scenario, streams: Streams, days: np.ndarray, horizon: float):
    """Expand group arrival days to children.

    Returns the entry day of each child, the index of its group's first child, and for a
    child entering after a sibling the index of its family's first child (else -1).
    In a ``later_share`` of the groups of two or more, every child after the first enters
    alone, an exponential time (mean ``later_mean_days``) after the first; children are then
    numbered by entry day again, and those entering after the horizon are dropped.
    """
    sib = scenario.siblings
    none = np.full(len(days), -1, dtype=np.int64)
    if not sib.enabled or len(days) == 0:
        return days, np.arange(len(days)), none
    rng = streams.generator("group-sizes")
    sizes = (rng.random(len(days))[:, None] > np.cumsum(sib.group_shares)[None, :]).sum(axis=1).clip(0, 3) + 1
    later = rng.random(len(days)) < sib.later_share
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    child_days = np.repeat(days, sizes)
    n = len(child_days)
    late = np.repeat(later, sizes) & (first != np.arange(n))
    if not late.any():
        return child_days, first, np.full(n, -1, dtype=np.int64)
    gaps = streams.generator("later-siblings").exponential(sib.later_mean_days, n)
    child_days = np.where(late, child_days + gaps, child_days)
    keep = child_days < horizon
    order = np.argsort(child_days, kind="stable")  # members entering together stay consecutive
    order = order[keep[order]]
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[order] = np.arange(len(order))
    group = np.where(late, np.arange(n), first)  # a later sibling is a group of one
    return child_days[order], new_index[group[order]], np.where(late, new_index[first], -1)[order]


def _draw_children(scenario: Scenario, u: np.ndarray, entry: np.ndarray, age_shares, stock: bool, group=None,
                   review=None, sibling_of=None, offset: float = 0.0) -> Cohort:
    e = scenario.entries
    n = len(entry)
    band = (u[:, _AGE_BAND, None] > np.cumsum(age_shares)[None, :]).sum(axis=1).clip(0, 4)
    lo, hi = _EDGES_DAYS[band], _EDGES_DAYS[band + 1]
    age = lo + u[:, _AGE_IN_BAND] * (hi - lo - 1.0)
    need = (u[:, _NEED, None] > np.cumsum(e.need_shares)[None, :]).sum(axis=1).clip(0, 3)
    group = np.arange(n) if group is None else group
    size = np.bincount(group, minlength=n)[group]
    sibling_of = np.full(n, -1, dtype=np.int64) if sibling_of is None else sibling_of
    uasc = (u[:, _UASC] < np.asarray(e.uasc_share_by_age)[band]) & (size == 1) & (sibling_of < 0)  # UASC arrive alone
    stay, route = _exit_days(scenario, age, -np.log1p(-u[:, _EXIT]), u[:, _ROUTE],
                             eighteenth_birthday_age(scenario, entry, age, offset))
    k = scenario.kinship
    kin = (u[:, _KIN] < np.asarray(k.probability_by_age)[band]) & ~uasc & k.enabled
    m = scenario.move_on
    move_age = (m.earliest_age + u[:, _MOVE_AGE] * (m.latest_age - m.earliest_age)) * DAYS_PER_YEAR
    move = (u[:, _MOVE] < m.probability) & m.enabled & (move_age > age) & (move_age - age < stay)
    return Cohort(
        entry_day=entry, age_days=age, need=need, uasc=uasc, stock=np.full(n, stock),
        exit_day=entry + stay, exit_route=route, kin=kin,
        move_on_day=np.where(move, entry + move_age - age, np.nan),
        breakdown_e=-np.log1p(-u[:, _BREAK:_SEARCH]), search_u=u[:, _SEARCH:_OOA], ooa_u=u[:, _OOA:],
        review_u=review if review is not None else np.ones((n, RESERVOIR)), group=group, group_size=size,
        sibling_of=sibling_of, stock_pool=np.full(n, -1, dtype=np.int64), parent_child=np.zeros(n, dtype=bool),
    )


def parent_child(scenario: Scenario, streams: Streams, name: str, cohort: Cohort) -> np.ndarray:
    """Which babies entering alone come with a parent (``parent_child.share``). The draws come
    from their own stream keyed by the child's index, so the section changes no other draw."""
    pc = scenario.parent_child
    n = len(cohort)
    if not pc.enabled or n == 0:
        return np.zeros(n, dtype=bool)
    u = _uniform_rows(streams, name, n, 1)[:, 0]
    baby = cohort.age_days < DAYS_PER_YEAR
    return (u < pc.share) & baby & (cohort.group_size == 1) & (cohort.sibling_of < 0) & ~cohort.uasc


def stock_pools(scenario: Scenario, streams: Streams, n: int) -> np.ndarray:
    """Each stock child's pool (index into POOLS) drawn from ``entries.initial_pool_shares``, or -1
    for all when the key is not set. The draws come from their own stream, keyed by the child's
    index, so setting the key changes no other draw."""
    shares = scenario.entries.initial_pool_shares
    if shares is None:
        return np.full(n, -1, dtype=np.int64)
    u = _uniform_rows(streams, "stock-pool", n, 1)[:, 0]
    cum = np.cumsum(shares)
    last = int(np.flatnonzero(np.asarray(shares) > 0)[-1])  # rounding never lands a child in an empty pool
    return np.minimum((u[:, None] >= cum[None, :]).sum(axis=1), last).astype(np.int64)


def draw_cohort(scenario: Scenario, streams: Streams, horizon: float, offset: float) -> Cohort:
    """The initial stock (entering at day 0) followed by the entrants over ``[0, horizon)``."""
    n0 = scenario.entries.initial_children
    stock = _draw_children(scenario, _uniform_rows(streams, "stock", n0), np.zeros(n0), scenario.entries.initial_age_shares, True,
                           review=_uniform_rows(streams, "stock-review", n0, RESERVOIR), offset=offset)
    stock.stock_pool = stock_pools(scenario, streams, n0)
    stock.parent_child = parent_child(scenario, streams, "stock-parent-child", stock)
    days, first, sibling_of = _groups(scenario, streams, arrival_days(scenario, streams, horizon, offset), horizon)
    new = _draw_children(scenario, _uniform_rows(streams, "entrant", len(days)), days, scenario.entries.age_shares, False, first,
                         review=_uniform_rows(streams, "entrant-review", len(days), RESERVOIR), sibling_of=sibling_of,
                         offset=offset)
    new.parent_child = parent_child(scenario, streams, "entrant-parent-child", new)
    new.group = new.group + n0
    new.sibling_of = np.where(new.sibling_of >= 0, new.sibling_of + n0, -1)
    return Cohort(**{f: np.concatenate([getattr(stock, f), getattr(new, f)]) for f in Cohort.__dataclass_fields__})
