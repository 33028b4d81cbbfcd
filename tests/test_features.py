"""Audio cutting, feature shapes, agreement with librosa and the feature parameters' arithmetic."""

import numpy as np
import pytest

from genre_utils.audio import AudioError, check_audio, cut_segments, load_audio, segment_starts, write_wav
from genre_utils.config import FeatureParams, get_profile
from genre_utils.features import _mel_blocks, extract, file_segments

RTOL, ATOL = 1e-4, 1e-3      # the benchmark's equality check (float32 STFT here, float64 in librosa)


def assert_same_features(got, want):
    """Equal up to float32 rounding: a window alone and in a batch may take differently blocked matrix
    products (on this CPU they are identical; on another they can differ in the last bits). The error of a
    float32 sum scales with the matrix's largest entry, so the absolute tolerance does too (~8 ulp of it)."""
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()))


def conv_pool_out(n, kernels=(5, 5, 3, 3)):
    for k in kernels:
        n = (n - k + 1) // 2
    return n


def test_default_params_give_the_papers_gru_input():
    p = FeatureParams()
    assert p.segment_samples == 110_250
    assert p.shape == (64, 235)
    assert conv_pool_out(p.height) == 1 and conv_pool_out(p.n_frames) == 12
    assert 256 * conv_pool_out(p.height) * conv_pool_out(p.n_frames) == 3072


def test_hop_range_documented_in_config():
    ok = [h for h in range(400, 520) if conv_pool_out(FeatureParams(hop_length=h).n_frames) == 12]
    assert ok[0] == 454 and ok[-1] == 485


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_extract_shape_and_determinism(kind):
    p = FeatureParams(kind=kind)
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal((3, p.segment_samples))).astype(np.float32)
    f = extract(y, p)
    assert f.shape == (3, 64, 235) and f.dtype == np.float32
    assert np.isfinite(f).all()
    assert np.array_equal(f, extract(y, p))       # the same call twice in one process: bitwise on any CPU
    assert extract(y[0], p).shape == (64, 235)
    # windows are independent: the batch equals the per-window results
    assert_same_features(f[1], extract(y[1], p))


def test_extract_rejects_wrong_length():
    with pytest.raises(ValueError, match="110250"):
        extract(np.zeros((1, 1000), np.float32))


def test_mfcc_and_logmel_differ():
    p = FeatureParams()
    y = np.sin(np.arange(p.segment_samples) * 2 * np.pi * 440 / 22050).astype(np.float32)
    assert not np.allclose(extract(y, p), extract(y, FeatureParams(kind="logmel")))


def test_segment_starts_keep_a_nearly_full_last_window():
    assert list(segment_starts(6 * 100 - 5, 100)) == [0, 100, 200, 300, 400, 500]
    assert list(segment_starts(6 * 100 - 50, 100)) == [0, 100, 200, 300, 400]
    assert list(segment_starts(1000, 100, max_segments=6)) == [0, 100, 200, 300, 400, 500]
    assert len(segment_starts(50, 100)) == 0


def test_cut_segments_zero_pads():
    y = np.arange(250, dtype=np.float32)
    seg = cut_segments(y, [0, 200], 100)
    assert seg.shape == (2, 100)
    assert seg[1, 49] == 249 and seg[1, 50] == 0


def test_check_audio_reasons():
    with pytest.raises(AudioError, match="silent"):
        check_audio(np.zeros(1000, np.float32), 10)
    with pytest.raises(AudioError, match="too short"):
        check_audio(np.ones(5, np.float32) * 0.5, 10)
    with pytest.raises(AudioError, match="no audio"):
        check_audio(np.zeros(0, np.float32), 10)


def test_load_audio_resamples_and_mixes_down(tmp_path):
    sr = 48_000
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    write_wav(tmp_path / "s.wav", stereo, sr)
    y = load_audio(tmp_path / "s.wav", 22050)
    assert y.ndim == 1 and abs(y.size - 22050) <= 1
    assert 0.45 < np.abs(y).max() < 0.55


def test_load_audio_bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"not a riff file at all" * 10)
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="unreadable"):
        load_audio(tmp_path / "junk.wav")
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "missing.wav")


def test_file_segments_of_a_long_file(tmp_path):
    p = get_profile("tiny").features
    y = 0.3 * np.sin(np.arange(int(12.2 * 22050)) * 0.05)
    write_wav(tmp_path / "a.wav", y, 22050)
    feats, starts = file_segments(tmp_path / "a.wav", p)
    assert feats.shape == (2, 64, 235)
    assert list(starts) == [0, p.segment_samples]


def librosa_features(window: np.ndarray, p: FeatureParams) -> np.ndarray:
    """The reference: librosa called on one window, as the paper did."""
    import librosa

    common = dict(y=window, sr=p.sample_rate, n_fft=p.n_fft, hop_length=p.hop_length)
    if p.kind == "mfcc":
        return librosa.feature.mfcc(n_mfcc=p.height, n_mels=p.n_mels, **common)
    return librosa.power_to_db(librosa.feature.melspectrogram(n_mels=p.height, **common), ref=1.0, amin=1e-10,
                               top_db=None)


def reference_windows(p: FeatureParams = FeatureParams()) -> dict:
    """Named 5-s windows: music-like, quiet, silent and a loud start followed by near silence."""
    rng = np.random.default_rng(7)
    t = np.arange(p.segment_samples) / p.sample_rate
    chords = sum(0.2 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) for f in (110, 277, 659))
    windows = {
        "noise and tones": chords + 0.05 * rng.standard_normal(t.size),
        "quiet": 1e-4 * rng.standard_normal(t.size),
        "zeros": np.zeros(t.size),
        "loud, then near silence": np.where(t < 2.0, chords + 0.01 * rng.standard_normal(t.size),
                                            1e-5 * rng.standard_normal(t.size)),
    }
    return {name: w.astype(np.float32) for name, w in windows.items()}


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
@pytest.mark.parametrize("name", list(reference_windows()))
def test_extract_equals_librosa_on_one_window(kind, name):
    p = FeatureParams(kind=kind)
    window = reference_windows(p)[name]
    ours = extract(window, p)
    assert ours.shape == p.shape and ours.dtype == np.float32 and np.isfinite(ours).all()
    np.testing.assert_allclose(ours, librosa_features(window, p), rtol=RTOL, atol=ATOL)


def test_silence_gives_the_floor_not_nan():
    """All-zero audio: every mel band sits at the 1e-10 floor (-100 dB), so only the first MFCC is non-zero."""
    p = FeatureParams()
    mfcc = extract(np.zeros((2, p.segment_samples), np.float32), p)
    assert np.isfinite(mfcc).all()
    np.testing.assert_allclose(mfcc[:, 0], -100.0 * np.sqrt(p.n_mels), rtol=1e-5)
    np.testing.assert_allclose(mfcc[:, 1:], 0.0, atol=1e-3)
    logmel = extract(np.zeros(p.segment_samples, np.float32), FeatureParams(kind="logmel"))
    # 10 log10(float32(1e-10)) is -100 to within a float32 ulp; a vectorised log10 may land one ulp off
    np.testing.assert_allclose(logmel, -100.0, rtol=1e-6)


def test_logmel_of_a_pure_tone_matches_within_the_float32_range():
    """Without a top_db floor, log-mel keeps bands far below a pure tone's peak, down to float32 rounding.

    Within 80 dB of the peak (the range MFCCs keep) the match is as tight as elsewhere; more than about
    100 dB below a frame's loudest bin the float32 STFT's rounding shows (librosa's STFT runs in float64).
    Recorded music has a noise floor well above that (the other windows of these tests).
    """
    p = FeatureParams(kind="logmel")
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(p.segment_samples) / p.sample_rate)).astype(np.float32)
    ours, ref = extract(tone, p), librosa_features(tone, p)
    near = ref >= ref.max() - 80.0
    assert near.mean() > 0.1
    np.testing.assert_allclose(ours[near], ref[near], rtol=RTOL, atol=ATOL)
    assert np.abs(ours - ref).max() < 1.0


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_window_features_do_not_depend_on_the_batch(kind):
    """A quiet window gets the same features alone as next to a loud one (librosa's batched top_db would not)."""
    p = FeatureParams(kind=kind)
    rng = np.random.default_rng(1)
    quiet = (1e-4 * rng.standard_normal(p.segment_samples)).astype(np.float32)
    loud = (0.5 * rng.standard_normal(p.segment_samples)).astype(np.float32)
    batched = extract(np.stack([loud, quiet, np.zeros_like(quiet)]), p)
    np.testing.assert_allclose(batched[1], librosa_features(quiet, p), rtol=RTOL, atol=ATOL)
    assert_same_features(batched[1], extract(quiet, p))
    assert_same_features(batched[2], extract(np.zeros_like(quiet), p))


def test_mel_blocks_cover_librosas_filter_bank_exactly():
    import librosa

    p = FeatureParams()
    bank = librosa.filters.mel(sr=p.sample_rate, n_fft=p.n_fft, n_mels=p.n_mels, norm="slaney")
    rebuilt = np.zeros_like(bank)
    first = 0
    for bins, weights in _mel_blocks(p.sample_rate, p.n_fft, p.n_mels):
        rebuilt[first:first + weights.shape[1], bins] = weights.numpy().T
        first += weights.shape[1]
    assert first == p.n_mels
    assert np.array_equal(rebuilt, bank)      # both are librosa's float32 bank, copied: exact


def test_extract_batch_shapes_and_read_only_input():
    p = FeatureParams()
    assert extract(np.zeros((0, p.segment_samples), np.float32), p).shape == (0, 64, 235)
    rng = np.random.default_rng(2)
    y = (0.1 * rng.standard_normal((2, 2, p.segment_samples))).astype(np.float32)
    y.flags.writeable = False                      # e.g. a memory-mapped file
    f = extract(y, p)
    assert f.shape == (2, 2, 64, 235)
    assert_same_features(f[1, 0], extract(y[1, 0], p))
    # exact on any CPU: the float64 input is cast to the same float32 windows, computed in the same pairs
    # (CHUNK_WINDOWS) by the same calls in this process
    assert np.array_equal(extract(y[0].astype(np.float64), p), f[0])


def test_extract_computes_in_one_thread_and_restores_the_callers_setting():
    import torch

    p = FeatureParams()
    y = (0.1 * np.random.default_rng(3).standard_normal((3, p.segment_samples))).astype(np.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = extract(y, p)
        torch.set_num_threads(2)
        assert np.array_equal(extract(y, p), one)     # extract always computes in one thread: the same kernels
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_mfcc_steps_are_extracts_own_stages():
    """The walk-through's stages end where extract ends: the same calls in this process, so bitwise equal."""
    from genre_utils.features import mfcc_steps

    p = FeatureParams()
    window = reference_windows(p)["noise and tones"]
    steps = mfcc_steps(window, p)
    assert np.array_equal(steps["mfcc"], extract(window, p))
    bins, frames = 1 + p.n_fft // 2, p.n_frames
    assert steps["power"].shape == (bins, frames) and steps["filters"].shape == (p.n_mels, bins)
    assert steps["mel"].shape == steps["decibels"].shape == (p.n_mels, frames)
    # each stage follows from the one before (float32 rounding of a product: a relative tolerance)
    np.testing.assert_allclose(steps["mel"], steps["filters"] @ steps["power"], rtol=1e-4,
                               atol=1e-6 * float(steps["mel"].max()))
    assert steps["decibels"].min() >= steps["decibels"].max() - 80.0 - 1e-3   # the 80-dB floor
    with pytest.raises(ValueError, match="one window"):
        mfcc_steps(np.zeros((2, p.segment_samples), np.float32), p)


# ------------------------------------------------------------------------------------------ loudness

def test_k_weighting_at_48_khz_is_the_standards_filter():
    """ITU-R BS.1770-4, table 1 and 2: the published coefficients at 48 kHz."""
    from genre_utils.audio import _k_weighting

    sos = _k_weighting(48000)
    assert np.allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    assert np.allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_loudness_of_tones_silence_and_pauses(sr):
    from genre_utils.audio import loudness

    t = np.arange(4 * sr) / sr
    sine = np.sin(2 * np.pi * 1000 * t)
    assert loudness(sine, sr) == pytest.approx(-3.01, abs=0.05)            # a full-scale 1-kHz sine
    assert loudness(0.1 * sine, sr) == pytest.approx(loudness(sine, sr) - 20, abs=1e-6)
    # half the time silent: the silent blocks are gated out (ungated, the mean would be 3 LU lower); only the
    # few blocks that straddle the edge pull it down a little
    paused = np.concatenate([sine, np.zeros(4 * sr)])
    assert loudness(sine, sr) - 0.3 < loudness(paused, sr) < loudness(sine, sr)
    assert loudness(np.zeros(4 * sr), sr) == float("-inf")
    assert loudness(sine[: int(0.3 * sr)], sr) == float("-inf")             # shorter than one 400-ms block
    low = np.sin(2 * np.pi * 30 * t)                                        # the high-pass weighs 30 Hz down
    assert loudness(low, sr) < loudness(sine, sr) - 3
