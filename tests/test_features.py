"""Audio cutting, feature shapes and the feature parameters' arithmetic."""

import numpy as np
import pytest

from genre_utils.audio import AudioError, check_audio, cut_segments, load_audio, segment_starts, write_wav
from genre_utils.config import FeatureParams, get_profile
from genre_utils.features import extract, file_segments


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
    assert np.array_equal(f, extract(y, p))
    assert extract(y[0], p).shape == (64, 235)
    # windows are independent: the batch equals the per-window results
    assert np.allclose(f[1], extract(y[1], p), atol=1e-4)


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


def test_window_features_do_not_depend_on_the_batch():
    """A quiet window gets the same MFCCs alone as next to a loud one (librosa's batched top_db would not)."""
    p = FeatureParams()
    rng = np.random.default_rng(1)
    quiet = (1e-4 * rng.standard_normal(p.segment_samples)).astype(np.float32)
    loud = (0.5 * rng.standard_normal(p.segment_samples)).astype(np.float32)
    import librosa

    alone = librosa.feature.mfcc(y=quiet, sr=p.sample_rate, n_mfcc=p.height, n_mels=p.n_mels,
                                 n_fft=p.n_fft, hop_length=p.hop_length)
    batched = extract(np.stack([loud, quiet]), p)[1]
    assert np.allclose(batched, alone, atol=1e-3)
