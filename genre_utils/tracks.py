"""Finding tracks in a confusion matrix: the cell with the most errors, and the test tracks of one cell.

The error explorer (:mod:`genre_utils.widgets`), the interactive error maps (:mod:`genre_utils.webplots`) and
the result pages read a run's per-track results through :meth:`genre_utils.results.RunResults.error_table`
and its counts through :meth:`~genre_utils.results.RunResults.confusion`; this module picks cells and clips.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .genres import GENRES

__all__ = ["largest_error_cell", "largest_error_in_row", "cell_clips"]


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
    """Test tracks of one confusion cell of an error table (:meth:`~genre_utils.results.RunResults.error_table`),
    the most confident predictions first (ties keep table order)."""
    cell = table[(table["true_genre"] == true_genre) & (table["pred_genre"] == pred_genre)]
    return cell.sort_values("confidence", ascending=False, kind="stable", na_position="last")
