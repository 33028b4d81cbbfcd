"""A listening test: the reader against the model on the same clips (the human comparison of paper section 9).

The paper's two authors labelled the 30 web songs of its three new-data tests (65, 65 and 70 % right) where
the model scored 60, 70 and 60 %. Here the reader takes the listeners' place:

:func:`select_clips`
    A fixed, seeded choice of ``n`` clips of a run: new-data files first (music the model never saw in any
    form, as in the paper), then test tracks, spread over the genres.
:func:`listening_test`
    The test as one self-contained piece of HTML + JavaScript: each clip is embedded as a short MP3
    (``data:`` URI, 10 s mono at 22,050 Hz, 32 kbit/s, about 55 kB of text per clip), so it works in the
    static book with no kernel and no network. The reader picks a genre for every clip, then sees their
    accuracy beside the model's on the same clips (Wilson 95 % intervals), their confusion matrix, the
    paper's listeners, and each clip's answer. The answers never leave the page (nothing is stored or sent).
:func:`listening_widget`
    The same test with ipywidgets, for a live kernel: the answers come back to Python (``widget.parts``).
:func:`write_listening_test`
    A standalone HTML file of the test (e.g. to send to a friend, or for the browser test).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import paper
from .audio import AudioError, load_audio
from .genres import GENRES
from .results import RunResults
from .stats import Accuracy, wilson_interval

__all__ = ["select_clips", "clip_mp3", "score", "listening_test", "listening_html",
           "listening_widget", "write_listening_test"]


#: Audio embedded per clip: seconds, sample rate (Hz) and MP3 bit rate (kbit/s), mono.
CLIP_SECONDS, CLIP_RATE, CLIP_KBPS = 10.0, 22050, 32


# ------------------------------------------------------------------------------------------ selection
def _given(value) -> bool:
    """A recorded value that is there (not None, NaN or empty)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def _pool(results: RunResults, sources) -> pd.DataFrame:
    rows = []
    if "newdata" in sources:
        for f in results.newdata_files.to_dict("records"):
            if _given(f.get("error")) or not _given(f.get("pred_genre")):
                continue
            name = "/".join(str(f["path"]).replace("\\", "/").split("/")[-2:])
            rows.append({"clip_id": f"new:{name}", "source": "newdata", "path": f["path"],
                         "true_genre": f["label"], "model_genre": f["pred_genre"]})
    if "test" in sources:
        for t in results.tracks.to_dict("records"):
            if not _given(t.get("path")):
                continue
            rows.append({"clip_id": str(t["track_id"]), "source": "test", "path": t["path"],
                         "true_genre": t["true_genre"], "model_genre": t["pred_genre"]})
    return pd.DataFrame(rows, columns=["clip_id", "source", "path", "true_genre", "model_genre"])


def select_clips(results: RunResults, n: int = 30, seed: int = 0, sources=("newdata", "test")) -> pd.DataFrame:
    """A fixed choice of ``n`` clips of a run for the listening test (the same for the same results and seed).

    Within each genre the clips are shuffled by a generator seeded with ``(seed, genre index)``, new-data
    files before test tracks; then genres take turns (one clip each, in an order seeded with ``(seed, 10)``)
    until ``n`` clips are chosen, and the chosen clips are shuffled once more (``seed``) so the genres do not
    come in order.

    Parameters
    ----------
    results : RunResults
        A run's results: its new-data files and test tracks.
    n : int
        Clips (fewer when the run has fewer usable ones).
    seed : int
    sources : tuple of str
        ``"newdata"`` and/or ``"test"``.

    Returns
    -------
    clips : DataFrame
        Columns ``clip_id``, ``source``, ``path``, ``true_genre``, ``model_genre``, ``model_correct``.
    """
    pool = _pool(results, sources)
    genres = results.genres
    order = {g: k for k, g in enumerate(genres)}
    queues = []
    for g in sorted(pool["true_genre"].unique(), key=lambda g: (order.get(g, len(order)), g)):
        group = pool[pool["true_genre"] == g].sort_values("clip_id", kind="stable")
        rng = np.random.default_rng([seed, order.get(g, len(order))])
        group = group.iloc[rng.permutation(len(group))]
        group = group.assign(_new=group["source"] != "newdata").sort_values("_new", kind="stable")
        queues.append(list(group.drop(columns="_new").to_dict("records")))
    turn = np.random.default_rng([seed, len(order)]).permutation(len(queues))
    queues = [queues[k] for k in turn]
    chosen = []
    while len(chosen) < n and any(queues):
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop(0))
    clips = pd.DataFrame(chosen, columns=pool.columns)
    clips = clips.iloc[np.random.default_rng(seed).permutation(len(clips))].reset_index(drop=True)
    clips["model_correct"] = clips["true_genre"] == clips["model_genre"]
    return clips


# ---------------------------------------------------------------------------------------------- audio
def clip_mp3(path, seconds: float = CLIP_SECONDS, sample_rate: int = CLIP_RATE, kbps: int = CLIP_KBPS,
             start: float | None = None) -> bytes:
    """``seconds`` of an audio file (from its middle, or from ``start``) as a small mono MP3 (LAME; deterministic
    bytes).

    Parameters
    ----------
    path : path-like
    seconds : float
        Longest excerpt in seconds.
    sample_rate : int
        Rate of the MP3 in Hz.
    kbps : int
        Bit rate in kbit/s (about ``kbps / 8`` kB per second).
    start : float, optional
        Where the excerpt begins, in seconds from the start of the file; default: centred in the file.

    Raises
    ------
    genre_utils.audio.AudioError
        Missing or undecodable file, or no samples (also when ``start`` lies past the end).
    """
    import lameenc

    y = load_audio(path, sample_rate)
    length = int(round(seconds * sample_rate))
    first = max(0, (y.size - length) // 2) if start is None else max(0, int(round(start * sample_rate)))
    y = y[first:first + length]
    if y.size == 0:
        raise AudioError("no audio samples")
    pcm = (np.clip(y, -1.0, 1.0) * 32767.0).round().astype("<i2")
    enc = lameenc.Encoder()
    enc.set_bit_rate(int(kbps))
    enc.set_in_sample_rate(int(sample_rate))
    enc.set_channels(1)
    enc.set_quality(5)
    return bytes(enc.encode(pcm.tobytes()) + enc.flush())


# -------------------------------------------------------------------------------------------- scoring
def score(answers, clips: pd.DataFrame, genres=GENRES) -> dict:
    """The reader's result: accuracy with interval, the model's on the same clips, confusion counts.

    Parameters
    ----------
    answers : sequence of str or None
        One genre per clip, in the order of ``clips`` (None: not answered, counted wrong).
    clips : DataFrame
        From :func:`select_clips`.

    Returns
    -------
    result : dict
        ``you`` and ``model`` (:class:`genre_utils.stats.Accuracy`), ``confusion`` (ndarray, rows true genre,
        columns the reader's answer, unanswered clips left out) and ``answered``.
    """
    genres = list(genres)
    answers = list(answers)
    if len(answers) != len(clips):
        raise ValueError(f"{len(answers)} answers for {len(clips)} clips")
    truth = clips["true_genre"].tolist()
    index = {g: k for k, g in enumerate(genres)}
    confusion = np.zeros((len(genres), len(genres)), dtype=np.int64)
    for t, a in zip(truth, answers):
        if a is not None:
            confusion[index[t], index[a]] += 1
    you = Accuracy(sum(a == t for a, t in zip(answers, truth)), len(clips))
    model = Accuracy(int(clips["model_correct"].sum()), len(clips))
    return {"you": you, "model": model, "confusion": confusion, "answered": sum(a is not None for a in answers)}


def _paper_rows() -> list[dict]:
    tests = paper.WEB_TESTS
    per_test = tests[0]["songs"]
    songs = sum(t["songs"] for t in tests)
    listeners = paper.WEB_TEST_LISTENERS
    listen_k = int(round(sum(t["listeners"] * t["songs"] * listeners for t in tests)))
    model_k = int(round(sum(t["model"] * t["songs"] for t in tests)))
    per = lambda key: ", ".join(f"{100 * t[key]:.0f}" for t in tests)  # noqa: E731
    return [
        {"who": f"Paper: its two authors ({songs} songs, tests of {per_test}: {per('listeners')} %)",
         "k": listen_k, "n": songs * listeners},
        {"who": f"Paper: its model (same songs: {per('model')} %)", "k": model_k, "n": songs},
    ]


def _acc_cells(acc: Accuracy) -> str:
    lo, hi = acc.interval
    return (f"<td>{acc.k} of {acc.n}</td><td><b>{100 * acc.value:.1f} %</b></td>"
            f"<td>{100 * lo:.1f}-{100 * hi:.1f} %</td>")


# ------------------------------------------------------------------------------------ the HTML version
_CSS = """
#{id} {{font-family: inherit; font-size: 0.95em}}
#{id} .gu-clip {{display: flex; align-items: center; gap: 0.8em; margin: 0.25em 0}}
#{id} .gu-clip audio {{height: 2.2em; width: 20em}}
#{id} .gu-clip > span:first-child {{min-width: 4em}}
#{id} .gu-clip.gu-right {{background: #e6f2e6}}
#{id} .gu-clip.gu-wrong {{background: #fbe9e0}}
#{id} table {{border-collapse: collapse; margin: 0.5em 0}}
#{id} td, #{id} th {{border: 1px solid #ccc; padding: 0.15em 0.45em; text-align: right}}
#{id} td:first-child, #{id} th:first-child {{text-align: left}}
#{id} .gu-reveal {{font-size: 0.9em; color: #444}}
#{id} button {{padding: 0.3em 1em; margin: 0.5em 0}}
"""

_JS = r"""
(function () {
  var root = document.getElementById(ROOT_ID);
  var data = JSON.parse(root.querySelector('script.gu-data').textContent);
  var selects = Array.prototype.slice.call(root.querySelectorAll('select.gu-answer'));
  var button = root.querySelector('button.gu-score');
  var progress = root.querySelector('.gu-progress');
  var out = root.querySelector('.gu-result');
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function wilson(k, n) {
    if (!n) { return [NaN, NaN]; }
    var z = 1.959963984540054, p = k / n, d = 1 + z * z / n;
    var c = (p + z * z / (2 * n)) / d, h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
    return [k === 0 ? 0 : Math.max(0, c - h), k === n ? 1 : Math.min(1, c + h)];
  }
  function cells(k, n) {
    var w = wilson(k, n);
    return '<td>' + k + ' of ' + n + '</td><td><b>' + (100 * k / n).toFixed(1) + ' %</b></td><td>' +
      (100 * w[0]).toFixed(1) + '-' + (100 * w[1]).toFixed(1) + ' %</td>';
  }
  function update() {
    var done = selects.filter(function (s) { return s.value; }).length;
    progress.textContent = done + ' of ' + selects.length + ' clips answered';
    button.disabled = done < selects.length;
  }
  function show() {
    var g = data.genres, n = selects.length, k = 0;
    var cm = g.map(function () { return g.map(function () { return 0; }); });
    selects.forEach(function (s, i) {
      var t = data.truth[i], a = s.value, row = s.closest('.gu-clip');
      if (a === t) { k += 1; }
      cm[g.indexOf(t)][g.indexOf(a)] += 1;
      row.classList.remove('gu-right', 'gu-wrong');
      row.classList.add(a === t ? 'gu-right' : 'gu-wrong');
      row.querySelector('.gu-reveal').innerHTML = 'true: <b>' + esc(t) + '</b>, you: ' + esc(a) +
        ', model: ' + esc(data.model[i]) + (data.model[i] === t ? ' (right)' : ' (wrong)');
    });
    var rows = '<tr><th>who</th><th>right</th><th>accuracy</th><th>95 % interval</th></tr>' +
      '<tr class="gu-you" data-k="' + k + '" data-n="' + n + '"><td>You (these ' + n + ' clips)</td>' +
      cells(k, n) + '</tr>' +
      '<tr class="gu-model"><td>The model (same clips)</td>' + cells(data.model_k, n) + '</tr>';
    data.paper.forEach(function (p) { rows += '<tr><td>' + esc(p.who) + '</td>' + cells(p.k, p.n) + '</tr>'; });
    var used = g.filter(function (x, i) { return cm[i].some(function (v) { return v; }) ||
      cm.some(function (r) { return r[i]; }); });
    var cmh = '<tr><th>true \\ you</th>' +
      used.map(function (x) { return '<th>' + esc(x) + '</th>'; }).join('') + '</tr>';
    used.forEach(function (t) {
      var i = g.indexOf(t);
      cmh += '<tr><th>' + esc(t) + '</th>' + used.map(function (a) {
        var v = cm[i][g.indexOf(a)], hit = t === a;
        var bg = v ? (hit ? '#cfe8cf' : '#f8d5c4') : 'transparent';
        return '<td style="background:' + bg + '">' + (v || '') + '</td>';
      }).join('') + '</tr>';
    });
    out.innerHTML = '<p class="gu-you-score">You: <b>' + k + ' of ' + n + '</b> right.</p>' +
      '<table class="gu-scores">' + rows + '</table>' +
      '<p>Your confusion matrix (rows: true genre, columns: your answer):</p><table class="gu-confusion">' + cmh +
      '</table><p class="gu-reveal">Each clip now shows its true genre and both answers.</p>';
  }
  selects.forEach(function (s) { s.addEventListener('change', update); });
  button.addEventListener('click', show);
  update();
})();
"""


def _clip_rows(clips: pd.DataFrame, genres, audio: list) -> str:
    options = '<option value="">choose a genre</option>' + "".join(
        f'<option value="{html.escape(g)}">{html.escape(g)}</option>' for g in genres)
    rows = []
    for i, src in enumerate(audio):
        player = (f'<audio controls preload="none" src="{src}"></audio>' if src else
                  '<span style="color:#8a4b00">audio unavailable</span>')
        rows.append(f'<div class="gu-clip"><span>Clip {i + 1}</span>{player}'
                    f'<select class="gu-answer" data-i="{i}">{options}</select><span class="gu-reveal"></span></div>')
    return "".join(rows)


def listening_html(clips: pd.DataFrame, genres=GENRES, seconds: float = CLIP_SECONDS) -> str:
    """The listening test as one HTML fragment (inline CSS and JavaScript, clips as MP3 ``data:`` URIs).

    Parameters
    ----------
    clips : DataFrame
        From :func:`select_clips`.
    genres : sequence of str
        The choices offered (the run's classes).
    seconds : float
        Length of each embedded excerpt (taken from the middle of the file).

    Returns
    -------
    html : str
        Needs no kernel, no network and no other file. The element ids derive from the clips, so the same
        clips give the same HTML.
    """
    genres = list(genres)
    audio = []
    for path in clips["path"]:
        try:
            audio.append("data:audio/mpeg;base64," + base64.b64encode(clip_mp3(path, seconds)).decode("ascii"))
        except AudioError:
            audio.append(None)
    root = "gu-listen-" + hashlib.sha1(json.dumps(clips["clip_id"].tolist()).encode()).hexdigest()[:10]
    data = {"genres": genres, "truth": clips["true_genre"].tolist(), "model": clips["model_genre"].tolist(),
            "model_k": int(clips["model_correct"].sum()), "paper": _paper_rows()}
    payload = json.dumps(data).replace("</", "<\\/")
    intro = (f"<p>Listen to each of the {len(clips)} clips ({seconds:g} s from the middle of each song) and pick "
             "its genre; when every clip has an answer, press <i>Show my score</i>. Your answers stay in this page: "
             "nothing is stored or sent.</p>")
    return (f'<div id="{root}" class="gu-listening"><style>{_CSS.format(id=root)}</style>{intro}'
            f'{_clip_rows(clips, genres, audio)}'
            f'<div><span class="gu-progress"></span></div><button class="gu-score" disabled>Show my score</button>'
            f'<div class="gu-result"></div><script type="application/json" class="gu-data">{payload}</script>'
            f'<script>{_JS.replace("ROOT_ID", json.dumps(root))}</script></div>')


def listening_test(clips: pd.DataFrame, genres=GENRES, seconds: float = CLIP_SECONDS):
    """:func:`listening_html` for display in a notebook (``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(listening_html(clips, genres, seconds))


def write_listening_test(path, clips: pd.DataFrame, genres=GENRES, seconds: float = CLIP_SECONDS) -> Path:
    """Write the test as a standalone HTML page; returns its path."""
    path = Path(path)
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Listening test</title></head><body>"
            f"<h1>Listening test</h1>{listening_html(clips, genres, seconds)}</body></html>")
    path.write_text(page, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- the ipywidgets version
def score_html(result: dict, genres=GENRES) -> str:
    """The score table of :func:`score` (you, the model, the paper's listeners and model) and the confusion."""
    rows = ["<tr><th>who</th><th>right</th><th>accuracy</th><th>95 % interval</th></tr>",
            f"<tr><td>You</td>{_acc_cells(result['you'])}</tr>",
            f"<tr><td>The model (same clips)</td>{_acc_cells(result['model'])}</tr>"]
    rows += [f"<tr><td>{html.escape(p['who'])}</td>{_acc_cells(Accuracy(p['k'], p['n']))}</tr>"
             for p in _paper_rows()]
    cm = result["confusion"]
    used = [i for i in range(len(genres)) if cm[i].any() or cm[:, i].any()]
    head = "<tr><th>true \\ you</th>" + "".join(f"<th>{html.escape(genres[j])}</th>" for j in used) + "</tr>"
    body = "".join(f"<tr><th>{html.escape(genres[i])}</th>" + "".join(
        f"<td>{cm[i, j] or ''}</td>" for j in used) + "</tr>" for i in used)
    return (f"<table>{''.join(rows)}</table><p>Your confusion matrix (rows: true genre, columns: your answer):</p>"
            f"<table>{head}{body}</table>")


def listening_widget(clips: pd.DataFrame, genres=GENRES, seconds: float = CLIP_SECONDS):
    """The listening test with ipywidgets (needs a kernel): the answers and the score come back to Python.

    Returns
    -------
    widget : ipywidgets.VBox
        ``widget.parts``: ``answers`` (list of Dropdowns), ``button``, ``result`` (HTML) and ``score()``
        (the :func:`score` dict of the current answers).
    """
    import ipywidgets as w

    genres = list(genres)
    rows, answers = [], []
    for i, path in enumerate(clips["path"]):
        try:
            player = w.Audio(value=clip_mp3(path, seconds), format="mpeg", autoplay=False, controls=True)
        except AudioError as err:
            player = w.HTML(f"audio unavailable ({html.escape(str(err))})")
        pick = w.Dropdown(options=[("choose a genre", None)] + [(g, g) for g in genres], value=None)
        answers.append(pick)
        rows.append(w.HBox([w.Label(f"Clip {i + 1}"), player, pick]))
    button = w.Button(description="Show my score", disabled=True)
    result = w.HTML()

    class Parts:
        pass

    parts = Parts()
    parts.answers, parts.button, parts.result = answers, button, result
    parts.score = lambda: score([a.value for a in answers], clips, genres)

    def on_change(change=None):
        button.disabled = any(a.value is None for a in answers)

    def on_click(_=None):
        result.value = score_html(parts.score(), genres)

    for a in answers:
        a.observe(on_change, names="value")
    button.on_click(on_click)
    box = w.VBox(rows + [button, result])
    box.parts = parts
    return box


def wilson_text(k: int, n: int) -> str:
    """``'60.0 % (6 of 10; 95 % interval 31.3-83.2 %)'`` (the same numbers the page's JavaScript shows)."""
    lo, hi = wilson_interval(k, n)
    return f"{100 * k / n:.1f} % ({k} of {n}; 95 % interval {100 * lo:.1f}-{100 * hi:.1f} %)"
