"""Benchmarks: the pipeline against the paper's approach and against the machine's own limit.

``make bench`` (``python -m genre_utils.bench --build-dir _build``) measures, side by side in one run on
one machine:

1. **feature extraction** - 30-s clips per second of :func:`genre_utils.features.extract` (one batched
   torch call on a clip's six 5-s windows, as the store runs it; and the store's own parallel path,
   :func:`genre_utils.store.extract_tracks`, decoding WAV files in ``num_threads()`` single-threaded
   processes) against the paper's approach, a Python loop with one ``librosa.feature.mfcc`` call per 5-s
   window in one process, on the same clips. The outputs are checked equal. Both single-process ways are
   also timed with torch, BLAS and OpenMP held to one thread (the extractor always computes in one
   thread; the paper's loop then loses its two-thread BLAS, which a busy machine slows most).
2. **feature storage** - load time and disk size of the same windows in the project's store (float16
   ``.npy`` memory-mapped then materialised as float32, plus a manifest CSV) and in the paper's format (a
   pandas CSV with one row per window, the MFCC matrix stringified by ``np.array2string`` with an infinite
   threshold, parsed back after ``pd.read_csv``).
3. **training** - CRNN (``'crnn'``, the paper variant) training samples/s at batch 200 on (64, 235)
   inputs, converted to GFLOP/s with torch's FLOP count and divided by the fp32 matmul GFLOP/s
   measured in the same run; channels_last (what :func:`genre_utils.train.fit` uses) and NCHW. Below the
   target, one step is profiled with ``torch.profiler`` to show what bounds it.
4. **prediction** - seconds of MP3 audio classified per second by
   :func:`genre_utils.evaluate.evaluate_files` (decode, features, a freshly initialised CRNN, vote).
5. **end to end** (only with ``--end-to-end PROFILE``, it takes minutes) - wall time and peak memory of
   ``python -m genre_utils.build book`` in a fresh build folder.

Results go to ``<build>/bench/report.json`` and ``<build>/bench/report.md`` (also printed). Every row has
a value, unit, target, status (``pass``, ``fail`` or ``report``), the raw timings (every run; the best is
the headline) and ``other_cores``, the number of cores other processes kept busy while the row was
measured (:class:`CpuMeter`). On a shared machine wall-clock speeds fall with that number, so the training
ratio is also given per CPU second, which other processes change much less (they still share caches and
memory bandwidth, and stall threads that wait for each other). ``--wait-quiet SECONDS`` waits for
idle cores before each benchmark. Benchmarks are not tests: the test suite only checks that this module
runs at tiny sizes.

FLOP count of the training benchmark
------------------------------------
FLOPs are counted by torch (:func:`genre_utils.bench.training.count_flops`, which runs one sample under
``torch.utils.flop_counter.FlopCounterMode``): every convolution and matrix product, the GRU's included, at
2 FLOPs per multiply-accumulate; element-wise work (ReLU, pooling, batch norm, the GRU's gate
non-linearities) is not counted. A training step's count is measured too (forward + backward), not taken
as a rule of thumb: for the paper's CRNN it is about 2.95x the forward count, not 3x, because neither the
window (first convolution) nor the GRU's zero initial state needs a gradient.
"""


from ..paper_method import extract_paper, parse_matrix, stringify_matrix
from .clips import make_clips
from .common import (
    E2E_RSS_TARGET_GB,
    E2E_TARGETS_MINUTES,
    BenchConfig,
    CpuMeter,
    machine_info,
    wait_until_quiet,
)
from .end_to_end import bench_end_to_end
from .features import bench_features, extract_project
from .prediction import bench_prediction
from .report import main, run, to_markdown, write_report
from .storage import bench_storage
from .training import bench_training, count_flops, matmul_gflops, time_training_steps

__all__ = [
    "BenchConfig",
    "E2E_TARGETS_MINUTES",
    "E2E_RSS_TARGET_GB",
    "CpuMeter",
    "wait_until_quiet",
    "machine_info",
    "make_clips",
    "extract_paper",
    "extract_project",
    "bench_features",
    "stringify_matrix",
    "parse_matrix",
    "bench_storage",
    "count_flops",
    "matmul_gflops",
    "time_training_steps",
    "bench_training",
    "bench_prediction",
    "bench_end_to_end",
    "run",
    "to_markdown",
    "write_report",
    "main",
]

