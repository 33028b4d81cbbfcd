"""A run's test tracks as one table: what each is, what the model said, and where its audio lives.

The error explorer (:mod:`genre_utils.widgets`), the interactive error maps (:mod:`genre_utils.plots`) and
the result pages all read a run's per-track results through :func:`error_table`, and find the tracks of one
confusion cell with :func:`cell_clips`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .genres import GENRES

__all__ = ["error_table", "confusion_counts", "largest_error_cell", "cell_clips"]


def run_genres(results: dict) -> list[str]:
    """The class order of a run's results: its ``genres``, or the ten GTZAN genres when it names none."""
    return list(results.get("genres") or GENRES)


def error_table(results: dict) -> pd.DataFrame:
    """One row per test track of a run: what it is, what the model said, and where its audio lives.

    Parameters
    ----------
    results : dict
        A run's results (``results.json`` as read by :func:`genre_utils.experiments.load_results`).

    Returns
    -------
    table : DataFrame
        In the order of ``results["test"]["tracks"]``, columns ``track_id``, ``true_genre``, ``pred_genre``,
        ``correct`` (bool), ``n_segments`` (windows voted), ``votes`` (windows voting for the prediction),
        ``confidence`` (mean probability of the predicted genre, 0-1), ``line`` (the top-3 line) and
        ``path`` (audio file; None when the results do not record it).
    """
    tracks = pd.DataFrame(results["test"]["tracks"])
    columns = ["track_id", "true_genre", "pred_genre", "correct", "n_segments", "votes", "confidence", "line",
               "path"]
    if tracks.empty:
        return pd.DataFrame(columns=columns)
    pred = tracks["pred_genre"].astype(str)
    records = tracks.to_dict("records")

    def of_prediction(prefix):  # the value of column <prefix><predicted genre> in every row
        return [row.get(f"{prefix}{g}") for row, g in zip(records, pred)]

    table = pd.DataFrame({
        "track_id": tracks["track_id"].astype(str),
        "true_genre": tracks["true_genre"].astype(str),
        "pred_genre": pred,
        "correct": tracks["true_genre"].astype(str) == pred,
        "n_segments": tracks["n_segments"].astype(int),
        "votes": pd.array(of_prediction("votes_"), dtype="Int64"),
        "confidence": pd.to_numeric(pd.Series(of_prediction("prob_")), errors="coerce").to_numpy(),
        "line": tracks["line"].astype(str),
        "path": tracks["path"] if "path" in tracks else None,
    })
    return table[columns]


def confusion_counts(table: pd.DataFrame, genres=GENRES) -> np.ndarray:
    """Track-level confusion counts from an :func:`error_table` (rows true, columns predicted).

    Returns
    -------
    counts : ndarray, shape (len(genres), len(genres)), int64
    """
    index = {g: k for k, g in enumerate(genres)}
    counts = np.zeros((len(genres), len(genres)), dtype=np.int64)
    for t, p in zip(table["true_genre"], table["pred_genre"]):
        counts[index[t], index[p]] += 1
    return counts


def largest_error_cell(counts, genres=GENRES) -> tuple[str, str]:
    """The (true, predicted) genre pair with the most errors; the first in row-major order on ties.

    Without any error the largest cell of all (a diagonal one) is returned, so a view still opens on clips.
    """
    counts = np.asarray(counts)
    off = np.where(np.eye(len(counts), dtype=bool), -1, counts)
    grid = off if off.max() > 0 else counts
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return genres[i], genres[j]


def largest_error_in_row(row_counts, row: int) -> int:
    """Column of the largest off-diagonal count of one confusion row (the diagonal when it has no error)."""
    errors = np.asarray(row_counts).copy()
    errors[row] = -1
    return int(np.argmax(errors)) if errors.max() > 0 else row


def cell_clips(table: pd.DataFrame, true_genre: str, pred_genre: str) -> pd.DataFrame:
    """Test tracks of one confusion cell, the most confident predictions first (ties keep table order)."""
    cell = table[(table["true_genre"] == true_genre) & (table["pred_genre"] == pred_genre)]
    return cell.sort_values("confidence", ascending=False, kind="stable", na_position="last")
