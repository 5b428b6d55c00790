"""Named random streams, all spawned from one root seed.

Every draw in placesim comes from a numpy ``Generator`` built from
``SeedSequence(entropy=seed, spawn_key=(replication, hash(name), *key))``. A
stream's output depends only on the seed, the replication, its name and its key,
never on what other streams did, so two scenarios run with the same seed see
the same children (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_id(name: str) -> int:
    """A stable 32-bit number for a stream name (Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Factory of named generators for one replication."""

    def __init__(self, seed: int, replication: int):
        self.seed = int(seed)
        self.replication = int(replication)

    def generator(self, name: str, *key: int) -> np.random.Generator:
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, stream_id(name), *map(int, key)))
        return np.random.Generator(np.random.PCG64(ss))
