"""The book's interactive confusion views (plotly): the error map and the error scatter, and their offline
embedding in a static page (plotly.js inline, behind a guard for the widget pages' AMD loader).

They share :mod:`genre_utils.plots`' convention: predicted genre on x, true genre on y, top to bottom.
"""

from __future__ import annotations

import hashlib
import html
import math

import numpy as np
import pandas as pd

from .plots import CORRECT_COLOR, WRONG_COLOR
from .results import RunResults
from .tracks import cell_clips

__all__ = ["HOVER_CLIPS", "AMD_GUARD", "AMD_RESTORE", "error_map", "error_scatter", "figure_html", "show_offline"]


#: Clips listed in one hover box of :func:`error_map` before "+N more".
HOVER_CLIPS = 12

#: Script tags that hide an AMD loader (RequireJS, as used by widget pages) while plotly.js runs inline, so
#: its UMD header registers a global ``Plotly`` instead of an anonymous AMD module.
AMD_GUARD = "<script>window.__define = window.define; window.define = undefined;</script>"
AMD_RESTORE = "<script>window.define = window.__define; window.__define = undefined;</script>"


def _hover_list(clips: pd.DataFrame, limit: int = HOVER_CLIPS) -> str:
    lines = [f"{html.escape(r.track_id)}: {html.escape(r.line)}" for r in clips.head(limit).itertuples()]
    if len(clips) > limit:
        lines.append(f"+{len(clips) - limit} more")
    return "<br>".join(lines) if lines else "no clips"


def error_map(results: RunResults, title: str | None = None):
    """Track-level confusion heat map whose hover lists the clips of every cell.

    Colour is the row-normalised share (% of the true genre's test clips), the text in each cell the count;
    hovering shows the clips of the cell (up to :data:`HOVER_CLIPS`, most confident first, then "+N more")
    with their top-3 lines.

    Parameters
    ----------
    results : RunResults
    title : str, optional

    Returns
    -------
    fig : plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    genres = results.genres
    table = results.error_table()
    counts = results.confusion().to_numpy()
    totals = counts.sum(axis=1, keepdims=True)
    share = np.where(totals > 0, 100.0 * counts / np.maximum(totals, 1), np.nan)
    hover = [[_hover_list(cell_clips(table, t, p)) for p in genres] for t in genres]
    text = [[str(c) if c else "" for c in row] for row in counts]
    accuracy = table["correct"].mean() if len(table) else float("nan")
    fig = go.Figure(go.Heatmap(
        z=share.round(1).tolist(), x=genres, y=genres, text=text, texttemplate="%{text}", customdata=hover,
        colorscale="Blues", zmin=0, zmax=100, xgap=1, ygap=1,
        colorbar={"title": {"text": "% of true genre"}},
        hovertemplate=("true <b>%{y}</b>, predicted <b>%{x}</b>: %{z:.0f}% of the true genre<br>"
                       "%{customdata}<extra></extra>")))
    fig.update_layout(
        title=title or (f"Test clips by true and predicted genre ({len(table)} tracks, accuracy "
                        f"{100 * accuracy:.1f} %)<br><sup>hover a cell for its clips</sup>"),
        xaxis={"title": {"text": "predicted genre"}, "tickangle": -45, "constrain": "domain"},
        yaxis={"title": {"text": "true genre"}, "autorange": "reversed", "scaleanchor": "x"},
        width=720, height=640, template="plotly_white", hoverlabel={"align": "left", "font": {"size": 11}},
        margin={"l": 90, "r": 30, "t": 70, "b": 90})
    return fig


def _cell_offsets(k: int, n: int, radius: float = 0.36) -> tuple[float, float]:
    """Deterministic jitter: point ``k`` of ``n`` in a cell on a sunflower spiral (no two points coincide)."""
    r = radius * math.sqrt((k + 0.5) / n)
    angle = k * math.pi * (3 - math.sqrt(5))
    return r * math.cos(angle), r * math.sin(angle)


def error_scatter(results: RunResults, title: str | None = None):
    """One point per test track at (predicted genre, true genre), spread out within each cell.

    Same axes as every confusion view of the book (:func:`error_map`,
    :func:`genre_utils.plots.confusion_heatmap`): predicted genre on x, true genre on y, top to bottom.

    Points of a cell lie on a small deterministic spiral around the cell centre (most confident at the
    centre), blue circles when correct (on the diagonal) and orange crosses when not. Hover shows the track
    id, its top-3 line and how many of its windows voted for the prediction.

    Parameters
    ----------
    results : RunResults
    title : str, optional

    Returns
    -------
    fig : plotly.graph_objects.Figure
        Two traces, ``correct`` and ``misclassified``; together one point per test track.
    """
    import plotly.graph_objects as go

    genres = results.genres
    index = {g: k for k, g in enumerate(genres)}
    table = results.error_table()
    points = []
    for (t, p), _ in table.groupby(["true_genre", "pred_genre"], sort=False):
        clips = cell_clips(table, t, p)
        for k, r in enumerate(clips.itertuples()):
            dx, dy = _cell_offsets(k, len(clips))
            votes = "?" if pd.isna(r.votes) else int(r.votes)
            points.append({"x": index[p] + dx, "y": index[t] + dy, "correct": bool(r.correct),
                           "hover": f"<b>{html.escape(r.track_id)}</b><br>{html.escape(r.line)}<br>"
                                    f"{votes} of {r.n_segments} windows voted {html.escape(p)}"})
    frame = pd.DataFrame(points, columns=["x", "y", "correct", "hover"])
    fig = go.Figure()
    for correct, name, color, symbol in ((True, "correct", CORRECT_COLOR, "circle"),
                                         (False, "misclassified", WRONG_COLOR, "x")):
        part = frame[frame["correct"] == correct]
        fig.add_trace(go.Scatter(x=part["x"].round(4).tolist(), y=part["y"].round(4).tolist(), mode="markers",
                                 name=f"{name} ({len(part)})", customdata=part["hover"].tolist(),
                                 marker={"color": color, "symbol": symbol, "size": 8, "opacity": 0.85},
                                 hovertemplate="%{customdata}<extra></extra>"))
    n = len(genres)
    grid = [{"type": "line", "x0": i - 0.5, "x1": i - 0.5, "y0": -0.5, "y1": n - 0.5} for i in range(1, n)]
    grid += [{"type": "line", "y0": i - 0.5, "y1": i - 0.5, "x0": -0.5, "x1": n - 0.5} for i in range(1, n)]
    for shape in grid:
        shape["line"] = {"color": "#dddddd", "width": 1}
    axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": genres, "range": [-0.5, n - 0.5],
            "showgrid": False, "zeroline": False}
    fig.update_layout(
        title=title or f"Every test clip: true vs predicted genre ({len(table)} tracks) - hover a point",
        xaxis={**axis, "title": {"text": "predicted genre"}, "tickangle": -45, "constrain": "domain"},
        yaxis={**axis, "title": {"text": "true genre"}, "scaleanchor": "x", "range": [n - 0.5, -0.5]},
        shapes=grid, width=720, height=680, template="plotly_white", hoverlabel={"align": "left"},
        legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
        margin={"l": 90, "r": 30, "t": 90, "b": 90})
    return fig


def figure_html(fig, include_plotlyjs: bool = True, div_id: str | None = None) -> str:
    """A plotly figure as an HTML fragment that works offline (plotly.js inline, no CDN).

    The fragment is wrapped in :data:`AMD_GUARD` / :data:`AMD_RESTORE`: while the inline library runs,
    ``window.define`` is hidden, so on a page that also loads RequireJS (e.g. for widgets) a UMD header
    sets the global ``Plotly`` instead of calling ``define()``.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    include_plotlyjs : bool
        Embed plotly.js (about 4.8 MB). Pass False for later figures on a page that already embedded it.
    div_id : str, optional
        Default: derived from the figure's JSON, so the same figure gives the same HTML.

    Returns
    -------
    html : str
    """
    import plotly.io as pio

    if div_id is None:
        div_id = "gu-plot-" + hashlib.sha1(fig.to_json().encode("utf-8")).hexdigest()[:12]
    body = pio.to_html(fig, include_plotlyjs=bool(include_plotlyjs), full_html=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    return AMD_GUARD + body + AMD_RESTORE


def show_offline(fig, include_plotlyjs: bool = True):
    """:func:`figure_html` wrapped for display in a notebook (``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(figure_html(fig, include_plotlyjs=include_plotlyjs))
