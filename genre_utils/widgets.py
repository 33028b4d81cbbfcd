"""Probing a run's errors live: the ipywidgets explorer, audio players and feature images.

:func:`explorer` needs a Jupyter kernel to react: pick a cell of the confusion matrix (true genre, predicted
genre), pick one of its test clips, see its features and what the model listened to, hear it and read its
top-3 probabilities. It opens on the largest error cell, so the widget state a notebook executor saves (and a
static book embeds) already shows a real error, with its image and sound. The kernel-free views of the same
errors (plotly maps) are in :mod:`genre_utils.webplots`; the per-track table they all read is
:meth:`genre_utils.results.RunResults.error_table`.

Small helpers for the notebooks: :func:`clip_player` and :func:`examples_per_genre`.

``ipywidgets``, ``plotly`` and ``IPython`` are imported inside the functions that need them, so the rest of
the package works without the book's extra dependencies.
"""

from __future__ import annotations

import functools
import html
import io
import math

import numpy as np
import pandas as pd

from .audio import AudioError, check_audio, cut_segments, load_audio, segment_starts
from .config import FeatureParams
from .dataset import track_windows
from .features import extract
from .genres import GENRES
from .plots import CORRECT_COLOR, WRONG_COLOR, draw_features, feature_range, figure_png
from .results import RunResults
from .saliency import METHOD_NAMES, PATCH, as_model, clip_saliency, saliency_png
from .tracks import cell_clips, largest_error_cell, largest_error_in_row

__all__ = ["clip_wav", "feature_png", "clip_media", "clip_player", "examples_per_genre", "explorer"]

#: Audio of the players: 22,050 Hz mono 16-bit PCM WAV.
PLAYER_RATE = 22050


# ------------------------------------------------------------------------------------------- tables
# -------------------------------------------------------------------------------------- audio, images
def clip_wav(path, seconds: float = 10.0, sample_rate: int = PLAYER_RATE) -> bytes:
    """The first ``seconds`` of an audio file as an in-memory 16-bit mono WAV.

    Parameters
    ----------
    path : path-like
        Any file :func:`genre_utils.audio.load_audio` decodes.
    seconds : float
        Longest excerpt in seconds (from the start of the file).
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    wav : bytes
        A complete WAV file, 2 bytes per sample (about 44 kB per second at 22,050 Hz).

    Raises
    ------
    genre_utils.audio.AudioError
        Missing or undecodable file, or no samples.
    """
    y = load_audio(path, sample_rate)[: int(round(seconds * sample_rate))]
    if y.size == 0:
        raise AudioError("no audio samples")
    return _wav_bytes(y, sample_rate)


def _wav_bytes(y: np.ndarray, sample_rate: int) -> bytes:
    import soundfile as sf

    pcm = (np.clip(y, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def feature_png(features: np.ndarray, params: FeatureParams, title: str = "", dpi: int = 72,
                colors: int = 64) -> bytes:
    """Consecutive feature windows side by side as a small PNG image (about 460 x 170 pixels).

    The colour range runs from the 1st to the 99th percentile of the values (for MFCCs: of rows 1 and up),
    so the loudness coefficient of the MFCCs (row 0, far below the others, shown clipped) does not flatten
    the rest of the image.

    Parameters
    ----------
    features : ndarray, shape (n_windows, height, n_frames) or (height, n_frames)
    params : FeatureParams
        Gives the time axis (hop and rate) and the kind of rows (MFCC or mel band).
    title : str
    dpi : int
        Pixels per inch of the 6.4 x 2.4 inch figure.
    colors : int
        Size of the PNG's palette: quantising the rendered RGBA image to 64 colours looks the same and makes
        the file about four times smaller (15-25 kB), which matters because the book embeds it.

    Returns
    -------
    png : bytes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    feats = np.asarray(features, dtype=np.float32)
    image = np.concatenate(list(feats), axis=1) if feats.ndim == 3 else feats
    lo, hi = feature_range(image, params)
    fig = Figure(figsize=(6.4, 2.4), dpi=dpi)   # not pyplot: nothing for the inline backend to show
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw_features(ax, image, params, vmin=lo, vmax=hi, colorbar_fraction=0.04)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout(pad=0.4)
    return figure_png(fig, colors)


def clip_player(path, seconds: float = 10.0):
    """An embedded audio player for the first ``seconds`` of a clip (for the book's example clips).

    The file is decoded (any format the package reads) and re-encoded as a 22,050 Hz mono 16-bit WAV inside
    the notebook, so the player works in the static book without the original file.

    Parameters
    ----------
    path : path-like
    seconds : float

    Returns
    -------
    player : IPython.display.Audio or IPython.display.HTML
        The player, or, when the file cannot be decoded (moved, deleted, broken), a short HTML note that names
        the file and the reason instead of an exception that would stop the notebook.
    """
    from IPython.display import HTML, Audio

    try:
        return Audio(data=clip_wav(path, seconds), embed=True)
    except AudioError as err:
        return HTML(_note(f"Audio unavailable for <code>{html.escape(str(path))}</code>: {html.escape(str(err))}."))


def _note(text: str) -> str:
    return f'<div style="color:#8a4b00;font-size:0.9em">{text}</div>'


def examples_per_genre(dataset_or_tracks, n: int = 1, seed: int = 0, split: str | None = None) -> pd.DataFrame:
    """Pick ``n`` example clips of every genre, the same ones for the same input and seed.

    Parameters
    ----------
    dataset_or_tracks : genre_utils.dataset.Dataset or DataFrame
        A feature store (its ``tracks.csv``, tracks with status ``used``), or any table of tracks with a
        ``path`` column and the genre in ``genre``, ``true_genre`` or ``label`` (names or class indices), such
        as :meth:`~genre_utils.results.RunResults.error_table` or a slice of it (e.g. only the misclassified tracks).
    n : int
        Clips per genre (fewer when a genre has fewer).
    seed : int
        Picks are random but reproducible; each genre draws with its own generator seeded by
        ``(seed, genre index)``, so adding tracks of one genre leaves the picks of the others alone.
    split : str, optional
        Keep only tracks of this split (needs a ``split`` column).

    Returns
    -------
    examples : DataFrame
        Columns ``genre``, ``track_id`` (when known) and ``path``, genres in class order then by name.
    """
    tracks = dataset_or_tracks.tracks if hasattr(dataset_or_tracks, "manifest") else dataset_or_tracks
    tracks = pd.DataFrame(tracks)
    if "status" in tracks:
        tracks = tracks[tracks["status"] == "used"]
    if split is not None:
        tracks = tracks[tracks["split"] == split]
    if "path" not in tracks:
        raise ValueError(f"no path column among {list(tracks.columns)}")
    genre = _genre_column(tracks)
    id_col = "track_id" if "track_id" in tracks else None
    tracks = tracks.assign(genre=genre).sort_values(id_col or "path", kind="stable")
    order = {g: k for k, g in enumerate(GENRES)}
    picks = []
    for name in sorted(tracks["genre"].unique(), key=lambda g: (order.get(g, len(order)), g)):
        group = tracks[tracks["genre"] == name]
        rng = np.random.default_rng([seed, order.get(name, len(order))])
        chosen = np.sort(rng.permutation(len(group))[:n])
        picks.append(group.iloc[chosen])
    columns = ["genre", "track_id", "path"] if id_col else ["genre", "path"]
    if not picks:
        return pd.DataFrame(columns=columns)
    return pd.concat(picks)[columns].reset_index(drop=True)


def _genre_column(tracks: pd.DataFrame) -> pd.Series:
    for col in ("genre", "true_genre", "label"):
        if col in tracks:
            values = tracks[col]
            if pd.api.types.is_integer_dtype(values):
                return values.map(lambda k: GENRES[int(k)])
            return values.astype(str)
    raise ValueError(f"no genre column (genre, true_genre or label) among {list(tracks.columns)}")


# ----------------------------------------------------------------------------------------- explorer
def _feature_params(results: RunResults, dataset) -> FeatureParams:
    if dataset is not None:
        return dataset.params
    stored = results.config.get("features")
    return FeatureParams(**stored) if stored else FeatureParams()


def clip_media(path, track_id: str, params: FeatureParams, *, dataset=None, seconds: float = 10.0):
    """Image and sound of one test clip for the explorer.

    Parameters
    ----------
    path : path-like or None
        The clip's audio file.
    track_id : str
    params : FeatureParams
    dataset : genre_utils.dataset.Dataset, optional
        When given and holding the track, the image shows the store's features (what the model saw),
        even if the audio file is gone.
    seconds : float
        Length of the audio excerpt; the image covers as many 5-s windows as it takes to span it.

    Returns
    -------
    png : bytes or None
    wav : bytes or None
    problems : list of str
        Why the image or the audio is missing (empty when both are there).
    """
    return _clip_media(path, track_id, params, dataset=dataset, seconds=seconds)[:3]


def _clip_media(path, track_id: str, params: FeatureParams, *, dataset=None, seconds: float = 10.0):
    n_windows = max(1, math.ceil(seconds / params.segment_seconds - 1e-9))
    feats = track_windows(dataset, track_id, n_windows) if dataset is not None else None
    source = "feature store" if feats is not None else "audio file"
    png = wav = None
    problems = []
    if path is None or (isinstance(path, float) and math.isnan(path)):
        problems.append("the results record no audio file for this clip")
    else:
        try:
            y = load_audio(path, params.sample_rate)
            check_audio(y, min_samples=1)
            wav = _wav_bytes(y[: int(round(seconds * params.sample_rate))], params.sample_rate)
            if feats is None:
                starts = segment_starts(y.size, params.segment_samples, max_segments=n_windows)
                if len(starts):
                    feats = extract(cut_segments(y, starts, params.segment_samples), params)
        except AudioError as err:
            problems.append(f"audio unavailable ({err}): {path}")
    if feats is not None and len(feats):
        kind = "MFCC" if params.kind == "mfcc" else "log-mel"
        png = feature_png(feats, params, f"{kind} of the first {len(feats)} x {params.segment_seconds:g}-s "
                                         f"window(s) ({source})")
    elif not problems:
        problems.append("clip shorter than one window: no features to show")
    return png, wav, problems, feats


def _prob_table(record: dict, genres, k: int = 3) -> str:
    """HTML rows of the k most probable genres: bar of the mean probability and the windows' votes."""
    probs = np.array([record.get(f"prob_{g}") or 0.0 for g in genres], dtype=np.float64)
    rows = []
    for i in np.argsort(-probs, kind="stable")[:k]:
        g, p = genres[i], probs[i]
        votes = record.get(f"votes_{g}")
        bar = (f'<div style="background:{WRONG_COLOR if g != record["true_genre"] else CORRECT_COLOR};'
               f'height:0.8em;width:{100 * p:.0f}%"></div>')
        rows.append(f"<tr><td>{html.escape(g)}</td><td style='width:12em'>{bar}</td><td>{p:.2f}</td>"
                    f"<td>{'' if votes is None else votes} / {record.get('n_segments')}</td></tr>")
    head = "<tr><th>genre</th><th colspan=2>mean probability</th><th>windows voting</th></tr>"
    return f"<table style='font-size:0.9em'>{head}{''.join(rows)}</table>"


class _Explorer:
    """State and callbacks behind :func:`explorer`; ``self.widget`` is what the notebook shows."""

    def __init__(self, results: RunResults, dataset, max_audio_seconds: float, model=None,
                 saliency_method="occlusion"):
        import ipywidgets as w

        self.genres = results.genres
        self.table = results.error_table()
        self.records = {str(r["track_id"]): r for r in results.tracks.to_dict("records")}
        self.counts = results.confusion().to_numpy()
        self.params = _feature_params(results, dataset)
        self.dataset = dataset
        self.seconds = float(max_audio_seconds)
        self.media = functools.lru_cache(maxsize=16)(self._media)
        self.saliency_of = functools.lru_cache(maxsize=16)(self._saliency)
        self.model = as_model(model)
        self.saliency_method = saliency_method
        self.muted = False

        true0, pred0 = largest_error_cell(self.counts, self.genres)
        support = self.counts.sum(axis=1)
        self.true = w.Dropdown(description="true genre", value=true0,
                               options=[(f"{g} ({n})", g) for g, n in zip(self.genres, support)])
        self.pred = w.Dropdown(description="predicted", value=pred0, options=self._pred_options(true0))
        self.summary = w.HTML()
        self.clips = w.Select(options=[], rows=8, layout=w.Layout(width="34em"))
        self.details = w.HTML()
        self.message = w.HTML()
        self.image = w.Image(format="png")
        self.audio = w.Audio(format="wav", autoplay=False, loop=False, controls=True)
        self.saliency = w.Image(format="png")
        self.saliency_note = w.HTML()
        note = w.HTML(_note("Changing the selection needs a running Python kernel (<code>make explore</code>); a "
                            "static page shows the clip selected when the notebook ran (the largest error cell)."))
        right = w.VBox([self.details, self.message, self.image, self.audio, self.saliency_note, self.saliency])
        self.widget = w.VBox([w.HBox([self.true, self.pred]), self.summary,
                              w.HBox([self.clips, right]), note])
        self.widget.parts = self

        self.true.observe(self._on_true, names="value")
        self.pred.observe(self._on_cell, names="value")
        self.clips.observe(self._on_clip, names="value")
        self._on_cell()

    def _pred_options(self, true_genre):
        row = self.counts[self.genres.index(true_genre)]
        return [(f"{g} ({n})", g) for g, n in zip(self.genres, row)]

    def _on_true(self, change=None):
        """Relabel the predicted-genre counts; stay on the same prediction unless its cell is empty."""
        keep = self.pred.value
        row = self.genres.index(self.true.value)
        if self.counts[row, self.genres.index(keep)] == 0:
            keep = self.genres[largest_error_in_row(self.counts[row], row)]
        self.muted = True
        self.pred.options = self._pred_options(self.true.value)
        self.pred.value = keep
        self.muted = False
        self._on_cell()

    def _on_cell(self, change=None):
        if self.muted:
            return
        t, p = self.true.value, self.pred.value
        clips = cell_clips(self.table, t, p)
        n_true = int((self.table["true_genre"] == t).sum())
        kind = "correct" if t == p else "errors"
        self.summary.value = (f"<b>{len(clips)}</b> of {n_true} test clips of <b>{html.escape(str(t))}</b> "
                              f"predicted as <b>{html.escape(str(p))}</b> ({kind}), most confident first")
        self.muted = True
        self.clips.options = [(f"{r.track_id}  |  {r.line}", r.track_id) for r in clips.itertuples()]
        self.clips.value = clips["track_id"].iloc[0] if len(clips) else None
        self.muted = False
        self.show(self.clips.value)

    def _on_clip(self, change=None):
        if not self.muted:
            self.show(self.clips.value)

    def _media(self, track_id):
        path = self.table.loc[self.table["track_id"] == track_id, "path"].iloc[0]
        return _clip_media(path, track_id, self.params, dataset=self.dataset, seconds=self.seconds)

    def _saliency(self, track_id):
        """PNG of the saliency of the clip's shown windows for its predicted genre (None without a model)."""
        feats = self.media(track_id)[3]
        if self.model is None or feats is None or not len(feats):
            return None
        pred = self.records[track_id]["pred_genre"]
        # side-by-side patches (no overlap): 4x fewer forward passes than the default, about a second per window
        extra = {"stride": PATCH} if self.saliency_method == "occlusion" else {}
        sal = clip_saliency(self.model, feats, self.saliency_method, target=self.genres.index(pred), **extra)
        return saliency_png(sal, self.params, np.concatenate(list(feats), axis=1),
                            f"what the model listened to for '{pred}' ({METHOD_NAMES[self.saliency_method]})")

    def show(self, track_id) -> None:
        """Fill the details, image and audio player with one clip (None: clear them)."""
        if track_id is None:
            png, wav, problems, self.details.value = None, None, ["no test clip in this cell"], ""
        else:
            record = self.records[track_id]
            png, wav, problems, _ = self.media(track_id)
            self.details.value = (f"<b>{html.escape(track_id)}</b>: true <b>{html.escape(record['true_genre'])}"
                                  f"</b>, predicted <b>{html.escape(record['pred_genre'])}</b>"
                                  f"{' (tie broken by summed probability)' if record.get('tied') else ''}"
                                  f"<br>{_prob_table(record, self.genres)}")
        self.message.value = _note("<br>".join(html.escape(p) for p in problems)) if problems else ""
        self.image.value = png or b""
        self.image.layout.display = "" if png else "none"
        self.audio.value = wav or b""
        self.audio.layout.display = "" if wav else "none"
        sal = None if track_id is None else self.saliency_of(track_id)
        self.saliency.value = sal or b""
        self.saliency.layout.display = "" if sal else "none"
        self.saliency_note.value = _note(SALIENCY_NOTE) if sal else ""


def explorer(results: RunResults | dict, *, dataset=None, max_audio_seconds: float = 10.0, model=None,
             saliency_method: str = "occlusion"):
    """An interactive browser of a run's test clips by confusion cell (needs ipywidgets and a kernel).

    Two dropdowns choose the true and the predicted genre (labels show how many test clips each holds; the
    predicted-genre counts are those of the chosen true genre), so true != predicted lists errors and
    true == predicted lists correct clips; choosing a true genre whose cell with the current prediction is
    empty moves the prediction to that genre's largest error cell. The list shows each clip's track id and
    top-3 line, the most confident prediction first. The selected clip shows its probabilities and votes, an
    image of the features of its first windows and a player for its first ``max_audio_seconds``.

    The explorer opens on the largest off-diagonal cell (:func:`largest_error_cell`) with its most confident
    clip selected, so the widget state saved when the notebook is executed shows an error in the static
    book: one PNG (about 460 x 170 px) and one WAV (22,050 Hz mono 16-bit, about 44 kB per second).

    Parameters
    ----------
    results : RunResults or dict
        A run's results (:func:`genre_utils.results.load_results`, or ``results.json`` as parsed).
    dataset : genre_utils.dataset.Dataset, optional
        The store the run was evaluated on; when given, the image shows the stored features of the track
        (exactly the model's input) and needs no decoding, and survives a deleted audio file.
    max_audio_seconds : float
        Length of the audio excerpt in seconds.
    model : torch.nn.Module or path-like, optional
        The run's model (or its run folder / checkpoint). When given, the selected clip also shows what the
        model listened to: a saliency map of the shown windows for the predicted genre
        (:mod:`genre_utils.saliency`), on the same time axis as the feature image.
    saliency_method : str
        ``"occlusion"`` (default) or ``"gradient"`` (gradient x input, faster).

    Returns
    -------
    widget : ipywidgets.VBox
        ``widget.parts`` holds the pieces (``true``, ``pred``, ``clips``, ``image``, ``audio``, ``details``,
        ``message``, ``summary``, ``saliency``) and ``show(track_id)``.
    """
    if not max_audio_seconds > 0:
        raise ValueError(f"max_audio_seconds must be positive, got {max_audio_seconds}")
    return _Explorer(RunResults.from_dict(results), dataset, max_audio_seconds, model, saliency_method).widget


#: Shown above the explorer's saliency image.
SALIENCY_NOTE = ("Red: hiding this part of the image (coefficients x time, a small patch at a time) lowers the "
                 "probability of the predicted genre, so the model relied on it; blue: hiding it raises that "
                 "probability. It shows where the model's answer is sensitive, not what a listener would call the "
                 "genre.")



# ------------------------------------------------------------------------------------- plotly views
