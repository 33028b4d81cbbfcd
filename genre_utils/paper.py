"""What the paper reports, and where this build departs from it.

The numbers below are *citations* of Hsiang, Deng, Zhang & Leal (section given with each), kept in one place
so that the book can set them beside this build's numbers; nothing here is a result of this project.
"""

from __future__ import annotations

import pandas as pd

from .config import Profile, get_profile

__all__ = ["REPORTED", "reported_table", "deviations"]

#: The paper's reported values: key -> (value, where in the paper, what it measures).
REPORTED: dict[str, tuple[float, str, str]] = {
    "n_clips": (9000, "4.3", "30-s clips after cleaning (GTZAN + FMA)"),
    "n_train_windows": (100_000, "4.3", "balanced 5-s training windows"),
    "n_valid_windows": (10_000, "4.3", "balanced 5-s validation windows"),
    "n_test_segments": (7428, "4.4", "5-s test segments (30-s clips cut in six)"),
    "lr": (2e-5, "5.3", "Adam learning rate"),
    "weight_decay": (0.005, "5.3", "Adam weight decay"),
    "batch_size": (200, "5.3", "batch size"),
    "epochs": (15, "5.3", "epochs"),
    "baseline_train_accuracy": (0.77, "6", "baseline training accuracy"),
    "baseline_valid_accuracy": (0.50, "6", "baseline validation accuracy"),
    "segment_accuracy": (0.665, "7", "test accuracy on 5-s segments"),
    "track_accuracy": (0.70, "7, 9", "test accuracy on 30-s pieces by majority vote (16 per genre)"),
    "n_tracks_per_genre": (16, "7", "30-s test pieces per genre behind the confusion matrix"),
    "classical_accuracy": (0.938, "7", "per-genre accuracy, classical (30-s)"),
    "metal_accuracy": (0.938, "7", "per-genre accuracy, metal (30-s)"),
    "pop_accuracy": (0.312, "7", "per-genre accuracy, pop (30-s)"),
    "pop_as_rock": (0.375, "7", "share of pop pieces predicted as rock"),
    "pop_false_positive_rate": (0.643, "8", "pop 'false positive rate' (read here as 1 - precision)"),
    "newdata_accuracy": (0.633, "9", "mean accuracy on three 10-song sets from the web (60, 70, 60 %)"),
    "human_accuracy": (0.667, "9", "mean accuracy of two group members on the same sets (65, 65, 70 %)"),
}


def reported(key: str) -> float:
    """The paper's value for ``key`` (see :data:`REPORTED`)."""
    return REPORTED[key][0]


def reported_table() -> pd.DataFrame:
    """:data:`REPORTED` as a table: quantity, value, section."""
    return pd.DataFrame([{"quantity": what, "paper": value, "section": sec}
                         for value, sec, what in REPORTED.values()], index=list(REPORTED))


def deviations(profile: str | Profile) -> pd.DataFrame:
    """Every deliberate difference between the paper's set-up and this build, with the reason.

    Parameters
    ----------
    profile : str or Profile
        The build's profile (its sizes and hyperparameters fill the "this build" column).

    Returns
    -------
    table : DataFrame
        Columns ``aspect``, ``paper``, ``this build``, ``why``.
    """
    p = get_profile(profile)
    f = p.features
    rows = [
        ("data", "GTZAN + FMA ('MFA'), 9,000 clips",
         "synthetic corpus in both layouts by default; real GTZAN/FMA with GTZAN_DIR/FMA_DIR",
         "the real datasets cannot be downloaded here; the loaders are the same"),
        ("split unit", "not stated (random split of the clips)", "track level, stratified by genre",
         "windows of one recording in two splits inflate test accuracy"),
        ("balancing", "oversample minority genres to 100,000 / 10,000 windows",
         f"equal random windows per genre: {p.n_train:,} / {p.n_valid:,}",
         "same idea; every genre is drawn the same way, so no genre is favoured"),
        ("features", "librosa MFCC, parameters not stated",
         f"{f.height} MFCCs from {f.n_mels} mel bands, n_fft {f.n_fft}, hop {f.hop_length} ({f.shape[0]}x{f.shape[1]}); "
         "librosa's definition, computed in torch (equal per window, faster)",
         "the only frame rate consistent with the stated GRU input 256x1x12"),
        ("feature storage", "stringified arrays in a CSV", "float16 memory-mapped array + manifest",
         "faster and smaller (see the benchmarks)"),
        ("weight initialisation", "not stated",
         "CRNN: LeCun normal for the convolutions, He normal for the linear layers",
         "PyTorch's default shrinks the signal to the GRU (stuck at chance); He grows it through the max-pools "
         "until the GRU gates saturate"),
        ("normalisation", "not stated",
         "per-coefficient standardisation inside the model; the CRNN's around each window's own mean "
         "(cepstral mean normalisation)" if p.window_norm else "per-coefficient standardisation inside the model",
         "MFCC rows differ in scale by orders of magnitude"
         + ("; removing each window's mean takes away the recording's colour (EQ, level), which a small "
            "training set lets the CRNN memorise instead of learning how the music moves"
            if p.window_norm else "")),
        ("batch normalisation", "none",
         "in each of the 4 conv blocks, after the max-pool" if p.batchnorm else "none (as the paper)",
         "without it the paper's CRNN is still far from fitted after the few hundred optimiser steps of a "
         "CPU build; after the pool it normalises 4x fewer values and costs almost nothing; the paper "
         "profile keeps the paper's layers" if p.batchnorm else "faithful"),
        ("learning-rate schedule", "constant (none stated)",
         f"one-cycle: up to {p.lr:g} over 30 % of the steps, then down (Adam's beta1 cycles against it)"
         if p.schedule == "onecycle" else "constant",
         "reaches a good region in the few epochs a CPU build affords; the paper profile trains at the "
         "paper's constant rate" if p.schedule == "onecycle" else "faithful"),
        ("hidden linear layers", "1024 -> ... -> 10, sizes not stated", "1024 -> 256 -> 64 -> 10",
         "a gradual funnel; the paper only gives the ends"),
        ("dropout", "after every linear layer, rate not stated", f"after the two hidden layers, p = {p.dropout}",
         "dropout on the logits only adds noise"),
        ("GRU input", "256x1x12 = 3072 (a sequence of length 1)", "same ('paper'); 'temporal' variant as ablation",
         "faithful first; the 12-step reading is compared in the discussion"),
        ("learning rate", "2e-5", f"{p.lr:g}" + (" (peak)" if p.schedule == "onecycle" else ""),
         "paper value in the paper profile; larger for short CPU runs"),
        ("batch size", "200", f"{p.batch_size}", "paper value in the paper profile"),
        ("epochs", "15", f"{p.epochs}", "paper value in the paper profile"),
        ("model kept", "not stated", "epoch with the best validation accuracy", "standard early-stopping choice"),
        ("majority-vote ties", "not stated", "highest summed probability among the tied genres",
         "uses the evidence the votes discard"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this build", "why"])
