"""Uncertainty of the book's numbers: intervals for accuracies and for differences between two models.

Every accuracy in the book is a proportion ``k / n`` of test items; with the few dozen test tracks of the
small profiles its sampling error is several points, so it is always shown with ``n`` and a 95 % interval.

* :func:`wilson_interval` - Wilson's score interval for one proportion (well-behaved at 0 % and 100 %
  and for small ``n``, unlike the normal approximation ``p +- 1.96 sqrt(p(1-p)/n)``).
* :func:`Accuracy` - a proportion with its interval, formatted for prose and tables.
* :func:`clustered_accuracy` - the accuracy of items that come in groups (5-s segments of a track), with an
  interval from resampling whole groups: segments of one track are not independent draws, so a Wilson
  interval over segments would be too narrow.
* :func:`seed_accuracy`, :func:`seed_comparison` - a model trained with several seeds: the mean over seeds,
  the test set's interval (resampling tracks) and the seeds' spread, kept apart because they answer different
  questions (another test set, another training run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["percent", "wilson_interval", "Accuracy", "accuracy_of", "overlaps", "clustered_accuracy", "group_bootstrap",
           "group_bootstrap_difference", "cluster_difference", "paired_comparison", "unpaired_comparison",
           "SeedAccuracy", "seed_accuracy", "seed_comparison"]


def percent(value, digits: int = 1) -> str:
    """A fraction as a percentage for prose and tables: ``0.665 -> '66.5 %'``; None or NaN -> ``'n/a'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f} %"


def _z(level: float) -> float:
    from scipy.stats import norm

    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(norm.ppf(0.5 + level / 2))


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    Parameters
    ----------
    k : int
        Successes (e.g. correctly classified tracks), ``0 <= k <= n``.
    n : int
        Trials (test tracks). ``n = 0`` gives ``(nan, nan)``: no data, no interval.
    level : float
        Coverage, 0.95 for a 95 % interval.

    Returns
    -------
    low, high : float
        Bounds in [0, 1] (fractions, not percentages).
    """
    k, n = int(k), int(n)
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    z = _z(level)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 or k = n one bound is exactly 0 or 1; keep it so despite rounding
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Accuracy:
    """An accuracy ``k / n`` with its Wilson interval.

    Attributes
    ----------
    k, n : int
        Correct items and items.
    level : float
        Coverage of the interval.
    """

    k: int
    n: int
    level: float = 0.95
    #: An interval computed another way (:func:`clustered_accuracy`: resampling whole tracks), or None for
    #: Wilson's; ``resampled`` then names the unit that was resampled (e.g. ``'tracks'``) and ``n_groups``
    #: how many of them there were.
    bounds: tuple[float, float] | None = None
    resampled: str = ""
    n_groups: int = 0

    @property
    def value(self) -> float:
        """``k / n`` (NaN when ``n`` is 0)."""
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The interval ``(low, high)`` as fractions: Wilson's, or the resampled one when there is one."""
        if self.bounds is not None:
            return self.bounds
        return wilson_interval(self.k, self.n, self.level)

    def text(self, unit: str = "tracks", digits: int = 1) -> str:
        """E.g. ``'87.5 % (35 of 40 tracks; 95 % interval 73.9-94.5 %)'``; ``'n/a (no tracks)'`` when empty."""
        if not self.n:
            return f"n/a (no {unit})"
        low, high = self.interval
        if self.n == 1 and unit.endswith("s"):
            unit = unit[:-1]
        how = f", resampling {self.n_groups:,} {self.resampled}" if self.resampled else ""
        return (f"{100 * self.value:.{digits}f} % ({self.k:,} of {self.n:,} {unit}; "
                f"{100 * self.level:.0f} % interval {100 * low:.{digits}f}-{100 * high:.{digits}f} %{how})")

    def short(self, digits: int = 1) -> str:
        """E.g. ``'87.5 % [73.9, 94.5], n = 40'`` for table cells."""
        if not self.n:
            return "n/a (n = 0)"
        low, high = self.interval
        groups = f" ({self.n_groups:,} {self.resampled})" if self.resampled else ""
        return (f"{100 * self.value:.{digits}f} % [{100 * low:.{digits}f}, {100 * high:.{digits}f}], "
                f"n = {self.n:,}{groups}")


def accuracy_of(correct, level: float = 0.95) -> Accuracy:
    """:class:`Accuracy` of a boolean array (True = correctly classified)."""
    correct = np.asarray(correct, dtype=bool).ravel()
    return Accuracy(int(correct.sum()), int(correct.size), level)


def overlaps(a: Accuracy, b: Accuracy) -> bool:
    """Whether the intervals of two accuracies overlap (a rough "within the noise" for independent samples).

    Overlapping intervals do not prove two accuracies equal, and for paired results on the same test items
    a paired comparison (:func:`paired_comparison`) is sharper; the book uses this
    only to avoid calling a difference real when even the separate intervals cannot tell the two apart.
    """
    (lo_a, hi_a), (lo_b, hi_b) = a.interval, b.interval
    return not (hi_a < lo_b or hi_b < lo_a)


def group_bootstrap(correct, groups, n_boot: int = 2000, level: float = 0.95, seed: int = 0
                    ) -> tuple[float, float]:
    """Percentile interval of an accuracy over items, resampling whole groups with replacement.

    Parameters
    ----------
    correct : array-like of bool, shape (n,)
        Whether each item (a 5-s segment) was classified correctly.
    groups : array-like, shape (n,)
        The group of each item (its track id): a replicate draws as many groups as there are, with
        replacement, and takes every item of each drawn group.
    n_boot : int
        Replicates.
    level : float
        Coverage.
    seed : int
        Seed of the draws (same inputs and seed, same interval).

    Returns
    -------
    low, high : float
        Fractions; ``(nan, nan)`` for no items. Items are weighted as they come: a replicate's accuracy is
        its correct items over its items, so a track with more segments weighs more, as in the point value.
    """
    correct = np.asarray(correct, dtype=bool).ravel()
    groups = np.asarray(groups).ravel()
    if correct.size != groups.size:
        raise ValueError(f"correct and groups differ in length ({correct.size} vs {groups.size})")
    if correct.size == 0:
        return math.nan, math.nan
    hits, sizes = _group_sums(correct, groups, np.unique(groups))
    draws = np.random.default_rng(seed).integers(0, len(sizes), size=(n_boot, len(sizes)))
    return _percentiles(hits[draws].sum(axis=1) / sizes[draws].sum(axis=1), level)


def _group_sums(correct: np.ndarray, groups: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct items and items of each group in ``keys`` (sorted; items of other groups are left out)."""
    inside = np.isin(groups, keys)
    index = np.searchsorted(keys, groups[inside])
    return (np.bincount(index, weights=correct[inside].astype(float), minlength=keys.size),
            np.bincount(index, minlength=keys.size).astype(float))


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap replicates."""
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def clustered_accuracy(correct, groups, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                       unit: str = "tracks") -> Accuracy:
    """:class:`Accuracy` of items that come in groups, its interval from :func:`group_bootstrap`.

    ``k`` and ``n`` count the items (segments) as before; only the interval changes: it covers the sampling of
    the groups (test tracks), which is what was sampled. When every group's items all agree and the groups
    are of one size, it equals the same bootstrap over the groups themselves.
    """
    correct = np.asarray(correct, dtype=bool).ravel()
    bounds = group_bootstrap(correct, groups, n_boot, level, seed)
    return Accuracy(int(correct.sum()), int(correct.size), level, bounds=bounds, resampled=unit,
                    n_groups=int(len(np.unique(np.asarray(groups)))) if correct.size else 0)


def group_bootstrap_difference(correct_a, groups_a, correct_b, groups_b, n_boot: int = 2000, level: float = 0.95,
                               seed: int = 0) -> tuple[float, float]:
    """Percentile interval of accuracy A minus accuracy B, both measured on the same groups (tracks), resampling
    the groups: a replicate draws groups with replacement and takes every item of each from both A and B.

    A's and B's items may differ in number per group (a track's one vote against its six segments), so the
    pairing is by group, not by item. An item's score may also be a fraction (a track's mean correctness over
    several seeds) instead of right or wrong.

    Returns
    -------
    low, high : float
        Fractions; ``(nan, nan)`` without a group common to both.
    """
    a, b = np.asarray(correct_a, dtype=float).ravel(), np.asarray(correct_b, dtype=float).ravel()
    ga, gb = np.asarray(groups_a).ravel(), np.asarray(groups_b).ravel()
    if a.size != ga.size or b.size != gb.size:
        raise ValueError("each correct array needs one group per item")
    common = np.intersect1d(ga, gb)
    if common.size == 0:
        return math.nan, math.nan

    hits_a, sizes_a = _group_sums(a, ga, common)
    hits_b, sizes_b = _group_sums(b, gb, common)
    draws = np.random.default_rng(seed).integers(0, common.size, size=(n_boot, common.size))
    return _percentiles(hits_a[draws].sum(1) / sizes_a[draws].sum(1) - hits_b[draws].sum(1) / sizes_b[draws].sum(1),
                        level)


def cluster_difference(a, b, clusters, n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean of ``a`` minus mean of ``b`` over the same items, with a bootstrap that resamples whole clusters.

    For items that are not independent - test tracks by the same artist - a replicate draws as many clusters
    as there are, with replacement, and takes every item of each from both A and B
    (:func:`group_bootstrap_difference` with the clusters as the groups).

    Parameters
    ----------
    a, b : array-like of float, shape (n,)
        Per-item scores of A and B (a track's correctness, or its mean correctness over seeds).
    clusters : array-like, shape (n,)
        The cluster of each item (its artist).

    Returns
    -------
    dict
        ``difference``, ``low``, ``high`` (fractions), ``level``, ``n_tracks`` (items), ``n_clusters``.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    clusters = np.asarray(clusters).ravel()
    if not a.size == b.size == clusters.size or a.size == 0:
        raise ValueError(f"need equal, non-empty lengths, got {a.size}, {b.size} and {clusters.size}")
    low, high = group_bootstrap_difference(a, clusters, b, clusters, n_boot, level, seed)
    return {"difference": float((a - b).mean()), "low": low, "high": high, "level": float(level),
            "n_tracks": int(a.size), "n_clusters": int(np.unique(clusters).size)}


def paired_comparison(correct_a, correct_b, n_boot: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """Is model A better than model B on the same test tracks, beyond what the test set's size allows?

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_tracks,)
        Whether each model classified each test track correctly (same tracks, same order).
    n_boot : int
        Bootstrap resamples of the tracks.
    seed : int
    level : float
        Coverage of the bootstrap interval.

    Returns
    -------
    dict
        ``difference`` (accuracy of A minus accuracy of B), ``low`` and ``high`` (the central ``level``
        interval of the paired bootstrap), ``level``, ``a_only`` and ``b_only`` (tracks only A, or only B,
        gets right) and ``p_value`` (two-sided exact McNemar test on those discordant tracks), ``n_tracks``.
    """
    from scipy.stats import binomtest

    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"need two equal-length, non-empty 1-d arrays, got shapes {a.shape} and {b.shape}")
    diff = a.astype(float) - b.astype(float)
    idx = np.random.default_rng(seed).integers(0, diff.size, size=(n_boot, diff.size))
    boot = diff[idx].mean(axis=1)
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    tail = 100 * (1 - level) / 2
    return {"difference": float(diff.mean()), "low": float(np.percentile(boot, tail)),
            "high": float(np.percentile(boot, 100 - tail)), "level": float(level), "a_only": a_only, "b_only": b_only,
            "p_value": float(p), "n_tracks": int(diff.size)}


def unpaired_comparison(a, b, level: float = 0.95) -> dict:
    """Difference of two accuracies measured on different test items, with Newcombe's interval.

    For runs whose test sets differ (a leaky segment split against the track split), no paired comparison
    is possible; Newcombe's hybrid score interval combines the two Wilson intervals.

    Parameters
    ----------
    a, b : genre_utils.stats.Accuracy

    Returns
    -------
    dict
        ``difference`` (A minus B), ``low``, ``high``, ``level`` and ``n_tracks`` None (not paired), in the
        form :func:`genre_utils.narrative.margin_sentence` reads.
    """
    p1, p2 = a.value, b.value
    l1, u1 = wilson_interval(a.k, a.n, level)
    l2, u2 = wilson_interval(b.k, b.n, level)
    d = p1 - p2
    low = d - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    high = d + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return {"difference": float(d), "low": low, "high": high, "level": float(level), "n_tracks": None}


# ------------------------------------------------------------------------------------------ several seeds
@dataclass(frozen=True)
class SeedAccuracy:
    """The accuracy of one model trained with several seeds, all tested on the same items.

    Attributes
    ----------
    per_seed : tuple of Accuracy
        Each seed's accuracy (the profile's seed first).
    low, high : float
        Interval of the mean over seeds, from resampling the items (tracks) with replacement, each item
        carrying its mean correctness over the seeds: the test set's share of the uncertainty.
    level : float
    """

    per_seed: tuple
    low: float
    high: float
    level: float = 0.95

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)

    @property
    def n(self) -> int:
        """Test items (the same for every seed)."""
        return self.per_seed[0].n if self.per_seed else 0

    @property
    def value(self) -> float:
        """Mean accuracy over the seeds."""
        return float(np.mean([a.value for a in self.per_seed])) if self.n else math.nan

    @property
    def spread(self) -> tuple[float, float]:
        """Lowest and highest single-seed accuracy."""
        values = [a.value for a in self.per_seed]
        return (min(values), max(values)) if self.n else (math.nan, math.nan)

    def short(self, digits: int = 1) -> str:
        """E.g. ``'74.1 % [68.2, 79.4], n = 170; 3 seeds 72.9-75.3 %'`` (one seed: :meth:`Accuracy.short`)."""
        if self.n_seeds == 1:
            return self.per_seed[0].short(digits)
        if not self.n:
            return "n/a (n = 0)"
        lo, hi = self.spread
        return (f"{100 * self.value:.{digits}f} % [{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}], "
                f"n = {self.n:,}; {self.n_seeds} seeds {100 * lo:.{digits}f}-{100 * hi:.{digits}f} %")

    def text(self, unit: str = "tracks", digits: int = 1) -> str:
        """E.g. ``'74.1 % (mean of 3 seeds, 72.9-75.3 %, on 170 tracks; 95 % interval 68.2-79.4 %, resampling
        the tracks)'``; one seed: :meth:`Accuracy.text`."""
        if self.n_seeds == 1:
            return self.per_seed[0].text(unit, digits)
        if not self.n:
            return f"n/a (no {unit})"
        lo, hi = self.spread
        return (f"{100 * self.value:.{digits}f} % (mean of {self.n_seeds} seeds, {100 * lo:.{digits}f}-"
                f"{100 * hi:.{digits}f} %, on {self.n:,} {unit}; {100 * self.level:.0f} % interval "
                f"{100 * self.low:.{digits}f}-{100 * self.high:.{digits}f} %, resampling the {unit})")


def _seed_matrix(correct) -> np.ndarray:
    m = np.asarray(correct, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2:
        raise ValueError(f"need a (seeds, items) array of correctness, got shape {m.shape}")
    return m


def seed_accuracy(correct, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> SeedAccuracy:
    """:class:`SeedAccuracy` of a ``(n_seeds, n_items)`` boolean array (the same items, in the same order, for
    every seed). The interval resamples the items; each replicate's value is the mean over seeds.
    With one seed it is a bootstrap of that seed's accuracy (``per_seed`` keeps its Wilson interval)."""
    m = _seed_matrix(correct)
    per_seed = tuple(Accuracy(int(row.sum()), int(row.size), level) for row in m)
    if m.shape[1] == 0:
        return SeedAccuracy(per_seed, math.nan, math.nan, level)
    item_mean = m.mean(axis=0)
    draws = np.random.default_rng(seed).integers(0, item_mean.size, size=(n_boot, item_mean.size))
    low, high = _percentiles(item_mean[draws].mean(axis=1), level)
    return SeedAccuracy(per_seed, low, high, level)


def seed_comparison(correct_a, correct_b, n_boot: int = 10_000, level: float = 0.95, seed: int = 0,
                    stand_in_spread: float | None = None) -> dict:
    """Model A against model B, each trained with one or more seeds, on the same test items.

    The difference is that of the two mean-over-seeds accuracies. Its interval is a paired bootstrap over the
    items (each item carries A's mean correctness over A's seeds minus B's over B's seeds): the test set's share
    of the uncertainty. The seeds' share is reported beside it: the spread (highest minus lowest single-seed
    accuracy) of each model. ``beyond_noise`` is True only when the interval excludes zero **and** the
    difference is larger than the wider of the two spreads, so a gap that one more seed could close is never
    called a difference.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_seeds, n_items) or (n_items,)
    stand_in_spread : float, optional
        A's spread when A has a single seed (and so no spread of its own), taken from elsewhere (a fraction);
        the result then says ``spread_stand_in`` True.

    Returns
    -------
    dict
        ``difference``, ``low``, ``high``, ``level``, ``n_tracks``, ``seeds_a``, ``seeds_b``, ``spread_a``,
        ``spread_b`` (fractions), ``spread_stand_in``, ``beyond_interval``, ``beyond_seeds``, ``beyond_noise``
        (bools); the form :func:`genre_utils.narrative.margin_sentence` reads, plus the seed fields.
    """
    a, b = _seed_matrix(correct_a), _seed_matrix(correct_b)
    if a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ValueError(f"need the same, non-empty test items for both models, got {a.shape} and {b.shape}")
    diff = a.mean(axis=0) - b.mean(axis=0)
    draws = np.random.default_rng(seed).integers(0, diff.size, size=(n_boot, diff.size))
    low, high = _percentiles(diff[draws].mean(axis=1), level)
    stand_in = stand_in_spread is not None and a.shape[0] == 1
    spread_a = float(stand_in_spread) if stand_in else float(np.ptp(a.mean(axis=1)))
    spread_b = float(np.ptp(b.mean(axis=1)))
    d = float(diff.mean())
    beyond_interval = bool(low > 0 or high < 0)
    beyond_seeds = bool(abs(d) > max(spread_a, spread_b))
    return {"difference": d, "low": low, "high": high, "level": float(level), "n_tracks": int(diff.size),
            "seeds_a": int(a.shape[0]), "seeds_b": int(b.shape[0]), "spread_a": spread_a, "spread_b": spread_b,
            "spread_stand_in": bool(stand_in), "beyond_interval": beyond_interval, "beyond_seeds": beyond_seeds,
            "beyond_noise": beyond_interval and beyond_seeds}
