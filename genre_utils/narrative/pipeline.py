"""Sentences about the data, the split and training: counts, near-duplicates, the best epoch and the
measured run of the paper's recipe."""

from __future__ import annotations

from ..stats import Accuracy, wilson_interval
from .common import counted, join_names, percent

__all__ = ["windows_per_genre_phrase", "split_sentence", "near_duplicates_sentence", "artist_share_sentence",
           "failed_files_sentence", "best_epoch_sentence", "paper_recipe_sentence", "paper_recipe_test_sentence",
           "paper_recipe_provenance",
           "paper_cost_sentence"]


def windows_per_genre_phrase(per_genre) -> str:
    """How many windows each genre gets, and in all: ``'200 per genre (2,000 in all)'``.

    Parameters
    ----------
    per_genre : mapping or Series
        Genre -> number of windows (the balanced plan gives every genre the same number, or one more for
        the first genres when the total does not divide by ten).
    """
    values = [int(v) for v in dict(per_genre).values()]
    if not values:
        return "none"
    low, high, total = min(values), max(values), sum(values)
    each = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    return f"{each} per genre ({total:,} in all)"


def split_sentence(fractions, tracks_per_split: dict, regular_per_genre: int, test_only_per_genre: int,
                   test_tracks_per_genre: int, synthetic: bool = True,
                   test_range: tuple[int, int] | None = None) -> str:
    """How the track split comes out: the paper's fractions over the regular clips, plus any test-only clips.

    Parameters
    ----------
    fractions : (train, valid, test) fractions of the split (:attr:`genre_utils.config.Profile.split_fractions`).
    tracks_per_split : dict
        ``{'train': n, 'valid': n, 'test': n}`` of the store (``ds.info['tracks_per_split']``).
    regular_per_genre : int
        The synthetic corpus's regular GTZAN-layout clips per genre (``synth_tracks_per_genre``).
    test_only_per_genre : int
        Extra GTZAN-layout clips per genre rendered for the test split only (``Profile.test_only_per_genre``).
    test_tracks_per_genre : int
        The GTZAN-layout test tracks per genre these clips guarantee (``Profile.test_tracks_per_genre``).
    synthetic : bool
        Whether the store holds the synthetic corpus (test-only clips exist only there).
    test_range : (int, int), optional
        The fewest and most test tracks any genre has in the store (all sources), said as they are.
    """
    share = "/".join(f"{100 * f:.0f}" for f in fractions)
    n = {k: int(tracks_per_split.get(k, 0)) for k in ("train", "valid", "test")}
    total = sum(n.values())
    counts = (f"{n['train']:,} training, {n['valid']:,} validation and {n['test']:,} test tracks "
              f"({total:,} in all)")
    ranged = ""
    if test_range is not None:
        low, high = (int(x) for x in test_range)
        ranged = (f" (here every genre has {low:,})" if low == high
                  else f" (here each genre has {low:,} to {high:,})")
    if synthetic and test_only_per_genre > 0:
        pct = "/".join(f"{100 * n[k] / total:.0f}" for k in ("train", "valid", "test")) if total else "n/a"
        return (f"Each genre's regular tracks ({regular_per_genre:,} GTZAN-layout clips and its FMA-layout tracks) are "
                f"split {share} by track, as the paper splits its clips. The synthetic corpus then adds "
                f"{counted(test_only_per_genre, 'test-only clip')} per genre, which go to the test split only; they "
                f"are meant to give every genre at least {test_tracks_per_genre:,} test tracks, as the paper's 30-s "
                f"test has {test_tracks_per_genre:,} pieces per genre{ranged}, and training and validation keep "
                f"exactly the tracks they would have without them. The GTZAN layout therefore holds "
                f"{regular_per_genre + test_only_per_genre:,} clips per genre, and the split gives {counts}, "
                f"{pct} % rather than {share}.")
    return f"The tracks are split {share} by track, as the paper splits its clips: {counts}."


def near_duplicates_sentence(n_pairs: int, n_cross: int, n_cross_test: int | None = None) -> str:
    """What the near-duplicate check means for the claim that the test tracks were never trained on.

    Parameters
    ----------
    n_pairs : int
        Near-duplicate candidate pairs reported (not grouped).
    n_cross : int
        Of these, pairs whose two tracks lie in different splits.
    n_cross_test : int, optional
        Of these, pairs with one track in training and the other in test.
    """
    head = "Identical recordings are grouped into one split"
    if not n_pairs:
        return head + ", and the check for overlapping excerpts finds no candidate pair."
    pairs = counted(n_pairs, "near-duplicate candidate pair")
    are = "is" if n_pairs == 1 else "are"
    if not n_cross:
        each = "it lies" if n_pairs == 1 else "each lies"
        return head + f"; the {pairs} listed on the data page {are} not grouped, but {each} within one split."
    test = ""
    if n_cross_test is not None:
        test = (f", {n_cross_test} of them with one track in training and the other in test" if n_cross_test
                else ", none of them between training and test")
    return (head + f"; the {pairs} listed on the data page {are} not grouped, and {n_cross} of them "
            f"{'spans' if n_cross == 1 else 'span'} two splits{test}.")


def artist_share_sentence(n_without: int, n_tracks: int) -> str:
    """What the artist ablation can test, given how many tracks have no artist (each its own unit, as by track)."""
    if not n_tracks:
        return ""
    if not n_without:
        return ("Every track has an artist, so the artist split differs from the track split wherever an artist "
                "has more than one track.")
    if n_without == n_tracks:
        return "No track has an artist, so the artist split is the track split here and the ablation tests nothing."
    head = (f"Those {n_without:,} tracks ({percent(n_without / n_tracks, 0)}) are each their own unit, as under the "
            "track split")
    if n_without / n_tracks >= 0.5:
        return head + ", so this ablation tests little here."
    return head + f"; only the grouping of the other {n_tracks - n_without:,} differs."


def failed_files_sentence(n_failed: int, n_files: int, n_skipped: int = 0) -> str:
    """Whether every new-data file could be classified, counting those the folder scan left out before decoding.

    Parameters
    ----------
    n_failed : int
        Files that reached the classifier but could not be decoded.
    n_files : int
        Files that reached the classifier (``n_failed`` included).
    n_skipped : int
        Files the scan of the folder left out before any decoding (too short, empty, not audio, outside a
        genre folder, ...); the page lists them with their reasons.
    """
    if not n_files and not n_skipped:
        return "There are no new-data files."
    fail = (f"{n_failed} {'was' if n_failed == 1 else 'were'} unreadable and {'is' if n_failed == 1 else 'are'} "
            "left out (the table below gives the reason)")
    if not n_skipped:
        return (f"All {n_files:,} files could be read." if not n_failed
                else f"{n_failed} of {n_files:,} files {fail.split(' ', 1)[1]}.")
    total = n_files + n_skipped
    which = f"all {n_skipped:,} of its files" if not n_files else f"{n_skipped:,} of its {total:,} files"
    head = (f"The scan of the folder left out {which} before decoding (listed below with "
            f"{'its reason' if n_skipped == 1 else 'their reasons'})")
    if not n_files:
        return head + ", so no file was classified."
    if not n_failed:
        return head + f"; the other {n_files:,} could all be read."
    return head + f"; of the other {n_files:,}, {fail}."


def best_epoch_sentence(history: dict, best_epoch: int | None = None, n_valid: int | None = None) -> str:
    """Whether the epoch kept (the best on validation) is the last one, i.e. whether training had stopped improving.

    Parameters
    ----------
    history : dict
        ``valid_acc`` (one fraction per epoch) and optionally ``epoch`` (their numbers, from 1).
    best_epoch : int, optional
        The epoch kept; default: the first epoch with the highest validation accuracy (ties go to the
        earliest, as :func:`genre_utils.train.fit` keeps them).
    n_valid : int, optional
        Validation windows behind each accuracy, named with the numbers. When the last epoch is the best, its
        gain over the one before is weighed against them: a gain no larger than the half-width of the last
        accuracy's 95 % Wilson interval is called a flattened curve, a larger one a curve still rising.
    """
    accs = [float(x) for x in history.get("valid_acc") or []]
    if not accs:
        return "No epoch was validated, so no model could be chosen by its validation accuracy."
    epochs = [int(e) for e in history.get("epoch") or range(1, len(accs) + 1)]
    top = max(round(x, 12) for x in accs)
    first_best = epochs[[round(x, 12) for x in accs].index(top)]
    best = int(best_epoch) if best_epoch is not None else first_best
    last = epochs[-1]
    on = f"on {n_valid:,} validation windows, " if n_valid else ""
    if len(accs) == 1:
        return ("Training ran a single epoch, so the model kept is that epoch's; one point of the validation curve "
                "cannot show whether more training would help.")
    i_best = epochs.index(best) if best in epochs else len(epochs) - 1
    if best == last:
        gain = accs[-1] - accs[-2]
        if n_valid:
            low, high = wilson_interval(round(accs[-1] * n_valid), n_valid)
            if gain <= (high - low) / 2:   # the last step is smaller than the noise of one validation accuracy
                return (f"Epoch {last} is the last epoch and the best, but the curve has flattened: its gain over "
                        f"epoch {epochs[-2]} ({100 * gain:+.1f} points, {on}{percent(accs[-2])} then "
                        f"{percent(accs[-1])}) is within the half-width of one validation accuracy's 95 % interval "
                        f"({100 * (high - low) / 2:.1f} points), so more epochs of the same schedule are unlikely to "
                        "add much that this validation set could show.")
        return (f"Epoch {last} is the last epoch: validation accuracy had not yet stopped rising when training "
                f"ended ({on}{percent(accs[-2])} in epoch {epochs[-2]}, {percent(accs[-1])} in epoch {last}), so the "
                "model kept is simply the last epoch's, and longer training might do better.")
    ties = [e for e, x in zip(epochs, accs) if round(x, 12) == top and e != best]
    tie_text = (f"; epoch{'s' if len(ties) > 1 else ''} {join_names(ties)} matched it, and the earliest is kept"
                if ties else "")
    later = last - best
    return (f"Epoch {best} is not the last of the {len(accs)} epochs{tie_text}: the {later} later "
            f"epoch{'s' if later > 1 else ''} did not improve on it ({on}epoch {last} reached {percent(accs[-1])}, "
            f"against {percent(accs[i_best])}), so the model kept is epoch {best}'s, not the last one's.")


def paper_recipe_sentence(record: dict) -> str:
    """What a measured run of the paper's recipe shows (:mod:`genre_utils.bench.paper_recipe` record).

    Compares the validation accuracy of the first and last rows of the step log with their Wilson
    intervals (n = the validation windows): "rose" or "fell" only when the intervals do not overlap,
    otherwise "did not change beyond noise"; says whether the last accuracy is above chance (10 %), and that a
    Wilson interval over windows cut from far fewer tracks understates the uncertainty; and states the full
    run's time as a projection from the measured rate.
    """
    log = record["step_log"]
    n = int(record["store"]["n_windows"]["valid"])
    cfg = record["train_config"]
    first, last = log[0], log[-1]
    a = Accuracy(round(first["valid_acc"] * n), n)
    b = Accuracy(round(last["valid_acc"] * n), n)
    minutes = last["seconds"] / 60
    done = (f"{last['step']:,} optimiser steps ({last['epoch']:.2f} of the {cfg['epochs']} epochs) in "
            f"{minutes:.0f} minutes of training")
    start = "before the first step" if first["step"] == 0 else f"at step {first['step']:,}"
    if last["step"] == first["step"]:
        change = f"validation accuracy was {b.text('windows')}"
    elif b.interval[0] > a.interval[1]:
        change = f"validation accuracy rose from {percent(a.value)} {start} to {b.text('windows')}"
    elif b.interval[1] < a.interval[0]:
        change = f"validation accuracy fell from {percent(a.value)} {start} to {b.text('windows')}"
    else:
        change = (f"validation accuracy did not change beyond noise: {percent(a.value)} {start}, "
                  f"{b.text('windows')} at the end")
    low, high = b.interval
    chance = ("above chance (10 %)" if low > 0.10 else
              "below chance (10 %)" if high < 0.10 else "not distinguishable from chance (10 %)")
    text = (f"In {done}, {change}, {chance}. That interval is Wilson's over the {n:,} validation windows; they are "
            "cut from far fewer validation tracks, many windows from each, so they are not independent draws and "
            "the real uncertainty is wider than it shows (the run kept no per-track record to resample).")
    rate, hours = record.get("windows_per_s"), record.get("projected_full_run_h")
    if rate and hours:
        since = int(record.get("rate_from_step") or 0)
        span = f" (measured from step {since:,} on, in the run's last session)" if since else ""
        text += (f" At the measured {rate:.0f} training windows per second{span}, the paper's {cfg['epochs']} epochs "
                 f"({record['full_run_windows']:,} windows) would take about {hours:.1f} hours on this machine: "
                 "a projection from the rate, not a measured run.")
    return text + " " + paper_recipe_test_sentence(record)


def paper_recipe_test_sentence(record: dict) -> str:
    """How the measured run's best checkpoint does on the test tracks and the new data (the record's
    ``evaluation``), chosen by what the record holds: no test (an older record), no checkpoint (no epoch
    finished), or the counts with Wilson's interval over whole tracks and files."""
    if "evaluation" not in record:
        return ("This record keeps no test of the run's checkpoint (it was measured before the benchmark tested "
                "one); measuring it again adds the test accuracy.")
    ev = record["evaluation"]
    if ev is None:
        return "The run stopped before it finished an epoch, so there is no checkpoint to test."
    tracks = Accuracy(ev["test_tracks"]["k"], ev["test_tracks"]["n"])
    text = (f"Its best checkpoint (epoch {ev['best_epoch']}) classifies {tracks.text('test tracks')} correctly by "
            "the 30-s vote")
    nd = ev.get("newdata_files")
    if nd:
        text += f", and {Accuracy(nd['k'], nd['n']).text('new-data files')} of the new data"
    return text + "."


def paper_recipe_provenance(record: dict, source: str) -> str:
    """Where, when and how the paper-recipe record was measured, and that ``make book`` does not re-run it."""
    m = record.get("machine") or {}
    versions = record.get("versions") or {}
    device = str(record.get("device", "cpu"))
    where = (f"{m.get('cores')} CPU cores ({m.get('cpu_model')})" if device.startswith("cpu") else device)
    commit = f", commit {record['commit']}" if record.get("commit") else ""
    store = record.get("store") or {}
    data = ("the synthetic corpus" if store.get("synthetic") else "real recordings" if store.get("synthetic") is False
            else "its data")
    return (f"Measured on {str(record.get('created', ''))[:10]} on {where}, torch {versions.get('torch')}, "
            f"{record.get('precision')}{commit}, with {data} at the paper profile's sizes "
            f"({store.get('n_windows', {}).get('train', 0):,} training and "
            f"{store.get('n_windows', {}).get('valid', 0):,} validation windows); shown from {source}. "
            "`make book` does not re-run it: `python -m genre_utils.bench --skip-micro --paper-recipe STORE "
            "--time-limit 45m` (STORE built by `make data PROFILE=paper`) measures it again on your machine, "
            "or on your GPU, and this page then shows that record.")


def paper_cost_sentence(record: dict | None) -> str:
    """One sentence on what the paper's full training costs, from a measured paper-recipe record (or None)."""
    if not record or not record.get("windows_per_s") or not record.get("projected_full_run_h"):
        return "Its training time has not been measured here."
    device = str(record.get("device", "cpu"))
    cores = (record.get("machine") or {}).get("cores")
    where = f"{cores} CPU cores" if device.startswith("cpu") else device
    minutes = record["step_log"][-1]["seconds"] / 60
    return (f"The project measured {minutes:.0f} minutes of one such run on {where} "
            f"({str(record.get('created', ''))[:10]}): at {record['windows_per_s']:.0f} training windows per second, "
            f"the {record['train_config']['epochs']} epochs would take about {record['projected_full_run_h']:.1f} "
            "hours there, a projection from the measured part, which the [training page](training.ipynb) shows"
            + (". No GPU run has been measured." if device.startswith("cpu") else "."))
