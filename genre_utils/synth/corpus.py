"""The corpus build: plan every file, render them in worker processes, write ``corpus.json`` last.

See the package docstring (:mod:`genre_utils.synth`) for the layout, the broken files and the cache.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..audio import write_mp3, write_wav
from ..config import ARTISTS_LIST, TEST_ONLY_LIST, Profile, fingerprint, get_profile, num_threads
from ..genres import GENRES, load_fma_genres, map_fma_track
from ..parallel import ignore_interrupts, ordered_map
from ..provenance import atomic_write_bytes, code_fingerprint, file_sha256, library_key
from ..styles import STYLES
from .artists import artist_names, artist_sheet, balanced_banks, gtzan_artists
from .banks import BANK_NAMES, bank_bytes, banks_key
from .compose import compose
from .controls import CONTROLS
from .fma_meta import FMA_KBPS, fma_tracks_table, plan_fma
from .render import SYNTH_RATE, load_bank, render
from .seeding import seeded_rng, stable_int

__all__ = ["SYNTH_VERSION", "GTZAN_SAMPLE_RATE", "FMA_SAMPLE_RATE", "SYNTH_FIELDS", "CORPUS_JSON", "PROGRESS_JSON",
           "Job", "plan_corpus", "corpus_fingerprint", "check_corpus", "render_corpus"]

#: Bump when a code change alters the rendered audio (it is part of the corpus fingerprint).
SYNTH_VERSION = "4"
#: Sampling rate of the GTZAN-layout and newdata WAV files (GTZAN's own rate).
GTZAN_SAMPLE_RATE = 22050
#: Sampling rate of the FMA-layout MP3 files (FMA's clips are mostly 44.1 kHz).
FMA_SAMPLE_RATE = 44100
#: The profile fields the corpus depends on.
SYNTH_FIELDS = ("synth_tracks_per_genre", "synth_fma_tracks", "synth_newdata_per_genre", "clip_seconds")

CORPUS_JSON = "corpus.json"
PROGRESS_JSON = ".corpus-progress.json"
TREES = ("gtzan", "fma", "newdata")
GTZAN_BROKEN_JAZZ = 54


# ---------------------------------------------------------------------------------------------- the corpus

@dataclass(frozen=True)
class Job:
    """One audio file to render."""

    relpath: str
    genre: str
    seed: int
    seconds: float
    shift: bool
    fmt: str            # 'wav' or 'mp3'
    sample_rate: int
    test_only: bool = False  # a GTZAN clip rendered for the test split only (listed in gtzan/test_only.txt)
    artist: str = ""         # the artist's name ('' for a track without one: new data, shifted FMA tracks)
    artist_seed: int = -1    # the artist's seed (genre_utils.synth.artists.artist_sheet); -1 without an artist
    control: str | None = None  # a laboratory control the corpus renders the clip under (render_corpus(control=))
    bank: str = "timgm6mb"   # the General MIDI bank (genre_utils.synth.banks.BANKS), balanced per genre by plan_corpus

    def audio(self) -> np.ndarray:
        """The clip's audio, ``seconds`` long and under its ``control`` (another length or control: a job
        ``dataclasses.replace`` makes, as the laboratory does), shape ``(n,)``, float32."""
        sheet = artist_sheet(self.genre, self.artist_seed) if self.artist_seed >= 0 else None
        chain = None if sheet is None else (sheet.chain if self.fmt == "wav" else sheet.chain.without_mp3())
        midi = compose(self.genre, self.seed, self.seconds, self.shift, control=self.control, artist=sheet)
        return render(midi, self.seconds, self.sample_rate, seed=self.seed, shift=self.shift, chain=chain,
                      bank=self.bank)


def _render_job(out_dir: str, job: Job) -> str:
    y = job.audio()
    path = Path(out_dir) / job.relpath
    if job.fmt == "mp3":
        write_mp3(path, y, job.sample_rate, FMA_KBPS)
    else:
        write_wav(path, y, job.sample_rate)
    return job.relpath


def _render_job_args(args) -> str:
    return _render_job(*args)


def _gtzan_indices(genre: str, n: int) -> list[int]:
    """Good clip indices of one genre: ``0 .. n-1``, except that jazz skips the broken index 54."""
    indices = [i for i in range(n + 1) if not (genre == "jazz" and i == GTZAN_BROKEN_JAZZ)]
    return indices[:n]


def _test_only_indices(genre: str, n: int, extra: int) -> list[int]:
    """Indices of the ``extra`` test-only clips of one genre: after index ``n`` (the broken blues and rock
    clips), jazz again skipping 54."""
    indices = [i for i in range(n + 1, n + 2 + extra) if not (genre == "jazz" and i == GTZAN_BROKEN_JAZZ)]
    return indices[:extra]


def synth_fields(profile: Profile) -> dict:
    """What the corpus depends on: the profile's :data:`SYNTH_FIELDS` and its test-only clips per genre."""
    return {**{f: getattr(profile, f) for f in SYNTH_FIELDS}, "test_only_per_genre": profile.test_only_per_genre}


def plan_corpus(profile: Profile, seed: int):
    """All render jobs, the FMA tracks and the broken files of one corpus (nothing is written).

    Returns
    -------
    jobs : list of Job
        Each with its General MIDI bank (:func:`_with_banks`).
    fma : tuple (tracks, artist names)
    broken : list of dict
        ``path`` (relative to ``out_dir``), ``reason`` and ``kind`` of every deliberately broken file.
    """
    n, secs = profile.synth_tracks_per_genre, float(profile.clip_seconds)
    jobs = []
    owners = {g: gtzan_artists(g, n, profile.test_only_per_genre, seed) for g in GENRES}
    names = iter(artist_names(sum(k for _, _, k in owners.values()), seeded_rng("gtzan-artist-names", int(seed))))
    artists = {g: [(next(names), stable_int(seed, "gtzan-artist", g, a)) for a in range(k)]
               for g, (_, _, k) in owners.items()}

    def gtzan_job(genre, i, artist, test_only=False):
        name, artist_seed = artists[genre][artist]
        return Job(f"gtzan/genres_original/{genre}/{genre}.{i:05d}.wav", genre, stable_int(seed, "gtzan", genre, i),
                   secs, False, "wav", GTZAN_SAMPLE_RATE, test_only=test_only, artist=name, artist_seed=artist_seed)

    for genre in GENRES:
        jobs += [gtzan_job(genre, i, a) for i, a in zip(_gtzan_indices(genre, n), owners[genre][0])]
    for genre in GENRES:  # clips for the test split only (Profile.test_tracks_per_genre)
        indices = _test_only_indices(genre, n, profile.test_only_per_genre)
        jobs += [gtzan_job(genre, i, a, test_only=True) for i, a in zip(indices, owners[genre][1])]
    for genre in GENRES:
        for i in range(profile.synth_newdata_per_genre):
            rel = f"newdata/{genre}/{genre}-new-{i:03d}.wav"
            jobs.append(Job(rel, genre, stable_int(seed, "newdata", genre, i), secs, True, "wav", GTZAN_SAMPLE_RATE))
    tracks, artists_fma = plan_fma(profile.synth_fma_tracks, secs, seed)
    for t in tracks:
        if t.audio in ("ok", "short"):  # a shifted ('ambiguous') track is its artist's odd one out: no sheet
            jobs.append(Job(t.relpath, t.style, stable_int(seed, "fma", t.track_id), t.seconds, t.shift, "mp3",
                            FMA_SAMPLE_RATE, artist=artists_fma[t.artist],
                            artist_seed=-1 if t.shift else stable_int(seed, "fma-artist", t.artist)))
    short = f"gtzan/genres_original/rock/rock.{n:05d}.wav"
    jobs.append(Job(short, "rock", stable_int(seed, "gtzan", "rock", n), 3.0, False, "wav", GTZAN_SAMPLE_RATE))
    broken = [
        {"path": f"gtzan/genres_original/jazz/jazz.{GTZAN_BROKEN_JAZZ:05d}.wav", "kind": "not_riff",
         "reason": "not a RIFF/WAV file (as jazz.00054 in the Kaggle copy of GTZAN)"},
        {"path": f"gtzan/genres_original/blues/blues.{n:05d}.wav", "kind": "silent",
         "reason": f"silent: {secs:g} s of digital zeros"},
        {"path": short, "kind": "short", "reason": "too short: 3 s, less than one 5-s window"},
        {"path": "gtzan/genres_original/.DS_Store", "kind": "ds_store", "reason": "macOS folder metadata, not audio"},
        {"path": "gtzan/genres_original/pop/.DS_Store", "kind": "ds_store",
         "reason": "macOS folder metadata, not audio"},
        {"path": "newdata/reggae/reggae-new-cut.wav", "kind": "truncated",
         "reason": "WAV cut off after 1.5 s of audio (header claims more): too short"},
    ]
    for t in tracks:
        if t.audio == "empty":
            broken.append({"path": t.relpath, "kind": "empty", "reason": "empty file (0 bytes)"})
        elif t.audio == "missing":
            broken.append({"path": t.relpath, "kind": "missing",
                           "reason": f"track {t.track_id} in tracks.csv has no audio file"})
        elif t.audio == "short":
            broken.append({"path": t.relpath, "kind": "short",
                           "reason": f"too short: 2.5 s of audio although tracks.csv says {int(round(secs))} s"})
    return _with_banks(jobs, seed), (tracks, artists_fma), broken


def _with_banks(jobs: list[Job], seed: int) -> list[Job]:
    """The jobs with their General MIDI banks: an artist's tracks share one bank, and within each tree (GTZAN,
    FMA, new data) each bank gets as near half of every style's tracks as
    :func:`~genre_utils.synth.artists.balanced_banks` can make it."""
    owner = {j.relpath: (j.artist_seed if j.artist_seed >= 0 else j.relpath) for j in jobs}
    groups: dict = {}   # (tree, style) -> owner -> tracks
    for j in jobs:
        sizes = groups.setdefault((j.relpath.split("/")[0], j.genre), {})
        sizes[owner[j.relpath]] = sizes.get(owner[j.relpath], 0) + 1
    banks = {group: balanced_banks(sizes, seeded_rng("banks", int(seed), *group))
             for group, sizes in sorted(groups.items())}
    return [dataclasses.replace(j, bank=banks[j.relpath.split("/")[0], j.genre][owner[j.relpath]]) for j in jobs]


def _write_broken(out: Path, broken: list[dict], profile: Profile, seed: int) -> None:
    """Write the broken files that are not render jobs (the too-short GTZAN and FMA clips are)."""
    import soundfile as sf

    rng = seeded_rng("broken", int(seed))
    for item in broken:
        path = out / item["path"]
        kind = item["kind"]
        if kind == "not_riff":
            atomic_write_bytes(path, b"\x00\x00\x00\x18ftypM4A " + rng.bytes(4096))
        elif kind == "silent":
            silence = np.zeros(int(round(profile.clip_seconds * GTZAN_SAMPLE_RATE)), np.float32)
            write_wav(path, silence, GTZAN_SAMPLE_RATE)
        elif kind == "ds_store":
            atomic_write_bytes(path, b"\x00\x00\x00\x01Bud1" + bytes(2048))
        elif kind == "empty":
            atomic_write_bytes(path, b"")
        elif kind == "truncated":
            y = render(compose("reggae", stable_int(seed, "newdata-cut"), 3.0, True), 3.0, GTZAN_SAMPLE_RATE, seed=1)
            buf = io.BytesIO()
            sf.write(buf, y, GTZAN_SAMPLE_RATE, format="WAV", subtype="PCM_16")
            atomic_write_bytes(path, buf.getvalue()[: 44 + int(1.5 * GTZAN_SAMPLE_RATE) * 2])


def corpus_fingerprint(profile: str | Profile = "quick", seed: int | None = None, control: str | None = None) -> str:
    """Fingerprint of a corpus: the profile's synth fields, the seed, :data:`SYNTH_VERSION`, the code of this
    module (and what it imports), the library versions it depends on and the SHA-256 of every General MIDI
    bank (:func:`genre_utils.synth.banks.banks_key`; raises :class:`~genre_utils.synth.banks.BankMissing` when
    one was never fetched) and, for a controlled corpus (:func:`render_corpus` with ``control``), the control."""
    profile = get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    parts = [synth_fields(profile), seed, SYNTH_VERSION, code_fingerprint("synth"), library_key("corpus"), banks_key()]
    return fingerprint(*parts, *([] if control is None else [{"control": control}]))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _prepare(out: Path, fp: str, have_corpus: bool) -> bool:
    """Make ``out`` ready for a render with fingerprint ``fp``; True when an interrupted render resumes."""
    progress = _read_json(out / PROGRESS_JSON)
    if progress is not None and progress.get("fingerprint") == fp:
        return True
    ours = have_corpus or progress is not None
    trees = [out / t for t in TREES]
    if not ours and any(t.exists() and any(t.iterdir()) for t in trees):
        raise FileExistsError(
            f"{out} already holds gtzan/, fma/ or newdata/ that genre-utils synth did not write "
            f"(no {CORPUS_JSON}); refusing to overwrite it: choose an empty --out")
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / PROGRESS_JSON, {"fingerprint": None, "state": "clearing"})  # ours, not resumable
    (out / CORPUS_JSON).unlink(missing_ok=True)
    for t in trees:  # a stale corpus of another fingerprint: start over
        shutil.rmtree(t, ignore_errors=True)
    _write_json(out / PROGRESS_JSON, {"fingerprint": fp, "state": "rendering"})
    return False


def _corpus_files(out: Path) -> list[Path]:
    """Every file of the three trees (not the temporary ``*.part`` files of an interrupted write)."""
    files = []
    for tree in TREES:
        files += [p for p in (out / tree).rglob("*") if p.is_file() and not p.name.endswith(".part")]
    return sorted(files)


def _file_record(out: Path) -> dict:
    """``relpath -> [size, sha256]`` of every file of the corpus (stored in ``corpus.json``)."""
    return {p.relative_to(out).as_posix(): [p.stat().st_size, file_sha256(p)]
            for p in _corpus_files(out)}


def check_corpus(out_dir, verify: bool = False) -> list[str]:
    """Files of a rendered corpus that are missing or differ from ``corpus.json`` (empty: all good).

    Sizes are always compared; with ``verify`` the SHA-256 of every file too.
    """
    out = Path(out_dir)
    stored = _read_json(out / CORPUS_JSON)
    files = stored.get("files") if isinstance(stored, dict) else None
    if not isinstance(files, dict) or not files:
        return [CORPUS_JSON]
    bad = []
    for rel, (size, digest) in sorted(files.items()):
        path = out / rel
        if not path.is_file() or path.stat().st_size != size:
            bad.append(rel)
        elif verify and file_sha256(path) != digest:
            bad.append(rel)
    return bad


def _init_worker() -> None:
    """Worker start-up: ignore Ctrl-C (the parent reports it, once) and warm up."""
    ignore_interrupts()
    _warm_up()


def _warm_up() -> None:
    """Import the renderer's libraries and load (and check) the SoundFonts once per process."""
    import lameenc  # noqa: F401
    import pretty_midi  # noqa: F401
    import scipy.fft  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    for bank in BANK_NAMES:
        bank_bytes(bank)
        load_bank(bank, SYNTH_RATE)


def _run(out: Path, jobs: list[Job], workers: int | None, progress: bool) -> None:
    _warm_up()

    workers = max(1, min(workers or num_threads(), len(jobs)))
    # every file is written atomically, so a worker stopped by Ctrl-C or a failed job leaves no half file
    for _ in ordered_map(_render_job_args, [(str(out), j) for j in jobs], workers, initializer=_init_worker,
                         desc="synth corpus", unit="clip", progress=progress):
        pass


def render_corpus(out_dir, profile: str | Profile = "quick", seed: int | None = None, progress: bool = True,
                  workers: int | None = None, verify: bool = False, control: str | None = None) -> dict:
    """Compose, render and write the synthetic corpus in the GTZAN and FMA layouts (see the module docstring).

    Parameters
    ----------
    out_dir : path-like
        Where the three trees and ``corpus.json`` go.
    profile : str or Profile
        Sizes: ``synth_tracks_per_genre``, ``synth_fma_tracks``, ``synth_newdata_per_genre``, ``clip_seconds``.
    seed : int, optional
        Defaults to ``profile.seed``.
    progress : bool
        Show a tqdm bar (hidden anyway when not on a terminal).
    workers : int, optional
        Processes; default :func:`genre_utils.config.num_threads`. The files do not depend on it.
    verify : bool
        Check the SHA-256 of every file of a reused corpus against ``corpus.json`` (the sizes are always
        checked); a file that differs is rendered again.
    control : str, optional
        A laboratory control (:data:`genre_utils.synth.controls.CONTROLS`): the ten genres' part of the corpus
        (the same GTZAN-layout and FMA-layout tracks, artists, broken files and metadata; no new data, and no FMA
        track of a group outside the ten genres, which no ten-genre split or model uses), every clip composed
        as before but with the control's factor (or factors) made common to all genres. The laboratory trains
        models on such a corpus (:meth:`genre_utils.context.Context.controlled`).

    Returns
    -------
    dict
        ``fingerprint``, ``cached`` (True when ``corpus.json`` already matched and nothing was done),
        ``counts`` (clips per genre in ``gtzan`` (the balanced ones), ``gtzan_test_only`` (those for the test
        split only) and ``newdata``; FMA tracks per group and per mapped
        label in ``fma`` / ``fma_labels``), ``fma_expected`` (track id -> label or None), ``broken`` (path,
        kind, reason), ``seconds`` (render time), ``paths`` (the three roots) and the parameters.

    Raises
    ------
    FileExistsError
        ``out_dir`` holds GTZAN/FMA-looking folders that this function did not write.
    """
    t0 = time.perf_counter()
    profile = get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    out = Path(out_dir)
    if control is not None and control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; choose one of {', '.join(CONTROLS)}")
    fp = corpus_fingerprint(profile, seed, control)
    stored = _read_json(out / CORPUS_JSON)
    if stored is not None and stored.get("fingerprint") == fp:
        bad = check_corpus(out, verify)
        if not bad:
            return {**stored, "cached": True}
        print(f"corpus {out}: {bad[0]}{f' and {len(bad) - 1} more files' if len(bad) > 1 else ''} missing, "
              "truncated or changed; rendering again", file=sys.stderr, flush=True)
        _write_json(out / PROGRESS_JSON, {"fingerprint": fp, "state": "repairing"})
        (out / CORPUS_JSON).unlink(missing_ok=True)
        for rel in bad:
            if rel != CORPUS_JSON:
                (out / rel).unlink(missing_ok=True)
    resume = _prepare(out, fp, stored is not None)
    if resume:  # temporary files of writes that were interrupted
        for tree in TREES:
            for tmp in (out / tree).rglob(".*.part"):
                tmp.unlink(missing_ok=True)

    jobs, (tracks, artists), broken = plan_corpus(profile, seed)
    if control is not None:   # the ten genres' tracks under the control: no new data, no FMA track of another group
        foreign = {t.relpath for t in tracks if t.style not in STYLES}
        tracks = [t for t in tracks if t.style in STYLES]
        jobs = [dataclasses.replace(j, control=control) for j in jobs
                if not j.relpath.startswith("newdata/") and j.relpath not in foreign]
        broken = [b for b in broken if not b["path"].startswith("newdata/")]
    todo = [j for j in jobs if not (resume and (out / j.relpath).is_file())]
    _run(out, todo, workers, progress)
    _write_broken(out, broken, profile, seed)
    table = fma_tracks_table(tracks, artists, profile.clip_seconds, seed)
    buf = io.StringIO()
    table.to_csv(buf)
    atomic_write_bytes(out / "fma/fma_metadata/tracks.csv", buf.getvalue().encode())
    genres_csv = resources.files("genre_utils").joinpath("data/fma_genres.csv").read_bytes()
    atomic_write_bytes(out / "fma/fma_metadata/genres.csv", genres_csv)
    test_only = [Path(j.relpath).stem for j in jobs if j.test_only]
    if test_only:
        atomic_write_bytes(out / "gtzan" / TEST_ONLY_LIST, _test_only_text(test_only))
    atomic_write_bytes(out / "gtzan" / ARTISTS_LIST, _artists_text(jobs))

    summary = _summary(profile, seed, fp, jobs, tracks, broken, resumed=len(jobs) - len(todo))
    summary["control"] = control
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["files"] = _file_record(out)
    _write_json(out / CORPUS_JSON, summary)
    (out / PROGRESS_JSON).unlink(missing_ok=True)
    return {**summary, "cached": False}


def _artists_text(jobs: list[Job]) -> bytes:
    """``gtzan/artists.csv``: ``track_id,artist`` for every GTZAN-layout clip that has an artist."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["track_id", "artist"])
    for job in sorted(jobs, key=lambda j: j.relpath):
        if job.relpath.startswith("gtzan/") and job.artist:
            writer.writerow([Path(job.relpath).stem, job.artist])
    return buf.getvalue().encode()


def _test_only_text(ids: list[str]) -> bytes:
    head = ("# GTZAN clips rendered for the test split only (genre_utils.synth, Profile.test_tracks_per_genre):\n"
            "# the store sends these tracks to the test split under the random, artist and segment splits\n")
    return (head + "".join(f"{i}\n" for i in sorted(ids))).encode()


def _summary(profile: Profile, seed: int, fp: str, jobs, tracks, broken, resumed: int) -> dict:
    genres = load_fma_genres()
    gtzan = {g: sum(1 for j in jobs if j.relpath.startswith(f"gtzan/genres_original/{g}/")) for g in GENRES}
    gtzan["rock"] -= 1  # the too-short clip is a job but not a good clip
    test_only = {g: sum(1 for j in jobs if j.test_only and j.genre == g) for g in GENRES}
    gtzan = {g: gtzan[g] - test_only[g] for g in GENRES}
    newdata = {g: sum(1 for j in jobs if j.relpath.startswith(f"newdata/{g}/")) for g in GENRES}
    good = [t for t in tracks if t.audio == "ok"]
    expected = {t.track_id: map_fma_track(t.genre_ids, genres)[0] for t in tracks}
    labels = {g: sum(1 for t in good if expected[t.track_id] == g) for g in GENRES}
    labels["eliminated"] = sum(1 for t in good if expected[t.track_id] is None)
    groups = {}
    for t in good:
        groups[t.group] = groups.get(t.group, 0) + 1
    return {
        "fingerprint": fp,
        "version": SYNTH_VERSION,
        "profile": profile.name,
        "seed": seed,
        "synth": synth_fields(profile),
        "libraries": library_key("corpus"),
        "banks": banks_key(),
        "bank_counts": {b: sum(1 for j in jobs if j.bank == b) for b in BANK_NAMES},
        "sample_rates": {"gtzan": GTZAN_SAMPLE_RATE, "fma": FMA_SAMPLE_RATE, "newdata": GTZAN_SAMPLE_RATE},
        "paths": {"gtzan": "gtzan/genres_original", "fma": "fma", "newdata": "newdata"},
        "counts": {"gtzan": gtzan, "gtzan_test_only": test_only, "fma": groups, "fma_labels": labels,
                   "newdata": newdata},
        "fma_expected": {str(k): v for k, v in expected.items()},
        "broken": broken,
        "files_rendered": len(jobs) - resumed,
        "files_resumed": resumed,
    }
