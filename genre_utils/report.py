"""Small helpers the book's pages share: the data banner, number formatting, glue and tables.

Every number that appears in the book's prose is glued from a run through :func:`glue_all`, formatted by
:func:`pct` or :func:`num`; nothing is typed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .genres import GENRES

__all__ = ["pct", "num", "glue_all", "glue_figure", "text_figure", "data_banner", "per_genre_frame", "compare_table",
           "confusion_frame"]


def pct(value, digits: int = 1) -> str:
    """A fraction as a percentage string: ``0.665 -> '66.5 %'``; None or NaN -> ``'n/a'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f} %"


def num(value, digits: int = 0) -> str:
    """A number with thousands separators: ``100000 -> '100,000'``."""
    if value is None:
        return "n/a"
    return f"{float(value):,.{digits}f}"


def glue_all(**values) -> None:
    """``myst_nb.glue`` every keyword as a hidden text value (strings are glued as they are)."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value if isinstance(value, str) else str(value), display=False)


def glue_figure(name: str, obj) -> None:
    """Glue a figure (matplotlib, plotly, or :func:`text_figure`) for a ``{glue:figure}`` directive.

    Every figure of the paper that the book regenerates is shown through a Markdown cell::

        ```{glue:figure} fig7
        :name: fig-7

        Figure 7 (regenerated): ...
        ```

    so it gets a numbered caption under the image; the code cell only computes and glues it.
    """
    from myst_nb import glue

    glue(name, obj, display=False)


def text_figure(lines) -> "IPython.display.HTML":
    """Lines of text (e.g. the paper's ``genre: genre:prob ...`` outputs) as a displayable block for a figure."""
    import html

    from IPython.display import HTML

    body = "\n".join(html.escape(str(line)) for line in lines)
    return HTML(f'<pre class="text-figure">{body}</pre>')


def data_banner(ctx):
    """A Markdown note naming the data and profile behind the numbers of a page."""
    from IPython.display import Markdown

    kind = "synthetic data" if ctx.synthetic else "real data"
    return Markdown(f"```{{note}}\nThe results on this page were computed on **{kind}**: {ctx.data_description}; "
                    f"profile `{ctx.profile.name}`.\n```")


def per_genre_frame(results: dict, level: str = "track") -> pd.DataFrame:
    """The per-genre table of a run (support, accuracy, precision, false discovery and false positive rates)."""
    frame = pd.DataFrame.from_records(results["test"][f"{level}_per_genre"])
    return frame.set_index("genre")


def confusion_frame(results: dict, level: str = "track", normalise: bool = False) -> pd.DataFrame:
    """A run's confusion matrix as a labelled frame (rows true genre, columns predicted genre)."""
    cm = np.asarray(results["test"][f"{level}_confusion"], dtype=float)
    if normalise:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.full_like(cm, np.nan), where=rows > 0)
    return pd.DataFrame(cm, index=pd.Index(GENRES, name="true"), columns=pd.Index(GENRES, name="predicted"))


def compare_table(rows) -> pd.DataFrame:
    """A paper-vs-this-build table from ``(quantity, paper value, build value, kind)`` tuples.

    ``kind`` is ``'pct'`` (fractions shown as percentages) or ``'num'``; missing values show as ``n/a``.
    """
    fmt = {"pct": pct, "num": num}
    out = [{"quantity": q, "paper": fmt[k](p) if p is not None else "not reported", "this build": fmt[k](b)}
           for q, p, b, k in rows]
    return pd.DataFrame(out).set_index("quantity")
