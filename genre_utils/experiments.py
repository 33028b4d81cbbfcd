"""One experiment end to end: a feature store and a model name in, a trained run and ``results.json`` out.

An experiment is cached by a key made of the dataset's cache key, the model, the training
hyperparameters and the code of the modules that shape the numbers; calling :func:`run_experiment` again with
the same key reads ``results.json`` back instead of training. An interrupted training resumes from its
last per-epoch checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .checkpoints import CHECKPOINT_FORMAT, checkpoint_precision, read_checkpoint
from .config import Profile, TrainConfig, fingerprint, get_profile, resume_differences, train_config
from .errors import RunMismatchError, UserError
from .evaluate import evaluate_files, evaluate_segments, predict_proba, write_results
from .genres import GENRES
from .locks import folder_lock
from .metrics import confusion
from .models import build_model, count_parameters, feature_stats, window_feature_stats
from .provenance import code_fingerprint, file_sha256, library_key
from .results import RunResults, load_results
from .sources import scan_folder
from .train import default_precision, distributed, fit, load_checkpoint, read_history, select_device

__all__ = ["RUN_VARIANTS", "variant_model", "train_run", "build_profile_model", "evaluate_run",
           "scan_skipped_records", "check_run_matches_store", "config_differences", "run_experiment", "cached_run",
           "run_key", "stale_results", "run_train_config"]


def stale_results(run_dir) -> str | None:
    """Why the ``results.json`` of a run folder does not describe its ``best.pt``, or None when it does (or
    when the folder holds no results).

    :func:`evaluate_run` records the sha256 of the checkpoint it scored; a training continued or redone
    after the evaluation leaves a new ``best.pt`` beside the old numbers, which no reader may present as its.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        return None
    try:
        recorded = load_results(run_dir).checkpoint_sha256
    except (OSError, ValueError, AttributeError):
        return f"{run_dir / 'results.json'} is unreadable"
    try:
        current = file_sha256(run_dir / "best.pt")
    except OSError:
        current = None
    if recorded is None:
        return f"{run_dir / 'results.json'} does not record which best.pt it scored (an earlier version wrote it)"
    if recorded != current:
        return f"{run_dir / 'results.json'} scored an earlier best.pt, not the one the run folder holds now"
    return None


def build_profile_model(model_name: str, profile: str | Profile | TrainConfig, X_train, input_shape, mean=None,
                        std=None):
    """The untrained model a profile trains: its normalisation, batch norm, dropout and seed.

    The profile's ``window_norm`` and ``batchnorm`` apply to the CRNN variants only; the baseline keeps the
    global standardisation (measured on the quick corpus, a per-window one takes away most of what the
    baseline's flattened input separates genres by).

    Parameters
    ----------
    model_name : {'crnn', 'crnn-temporal', 'baseline'}
    profile : str, Profile or TrainConfig
        The profile, or the training settings built from it (:func:`genre_utils.config.train_config`).
    X_train : array-like, shape (n_windows, height, frames)
        Training windows; read for the per-window statistics when ``profile.window_norm``.
    input_shape : (int, int)
    mean, std : array-like, shape (height,), optional
        Global per-row statistics of the training windows (the store's), used without ``window_norm``.
    """
    cfg = profile if isinstance(profile, TrainConfig) else train_config(profile, model_name)
    if cfg.model != model_name:
        raise ValueError(f"the training settings are for model {cfg.model!r}, not {model_name!r}")
    crnn = model_name.startswith("crnn")
    per_window = cfg.window_norm and crnn
    if per_window:
        mean, std = window_feature_stats(X_train)
    elif mean is None or std is None:
        mean, std = feature_stats(X_train)
    extra = {"batchnorm": cfg.batchnorm, "per_window": per_window} if crnn else {}
    return build_model(model_name, input_shape=input_shape, n_classes=cfg.n_classes, dropout=cfg.dropout, mean=mean,
                       std=std, seed=cfg.seed, **extra)


#: Runs that are one model trained with one setting changed from the profile's: run name -> (model, settings).
#: ``crnn-globalnorm`` is the CRNN standardised like the paper (one mean and spread per MFCC row, measured on
#: the training set) instead of per window: the ablation of the quick profile's per-window standardisation,
#: which removes each window's mean, its average spectral envelope.
RUN_VARIANTS: dict[str, tuple[str, dict]] = {
    "crnn-globalnorm": ("crnn", {"window_norm": False}),
}


def variant_model(run_name: str) -> str:
    """The model a run name trains: the model of a :data:`RUN_VARIANTS` entry, else the name itself."""
    return RUN_VARIANTS.get(run_name, (run_name, {}))[0]


#: What :func:`train_run` does with a run folder that holds a run of another configuration.
OTHER_RUN = ("refuse", "move", "replace")


def config_differences(old: dict | None, new: dict, limit: int = 4) -> str:
    """The differences between two run configurations, as ``key old -> new`` items (the store by its data
    fingerprint and cache key; the path a store was reached by does not count): the first ``limit`` items of
    :func:`genre_utils.config.resume_differences`, joined."""
    items = resume_differences(old, new)
    if len(items) > limit:
        items = items[:limit] + [f"{len(items) - limit} more"]
    return ", ".join(items)


def _aside_name(out_dir: Path) -> Path:
    n = 1
    while out_dir.with_name(f"{out_dir.name}.old-{n}").exists():
        n += 1
    return out_dir.with_name(f"{out_dir.name}.old-{n}")


def _existing_run(out_dir: Path):
    """``(checkpoint, config, problem)`` of the run a folder already holds (``last.pt``, else ``best.pt``);
    None when it holds none."""
    for name in ("last.pt", "best.pt"):
        path = out_dir / name
        if path.is_file():
            try:
                ckpt = read_checkpoint(path)
            except UserError as err:
                return path, None, f"an unreadable checkpoint ({err})"
            if ckpt["format"] != CHECKPOINT_FORMAT:
                return path, None, (f"a checkpoint of an earlier format ({ckpt['format']}, before the training "
                                    f"settings were one TrainConfig), which cannot be resumed")
            return path, ckpt.get("config"), None
    return None


def _settle_run_folder(out_dir: Path, plain: dict, other_run: str) -> tuple[Path | None, bool]:
    """What :func:`train_run` does with what ``out_dir`` already holds: ``(moved_to, resume)``; raises
    RunMismatchError when it refuses."""
    moved_to, resume = None, True
    existing = _existing_run(out_dir)
    if existing is not None:
        path, old, problem = existing
        if problem or resume_differences(old, plain):
            what = problem or f"a run of another configuration ({config_differences(old, plain)})"
            if other_run == "refuse":
                raise RunMismatchError(
                    f"{out_dir} holds {what}; nothing was changed. Train into another folder (--out), or pass "
                    f"--restart to move that run aside to {_aside_name(out_dir)} and start afresh")
            if other_run == "move":
                moved_to = _aside_name(out_dir)
                out_dir.rename(moved_to)
            else:
                resume = False
    return moved_to, resume


def train_run(ds, model_name: str, out_dir, profile: str | Profile | None = None, *, device=None,
              progress: bool = True, other_run: str = "refuse", precision: str | None = None, seed: int | None = None,
              max_steps: int | None = None, time_limit: float | None = None, eval_every: int | None = None) -> dict:
    """Train ``model_name`` on the store's train split, validating on its valid split (resumable).

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
    model_name : {'crnn', 'crnn-temporal', 'baseline'} or a name of :data:`RUN_VARIANTS`
    out_dir : path-like
        Run folder; ``last.pt`` and ``best.pt`` are written after every epoch, and an existing ``last.pt``
        of the same configuration (same model, hyperparameters and store, the store compared by its
        fingerprints, not by the path it is reached by) is resumed.
    profile : str or Profile, optional
        Training hyperparameters; default: the profile the store was built with.
    device : str, optional
        Default: cuda, then mps, then cpu.
    precision : {'fp32', 'bf16', 'fp16'}, optional
        Arithmetic of the forward pass (:attr:`genre_utils.config.TrainConfig.precision`); default
        :func:`genre_utils.devices.default_precision` of the device (bf16 on a CUDA device that supports it
        and on a CPU with bfloat16 units, fp32 elsewhere).
    seed : int, optional
        Training seed (weight initialisation and batch order) instead of the profile's; the data stay the
        profile's (:func:`run_train_config`).
    other_run : {'refuse', 'move', 'replace'}
        What to do when ``out_dir`` holds a run of another configuration (or an unreadable checkpoint):
        ``'refuse'`` raises :class:`~genre_utils.errors.RunMismatchError` saying what differs and keeps
        everything; ``'move'`` renames the folder to ``<out_dir>.old-<n>`` and starts afresh;
        ``'replace'`` deletes its checkpoints and starts afresh (the build's own run folders, which are
        caches).
    max_steps, time_limit, eval_every : optional
        Stop early and log validation every so many steps (:func:`genre_utils.train.fit`); the same call
        without them continues the run.

    Returns
    -------
    info : dict
        ``history`` (per-epoch losses, accuracies and seconds), ``train_seconds``, ``config``, and
        ``moved_to`` (the folder the earlier run was moved to, or None).

    Raises
    ------
    genre_utils.errors.UserError
        The store has no training or no validation windows; or (``other_run='refuse'``) the folder holds
        another run.
    """
    if other_run not in OTHER_RUN:
        raise ValueError(f"other_run must be one of {', '.join(OTHER_RUN)}, not {other_run!r}")
    profile = get_profile(profile or ds.profile)
    cfg = run_train_config(profile, model_name, device, precision, seed)
    X_train, y_train, _ = ds.split("train")
    X_valid, y_valid, _ = ds.split("valid")
    _require_windows(ds, ("training", len(y_train)), ("validation", len(y_valid)), purpose="train on")
    config = {"model": model_name, "profile": profile.name, "train": cfg.to_dict(),
              "features": dataclasses.asdict(ds.params), "dataset": str(ds.root),
              "dataset_key": ds.info["cache_key"], "data_fingerprint": ds.info["data_fingerprint"]}
    plain = json.loads(json.dumps(config))
    # resume only a run of exactly this configuration; never silently discard one of another. Under torchrun
    # rank 0 decides (and moves), every rank follows
    # rank 0 also holds the run folder's lock for the whole training: a second `genre-utils train` into the same
    # folder stops with one line instead of racing this one for best.pt
    out_dir, dist = Path(out_dir), distributed(device)
    with contextlib.ExitStack() as held:
        decision = None
        if dist.main:
            try:
                decision = _settle_run_folder_locked(out_dir, plain, other_run, held)
            except UserError as err:  # RunMismatchError, FolderLocked
                decision = err
        decision = dist.broadcast(decision)
        if isinstance(decision, Exception):
            raise decision
        moved_to, resume = decision
        model = build_profile_model(cfg.model, cfg, X_train, ds.params.shape, ds.mean, ds.std)
        t0 = time.perf_counter()
        history = fit(model, X_train, y_train, X_valid, y_valid, cfg, out_dir=out_dir, device=device,
                      progress=progress, config=config, keep_epochs=False, resume=resume, max_steps=max_steps,
                      time_limit=time_limit, eval_every=eval_every)
    return {"history": history, "train_seconds": time.perf_counter() - t0, "config": config, "moved_to": moved_to}


def _settle_run_folder_locked(out_dir: Path, plain: dict, other_run: str, held: contextlib.ExitStack):
    """:func:`_settle_run_folder` under the run folder's lock, which ``held`` keeps until training ends (a folder
    moved aside takes its lock file along, so the fresh folder is locked anew)."""
    first = contextlib.ExitStack()
    first.enter_context(folder_lock(out_dir, "training"))
    try:
        moved_to, resume = _settle_run_folder(out_dir, plain, other_run)
    except BaseException:
        first.close()
        raise
    if moved_to is None:
        held.push(first)
    else:
        first.close()
        held.enter_context(folder_lock(out_dir, "training"))
    return moved_to, resume


def _require_windows(ds, *counts, purpose: str) -> None:
    empty = [name for name, n in counts if n == 0]
    if empty:
        have = ", ".join(f"{s} {n}" for s, n in (ds.info.get("n_windows") or {}).items())
        raise UserError(f"the feature store {ds.root} has no {' and no '.join(empty)} windows (windows: {have}), "
                        f"so there is nothing to {purpose}; build it from more tracks (several per genre) "
                        "or another --split")


def check_run_matches_store(ckpt: dict, ds, run_dir) -> None:
    """Refuse to evaluate a run on a store it was not trained on.

    The checkpoint's recorded feature parameters, the model's input shape, and the store's data fingerprint
    and cache key must all be those of ``ds``; otherwise the scores would be meaningless (features of
    another kind, or test windows the model was trained on).

    Raises
    ------
    genre_utils.errors.RunMismatchError
        Naming what differs and the store the run was trained on.
    """
    config = ckpt.get("config") or {}
    problems = []
    feats = config.get("features")
    if feats is not None and feats != json.loads(json.dumps(dataclasses.asdict(ds.params))):
        store = dataclasses.asdict(ds.params)
        diff = [f"{k} {feats.get(k)} (run) vs {store.get(k)} (store)" for k in sorted(set(feats) | set(store))
                if feats.get(k) != store.get(k)]
        problems.append("features " + ", ".join(diff))
    shape = ((ckpt.get("model_spec") or {}).get("kwargs") or {}).get("input_shape")
    if shape is not None and list(shape) != list(ds.params.shape):
        problems.append(f"model input shape {tuple(shape)} vs store windows {tuple(ds.params.shape)}")
    if not problems:
        for key, name in (("data_fingerprint", "data fingerprint"), ("dataset_key", "cache key")):
            mine = ds.info.get("cache_key" if key == "dataset_key" else key)
            if config.get(key) is not None and config.get(key) != mine:
                problems.append(f"store {name} {config.get(key)} (run) vs {mine} (store)")
    if problems:
        trained_on = f" (it was trained on {config['dataset']})" if config.get("dataset") else ""
        raise RunMismatchError(
            f"{run_dir} was not trained on the feature store {ds.root}{trained_on}: {'; '.join(problems)}; "
            "nothing was written. Evaluate it with --data set to the store it was trained on, or train a run on "
            "this store")


def scan_skipped_records(skipped, root) -> list[dict]:
    """The files a new-data folder scan left out, as ``{"file", "reason"}`` records for ``results.json``.

    Parameters
    ----------
    skipped : list of genre_utils.sources.Skipped
        From :func:`genre_utils.sources.scan_folder` (absolute ``path`` and ``reason``).
    root : path-like
        The scanned folder; ``file`` is the path relative to it (``reggae/cut.wav``), or the path as given
        when it lies outside.
    """
    root = Path(root).resolve()
    out = []
    for item in skipped:
        path = Path(str(item.path))
        try:
            name = path.resolve().relative_to(root).as_posix()
        except ValueError:
            name = path.as_posix()
        out.append({"file": name, "reason": str(item.reason)})
    return sorted(out, key=lambda r: r["file"])


def evaluate_run(ds, run_dir, *, newdata=None, max_segments: int | None = None, device=None,
                 progress: bool = True, data_description: str = "", key: str | None = None) -> RunResults:
    """Evaluate a run's ``best.pt`` on the store's test split (and a labelled folder); write ``results.json``.

    Parameters
    ----------
    ds : genre_utils.dataset.Dataset
        The store the run was trained on (its test split is evaluated).
    run_dir : path-like
        Folder holding ``best.pt``; ``results.json`` is written there.
    newdata : path-like, optional
        Labelled folder ``<dir>/<genre>/<file>`` evaluated with the same features (paper section 9).
    max_segments : int, optional
        Windows per new-data file (default: the profile's test segments per track).
    device : str, optional
    data_description : str
        Which data the store holds (synthetic or real), copied into the results.
    key : str, optional
        Cache key stored with the results.

    Returns
    -------
    results : RunResults
        As written to ``results.json``: ``headline`` (segment and 30-s track accuracy, best epoch,
        training seconds, ...), ``history``, ``test`` (confusions, per-genre tables, per-track and
        per-segment predictions), ``newdata``, ``config``, ``dataset`` (fingerprints, counts) and
        ``versions``.
    """
    run_dir = Path(run_dir)
    scored = file_sha256(run_dir / "best.pt") if (run_dir / "best.pt").is_file() else None
    best, ckpt = load_checkpoint(run_dir / "best.pt", device=device)
    check_run_matches_store(ckpt, ds, run_dir)
    precision = checkpoint_precision(ckpt, best)   # as it trained and was validated, where this machine can
    if max_segments is None:
        max_segments = ds.profile.test_segments_per_track
    X_test, y_test, test_rows = ds.split("test")
    _require_windows(ds, ("test", len(y_test)), purpose="evaluate on")
    t0 = time.perf_counter()
    test = evaluate_segments(best, X_test, y_test, test_rows["track_id"].to_numpy(),
                             segment_ids=test_rows["segment_id"].to_numpy(), device=device, precision=precision)
    test["tracks"] = test["tracks"].merge(
        test_rows.drop_duplicates("track_id")[["track_id", "source", "path"]], on="track_id", how="left")
    eval_seconds = time.perf_counter() - t0
    # the validation windows as the tested checkpoint classifies them (its best epoch's validation accuracy),
    # kept per window with its track so that the accuracy's interval can resample tracks
    X_valid, y_valid, valid_rows = ds.split("valid")
    valid_right = (predict_proba(best, X_valid, device=device, precision=precision).argmax(axis=1) == y_valid
                   if len(y_valid) else [])
    valid = {"windows": pd.DataFrame({"track_id": valid_rows["track_id"].astype(str).to_numpy(),
                                      "correct": np.asarray(valid_right, dtype=bool)})}

    newdata_table, newdata_summary = None, None
    if newdata is not None:
        found, skipped = scan_folder(newdata, progress=progress)
        table = evaluate_files(best, [t.path for t in found], ds.params, [t.label for t in found],
                               max_segments=max_segments, device=device, progress=progress, precision=precision)
        ok = table[table["error"] == ""]
        newdata_table = table
        newdata_summary = {
            "n_files": int(len(table)), "n_failed": int(len(table) - len(ok)), "n_skipped_by_scan": len(skipped),
            "skipped": scan_skipped_records(skipped, newdata),
            "accuracy": float(ok["correct"].mean()) if len(ok) else None,
            "confusion": confusion(ok["label"].map(GENRES.index), ok["pred"], len(GENRES)) if len(ok) else None,
        }

    history = read_history(run_dir)
    results = {
        "key": key,
        "checkpoint_sha256": scored,  # the best.pt these numbers are of (stale_results)
        "model": ckpt["model_spec"]["name"],
        "n_parameters": count_parameters(best),
        "scoring_precision": precision,   # the forward pass's arithmetic here (checkpoints.checkpoint_precision)
        "training_threads": ckpt.get("threads"),   # torch's intra-op threads in training (None: an older checkpoint)
        "data_description": data_description,
        "headline": {
            "segment_accuracy": test["segment_accuracy"],
            "track_accuracy": test["track_accuracy"],
            "n_test_segments": test["n_segments"],
            "n_test_tracks": test["n_tracks"],
            "best_epoch": ckpt.get("best_epoch"),
            "best_valid_accuracy": ckpt.get("best_valid_acc"),
            "final_train_accuracy": history["train_acc"][-1] if history.get("train_acc") else None,
            "train_seconds": round(float(sum(history.get("epoch_seconds", []))), 2),
            "eval_seconds": round(eval_seconds, 2),
            "newdata_accuracy": newdata_summary["accuracy"] if newdata_summary else None,
        },
        "history": history,
        "test": {k: test[k] for k in ("segment_confusion", "track_confusion", "segment_per_genre",
                                      "track_per_genre", "tracks", "segments")},
        "valid": valid,
        "newdata": {"summary": newdata_summary, "files": newdata_table},
        "config": ckpt.get("config"),
        "dataset": {k: ds.info.get(k) for k in ("data_fingerprint", "code_fingerprint", "n_windows",
                                                "tracks_per_split", "split_method", "profile")},
        "genres": list(GENRES),
        "code_fingerprint": code_fingerprint("experiments"),
    }
    write_results(run_dir / "results.json", results)
    return load_results(run_dir)


def _folder_stamp(folder) -> list | None:
    """(relative path, size, mtime) of every file under ``folder``: the cheap fingerprint of an input folder."""
    if not folder:
        return None
    folder = Path(folder)
    if not folder.is_dir():
        return [str(folder), None]
    return [str(folder)] + [[p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns]
                            for p in sorted(folder.rglob("*")) if p.is_file()]


def run_train_config(profile: Profile, model_name: str, device=None, precision: str | None = None,
                     seed: int | None = None) -> TrainConfig:
    """The settings a run trains with: the profile's, for ``model_name``, in ``precision`` or else the default
    precision of the device it will run on (bf16 on a CUDA device or CPU that has it, fp32 elsewhere), and with a
    training ``seed`` (weight initialisation and batch order) other than the profile's when one is given: the
    data (corpus, split, windows) stay the profile's. The one place :func:`train_run` and :func:`run_key` take
    them from, so the cache key is what trains. A run name of :data:`RUN_VARIANTS` gives its model with its
    changed settings."""
    model, changes = RUN_VARIANTS.get(model_name, (model_name, {}))
    cfg = train_config(profile, model, precision or default_precision(select_device(device))).replace(**changes)
    return cfg if seed is None else cfg.replace(seed=int(seed))


def run_key(ds, model_name: str, profile: str | Profile | None = None, newdata=None, device=None,
            precision: str | None = None, seed: int | None = None) -> str:
    """Cache key of one run: everything its ``results.json`` depends on.

    The store's cache key and data fingerprint (the content hashes of the tracks it was built from), the
    model, the training hyperparameters, the code of :mod:`genre_utils.experiments` and every module it
    imports, the versions of the libraries a run depends on, and the new-data folder's files (path, size,
    modification time).
    """
    profile = get_profile(profile or ds.profile)
    return fingerprint(ds.info["cache_key"], ds.info.get("data_fingerprint"), model_name,
                       run_train_config(profile, model_name, device, precision, seed).to_dict(),
                       code_fingerprint("experiments"), library_key("run"), _folder_stamp(newdata))


def cached_run(ds, model_name: str, out_dir, profile: str | Profile | None = None, *, newdata=None, device=None,
               seed: int | None = None) -> RunResults | None:
    """The results :func:`run_experiment` would return without training, or None when it would train: those
    of ``out_dir/results.json`` when they carry the run's current :func:`run_key` and describe the folder's
    ``best.pt``."""
    profile = get_profile(profile or ds.profile)
    return _up_to_date(Path(out_dir), run_key(ds, model_name, profile, newdata, device, seed=seed))


def _up_to_date(out_dir: Path, key: str) -> RunResults | None:
    if not (out_dir / "results.json").is_file():
        return None
    try:
        cached = load_results(out_dir)
    except (OSError, ValueError):  # unreadable or cut short: not trusted, evaluated again
        return None
    return cached if cached.key == key and stale_results(out_dir) is None else None


def run_experiment(ds, model_name: str, out_dir, profile: str | Profile | None = None, *, newdata=None,
                   device=None, progress: bool = True, data_description: str = "",
                   seed: int | None = None) -> RunResults:
    """:func:`train_run` then :func:`evaluate_run`, skipped entirely when ``results.json`` is up to date.

    ``seed`` trains with another training seed than the profile's (:func:`run_train_config`), on the same data.

    The cache key combines the store's key, the model, the training hyperparameters and the code of the
    modules that decide the numbers, so a changed input or setting retrains (resuming where possible).
    """
    profile = get_profile(profile or ds.profile)
    out_dir = Path(out_dir)
    key = run_key(ds, model_name, profile, newdata, device, seed=seed)
    cached = _up_to_date(out_dir, key)
    if cached is not None:
        return cached
    # the build's run folders are caches keyed on their inputs: a stale one is replaced
    train_run(ds, model_name, out_dir, profile, device=device, progress=progress, other_run="replace", seed=seed)
    return evaluate_run(ds, out_dir, newdata=newdata, device=device, progress=progress,
                        data_description=data_description, key=key)
