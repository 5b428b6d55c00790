"""Carer households and the index that matches children to them.

A household (in-house, or with an IFA) is approved for 1-4 children, has skills
(sibling groups, complex needs, parent-and-child) and a home area. It takes at
most ``max_placements`` separate placements (unrelated children or sibling groups)
at once, so a household with a free place but the wrong skills, or already caring
for its quota of unrelated children, is not a vacancy. A parent-and-child
placement needs a household with that skill and nobody else placed, and takes the
household whole.

Vacancies are kept in buckets keyed by (sibling skill, complex skill,
parent-and-child skill, free places); each bucket is an insertion-ordered dict used
as an ordered set. A match looks at no more than 32 buckets and takes the household
that has been vacant longest, so finding a home never scans all carers.
"""

from __future__ import annotations

from collections import deque

NEEDS_COMPLEX_SKILL = (2, 3)  # need bands "high" and "complex"
_PAC = (0, 0)  # the waiting queue of parent-and-child placements


class Household:
    __slots__ = ("id", "places", "free", "groups", "sibling", "complex", "parent_child", "out_of_area", "children",
                 "token", "alive", "raised_until", "retire_day", "draws", "used", "extra", "units", "due",
                 "whole", "service")

    def __init__(self, hid: int, places: int, sibling: bool, complex_: bool, out_of_area: bool, retire_day: float, draws,
                 parent_child: bool = False, service=None):
        self.id = hid
        self.places = places
        self.free = places
        self.groups = 0  # separate placements held (a sibling group placed together is one)
        self.units: dict[int, int] = {}  # placement unit -> children in it
        self.sibling = sibling
        self.complex = complex_
        self.parent_child = parent_child
        self.whole = False  # taken whole by a parent-and-child placement
        self.out_of_area = out_of_area
        self.children: list = []
        self.token = 0  # bumps when the pending turnover outcome is rescheduled
        self.alive = True
        self.raised_until = -1.0
        self.due = float("inf")  # day of the pending turnover outcome
        self.retire_day = retire_day
        self.draws = draws  # pre-drawn uniforms for turnover outcomes
        self.used = 0
        self.extra = None
        self.service = service  # the CarerService the household belongs to

    @property
    def skills(self) -> str:
        return "+".join(s for s, on in (("siblings", self.sibling), ("complex", self.complex),
                                        ("parent_child", self.parent_child)) if on) or "general"


class Register:
    """Vacancy index over the living households."""

    def __init__(self, max_placements: int, mismatch_needs: set[int]):
        self.max_placements = max_placements
        self.mismatch_needs = mismatch_needs
        self.buckets: dict[tuple[bool, bool, bool, int], dict[int, Household]] = {
            (s, c, p, f): {} for s in (False, True) for c in (False, True) for p in (False, True) for f in range(1, 5)}
        self.empty_pac: dict[int, Household] = {}  # households free for a parent-and-child placement
        self._search = {(size, need): self._search_order(size, need) for size in range(1, 5) for need in range(4)}

    def _key(self, h: Household):
        if not h.alive or h.free <= 0 or h.groups >= self.max_placements or h.whole:
            return None
        return (h.sibling, h.complex, h.parent_child, min(h.free, 4))

    def remove(self, h: Household) -> None:
        key = self._key(h)
        if key is not None:
            self.buckets[key].pop(h.id, None)
            if h.parent_child:
                self.empty_pac.pop(h.id, None)

    def add(self, h: Household) -> None:
        key = self._key(h)
        if key is not None:
            self.buckets[key][h.id] = h
            if h.parent_child and h.groups == 0:
                self.empty_pac[h.id] = h

    def find(self, size: int, need: int, parent_child: bool = False) -> tuple[Household | None, bool]:
        """The longest-vacant household that can take ``size`` children of ``need``.

        Prefers households whose skills are needed, leaving skilled households for the
        children who need them: no parent-and-child skill unless needed, no sibling skill
        for one child, no complex skill for standard needs. Returns (household, placed
        outside the carer's skills).
        """
        if parent_child:
            h = next(iter(self.empty_pac.values()), None)
            return h, h is not None and need in NEEDS_COMPLEX_SKILL and not h.complex
        for bucket, mismatch in self._search[(min(size, 4), need)]:
            if bucket:
                return next(iter(bucket.values())), mismatch
        return None, False

    def _search_order(self, size: int, need: int) -> list[tuple[dict, bool]]:
        sibling_options = (True,) if size > 1 else (False, True)
        needs_skill = need in NEEDS_COMPLEX_SKILL
        complex_options = ((True, False),) if needs_skill else ((False, False), (True, False))
        if needs_skill and need in self.mismatch_needs:
            complex_options = ((True, False), (False, True))
        return [(self.buckets[(sib, cpx, pac, free)], mismatch)
                for pac in (False, True) for cpx, mismatch in complex_options for sib in sibling_options
                for free in range(size, 5)]

    def vacancies(self) -> int:
        return sum(len(b) for b in self.buckets.values())


class HouseholdQueue:
    """Children and sibling groups waiting for a household, first come first served.

    Waiters are kept in separate FIFO queues by what they need of a household (children
    placed together, need band; parent-and-child placements have a queue of their own), so
    a household that frees up looks only at the queues it could serve and takes the
    longest-waiting head among them, instead of passing over everyone it cannot take: the
    cost of a vacancy does not grow with the waiting list.
    """

    def __init__(self, mismatch_needs: set[int]):
        self.mismatch_needs = mismatch_needs
        self.queues: dict[tuple[int, int], deque] = {(size, need): deque() for size in range(1, 5) for need in range(4)}
        self.queues[_PAC] = deque()
        self.seq = 0

    def push(self, item, token: int, size: int, need: int, parent_child: bool = False) -> None:
        self.seq += 1
        self.queues[_PAC if parent_child else (min(size, 4), need)].append((self.seq, item, token))

    def servable(self, h: Household) -> list[deque]:
        """The non-empty queues whose waiters ``h`` has the room and the skills for."""
        if h.whole:
            return []
        out = [q for (size, need), q in self.queues.items()
               if q and 0 < size <= h.free and (size == 1 or h.sibling)
               and (need not in NEEDS_COMPLEX_SKILL or h.complex or need in self.mismatch_needs)]
        if h.parent_child and h.groups == 0 and self.queues[_PAC]:
            out.append(self.queues[_PAC])
        return out
