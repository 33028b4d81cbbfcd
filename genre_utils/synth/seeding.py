"""Seeded randomness shared by every part of the synthetic corpus.

Everything is seeded from JSON-able parts (``(seed, tree, genre, index)`` and the like) through SHA-256,
so a value never depends on the process, the worker count or Python's ``hash`` randomisation.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = ["stable_int", "seeded_rng", "pick"]


def stable_int(*parts) -> int:
    """A 63-bit integer from any JSON-able parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def seeded_rng(*parts) -> np.random.Generator:
    return np.random.default_rng(stable_int(*parts))


def pick(rng: np.random.Generator, options):
    """One element of a non-empty sequence (a plain Python value, not a numpy scalar)."""
    return options[int(rng.integers(len(options)))]
