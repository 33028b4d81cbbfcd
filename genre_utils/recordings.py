"""Ten short real recordings under open licences, shipped with the package: the check that a model trained on the
synthetic corpus meets real audio.

Five are music (two classical pieces, a jazz tune, a jazz trumpet loop, a country/folk song) and five are not
(three read-aloud book chapters from LibriSpeech, a robin's call, a humpback whale's song). Each file has its
attribution and licence beside it (``<file>.txt``), and ``recordings.csv`` says what it is and, for the music,
which of the ten genres a listener would accept. :func:`classify_recordings` runs a trained model on them;
:func:`recordings_sentences` reads the result in sentences chosen by it. Ten files are anecdotes, not rates:
the page says so.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pandas as pd
import soundfile as sf

from .narrative import join_names
from .predict import predict_files

__all__ = ["recordings_dir", "recordings", "classify_recordings", "recordings_sentences", "votes_sentence",
           "credits_markdown", "answer", "snapshot", "HISTORY_FILE", "load_history", "history_table",
           "history_sentence", "short_labels", "history_legend"]

#: The snapshots of earlier corpora that ship with the package (:func:`load_history`).
HISTORY_FILE = "real_recordings.json"


def recordings_dir() -> Path:
    """The folder of the recordings inside the installed package."""
    return Path(str(resources.files("genre_utils") / "data" / "real_recordings"))


def recordings() -> pd.DataFrame:
    """One row per recording: ``file``, ``title``, ``kind`` (music, speech, animal), ``plausible`` (genres a
    listener would accept, space-separated; empty for non-music), ``source`` (short credit), ``path``,
    ``seconds`` and ``attribution`` (the full text of its ``.txt``)."""
    folder = recordings_dir()
    table = pd.read_csv(folder / "recordings.csv", keep_default_na=False, dtype=str)
    table["path"] = [str(folder / f) for f in table["file"]]
    table["seconds"] = [float(sf.info(p).duration) for p in table["path"]]
    table["attribution"] = [(folder / f).with_suffix(".txt").read_text(encoding="utf-8").strip()
                            for f in table["file"]]
    return table


def classify_recordings(run, device=None) -> pd.DataFrame:
    """The recordings through a trained run (:func:`genre_utils.predict.predict_files`).

    Parameters
    ----------
    run : genre_utils.predict.Run or path-like
        The run, or its checkpoint or folder.

    Returns
    -------
    table : DataFrame
        :func:`recordings` joined with ``pred_genre`` (the vote), ``top3``, ``n_segments``, ``confidence``,
        ``outside`` (True/False, NA without a calibration or on error), ``error`` and ``plausible_hit`` (for
        music with a prediction: the vote is one of its plausible genres; NA otherwise).
    """
    table = recordings()
    found = predict_files(run, table["path"], device=device)
    pred = found.table
    out = table.assign(pred_genre=pred["pred_genre"].to_numpy(), top3=pred["top3"].to_numpy(),
                       n_segments=pred["n_segments"].to_numpy(), confidence=pred["confidence"].to_numpy(),
                       outside=pred["outside"].to_numpy(), error=pred["error"].to_numpy())
    out["plausible_hit"] = pd.array([g in p.split() if k == "music" and not e else pd.NA
                                     for g, p, k, e in zip(out["pred_genre"], out["plausible"], out["kind"],
                                                           out["error"])], dtype="boolean")
    out.attrs["calibrated"] = found.calibration is not None
    return out


def recordings_sentences(table: pd.DataFrame) -> dict[str, str]:
    """What the recordings show, in sentences chosen by the result (counts, ties at zero, no calibration).

    Returns
    -------
    dict
        ``music``: how many music pieces got a plausible genre; ``other``: whether the non-music files with at
        least one window were flagged as outside what the model knows; ``short``: the files too short for one
        window (empty string when none); ``votes``: :func:`votes_sentence`.
    """
    music = table[(table["kind"] == "music") & (table["error"] == "")]
    hits = music[music["plausible_hit"].fillna(False).astype(bool)]
    n_music = int((table["kind"] == "music").sum())
    if len(music) == 0:
        music_text = f"None of the {n_music} music pieces could be classified."
    elif len(hits) == 0:
        music_text = (f"None of the {len(music)} music pieces gets a genre a listener would accept as its vote.")
    else:
        music_text = (f"{len(hits)} of the {len(music)} music pieces get{'s' if len(hits) == 1 else ''} a genre a "
                      f"listener would accept as the vote ({join_names(hits['title'])}).")
    other = table[(table["kind"] != "music") & (table["error"] == "")]
    if len(other) == 0:
        other_text = "None of the non-music files is long enough for one 5-s window."
    elif not table.attrs.get("calibrated", True):
        other_text = (f"The run has no calibration, so none of the {len(other)} non-music files long enough "
                      "to classify can be flagged as outside what the model knows; each still gets a genre.")
    else:
        flagged = other[other["outside"].fillna(False).astype(bool)]
        k, n = len(flagged), len(other)
        if k == 0:
            other_text = (f"None of the {n} non-music files long enough to classify is flagged as outside what "
                          "the model knows: each gets a genre with a confidence above the run's threshold.")
        elif k == n:
            other_text = f"All {n} non-music files long enough to classify are flagged as outside what the model knows."
        else:
            other_text = (f"{k} of the {n} non-music files long enough to classify "
                          f"{'is' if k == 1 else 'are'} flagged as outside what the model knows "
                          f"({join_names(flagged['title'])}); the other{'s get' if n - k > 1 else ' gets'} a genre "
                          "with a confidence above the run's threshold.")
    short = table[table["error"] != ""]
    short_text = "" if short.empty else "Not classified: " + "; ".join(
        f"{title} ({error})" for title, error in zip(short["title"], short["error"])) + "."
    return {"music": music_text, "other": other_text, "short": short_text, "votes": votes_sentence(table)}


def votes_sentence(table: pd.DataFrame) -> str:
    """Whether one genre takes most of the votes of the classified recordings, music or not (empty string when
    fewer than two were classified): a model that answers one genre to whatever real audio it hears has learned
    little that carries over."""
    votes = table.loc[table["error"] == "", "pred_genre"].dropna().astype(str)
    n = len(votes)
    if n < 2:
        return ""
    counts = votes.value_counts()
    top, k = str(counts.index[0]), int(counts.iloc[0])
    if k == n:
        return f"All {n} recordings classified get the same vote, {top}, music, speech and whale song alike."
    if 2 * k > n:
        return (f"{k} of the {n} recordings classified get the same vote, {top}, music and non-music alike: faced "
                f"with real audio, the model falls back on one genre more than on anything it hears.")
    return (f"The {n} recordings classified spread their votes over {len(counts)} genres "
            f"({join_names(f'{g} {c}' for g, c in counts.items())}); no genre takes most of them.")


_URL = re.compile(r"https?://([^/\s]+)(\S*)")


def credits_markdown(table: pd.DataFrame) -> str:
    """One Markdown bullet per recording with its full attribution; each web address becomes a link named by
    its host (``[musopen.org](https://...)``), so that a long address does not run off the page."""
    def linked(text: str) -> str:
        return _URL.sub(lambda m: f"[{m.group(1)}]({m.group(0)})", " ".join(text.split()))

    return "\n".join(f"* **{title}**: {linked(attribution)}" for title, attribution
                     in zip(table["title"], table["attribution"]))


def answer(error: str, vote: str, confidence, outside) -> str:
    """One recording's answer in a few characters: ``'jazz 0.81'``, ``'country 0.68, flagged'`` or the error."""
    if error:
        return error.split(":")[0]
    text = vote if pd.isna(confidence) else f"{vote} {float(confidence):.2f}"
    return text + (", flagged" if (not pd.isna(outside) and bool(outside)) else "")


def snapshot(table: pd.DataFrame, label: str, provenance: dict) -> dict:
    """A run's answers on the recordings, kept to compare corpora (one entry of ``real_recordings.json``).

    Parameters
    ----------
    table : DataFrame
        From :func:`classify_recordings`.
    label : str
        What the snapshot stands for, e.g. ``'corpus v1 (one bank, genre-specific instruments)'``.
    provenance : dict
        Where the answers came from: at least ``commit``, ``corpus_fingerprint``, ``run_key`` and ``profile``.

    Returns
    -------
    dict
        ``label``, ``provenance``, ``calibrated`` and ``rows``: per recording its ``file``, ``kind``, ``vote``,
        ``confidence`` (None when absent), ``outside`` (None when not decided), ``error`` and ``plausible_hit``.
    """
    def _opt(v, kind):
        return None if pd.isna(v) else kind(v)

    rows = [{"file": r.file, "kind": r.kind, "vote": r.pred_genre if not r.error else "",
             "confidence": _opt(r.confidence, lambda c: round(float(c), 4)), "outside": _opt(r.outside, bool),
             "error": r.error, "plausible_hit": _opt(r.plausible_hit, bool)} for r in table.itertuples()]
    return {"label": str(label), "provenance": dict(provenance),
            "calibrated": bool(table.attrs.get("calibrated", True)), "rows": rows}


def load_history(path=None, profile: str | None = None, other_than: str | None = None,
                 other_data: str | None = None) -> list[dict]:
    """The snapshots that ship with the package (or those in ``path``), oldest first; [] when there are none.

    ``profile``: keep only the snapshots of runs of that profile (a run of another size is no comparison).
    ``other_than``: leave out the snapshots of the run with that key, and ``other_data`` those of runs trained on
    the store with that data fingerprint (a hash of the audio files' contents): a build on a corpus that is itself
    kept is compared with the corpora before it, not with itself, even after a code change gave its run a new key.
    """
    path = Path(path) if path is not None else Path(str(resources.files("genre_utils") / "data" / "measured"
                                                            / HISTORY_FILE))
    if not path.is_file():
        return []
    snaps = json.loads(path.read_text(encoding="utf-8"))["snapshots"]
    return [s for s in snaps if (profile is None or s["provenance"].get("profile") == profile)
            and (other_than is None or s["provenance"].get("run_key") != other_than)
            and (other_data is None or s["provenance"].get("data_fingerprint") != other_data)]


def _counts(rows) -> tuple[int, int, int, int]:
    """(music with a plausible vote, music classified, non-music flagged, non-music classified)."""
    music = [r for r in rows if r["kind"] == "music" and not r["error"]]
    other = [r for r in rows if r["kind"] != "music" and not r["error"]]
    return (sum(bool(r["plausible_hit"]) for r in music), len(music),
            sum(bool(r["outside"]) for r in other), len(other))


def history_table(table: pd.DataFrame, history: list[dict]) -> pd.DataFrame:
    """Each recording's answer under every earlier snapshot and under the current run, side by side.

    Parameters
    ----------
    table : DataFrame
        From :func:`classify_recordings` (the current run).
    history : list of dict
        From :func:`load_history`.

    Returns
    -------
    DataFrame
        Index ``recording`` (title); one column per snapshot (its :func:`short_labels` name; the
        :func:`history_legend` says what each stands for) and a last column ``this build``,
        each cell from :func:`answer`; a last row ``plausible music / flagged non-music`` with the counts.
        A recording a snapshot does not hold shows ``-``.
    """
    names = short_labels(history)
    snaps = [(names[s["label"]], {r["file"]: r for r in s["rows"]}, s["rows"]) for s in history]
    current = snapshot(table, "this build", {})
    snaps.append(("this build", {r["file"]: r for r in current["rows"]}, current["rows"]))
    out = {}
    for label, by_file, rows in snaps:
        cells = [answer(by_file[f]["error"], by_file[f]["vote"], by_file[f]["confidence"], by_file[f]["outside"])
                 if f in by_file else "-" for f in table["file"]]
        hits, n_music, flagged, n_other = _counts(rows)
        out[label] = cells + [f"{hits}/{n_music} plausible, {flagged}/{n_other} flagged"]
    index = pd.Index([*table["title"], "plausible music / flagged non-music"], name="recording")
    return pd.DataFrame(out, index=index)


def short_labels(history: list[dict]) -> dict[str, str]:
    """Each snapshot's label cut before its first ``' ('`` or ``','`` (``'corpus 3 (two banks)'`` ->
    ``'corpus 3'``), for a table's column; the full labels wherever two would be cut to the same name."""
    short = {s["label"]: re.split(r" \(|,", s["label"], maxsplit=1)[0].strip() or s["label"] for s in history}
    if len(set(short.values())) < len(short) or "this build" in short.values():
        return {s["label"]: s["label"] for s in history}
    return short


def history_legend(history: list[dict]) -> str:
    """A Markdown list of what each column of :func:`history_table` stands for: its name, the full label and
    the commit it was kept at ('' when there is no snapshot)."""
    names = short_labels(history)
    lines = []
    for s in history:
        label, commit = s["label"], s["provenance"].get("commit") or "an unrecorded commit"
        what = label[len(names[label]):].strip(" ,") or label
        lines.append(f"- **{names[label]}**: {what.removeprefix('(').removesuffix(')')} (kept at {commit})")
    return "\n".join(lines)


def history_sentence(table: pd.DataFrame, history: list[dict]) -> str:
    """Whether the current run does better or worse on the recordings than the latest snapshot, in counts.

    Chosen by the result: no snapshot; the same counts; more or fewer plausible music votes; more or fewer
    flagged non-music files (each direction said as it is). Counts of five files each are anecdotes, and the
    sentence says so when it reports a change.
    """
    if not history:
        return "No earlier corpus was recorded for this profile, so there is nothing to compare with yet."
    last = history[-1]
    h0, m0, f0, o0 = _counts(last["rows"])
    h1, m1, f1, o1 = _counts(snapshot(table, "", {})["rows"])
    if (h0, m0, f0, o0) == (h1, m1, f1, o1):
        return (f"This build answers as the last recorded corpus ({last['label']}) did in counts: {h1} of {m1} "
                f"music pieces plausible, {f1} of {o1} non-music files flagged.")
    parts = []
    for new, old, n_new, n_old, what in ((h1, h0, m1, m0, "music pieces with a plausible vote"),
                                        (f1, f0, o1, o0, "non-music files flagged")):
        if (new, n_new) == (old, n_old):
            parts.append(f"{what}: {new} of {n_new}, unchanged")
        else:
            parts.append(f"{what}: {new} of {n_new}, against {old} of {n_old}")
    return (f"Against the last recorded corpus ({last['label']}): {'; '.join(parts)}. With five files on each "
            "side, a change of one or two is an anecdote, not a measured improvement.")
