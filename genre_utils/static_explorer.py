"""The error explorer as plain HTML and a little JavaScript: it works in the static book, with no kernel.

The reader picks a true and a predicted genre (two dropdowns, or a click on a cell of the confusion matrix)
and sees the run's test tracks in that cell, the most confident prediction first: track id, windows voting,
confidence and the top-3 line. Clicking a track shows one image, the MFCC of its first windows (what the
model saw) over its saliency map for the predicted genre (what the model listened to, same time axis), and an
audio player on the same seconds of the track.

Images and sound are embedded in the page (``data:`` URIs, as in :mod:`genre_utils.listening`), so only a
bounded set of tracks carries them (:func:`media_tracks`): every misclassified test track and the
``correct_per_genre`` most confident correct ones of each genre, at most ``max_tracks`` in all. Every other
test track is still listed. With the defaults a track costs about 75 kB of page: 10 s of MP3 at the listening
test's 32 kbit/s (about 54 kB as base64) and one PNG of about 15 kB.

The saliency is :func:`genre_utils.saliency.gradient_x_input` by default: one backward pass per window
(a few hundredths of a second on a CPU), where occlusion takes about a second per window, too slow to embed
tens of tracks in a book build. The live explorer (:func:`genre_utils.widgets.explorer`, ``make explore``)
computes occlusion for any track it is asked for.

The same inputs give the same bytes: no random ids, no timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json

import numpy as np
import pandas as pd

from .audio import AudioError
from .config import FeatureParams
from .dataset import track_windows
from .listening import clip_mp3
from .metrics import confusion
from .plots import draw_features, feature_range, figure_png
from .saliency import METHOD_NAMES, as_model, clip_saliency, draw_saliency, gradient_x_input_batch
from .tracks import cell_clips, largest_error_cell

__all__ = ["media_tracks", "track_png", "explorer_html", "static_explorer"]

#: Defaults: correct tracks with media per genre, tracks with media in all, 5-s windows shown per track.
CORRECT_PER_GENRE, MAX_TRACKS, N_WINDOWS = 1, 60, 2
#: Width of a track's image and height of each of its panels (axes, colour bar and title), in inches.
WIDTH_INCHES, PANEL_INCHES = 5.4, 1.35


def media_tracks(table: pd.DataFrame, genres, correct_per_genre: int = CORRECT_PER_GENRE,
                 max_tracks: int = MAX_TRACKS) -> list[str]:
    """The tracks whose image and sound the page embeds: the misclassified ones, then a few correct ones.

    Candidates are every misclassified track and the first ``correct_per_genre`` of each diagonal cell (the
    most confident correct predictions). They are taken in turns, errors before correct tracks: first the
    most confident track of every cell (cells in row-major order), then the second of every cell, and so on,
    so when ``max_tracks`` cuts the list every cell keeps media for the tracks it lists first.

    Parameters
    ----------
    table : DataFrame
        :meth:`genre_utils.results.RunResults.error_table` of a run.
    genres : sequence of str
        The run's classes, in order.
    correct_per_genre : int
    max_tracks : int

    Returns
    -------
    track_ids : list of str
        In the order of choice (at most ``max_tracks``).
    """
    ranked = []
    for t in genres:
        for p in genres:
            ids = cell_clips(table, t, p)["track_id"].tolist()
            if t == p:
                ids = ids[:correct_per_genre]
            ranked += [(t == p, rank, len(ranked), tid) for rank, tid in enumerate(ids)]
    return [tid for *_, tid in sorted(ranked)][:max_tracks]


def track_png(windows: np.ndarray, sal: np.ndarray | None, params: FeatureParams, title: str = "",
              sal_title: str = "", dpi: int = 80, colors: int | None = 128) -> bytes:
    """One track's image: its MFCC (top) over its saliency map (bottom), time in seconds across both.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, height, n_frames)
        Consecutive windows of raw features, drawn side by side (dashed lines mark the windows' edges).
    sal : ndarray, shape (height, n_windows * n_frames), or None
        Saliency of the same cells (None: the MFCC panel only). Its colour scale ends at the 99th percentile
        of its magnitudes: gradient maps have a few cells far stronger than the rest, which would leave
        everything else white.
    params : FeatureParams
        Gives the time axis (hop and rate) and the kind of rows.
    title, sal_title : str
        Titles of the two panels.
    dpi : int
        Pixels per inch of the figure, :data:`WIDTH_INCHES` wide (80: 432 pixels wide, text 9-11 pixels high).
    colors : int or None
        Palette size of the PNG (:func:`genre_utils.plots.figure_png`; the two colour maps need more than 64).

    Returns
    -------
    png : bytes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image = np.concatenate(list(np.asarray(windows, dtype=np.float32)), axis=1)
    panels = 1 if sal is None else 2
    height = 0.65 + PANEL_INCHES * panels
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=dpi)
    FigureCanvasAgg(fig)
    # fixed margins (inches) instead of tight_layout, which took a third of the drawing time
    fig.subplots_adjust(left=0.55 / WIDTH_INCHES, right=1 - 0.85 / WIDTH_INCHES, top=1 - 0.22 / height,
                        bottom=0.42 / height, hspace=0.45 / PANEL_INCHES)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    lo, hi = feature_range(image, params)
    draw_features(axes[0], image, params, vmin=lo, vmax=hi, colorbar_fraction=0.04)  # as draw_saliency: x aligned
    axes[0].set_title(title, fontsize=9)
    if sal is not None:
        draw_saliency(axes[1], sal, params, title=sal_title, limit=float(np.percentile(np.abs(sal), 99)))
        axes[0].set_xlabel("")
    edge = windows.shape[-1] * params.hop_length / params.sample_rate
    for ax in axes:
        for k in range(1, len(windows)):
            ax.axvline(k * edge, color="white" if ax is axes[0] else "0.3", lw=0.8, ls="--")
        ax.tick_params(labelsize=8)
    return figure_png(fig, colors)


def _counts(table: pd.DataFrame, genres) -> np.ndarray:
    """Track counts of each (true, predicted) cell of ``table``, shape (len(genres), len(genres)), int64."""
    index = {g: k for k, g in enumerate(genres)}
    return confusion(table["true_genre"].map(index).to_numpy(dtype=np.int64),
                     table["pred_genre"].map(index).to_numpy(dtype=np.int64), len(genres))


def _data_uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _window_start(dataset, track_id: str) -> float:
    """Seconds from the start of the file to the track's first stored test window (0 when none)."""
    m = dataset.manifest
    starts = m.loc[(m["track_id"] == track_id) & (m["split"] == "test"), "start"]
    return float(starts.min()) / dataset.params.sample_rate if len(starts) else 0.0


def _saliencies(model, windows: list, targets: list, method: str) -> list:
    """Saliency of every track's windows (None where a track has no windows or there is no model).

    Gradient x input runs all tracks' windows through the model together, 32 at a time
    (:func:`genre_utils.saliency.gradient_x_input_batch`); occlusion goes track by track.
    """
    if model is None:
        return [None] * len(windows)
    if method not in ("gradient", "gradient_x_input"):
        return [None if w is None else clip_saliency(model, w, method, target=t) for w, t in zip(windows, targets)]
    have = [k for k, w in enumerate(windows) if w is not None]
    if not have:
        return [None] * len(windows)
    maps = iter(gradient_x_input_batch(model, np.concatenate([windows[k] for k in have]),
                                       [targets[k] for k in have for _ in windows[k]]))
    out = [None] * len(windows)
    for k in have:
        out[k] = np.concatenate([next(maps) for _ in windows[k]], axis=1)
    return out


def _media(rows: list, genres, dataset, model, n_windows: int, method: str) -> list[dict]:
    """The embedded image and MP3 of each track (``img``, ``mp3``: data URIs or None) and why one is missing."""
    params = dataset.params if dataset is not None else FeatureParams()
    windows = [track_windows(dataset, r.track_id, n_windows) if dataset is not None else None for r in rows]
    sals = _saliencies(model, windows, [list(genres).index(r.pred_genre) for r in rows], method)
    kind = "MFCC" if params.kind == "mfcc" else "log-mel"
    out = []
    for row, win, sal in zip(rows, windows, sals):
        media, notes = {"img": None, "mp3": None}, []
        seconds = (n_windows if win is None else len(win)) * params.segment_seconds
        start = 0.0 if win is None else _window_start(dataset, row.track_id)
        if win is None:
            notes.append("no image: the feature store holds no test window of this track")
        else:
            media["img"] = _data_uri("image/png", track_png(
                win, sal, params, f"{kind} of its first {len(win)} x {params.segment_seconds:g}-s windows "
                                  f"({start:g}-{start + seconds:g} s of the track)",
                f"saliency for '{row.pred_genre}' ({METHOD_NAMES[method]}): red for, blue against"))
        if row.path is None or (isinstance(row.path, float) and np.isnan(row.path)):
            notes.append("no sound: the results record no audio file for this track")
        else:
            try:
                media["mp3"] = _data_uri("audio/mpeg", clip_mp3(row.path, seconds, params.sample_rate, start=start))
            except AudioError as err:
                notes.append(f"no sound: {err}")
        media["notes"] = notes
        out.append(media)
    return out


_CSS = """
#{id} {{font-size: 0.92em}}
#{id} .gu-pick {{display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: 0.4em 0}}
#{id} .gu-pick select {{max-width: 14em}}
#{id} table {{border-collapse: collapse; margin: 0.4em 0}}
#{id} td, #{id} th {{border: 1px solid #ccc; padding: 0.15em 0.35em}}
#{id} table.gu-matrix td {{width: 2.1em; text-align: center; cursor: pointer}}
#{id} table.gu-matrix td.gu-empty {{color: #bbb}}
#{id} table.gu-matrix th.gu-col span {{writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal}}
#{id} table.gu-matrix th.gu-row {{text-align: right; font-weight: normal}}
#{id} table.gu-matrix td.gu-on {{outline: 3px solid #1f4e9c; outline-offset: -3px; font-weight: bold}}
#{id} .gu-list {{max-height: 15em; overflow-y: auto; border: 1px solid #ddd}}
#{id} table.gu-tracks {{width: 100%; margin: 0; table-layout: fixed}}
#{id} table.gu-tracks td {{overflow-wrap: anywhere; vertical-align: top}}
#{id} table.gu-tracks tr.gu-track {{cursor: pointer}}
#{id} table.gu-tracks tr.gu-track:hover {{background: #eef3fb}}
#{id} table.gu-tracks tr.gu-sel, #{id} table.gu-tracks tr.gu-sel:hover {{background: #c7dbf5; font-weight: bold}}
#{id} table.gu-tracks tr.gu-bare td:first-child::after {{content: " (listed only)"; color: #888; font-size: 0.85em}}
#{id} .gu-detail {{margin-top: 0.6em}}
#{id} .gu-detail p {{margin: 0.2em 0}}
#{id} .gu-detail img {{max-width: 100%; height: auto; display: block; margin: 0.3em 0}}
#{id} .gu-detail audio {{width: 100%; max-width: 28em}}
#{id} .gu-note {{color: #8a4b00; font-size: 0.9em}}
"""

_JS = r"""
(function () {
  var root = document.getElementById(ROOT_ID);
  var data = JSON.parse(root.querySelector('script.gu-data').textContent);
  var g = data.genres, counts = data.counts;
  var selT = root.querySelector('select.gu-true'), selP = root.querySelector('select.gu-pred');
  var rows = Array.prototype.slice.call(root.querySelectorAll('tr.gu-track'));
  var cells = Array.prototype.slice.call(root.querySelectorAll('td.gu-cell'));
  var summary = root.querySelector('.gu-summary'), detail = root.querySelector('.gu-detail');
  function add(parent, tag, text, cls) {
    var el = document.createElement(tag);
    if (text) { el.textContent = text; }
    if (cls) { el.className = cls; }
    parent.appendChild(el);
    return el;
  }
  function bestInRow(t) {
    var best = t, n = 0;
    counts[t].forEach(function (v, p) { if (p !== t && v > n) { best = p; n = v; } });
    return best;
  }
  function showTrack(row) {
    rows.forEach(function (r) { r.classList.toggle('gu-sel', r === row); });
    detail.textContent = '';
    if (!row) { add(detail, 'p', 'No test track in this cell.', 'gu-note'); return; }
    var c = row.cells, t = g[+row.dataset.t], p = g[+row.dataset.p];
    add(detail, 'p', c[0].textContent + ': true ' + t + ', predicted ' + p + ' (' + c[1].textContent +
        ' windows voting, mean probability ' + c[2].textContent + ')', 'gu-head');
    add(detail, 'p', 'Top 3: ' + c[3].textContent);
    var m = row.dataset.m === '' ? null : data.media[+row.dataset.m];
    if (!m) {
      add(detail, 'p', 'This page embeds image and sound for ' + data.note + '; this track is listed only ' +
          '(make explore shows every track).', 'gu-note');
      return;
    }
    if (m.img) { var img = add(detail, 'img'); img.alt = 'MFCC and saliency of ' + c[0].textContent; img.src = m.img; }
    if (m.mp3) { var au = add(detail, 'audio'); au.controls = true; au.preload = 'metadata'; au.src = m.mp3; }
    m.notes.forEach(function (n) { add(detail, 'p', n, 'gu-note'); });
  }
  function showCell(t, p) {
    selT.value = String(t);
    Array.prototype.forEach.call(selP.options, function (o, j) { o.textContent = g[j] + ' (' + counts[t][j] + ')'; });
    selP.value = String(p);
    cells.forEach(function (c) { c.classList.toggle('gu-on', +c.dataset.t === t && +c.dataset.p === p); });
    var shown = rows.filter(function (r) { return +r.dataset.t === t && +r.dataset.p === p; });
    rows.forEach(function (r) { r.hidden = shown.indexOf(r) < 0; });
    var n = counts[t].reduce(function (a, b) { return a + b; }, 0);
    summary.textContent = shown.length + ' of ' + n + ' test tracks of ' + g[t] + ' predicted as ' + g[p] +
      (t === p ? ' (correct)' : ' (errors)') + ', most confident first; click one to see and hear it.';
    showTrack(shown[0] || null);
  }
  selT.addEventListener('change', function () {
    var t = +selT.value, p = +selP.value;
    showCell(t, counts[t][p] ? p : bestInRow(t));
  });
  selP.addEventListener('change', function () { showCell(+selT.value, +selP.value); });
  cells.forEach(function (c) { c.addEventListener('click', function () { showCell(+c.dataset.t, +c.dataset.p); }); });
  rows.forEach(function (r) {
    r.addEventListener('click', function () { showTrack(r); });
    r.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); showTrack(r); }
    });
  });
  showCell(data.open[0], data.open[1]);
})();
"""


def _matrix(counts: np.ndarray, genres) -> str:
    esc = html.escape
    head = "<tr><th>true \\ predicted</th>" + "".join(
        f'<th class="gu-col"><span>{esc(g)}</span></th>' for g in genres) + "</tr>"
    top = max(int(counts.max()), 1)
    body = []
    for i, t in enumerate(genres):
        tds = []
        for j, n in enumerate(counts[i]):
            shade = f"rgba({'46,139,87' if i == j else '214,96,32'},{0.12 + 0.6 * n / top:.2f})" if n else "transparent"
            tds.append(f'<td class="gu-cell{" gu-empty" if not n else ""}" data-t="{i}" data-p="{j}" data-n="{n}" '
                       f'tabindex="0" title="true {esc(t)}, predicted {esc(genres[j])}: {n}" '
                       f'style="background:{shade}">{n}</td>')
        body.append(f'<tr><th class="gu-row">{esc(t)} ({int(counts[i].sum())})</th>{"".join(tds)}</tr>')
    return f'<table class="gu-matrix">{head}{"".join(body)}</table>'


def _track_rows(table: pd.DataFrame, genres, media_index: dict) -> str:
    esc = html.escape
    rows = []
    for i, t in enumerate(genres):
        for j, p in enumerate(genres):
            for r in cell_clips(table, t, p).itertuples():
                m = media_index.get(r.track_id)
                votes = "" if pd.isna(r.votes) else f"{int(r.votes)} / {int(r.n_segments)}"
                conf = "" if pd.isna(r.confidence) else f"{r.confidence:.2f}"
                rows.append(f'<tr class="gu-track{"" if m is not None else " gu-bare"}" data-t="{i}" data-p="{j}" '
                            f'data-m="{"" if m is None else m}" tabindex="0"><td>{esc(r.track_id)}</td>'
                            f'<td>{votes}</td><td>{conf}</td><td>{esc(r.line)}</td></tr>')
    head = ('<colgroup><col style="width:26%"><col style="width:11%"><col style="width:17%"><col></colgroup>'
            "<thead><tr><th>track</th><th>votes</th><th>confidence</th><th>top 3 (mean probability)</th></tr>"
            "</thead>")
    return f'<div class="gu-list"><table class="gu-tracks">{head}<tbody>{"".join(rows)}</tbody></table></div>'


def explorer_html(table: pd.DataFrame, genres, *, dataset=None, model=None, correct_per_genre: int = CORRECT_PER_GENRE,
                  max_tracks: int = MAX_TRACKS, n_windows: int = N_WINDOWS, method: str = "gradient") -> str:
    """The kernel-free error explorer as one HTML fragment (inline CSS and JavaScript, media as data URIs).

    Parameters
    ----------
    table : DataFrame
        :meth:`genre_utils.results.RunResults.error_table` of a run: one row per test track.
    genres : sequence of str
        The run's classes, in order (the rows and columns of the matrix).
    dataset : genre_utils.dataset.Dataset, optional
        The store the run was evaluated on: the images show its stored windows (exactly the model's input) and
        the audio the same seconds. Without it no image is drawn and the sound starts at 0 s.
    model : torch.nn.Module or path-like, optional
        The run's model, run folder or checkpoint; without it the images carry no saliency map.
    correct_per_genre, max_tracks : int
        The tracks with media (:func:`media_tracks`).
    n_windows : int
        5-s windows shown (and seconds heard, ``n_windows x 5``) per track, from its first stored test window.
    method : str
        Saliency: ``"gradient"`` (gradient x input, default) or ``"occlusion"`` (about 30 times slower).

    Returns
    -------
    html : str
        Needs no kernel, no network and no other file; the same inputs give the same string. It opens on the
        largest error cell (:func:`genre_utils.tracks.largest_error_cell`) with its first track shown.
    """
    genres = list(genres)
    model = as_model(model)
    counts = _counts(table, genres)
    chosen = media_tracks(table, genres, correct_per_genre, max_tracks)
    by_id = {r.track_id: r for r in table.itertuples()}
    media = _media([by_id[tid] for tid in chosen], genres, dataset, model, n_windows, method)
    index = {tid: k for k, tid in enumerate(chosen)}
    t0, p0 = largest_error_cell(counts, genres)
    correct = ("the most confident correct one" if correct_per_genre == 1 else
               f"the {correct_per_genre} most confident correct ones")
    cap = f", at most {max_tracks} in all" if max_tracks < len(table) else ""
    note = f"{len(chosen)} of the {len(table)} test tracks (every misclassified one and {correct} of each genre{cap})"
    data = {"genres": genres, "counts": counts.tolist(), "media": media, "note": note,
            "open": [genres.index(t0), genres.index(p0)]}
    payload = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    root = "gu-explore-" + hashlib.sha1(json.dumps([genres, table["track_id"].tolist()]).encode()).hexdigest()[:10]
    options = "".join(f'<option value="{k}">{html.escape(g)} ({n})</option>'
                      for k, (g, n) in enumerate(zip(genres, counts.sum(axis=1))))
    pick = (f'<div class="gu-pick"><label>true genre <select class="gu-true">{options}</select></label>'
            f'<label>predicted genre <select class="gu-pred">{options}</select></label></div>')
    intro = ("<p>Click a cell of the matrix (rows: true genre, columns: predicted genre) or choose the two genres; "
             f"then click a track to see and hear it. Image and sound are embedded for {html.escape(note)}.</p>")
    return (f'<div id="{root}" class="gu-explorer"><style>{_CSS.format(id=root)}</style>{intro}{pick}'
            f'{_matrix(counts, genres)}<p class="gu-summary"></p>{_track_rows(table, genres, index)}'
            f'<div class="gu-detail"></div><script type="application/json" class="gu-data">{payload}</script>'
            f'<script>{_JS.replace("ROOT_ID", json.dumps(root))}</script></div>')


def static_explorer(table: pd.DataFrame, genres, **kwargs):
    """:func:`explorer_html` for display in a notebook (``IPython.display.HTML``); same arguments."""
    from IPython.display import HTML

    return HTML(explorer_html(table, genres, **kwargs))
