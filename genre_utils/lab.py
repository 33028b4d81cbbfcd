"""The laboratory: the test tracks played again with a musical factor made the same for every genre.

The synthetic corpus can do what no recorded data set can: render the same composition twice, changing one
factor and holding the rest. :func:`render_lab` plays the first five seconds of every GTZAN-layout test track
once as composed (``'none'``) and once under each single control of :data:`genre_utils.synth.controls.CONTROLS`
(instruments and mix, tempo, drum groove, harmony made common to all genres); the laboratory's training
(:func:`trained_answers`) also uses controls that make several factors common at once. :func:`lab_answers` asks
trained models - every seed of a run - and a bag-of-frames probe for the genre of each version;
:func:`lab_table` and :func:`lab_effects` say how much each control costs each model, with intervals over the
tracks and the seeds' spread, and :func:`lab_sentences` reads the result.

A model that loses accuracy when a factor is made common was using that factor to tell the genres apart; one
that keeps its accuracy was not (or finds the same information elsewhere). The models are not retrained: the
question is what the trained models rely on, not what they could learn.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import write_wav
from .config import FeatureParams, fingerprint, get_profile, num_threads
from .genres import GENRES
from .narrative.common import join_names
from .parallel import ordered_map
from .provenance import atomic_write_bytes, code_fingerprint
from .stats import seed_accuracy, seed_comparison

__all__ = ["LAB_SECONDS", "BASE", "PROBE", "PROBE_MEANS", "control_words", "controls_words", "trained_reading",
           "LabClip", "LabData", "lab_clips", "lab_fingerprint", "render_lab",
           "lab_features", "lab_data", "probe_answers", "model_answers", "lab_answers", "trained_answers", "lab_table",
           "lab_effects", "lab_sentences", "lab_prediction", "trained_comparisons", "trained_sentence",
           "split_sentence", "TRAINED_MODELS", "ORDER", "ORDER_BLOCKS_SECONDS", "order_name", "order_seconds",
           "shuffle_blocks", "order_block", "with_order", "split_order", "order_table", "seconds_list",
           "order_sentence", "order_reading"]

#: Length of every laboratory clip: one 5-s window, the unit the models classify.
LAB_SECONDS = 5.0
#: The name of the version played as composed.
BASE = "none"
#: The bag-of-frames probe's name in the laboratory's tables.
PROBE = "bag-of-frames probe"
#: The regression on track means alone (no spread, no change), beside :data:`PROBE` on a controlled corpus: what the
#: bag of frames keeps without the features' dynamics.
PROBE_MEANS = "track-means probe"
#: The models the laboratory trains on a controlled corpus, by their names in its tables (the bag-of-frames
#: probe is refitted besides); :data:`genre_utils.context.LAB_MODELS` trains them.
TRAINED_MODELS = {"CRNN": "crnn", "CRNN with the GRU over time": "crnn-temporal"}
_MANIFEST = "lab.json"
#: The order test's prefix in the answers (:func:`order_name`): every window as composed, its blocks put in another
#: order.
ORDER = "order"
#: Lengths of the blocks the order test moves, in seconds, longest first. A 1-s block is a fifth of a 5-s window,
#: half a bar of 4/4 at 120 bpm: it keeps its notes, chords and drum hits and loses only where it stood. The shorter
#: blocks (a beat at 120 and at 240 bpm) ask at what time scale a model stops hearing the window as composed.
#: Shorter still, the seams between blocks change a bag of frames as much as a CRNN (measured: at 0.13 s the probe
#: loses 17 points on the quick build), so the test says nothing there.
ORDER_BLOCKS_SECONDS = (1.0, 0.5, 0.25)


def control_words(control: str) -> str:
    """A control's name in a sentence: ``'timbre'`` as it is, a control made of several
    (:data:`genre_utils.synth.controls.COMBINED`, named by its parts joined with ``'-'``) as
    ``'timbre, tempo and harmony'``."""
    return join_names(str(control).split("-"))


def controls_words(controls) -> str:
    """Several controls in a sentence: ``'timbre'``, ``'timbre and tempo'``, ``'timbre, tempo and harmony'``,
    or a combined one among others ``'timbre; tempo; and timbre, tempo and harmony together'``."""
    controls = list(controls)
    if len(controls) == 1 or all(_single(c) for c in controls):
        return join_names([control_words(c) for c in controls])
    words = [control_words(c) + ("" if _single(c) else " together") for c in controls]
    return " and ".join(words) if len(words) == 2 else "; ".join(words[:-1]) + "; and " + words[-1]


def _single(control: str) -> bool:
    """Whether a control makes one factor common (not several at once: a combined control of
    :data:`genre_utils.synth.controls.COMBINED` is named by its parts joined with ``'-'``, which a test holds)."""
    return "-" not in str(control)


@dataclass(frozen=True)
class LabClip:
    """One test track of the synthetic corpus: its store id and the corpus's job that renders it (genre,
    composition seed, artist, bank), which the laboratory renders shorter and under each control."""

    track_id: str
    job: Job  # noqa: F821 - a genre_utils.synth.Job, not imported here: the synthesiser is loaded only to render


def lab_clips(track_ids, profile, seed: int | None = None) -> list[LabClip]:
    """The GTZAN-layout tracks among ``track_ids`` (store ids, ``'gtzan:blues.00002'``) with the composition
    seed the corpus rendered them from.

    FMA-layout tracks (``'fma:...'``) are left out: they are MP3s at another rate, some in foreign styles.
    """
    from .synth import plan_corpus  # deferred: the laboratory renders with the synthesiser only when asked

    profile = get_profile(profile)
    jobs, _, _ = plan_corpus(profile, profile.seed if seed is None else int(seed))
    by_id = {f"gtzan:{Path(j.relpath).stem}": j for j in jobs if j.relpath.startswith("gtzan/") and not j.shift}
    wanted = sorted(str(t) for t in track_ids)
    return [LabClip(t, by_id[t]) for t in wanted if t in by_id]


def lab_fingerprint(clips: list[LabClip], controls, profile, seconds: float = LAB_SECONDS) -> str:
    """The laboratory audio's cache key: the clips, the controls, the length and the synthesiser's code."""
    from .synth import corpus_fingerprint  # deferred: see lab_clips

    return fingerprint([(c.track_id, c.job.genre, c.job.seed, c.job.artist_seed, c.job.bank) for c in clips],
                       list(controls),
                       float(seconds),
                       corpus_fingerprint(get_profile(profile)), code_fingerprint("synth"))


def _file_name(track_id: str) -> str:
    """``'gtzan:blues.00002'`` -> ``'blues.00002.wav'``."""
    return track_id.split(":", 1)[-1] + ".wav"


def _render_one(args) -> str:
    out, clip, control, seconds = args
    job = replace(clip.job, seconds=seconds, control=None if control == BASE else control)
    path = Path(out) / control / _file_name(clip.track_id)
    write_wav(path, job.audio(), job.sample_rate)
    return str(path)


def render_lab(out_dir, clips: list[LabClip], controls, profile, seconds: float = LAB_SECONDS,
               workers: int | None = None) -> dict:
    """Render every clip as composed and under every control into ``out_dir/<control>/<track>.wav``.

    Cached: when ``out_dir/lab.json`` records the same :func:`lab_fingerprint`, nothing is rendered.

    Returns
    -------
    dict
        ``fingerprint``, ``controls`` (``'none'`` first), ``clips`` (track id, genre, seed), ``seconds``,
        ``render_seconds`` and ``cached``.
    """
    out = Path(out_dir)
    controls = [BASE, *[c for c in controls if c != BASE]]
    fp = lab_fingerprint(clips, controls, profile, seconds)
    manifest = out / _MANIFEST
    if manifest.is_file():
        stored = json.loads(manifest.read_text())
        if stored.get("fingerprint") == fp and all((out / c / _file_name(k.track_id)).is_file()
                                                   for c in controls for k in clips):
            return {**stored, "cached": True}
    t0 = time.perf_counter()
    jobs = [(str(out), clip, control, float(seconds)) for control in controls for clip in clips]
    n_workers = max(1, min(workers or num_threads(), len(jobs)))
    for _ in ordered_map(_render_one, jobs, n_workers, desc="laboratory clips", progress=False):
        pass
    record = {"fingerprint": fp, "controls": controls, "seconds": float(seconds),
              "clips": [[c.track_id, c.job.genre, c.job.seed, c.job.artist_seed] for c in clips],
              "render_seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_bytes(manifest, json.dumps(record, indent=1).encode())
    return {**record, "cached": False}


def lab_features(out_dir, manifest: dict, params: FeatureParams) -> tuple[dict, np.ndarray, list[str]]:
    """The features of the first window of every laboratory clip, per control.

    Returns
    -------
    features : dict
        Control -> array of shape ``(n_clips, params.height, params.n_frames)``, float32.
    labels : ndarray of int64, shape (n_clips,)
        Index of each clip's genre in :data:`genre_utils.genres.GENRES`.
    track_ids : list of str
    """
    from .features import file_segments  # deferred: feature extraction loads librosa

    ids = [c[0] for c in manifest["clips"]]
    labels = np.array([GENRES.index(c[1]) for c in manifest["clips"]], dtype=np.int64)
    feats = {}
    for control in manifest["controls"]:
        feats[control] = np.stack([file_segments(Path(out_dir) / control / _file_name(t), params, max_segments=1)[0][0]
                                   for t in ids]).astype(np.float32)
    return feats, labels, ids


@dataclass
class LabData:
    """The laboratory of one build: what :func:`render_lab` wrote and the features of every version."""

    folder: Path
    manifest: dict
    features: dict
    labels: np.ndarray
    track_ids: list


def lab_data(ctx, controls=None, seconds: float = LAB_SECONDS) -> LabData | None:
    """Render (or reuse) the laboratory of a book context's synthetic corpus; None on real data.

    The clips are the GTZAN-layout test tracks of the main store (``ctx.dataset('mfcc', 'random')``), rendered
    into ``<build>/data/lab-<profile>``; ``controls`` defaults to the single controls of
    :data:`genre_utils.synth.controls.CONTROLS` (a combined one says nothing the single ones do not, to a model
    trained as composed, and each version costs the quick build about 10 s; the combined control is for training,
    :attr:`genre_utils.context.LAB_CONTROLS`).
    """
    from .synth.controls import CONTROLS  # deferred: see lab_clips

    if ctx.corpus() is None:
        return None
    ds = ctx.dataset("mfcc", "random")
    splits = ds.track_splits
    clips = lab_clips(splits[splits == "test"].index, ctx.profile)
    folder = ctx.build_dir / "data" / f"lab-{ctx.profile.name}"
    singles = [c for c in CONTROLS if _single(c)]
    manifest = render_lab(folder, clips, singles if controls is None else list(controls), ctx.profile,
                          seconds)
    feats, labels, ids = lab_features(folder, manifest, ds.params)
    return LabData(folder, manifest, feats, labels, ids)


def probe_answers(ds, features: dict, labels: np.ndarray, summary: str = "dynamics", seed: int = 0) -> dict:
    """The bag-of-frames probe (:func:`genre_utils.probe.fit_probe`, fitted on the store's training tracks) on
    every control's windows: control -> bool array (n_clips,) of right answers."""
    from .probe import fit_probe, window_summary  # deferred: the probe loads scikit-learn

    clf = fit_probe(ds, summary=summary, seed=seed)
    return {c: clf.predict(window_summary(X, summary)) == labels for c, X in features.items()}


def model_answers(run_dirs, features: dict, labels: np.ndarray, device=None) -> dict:
    """Every run's answers on every control's windows: control -> bool array (n_runs, n_clips)."""
    from .checkpoints import checkpoint_precision, load_checkpoint  # deferred: loads torch
    from .evaluate import predict_logits

    out = {c: [] for c in features}
    for run in run_dirs:
        model, ckpt = load_checkpoint(Path(run) / "best.pt", device=device)
        precision = checkpoint_precision(ckpt, model)
        for c, X in features.items():
            out[c].append(predict_logits(model, X, device=device, precision=precision).argmax(axis=1) == labels)
    return {c: np.array(v, dtype=bool) for c, v in out.items()}


def lab_answers(models: dict, probe: dict | None = None) -> dict:
    """One dict of answers: model name -> control -> bool array (n_seeds, n_clips); the probe as one 'seed'."""
    out = {name: answers for name, answers in models.items()}
    if probe is not None:
        out[PROBE] = {c: np.asarray(v, dtype=bool)[None, :] for c, v in probe.items()}
    return out


def trained_answers(ctx, controls) -> tuple[dict, list[str]]:
    """The models trained on the corpus as composed and on each controlled corpus, each tested on its own
    corpus's test tracks (the same tracks, composed the same way but for the control), track by track.

    The models of :data:`TRAINED_MODELS` as composed are the book's runs (every training seed);
    under a control, the runs :meth:`~genre_utils.context.Context.controlled` trains (one seed). The
    bag-of-frames probe (mean, spread and change, :func:`genre_utils.probe.linear_probe`) is fitted on each
    corpus's training tracks.

    Returns
    -------
    answers : dict
        Model name -> ``'none'`` or control -> bool array ``(n_seeds, n_tracks)`` of whole-track (vote) answers
        (the form of :func:`lab_answers`, for :func:`lab_table` and :func:`lab_effects`).
    track_ids : list of str
        The test tracks every answer covers (those all the stores share).
    """
    from .probe import correct_by_track, linear_probe  # deferred: the probe loads scikit-learn

    def probe(ds, summary):
        return correct_by_track(linear_probe(ds, summary=summary))

    series = {}
    for name, model in TRAINED_MODELS.items():
        series[name] = {BASE: [r.correct_by_track() for r in ctx.seed_runs(model, "mfcc", "random")]}
        for control in controls:
            series[name][control] = [ctx.controlled(control).run(model, "mfcc", "random").correct_by_track()]
    for name, summary in ((PROBE, "dynamics"), (PROBE_MEANS, "mean")):
        series[name] = {BASE: [probe(ctx.dataset("mfcc", "random"), summary)],
                        **{c: [probe(ctx.controlled(c).dataset("mfcc", "random"), summary)] for c in controls}}
    ids = sorted(set.intersection(*(set(s.index) for per in series.values() for runs in per.values() for s in runs)))
    answers = {name: {c: np.array([s.loc[ids].to_numpy(dtype=bool) for s in runs], dtype=bool)
                      for c, runs in per.items()} for name, per in series.items()}
    return answers, ids


def split_sentence(splits_a: pd.Series, splits_b: pd.Series, control: str) -> str:
    """Whether the corpus as composed and the ``control`` corpus put their tracks in the same splits (track id ->
    ``'train'``/``'valid'``/``'test'``, as :attr:`genre_utils.dataset.Dataset.track_splits`), in words chosen by
    the count of tracks that differ."""
    common = splits_a.index.intersection(splits_b.index)
    differ = int((splits_a[common].astype(str) != splits_b[common].astype(str)).sum())
    only = len(splits_a.index.union(splits_b.index)) - len(common)
    if differ == 0 and only == 0:
        return (f"Both corpora hold the same {len(common):,} tracks in the same splits, so each model is trained and "
                f"tested on the same tracks with and without the {control_words(control)} control.")
    verb = "falls" if differ == 1 else "fall"
    elsewhere = f", and {only:,} are in one corpus only" if only else ""
    return (f"Of the {len(common):,} tracks both corpora hold, {differ:,} {verb} in another split under the "
            f"{control_words(control)} control{elsewhere}: the pairing covers the shared test tracks, but the training "
            "sets differ by those tracks.")


#: The probes' names in sentences.
_PROBE_WORDS = {PROBE: "the bag of frames", PROBE_MEANS: "the regression on track means"}


def trained_comparisons(answers: dict, control: str, probe: str = PROBE) -> dict:
    """Under one control, each trained model against a probe (:data:`PROBE` or :data:`PROBE_MEANS`) on the same
    test tracks (:func:`genre_utils.stats.seed_comparison`; model name -> comparison).

    A model trained under the control with one seed has no spread of its own; the widest spread of any model's
    seeds as composed stands in for it (``spread_stand_in``), so that ``beyond_noise`` asks, as everywhere in the
    book, for a difference beyond the test tracks' interval *and* larger than another training run could make.
    The widest, not the model's own: three seeds estimate a spread poorly, and one controlled CRNN of the quick
    build, retrained with two threads instead of one, moved 11 points where its own three seeds as composed
    spanned 2.
    """
    spreads = [float(np.ptp(np.asarray(per[BASE], dtype=float).mean(axis=1))) for name, per in answers.items()
               if name not in _PROBE_WORDS and len(per.get(BASE, [])) > 1]
    out = {}
    for name, per in answers.items():
        if name in _PROBE_WORDS or control not in per:
            continue
        out[name] = seed_comparison(per[control], answers[probe][control],
                                    stand_in_spread=max(spreads) if spreads else None)
    return out


def trained_sentence(comparisons: dict, control: str, probe: str = PROBE) -> str:
    """What each trained model does against a probe on the ``control`` corpus, chosen by its result: beats it or
    falls short of it beyond the noise (:func:`trained_comparisons`: the test tracks' interval and the seeds'
    spread), differs from it beyond the interval only, or cannot be told from it."""
    if not comparisons:
        return f"No model was trained on the {control_words(control)} corpus."
    level = f"{100 * next(iter(comparisons.values()))['level']:.0f} %"
    words = _PROBE_WORDS[probe]
    clauses = []
    for name, c in comparisons.items():
        numbers = _interval(c["difference"], c["low"], c["high"])
        noise = c.get("beyond_noise", c["beyond_interval"])
        if noise:
            clauses.append(f"the {name} {'beats' if c['difference'] > 0 else 'falls short of'} {words} ({numbers})")
        elif c["beyond_interval"]:
            seeds = ("the training seeds of the models trained as composed differ (up to "
                     if c.get("spread_stand_in") else "its training seeds differ (")
            clauses.append(f"the {name} is {'above' if c['difference'] > 0 else 'below'} {words} beyond the test "
                           f"tracks' interval ({numbers}) but by no more than {seeds}{100 * c['spread_a']:.0f} points)")
        else:
            clauses.append(f"the test cannot tell the {name} from {words} ({numbers})")
    return (f"Trained and tested with {control_words(control)} made common to all genres (each model minus {words}, "
            f"in points of accuracy, with the test tracks' {level} interval), " + "; ".join(clauses) + ".")


def trained_reading(answers: dict, control: str) -> str:
    """What the two probes and the models on the ``control`` corpus say together, chosen by the results.

    First, whether each feature's spread and frame-to-frame change (:data:`PROBE`) are worth anything over the
    track means (:data:`PROBE_MEANS`) on that corpus. Then each trained model against the better of the two
    regressions there (the higher accuracy; the richer one on a tie): ahead of it, level with it or short of it,
    beyond the noise (:func:`trained_comparisons`). Only a model ahead of it is said to get more of the genre
    than those statistics give a linear regression; with none ahead, nothing shows a model using order beyond
    them.
    """
    if PROBE not in answers or PROBE_MEANS not in answers or control not in answers[PROBE]:
        return ""
    words = control_words(control)
    gain = seed_comparison(answers[PROBE][control], answers[PROBE_MEANS][control])
    numbers = _interval(gain["difference"], gain["low"], gain["high"], unit=True)
    if gain["beyond_interval"] and gain["difference"] > 0:
        first = (f"On the corpus with {words} made common, adding each feature's spread and frame-to-frame change to "
                 f"its mean is worth {numbers}: what the means miss of these genres shows in how much and how fast "
                 "the sound changes, which a regression reads without the order of events beyond neighbouring "
                 "frames.")
    elif gain["beyond_interval"]:
        first = (f"On the corpus with {words} made common, the regression with each feature's spread and change does "
                 f"worse than the one on means alone ({numbers}): on this training set those statistics cost the "
                 "regression more than they add.")
    else:
        first = (f"On the corpus with {words} made common, the test cannot tell the regression with each feature's "
                 f"spread and change from the one on means alone ({numbers}).")
    richer = answers[PROBE][control].mean() >= answers[PROBE_MEANS][control].mean()
    comparisons = trained_comparisons(answers, control, PROBE if richer else PROBE_MEANS)
    if not comparisons:
        return first
    groups: dict[str, list[str]] = {"ahead": [], "level": [], "behind": []}
    for name, c in comparisons.items():
        noise = c.get("beyond_noise", c["beyond_interval"])
        groups["level" if not noise else "ahead" if c["difference"] > 0 else "behind"].append(f"the {name}")
    clauses = []
    if groups["ahead"]:
        clauses.append(f"{join_names(groups['ahead'])} {'get' if len(groups['ahead']) > 1 else 'gets'} more of the "
                       "genre out of the music than a linear regression on those statistics does")
    if groups["level"]:
        clauses.append(f"{join_names(groups['level'])} cannot be told from it beyond the noise")
    if groups["behind"]:
        clauses.append(f"{join_names(groups['behind'])} {'fall' if len(groups['behind']) > 1 else 'falls'} short "
                       "of it")
    which = "spread and change" if richer else "track means"
    second = f"The better of the two regressions here is the one on {which}: " + "; ".join(clauses) + "."
    if not groups["ahead"]:
        second += " Nothing here shows a model using the order of events beyond what those statistics register."
    return f"{first} {second}"


def lab_table(answers: dict) -> pd.DataFrame:
    """Accuracy of every model under every control: ``'61 % [54, 68]'`` (mean over seeds, bootstrap over the
    clips), with the seeds' range when there are several (``'; 3 seeds 58-64'``).

    Returns
    -------
    DataFrame
        Index ``model``; one column per control, ``'none'`` (as composed) first.
    """
    rows = {}
    for name, per in answers.items():
        cells = {}
        for control, m in per.items():
            acc = seed_accuracy(m)
            text = f"{100 * acc.value:.0f} % [{100 * acc.low:.0f}, {100 * acc.high:.0f}]"
            if acc.n_seeds > 1:
                lo, hi = (f"{100 * v:.0f}" for v in acc.spread)
                text += f"; {acc.n_seeds} seeds {lo}-{hi}" if lo != hi else f"; {acc.n_seeds} seeds, each {lo}"
            cells["as composed" if control == BASE else control] = text
        rows[name] = cells
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def lab_effects(answers: dict) -> pd.DataFrame:
    """What each control costs each model: the accuracy under the control minus the accuracy as composed, on
    the same clips (:func:`genre_utils.stats.seed_comparison`).

    Returns
    -------
    DataFrame
        One row per (model, control): ``model``, ``control``, ``difference``, ``low``, ``high`` (fractions),
        ``level`` (of the interval), ``beyond_interval`` (the interval excludes zero), ``beyond_noise`` (it does,
        and the change is also larger than the seeds' spread),
        ``n_clips``, ``n_seeds``.
    """
    rows = []
    for name, per in answers.items():
        base = per[BASE]
        for control, m in per.items():
            if control == BASE:
                continue
            cmp = seed_comparison(m, base)
            rows.append({"model": name, "control": control, "difference": cmp["difference"], "low": cmp["low"],
                         "high": cmp["high"], "level": cmp["level"], "beyond_interval": cmp["beyond_interval"],
                         "beyond_noise": cmp["beyond_noise"], "n_clips": cmp["n_tracks"],
                         "n_seeds": int(np.asarray(m).shape[0])})
    return pd.DataFrame(rows)


def shuffle_blocks(X, block: int, seed: int = 0) -> np.ndarray:
    """Every window with its frames cut into consecutive blocks and the blocks put in another order.

    A bag of frames barely notices: each row's mean and spread over the frames are unchanged, and of the
    frame-to-frame changes only those at the seams between blocks are new. A model that hears the order of events
    within a window does notice.

    Parameters
    ----------
    X : array-like, shape (n_windows, height, n_frames)
    block : int
        Frames per block (:func:`order_block`); the last block takes what is left over.
    seed : int
        One permutation per window is drawn from it, never the identity when there are two blocks or more.

    Returns
    -------
    ndarray, shape (n_windows, height, n_frames), float32
    """
    if block < 1:
        raise ValueError(f"block must be at least one frame, not {block!r}")
    X = np.asarray(X, dtype=np.float32)
    starts = list(range(0, X.shape[2], block))
    pieces = [slice(a, b) for a, b in zip(starts, [*starts[1:], X.shape[2]])]
    rng = np.random.default_rng(seed)
    out = np.empty_like(X)
    for i in range(len(X)):
        order = np.arange(len(pieces))
        while len(pieces) > 1 and np.array_equal(order, np.arange(len(pieces))):
            order = rng.permutation(len(pieces))
        out[i] = np.concatenate([X[i][:, pieces[k]] for k in order], axis=1)
    return out


def order_name(seconds: float) -> str:
    """The order test's name in the answers for blocks of ``seconds``: ``'order 0.5 s'``."""
    return f"{ORDER} {seconds:g} s"


def order_seconds(name: str) -> float | None:
    """The block length of an :func:`order_name` in seconds; None for any other control (``'tempo'``) or a name that
    does not parse (``'order x s'``)."""
    head, _, tail = str(name).partition(" ")
    if head != ORDER or not tail.endswith(" s"):
        return None
    try:
        return float(tail[:-2])
    except ValueError:
        return None


def order_block(params: FeatureParams, seconds: float = ORDER_BLOCKS_SECONDS[0]) -> int:
    """Frames of one block of ``seconds`` at the feature parameters' hop (47 for 1 s at 22,050 Hz and hop 470,
    so a 5-s window of 235 frames is five blocks; 23 for 0.5 s; 12 for 0.25 s)."""
    return max(1, round(seconds * params.sample_rate / params.hop_length))


def with_order(features: dict, params: FeatureParams, seed: int = 0, blocks=ORDER_BLOCKS_SECONDS) -> dict:
    """``features`` (control -> windows) plus, for each block length in ``blocks`` (seconds), the windows as
    composed with their blocks shuffled, under :func:`order_name`."""
    return {**features, **{order_name(b): shuffle_blocks(features[BASE], order_block(params, b), seed)
                           for b in blocks}}


def split_order(answers: dict) -> tuple[dict, dict]:
    """Answers of :func:`with_order`'s windows, split: every model's answers under the controls (without the order
    test), and its answers as composed and with the blocks of each length shuffled."""
    controls = {name: {c: a for c, a in per.items() if order_seconds(c) is None} for name, per in answers.items()}
    order = {name: {BASE: per[BASE], **{c: a for c, a in per.items() if order_seconds(c) is not None}}
             for name, per in answers.items() if any(order_seconds(c) is not None for c in per)}
    return controls, order


def order_table(order: dict) -> pd.DataFrame:
    """:func:`lab_table` of the order test, its columns named for the reader.

    Parameters
    ----------
    order : dict
        :func:`split_order`'s second part: model -> {``'none'`` or an :func:`order_name` -> answers}.

    Returns
    -------
    DataFrame
        Index ``model``; ``'as composed'`` and one ``'blocks of 0.5 s shuffled'`` column per block length.
    """
    table = lab_table(order)
    return table.rename(columns={c: f"blocks of {order_seconds(c):g} s shuffled" for c in table.columns
                                 if order_seconds(c) is not None})


def seconds_list(values, conjunction: str = "and") -> str:
    """Block lengths in words, in the order given: ``'1, 0.5 and 0.25 s'`` (``''`` for none).

    Parameters
    ----------
    values : iterable of float
        Lengths in seconds.
    conjunction : str
        The word before the last one (``'and'``, ``'or'``).
    """
    words = [f"{v:g}" for v in values]
    return join_names(words, conjunction) + " s" if words else ""


def _order_rows(effects: pd.DataFrame) -> pd.DataFrame:
    """The order test's rows of :func:`lab_effects` with their block length (``seconds``), longest first."""
    if effects.empty or "control" not in effects:
        return pd.DataFrame(columns=["model", "control", "difference", "low", "high", "beyond_interval",
                                     "beyond_noise", "seconds"])
    rows = effects[[order_seconds(c) is not None for c in effects["control"]]]
    rows = rows.assign(seconds=[order_seconds(c) for c in rows["control"]])
    return rows.sort_values("seconds", ascending=False, kind="stable")


def _losses(rows: pd.DataFrame, model: str) -> list[float]:
    """Block lengths (longest first) at which ``model`` loses accuracy beyond the noise."""
    part = rows[(rows["model"] == model) & rows["beyond_noise"].astype(bool) & (rows["difference"] < 0)]
    return sorted(part["seconds"], reverse=True)


def order_sentence(effects: pd.DataFrame) -> str:
    """What shuffling the blocks of each length costs each model (:func:`lab_effects` of :func:`split_order`'s
    second part): one sentence per model, its change at every block length, then the lengths at which that change
    is beyond the noise, chosen by the result (``''`` without order answers). A probe's loss is put down to the
    seams, never to order."""
    rows = _order_rows(effects)
    out = []
    for name, part in rows.groupby("model", sort=False):
        changes = ", ".join(f"{r.seconds:g} s {_change(r)}" for r in part.itertuples())
        noise = part["beyond_noise"].astype(bool)
        gained = part[noise & (part["difference"] > 0)]
        seeds = part[part["beyond_interval"].astype(bool) & ~noise]
        said = []
        lost = _losses(part, name)
        if lost:
            why = (" (for a bag of frames that can only be the seams' new frame-to-frame changes)" if name == PROBE
                   else "")
            said.append(f"loses accuracy beyond the noise with blocks of {seconds_list(lost)}{why}")
        if len(gained):
            said.append(f"does better beyond the noise with blocks of {seconds_list(gained['seconds'])} out of order")
        if len(seeds):
            said.append(f"moves beyond the clips' interval with blocks of {seconds_list(seeds['seconds'])}, but by no "
                        "more than its training seeds differ from each other")
        if not said:
            said.append("stays within the noise at every block length")
        out.append(f"The {name} ({changes}) " + "; it ".join(said) + ".")
    return " ".join(out)


def _at_chance(answers) -> bool:
    """True when an accuracy's interval (mean over seeds, resampling the clips) reaches chance (1 in 10)."""
    return seed_accuracy(answers).low <= 1 / len(GENRES)


def order_reading(order: dict, models=tuple(TRAINED_MODELS)) -> str:
    """What the order test says of the recurrent ``models`` together (``order``: :func:`split_order`'s second
    part), chosen by the result.

    It names the block lengths at which each model loses accuracy beyond the noise; says, where the bag of frames
    was asked and is above chance, whether it lost at those lengths too (its loss can only be the seams); and gives
    the time scale of the order the models use only when their losses are nested (a model that loses with blocks of
    some length also loses with every shorter one, which break the same order): then the longest such length says
    it. A model whose accuracy as composed cannot be told from chance (its interval reaches 1 in 10) is left out:
    it has nothing to lose.
    """
    at_chance = [m for m in models if m in order and _at_chance(order[m][BASE])]
    asked = [m for m in models if m in order and m not in at_chance]
    left_out = (f" The {' and the '.join(at_chance)} {'is' if len(at_chance) == 1 else 'are'} left out: at chance "
                "as composed." if at_chance else "")
    gauge = PROBE in order and not _at_chance(order[PROBE][BASE])
    every = _order_rows(lab_effects({m: order[m] for m in [*asked, *([PROBE] if gauge else [])]}))
    rows = every[every["model"].isin(asked)]
    if rows.empty:
        return (f"The order test cannot say anything of the {' or the '.join(at_chance)}: as composed, "
                f"{'its' if len(at_chance) == 1 else 'their'} accuracy cannot be told from chance." if at_chance
                else "")
    sizes = sorted(set(rows["seconds"]), reverse=True)
    lost = {m: _losses(rows, m) for m in asked}
    one = len(asked) == 1
    if not any(lost.values()):
        who = {1: f"the {asked[0]} does not need", 2: "neither model needs"}.get(len(asked), "none of the models needs")
        return (f"So {who} the order of the blocks, down to blocks of {sizes[-1]:g} s. On this corpus, at this "
                f"budget, the recurrent layer turns no order over {sizes[-1]:g} s or more into accuracy; order within "
                "a block is untouched by this test." + left_out)
    losers = [m for m in asked if lost[m]]
    clauses = [f"the {m} with blocks of {seconds_list(lost[m])}"
               + (f" but not with {seconds_list([s for s in sizes if s not in lost[m]], 'or')}"
                  if len(lost[m]) < len(sizes) else "") for m in losers]
    text = "Reordering costs accuracy beyond the noise to " + "; and to ".join(clauses) + "."
    steady = [m for m in asked if not lost[m]]
    if steady:
        text += (f" The {' and the '.join(steady)} {'loses' if len(steady) == 1 else 'lose'} nothing beyond the noise "
                 "at any block length.")
    losing = sorted({s for v in lost.values() for s in v}, reverse=True)
    if gauge:
        tested, probe_lost = set(every.loc[every["model"] == PROBE, "seconds"]), set(_losses(every, PROBE))
        held = [s for s in losing if s in tested and s not in probe_lost]
        fell = [s for s in losing if s in probe_lost]
        if held:
            text += (f" With blocks of {seconds_list(held)} the bag of frames loses nothing beyond the noise, so the "
                     "seams, as far as a bag of frames registers them, do not explain the loss there.")
        if fell:
            text += (f" With blocks of {seconds_list(fell)} the bag of frames loses too, so the seams may explain "
                     "some of the loss there.")
    else:
        text += " The bag of frames cannot serve as a gauge of the seams here (not asked, or at chance as composed)."
    scattered = [m for m in losers if any(s not in lost[m] for s in sizes if s < lost[m][0])]
    if scattered:
        text += (f" For the {' and the '.join(scattered)} the losses do not follow the block length (a shorter block, "
                 "which breaks the same order, costs nothing beyond the noise), so this test fixes no time scale "
                 f"for {'it' if len(scattered) == 1 else 'them'}: the loss may be noise or the seams.")
    elif losing[0] == sizes[0]:
        users = [m for m in asked if sizes[0] in lost[m]]
        text += (f" So the {' and the '.join(users)} {'uses' if len(users) == 1 else 'use'} the order of events over "
                 f"stretches of {sizes[0]:g} s, or {'reacts' if len(users) == 1 else 'react'} to the seams in a way a "
                 "bag of frames does not.")
    else:
        above = min(s for s in sizes if s > losing[0])
        text += (f" So whatever order {'this model uses' if one else 'these models use'} lies within stretches "
                 f"shorter than {above:g} s: the order of longer stretches is worth no accuracy to "
                 f"{'it' if one else 'them'} on this corpus, at this budget.")
    return text + left_out


def _points(x: float) -> str:
    """Points with their sign, ``'+4'`` / ``'-11'``; a value that rounds to zero is ``'0'`` (never ``'-0'``)."""
    text = f"{100 * x:+.0f}"
    return "0" if text in ("+0", "-0") else text


def _interval(difference: float, low: float, high: float, unit: bool = False) -> str:
    """``'-7 [-13, -1]'`` in points; with ``unit``, ``'-7 points [-13, -1]'`` (``'point'`` for one)."""
    words = f" {'point' if _points(difference) in ('+1', '-1') else 'points'}" if unit else ""
    return f"{_points(difference)}{words} [{_points(low)}, {_points(high)}]"


def _change(r) -> str:
    """``'-7 points [-13, -1]'`` of an effects row."""
    return _interval(r.difference, r.low, r.high, unit=True)


def _listed(part: pd.DataFrame) -> str:
    """``'tempo -7 points [-13, -1]; timbre -1 point [-6, +4]'``, most negative first."""
    return "; ".join(f"{control_words(r.control)} {_change(r)}"
                     for r in part.sort_values("difference", kind="stable").itertuples())


def lab_sentences(effects: pd.DataFrame) -> dict[str, str]:
    """One sentence per model: which controls cost it accuracy beyond the noise, which move it beyond the clips'
    interval but no more than its seeds differ from each other, and which stay within the noise, chosen by the
    result (a control that *raises* accuracy beyond the noise is said as such).

    Returns
    -------
    dict
        Model name -> sentence.
    """
    out = {}
    for name, rows in effects.groupby("model", sort=False):
        noise = rows["beyond_noise"].astype(bool)
        interval = rows["beyond_interval"].astype(bool) if "beyond_interval" in rows else noise
        lost, gained = rows[noise & (rows["difference"] < 0)], rows[noise & (rows["difference"] > 0)]
        seeds = rows[interval & ~noise]
        steady = rows[~interval]
        if len(steady) == len(rows):
            lead = (f"Making {control_words(rows['control'].iloc[0])} common does not change" if len(rows) == 1
                    else "No control changes")
            out[name] = f"{lead} the accuracy of the {name} beyond the noise ({_listed(steady)})."
            continue
        parts = []
        if len(lost):
            which = ("each of these is" if len(lost) > 1 else "this factor is" if _single(lost["control"].iloc[0])
                     else "these factors are")
            parts.append(f"loses accuracy beyond the noise when {which} made common to all genres: {_listed(lost)}")
        if len(gained):
            parts.append(f"gains accuracy beyond the noise under {_listed(gained)}")
        if len(seeds):
            verb = "move" if len(seeds) > 1 else "moves"
            parts.append(f"{_listed(seeds)} {verb} it beyond the clips' interval, but by no more than its training "
                         "seeds differ from each other")
        if len(steady):
            parts.append(f"{'the remaining controls stay' if len(steady) > 1 else 'the remaining control stays'} "
                         f"within the noise ({_listed(steady)})")
        head = f"The {name} " + parts[0] if (len(lost) or len(gained)) else f"For the {name}, " + parts[0]
        out[name] = "; ".join([head, *parts[1:]]) + "."
    return out


#: What leaning on each controlled factor predicts for real recordings (the book's words; a prediction, not a
#: measurement).
_MEANING = {
    "timbre": ("the instruments and the mix. Real genres share instruments far more freely, and every studio "
               "sounds different, so on real recordings its answers can be expected to follow the "
               "instrumentation and the production at least as much as the genre"),
    "tempo": ("the tempo. Real genres overlap in tempo more than these style sheets do, so a slow rock ballad or "
              "a fast reggae tune can be expected to be pulled toward the genres that are slow or fast here"),
    "groove": ("the drum pattern. Where a real genre keeps its conventional groove this should carry over; a "
               "piece played with another genre's groove can be expected to be called that genre"),
    "harmony": ("the chords, although MFCCs keep little of pitch. On real recordings, where chord "
                "vocabularies overlap far more, this cue can be expected to help less"),
}


def lab_prediction(effects: pd.DataFrame, model: str) -> str:
    """What the laboratory predicts for ``model`` on real music, chosen by the single control that costs it most
    beyond the noise (or by there being none); a control of several factors at once names no one factor."""
    rows = effects[(effects["model"] == model) & effects["beyond_noise"] & (effects["difference"] < 0)
                   & effects["control"].map(_single)]
    if rows.empty:
        return (f"No single factor made common costs the {model} accuracy beyond the noise: it relies on several "
                "at once, so that the others make up for one that is held, or on something no control here "
                "touches; this laboratory cannot tell which.")
    worst = rows.sort_values("difference", kind="stable").iloc[0]
    return f"Of the factors tested, the one the {model} leans on most is {_MEANING[worst['control']]}."
