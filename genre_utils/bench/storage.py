"""Benchmark 2: feature storage, the project's float16 store against the paper's CSV of strings."""


import time
from pathlib import Path

import numpy as np

from ..genres import GENRES
from ..paper_method import load_paper_csv as _load_paper_csv
from ..paper_method import stringify_matrix
from ..paper_method import write_paper_csv as _write_paper_csv
from .common import bench_log, other_load, report_row, time_calls
from .features import compare_features


def tile_windows(features: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` windows of ``features`` repeated as often as needed (index ``i % len(features)``)."""
    return features[np.arange(n) % len(features)]


def _window_table(n: int, windows_per_clip: int, n_unique: int):
    """Metadata columns both formats store: segment id, track id, genre and label of each window."""
    import pandas as pd

    unique = np.arange(n) % n_unique
    track = unique // windows_per_clip
    return pd.DataFrame({"segment_id": [f"bench:{t:04d}@{k:06d}" for t, k in zip(track, np.arange(n))],
                         "track_id": [f"bench:{t:04d}" for t in track],
                         "genre": [GENRES[t % len(GENRES)] for t in track], "label": track % len(GENRES)})


def _write_project_store(folder: Path, features: np.ndarray, table) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "features.npy", features.astype(np.float16))
    table.assign(row=np.arange(len(table))).to_csv(folder / "manifest.csv", index=False)
    return [folder / "features.npy", folder / "manifest.csv"]


def _load_project_store(folder: Path):
    """Manifest plus the float16 memmap, materialised to float32 in RAM (what training does)."""
    import pandas as pd

    manifest = pd.read_csv(folder / "manifest.csv", keep_default_na=False)
    features = np.load(folder / "features.npy", mmap_mode="r")
    return manifest, np.asarray(features).astype(np.float32)



def bench_storage(features: np.ndarray, n_windows: int, folder: Path, repeat: int = 3,
                  windows_per_clip: int = 6) -> list[dict]:
    """Load time and disk size of the project's store vs the paper's CSV of stringified arrays.

    Both formats are written from the same ``n_windows`` windows (``features`` repeated as needed) with
    the same metadata columns, then loaded back to a float32 array in RAM.

    Parameters
    ----------
    features : ndarray, shape (n_unique, height, n_frames), float32
    n_windows : int
    folder : Path
        Scratch folder (the files are deleted by the caller).
    repeat : int
    windows_per_clip : int
        Only for the track ids of the metadata.

    Returns
    -------
    rows : list of dict
        ``storage_load`` (speed-up) and ``storage_size`` (size ratio).
    """
    data = tile_windows(features, n_windows)
    table = _window_table(n_windows, windows_per_clip, len(features))
    store_dir, csv_path = folder / "store", folder / "paper.csv"

    bench_log(f"storage: writing {n_windows} windows in both formats")
    t0 = time.perf_counter()
    store_files = _write_project_store(store_dir, data, table)
    store_write = time.perf_counter() - t0
    # identical windows give identical strings, so each distinct window is stringified once
    t0 = time.perf_counter()
    strings = [stringify_matrix(m) for m in features[:n_windows]]
    csv_files = _write_paper_csv(csv_path, strings, table)
    csv_write = time.perf_counter() - t0

    bench_log("storage: loading the project store")
    store_t, (manifest, loaded) = time_calls(lambda: _load_project_store(store_dir), repeat, warmup=0)
    bench_log("storage: loading the paper's CSV")
    csv_t, (frame, parsed) = time_calls(lambda: _load_paper_csv(csv_path), repeat, warmup=0)

    store_bytes = sum(p.stat().st_size for p in store_files)
    csv_bytes = sum(p.stat().st_size for p in csv_files)
    same_store = compare_features(loaded, data, rtol=2e-3, atol=1e-4)
    same_csv = compare_features(parsed, data, rtol=1e-5, atol=1e-4)
    ok = same_store["allclose"] and same_csv["allclose"] and len(manifest) == len(frame) == n_windows
    raw = {"n_windows": n_windows, "shape": list(data.shape[1:]), "project_load_s": store_t,
           "paper_load_s": csv_t, "project_write_s": store_write, "paper_write_s_distinct_strings": csv_write,
           "distinct_windows_stringified": len(strings), "project_bytes": store_bytes, "paper_bytes": csv_bytes,
           "project_equal": same_store, "paper_equal": same_csv, "page_cache": "warm (files just written)"}
    load_ratio = csv_t["best"] / store_t["best"]
    size_ratio = csv_bytes / store_bytes
    return [
        report_row("storage_load", f"feature storage: load {n_windows} windows, store vs paper CSV", load_ratio, "x",
                   ">=", 50.0, f"{store_t['best']:.3f} s vs {csv_t['best']:.2f} s; round trip equal: {ok}", raw,
                   status=None if ok else "fail", other_cores=other_load(store_t, csv_t)),
        report_row("storage_size", "feature storage: disk size, paper CSV / store", size_ratio, "x", ">=", 4.0,
                   f"{store_bytes / 1e6:.1f} MB vs {csv_bytes / 1e6:.1f} MB",
                   {"project_bytes": store_bytes, "paper_bytes": csv_bytes, "n_windows": n_windows}),
    ]
