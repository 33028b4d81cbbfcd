"""Rendering and mastering: General MIDI to a finished, post-processed clip (:func:`render`).

:func:`synthesize_stems` plays each part of the MIDI (drums, bass, chords, pad, lead) on its own with
``tinysoundfont`` (MIT; TinySoundFont, a self-contained C SoundFont synthesizer) and one General MIDI bank;
:func:`mix_stems` normalises every stem to the same loudness (ITU-R BS.1770, :func:`genre_utils.audio.loudness`),
as Slakh2100 does, then mixes them at the clip's own part levels (its MIDI channel volumes) and adds the reverb
send. :func:`render` resamples, cuts and runs the production chain (:func:`post_process`: EQ, distortion
through a cabinet filter, compression, room reverb, loudness, background noise, a soft limiter, an MP3 round
trip), drawn per artist or per track (:func:`draw_chain`).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

import numpy as np

from ..audio import loudness, mp3_round_trip
from ..provenance import library_version
from .banks import BANK_NAMES, BANKS, BankDamaged, bank_bytes, bank_sha256
from .seeding import pick, seeded_rng

__all__ = ["synthesize", "synthesize_stems", "mix_stems", "load_bank", "render", "SYNTH_RATE", "STEM_LUFS",
           "Production", "PRODUCTION", "Chain", "draw_chain", "post_process", "soundfont_bytes", "soundfont_name",
           "corpus_tools"]


#: The SoundFont 2 bytes of a bank (its earlier name here; :func:`genre_utils.synth.banks.bank_bytes`).
soundfont_bytes = bank_bytes

#: Rate the synthesizer runs at (Hz); :func:`render` resamples the mix to the corpus's rate afterwards, so
#: what a sample played far above its root pitch folds back lies above the corpus's band.
SYNTH_RATE = 44100

#: Integrated loudness every stem is brought to before the mix (LUFS); the part levels then set the balance.
STEM_LUFS = -24.0

#: Level of the reverb send's return at the largest send (CC 91 = 127), relative to the dry mix's RMS.
SEND_RETURN = 0.5

#: The MIDI channel a part plays on: drums on General MIDI's percussion channel (10, index 9), the rest on 1.
_DRUM_CHANNEL, _PART_CHANNEL = 9, 0


#: The synthesizers of this process, one per (bank, rate): ``(bank bytes, synth, sfid)``.
_LOADED: dict = {}


def load_bank(bank: str, sample_rate: int = SYNTH_RATE):
    """``(synth, sfid)``: a ``tinysoundfont`` synthesizer with ``bank`` loaded, made once per process and rate
    (loading FluidR3 takes a third of a second) and made again when the bank's checked bytes are read anew.

    Raises
    ------
    BankMissing, BankDamaged
        The bank is not there, its bytes differ from those recorded, or the synthesizer cannot read them.
    """
    import tinysoundfont

    data = bank_bytes(bank)      # checked against banks.json, and cached, by the banks module
    key = (bank, int(sample_rate))
    held = _LOADED.get(key)
    if held is None or held[0] is not data:
        synth = tinysoundfont.Synth(samplerate=int(sample_rate))
        try:
            sfid = synth.sfload(data)
        except Exception as err:   # tinysoundfont raises its own exception for a file it cannot parse
            raise BankDamaged(f"the SoundFont {BANKS[bank].name} cannot be read by the synthesizer "
                              f"({type(err).__name__}); fetch it again: make banks") from None
        held = _LOADED[key] = (data, synth, sfid)
    return held[1], held[2]


def _events(inst) -> list[tuple]:
    """A part's note, controller and pitch-bend events as ``(time_s, order, kind, a, b)``, in playing order:
    at one instant note-offs first, then controllers and bends, then note-ons (a repeated note restarts)."""
    events = []
    for note in inst.notes:
        events.append((note.start, 3, "on", note.pitch, note.velocity))
        events.append((note.end, 0, "off", note.pitch, 0))
    for cc in inst.control_changes:
        if cc.number not in (7, 91):   # channel volume and reverb send are the mix's (mix_stems)
            events.append((cc.time, 1, "cc", cc.number, cc.value))
    for bend in inst.pitch_bends:
        events.append((bend.time, 2, "bend", bend.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _silence(synth) -> None:
    """Stop every voice and let it fade out unheard: TinySoundFont ends a voice with a short release rather
    than at once, so without this the last part's tails would open the next one (and a stem would depend on
    what the process rendered before it)."""
    synth.sounds_off()
    chunk = int(0.25 * synth.samplerate)
    for _ in range(40):   # a quarter of a second is ample; go on while anything is still heard (at most 10 s)
        if not np.any(np.frombuffer(synth.generate(chunk), dtype=np.float32)):
            break


def _play(synth, sfid, inst, n_samples: int, sample_rate: int) -> np.ndarray:
    """One part alone: a fresh channel, its events at their sample positions, mono float32 of ``n_samples``."""
    chan = _DRUM_CHANNEL if inst.is_drum else _PART_CHANNEL
    _silence(synth)
    synth.control_change(chan, 121, 0)     # reset all controllers (expression, bend, ...)
    synth.pitchbend(chan, 8192)
    synth.program_select(chan, sfid, 128 if inst.is_drum else 0, 0 if inst.is_drum else int(inst.program),
                         is_drums=bool(inst.is_drum))
    out = np.zeros((n_samples, 2), dtype=np.float32)
    pos = 0
    for time, _, kind, a, b in _events(inst):
        at = min(int(round(time * sample_rate)), n_samples)
        if at > pos:
            out[pos:at] = np.frombuffer(synth.generate(at - pos), dtype=np.float32).reshape(-1, 2)
            pos = at
        if at >= n_samples:
            break
        if kind == "on":
            synth.noteon(chan, int(a), int(b))
        elif kind == "off":
            synth.noteoff(chan, int(a))
        elif kind == "cc":
            synth.control_change(chan, int(a), int(b))
        else:
            synth.pitchbend(chan, int(a) + 8192)
    if pos < n_samples:
        out[pos:] = np.frombuffer(synth.generate(n_samples - pos), dtype=np.float32).reshape(-1, 2)
    return (out[:, 0] + out[:, 1]) * np.float32(0.5)


def _stem_names(midi) -> dict:
    """The parts that have notes, keyed by their stem's name: the instrument's name (its part), ``part<i>`` for
    an unnamed one, and ``<name><i>`` for a name another part already took (no part may hide another)."""
    named = {}
    for i, inst in enumerate(midi.instruments):
        if inst.notes:
            name = inst.name or f"part{i}"
            named[name if name not in named else f"{name}{i}"] = inst
    return named


def synthesize_stems(midi, seconds: float, bank: str = "timgm6mb", sample_rate: int = SYNTH_RATE) -> dict:
    """Render every part of a clip on its own (its stem) with ``tinysoundfont`` and one General MIDI bank, at
    :data:`SYNTH_RATE`, resampled to ``sample_rate`` (soxr, high quality) where that differs.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        One instrument per part; channel volume (CC 7) and reverb send (CC 91) are left to :func:`mix_stems`.
    seconds : float
        Length rendered; notes still sounding at the end are cut.
    bank : str
        A key of :data:`genre_utils.synth.banks.BANKS`.
    sample_rate : int
        Rate of the stems returned (Hz).

    Returns
    -------
    dict of str to ndarray, shape (round(seconds * sample_rate),), float32
        One mono stem per instrument that has notes, keyed by the instrument's name (its part: ``drums``,
        ``bass``, ``comp``, ``pad``, ``lead``; see :func:`_stem_names` for unnamed and repeated ones), in the
        MIDI's order.
    """
    import soxr

    n, n_synth = int(round(seconds * sample_rate)), int(round((seconds + 0.05) * SYNTH_RATE))
    synth, sfid = load_bank(bank, SYNTH_RATE)
    stems = {}
    for name, inst in _stem_names(midi).items():
        y = _play(synth, sfid, inst, n_synth, SYNTH_RATE)   # 50 ms past the end, for the resampler
        if sample_rate != SYNTH_RATE:
            y = soxr.resample(y, SYNTH_RATE, int(sample_rate), quality="HQ")
        stems[name] = np.pad(y[:n], (0, max(0, n - y.size)))
    return stems


def _controller(inst, number: int, default: int) -> int:
    """The first value of controller ``number`` in a part (``default`` without one)."""
    values = [cc.value for cc in sorted(inst.control_changes, key=lambda c: c.time) if cc.number == number]
    return int(values[0]) if values else default


def _send_room(sample_rate: int) -> np.ndarray:
    """The reverb send's impulse response: one room for every clip, as a synthesizer's built-in reverb is
    (exponentially decaying noise, RT60 1.4 s, 20-ms pre-delay)."""
    rt60 = 1.4
    t = np.arange(int(rt60 * sample_rate)) / sample_rate
    ir = seeded_rng("send-room", int(sample_rate)).standard_normal(t.size) * np.exp(-6.91 * t / rt60)
    ir[: int(0.02 * sample_rate)] = 0.0
    return ir


def mix_stems(stems: dict, levels: dict, send: float, sample_rate: int) -> np.ndarray:
    """Mix stems as Slakh2100 does: each brought to :data:`STEM_LUFS`, then scaled by its part level.

    Parameters
    ----------
    stems : dict of str to ndarray, shape (n,)
        Mono stems of equal length (:func:`synthesize_stems`).
    levels : dict of str to float
        Each stem's level as a MIDI channel volume (0-127), turned into gain with General MIDI's curve
        (``40 * log10(level / 127)`` dB).
    send : float
        Reverb send (0-127, as CC 91): a return of up to :data:`SEND_RETURN` times the dry mix's RMS through
        one room (:func:`_send_room`).
    sample_rate : int
        Hz.

    Returns
    -------
    ndarray, shape (n,), float64
        The mix; all zeros when every stem is silent. A silent stem (no 400-ms block above -70 LUFS) is left
        out rather than amplified.
    """
    from scipy.signal import oaconvolve

    n = max((s.size for s in stems.values()), default=0)
    dry = np.zeros(n)
    for name, stem in stems.items():
        lufs = loudness(stem, sample_rate)
        if np.isfinite(lufs):
            gain = 10 ** ((STEM_LUFS - lufs) / 20) * (float(np.clip(levels[name], 0, 127)) / 127) ** 2
            dry[: stem.size] += gain * stem.astype(np.float64)
    if send > 0 and np.any(dry):
        wet = oaconvolve(dry, _send_room(sample_rate))[:n]
        dry = dry + SEND_RETURN * float(np.clip(send, 0, 127)) / 127 * wet * (np.sqrt(np.mean(dry ** 2))
                                                                              / np.sqrt(np.mean(wet ** 2)))
    return dry


def synthesize(midi, bank: str = "timgm6mb", seconds: float | None = None,
               sample_rate: int = SYNTH_RATE) -> tuple[np.ndarray, int]:
    """The dry mix of a clip: its stems (:func:`synthesize_stems`) mixed at its own levels (:func:`mix_stems`).

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
    bank : str
        A key of :data:`genre_utils.synth.banks.BANKS`.
    seconds : float, optional
        Length; default: to the MIDI's last note off.
    sample_rate : int
        Hz.

    Returns
    -------
    y : ndarray, shape (n_samples,), float64
        The mix (empty for a MIDI without notes).
    sample_rate : int
    """
    if not any(inst.notes for inst in midi.instruments):
        return np.zeros(0), int(sample_rate)
    seconds = float(midi.get_end_time()) if seconds is None else float(seconds)
    stems = synthesize_stems(midi, seconds, bank, sample_rate)
    named = _stem_names(midi)
    levels = {name: _controller(inst, 7, 100) for name, inst in named.items()}
    send = max((_controller(inst, 91, 0) for inst in named.values()), default=0)
    return mix_stems(stems, levels, send, int(sample_rate)), int(sample_rate)


def render(midi, seconds: float, sample_rate: int = 22050, seed: int = 0, shift: bool = False,
           chain: "Chain | None" = None, bank: str = "timgm6mb") -> np.ndarray:
    """Synthesize, resample, cut and post-process one clip.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
    seconds : float
        Output length; the audio is cut or zero-padded to exactly ``round(seconds * sample_rate)`` samples.
    sample_rate : int
        Output rate in Hz (the stems are resampled from :data:`SYNTH_RATE` with soxr, high quality).
    seed : int
        Seed of the post-processing (EQ, saturation, reverb, noise, loudness).
    shift : bool
        "New data" processing (:data:`PRODUCTION`): harsher band limits, more saturation and reverb,
        more background noise, a wider loudness range.
    chain : Chain, optional
        The production chain (an artist's); default: one drawn for this track (:func:`draw_chain`).
    bank : str
        The General MIDI bank (:data:`genre_utils.synth.banks.BANKS`).

    Returns
    -------
    y : ndarray, shape (round(seconds * sample_rate),), float32
        Peak below 1 (soft-limited; an MP3 round trip may add a little), loudness set to the chain's target RMS.
    """
    y, _ = synthesize(midi, bank, seconds, sample_rate)
    n = int(round(seconds * sample_rate))
    y = np.pad(y[:n], (0, max(0, n - y.size))).astype(np.float64)
    rng = seeded_rng("render", int(seed), bool(shift))
    return post_process(y, sample_rate, rng, shift, chain).astype(np.float32)


@dataclass(frozen=True)
class Production:
    """Ranges of the production chain (:class:`Chain`) drawn per artist, or per track for a track without one.

    Genre-independent on purpose: every genre draws from the same ranges, so no effect alone names a genre;
    the chain varies the spectral envelope, dynamics and codec (which a mean over frames sees) without
    touching rhythm or harmony.
    """

    highpass: tuple = (25.0, 100.0)      # Hz, log-uniform
    lowpass: tuple = (6000.0, 10500.0)   # Hz, log-uniform (capped at 0.45 * sr)
    tilt: tuple = (-0.2, 0.3)            # gain of a >1.5 kHz copy added back (treble cut/boost)
    saturation: float = 0.2              # probability of tanh distortion followed by a guitar-cabinet band-pass
    drive: tuple = (1.5, 4.0)            # distortion drive
    cabinet: tuple = (2500.0, 6000.0)    # Hz, upper edge of the cabinet band-pass (log-uniform)
    compression: float = 0.6             # probability of a compressor
    threshold_db: tuple = (-4.0, 6.0)    # compressor threshold relative to the track's RMS level
    ratio: tuple = (1.5, 6.0)
    reverb: float = 0.35                 # probability of convolution reverb (a room)
    rt60: tuple = (0.3, 1.8)             # seconds
    reverb_mix: tuple = (0.05, 0.25)
    loudness_db: tuple = (-21.0, -16.0)  # target RMS in dBFS (a random gain per track)
    snr_db: tuple = (28.0, 45.0)         # signal-to-noise ratio of the added background noise
    mp3: float = 0.6                     # probability of an MP3 round trip (GTZAN-layout WAVs only)
    mp3_kbps: tuple = (64, 96, 128, 160, 192)


#: Production of the training corpus (GTZAN and FMA trees) and of the shifted "new data".
PRODUCTION = {
    False: Production(),
    True: Production(highpass=(50.0, 250.0), lowpass=(3500.0, 9000.0), tilt=(-0.4, 0.6), saturation=0.35,
                     reverb=0.5, reverb_mix=(0.1, 0.4), loudness_db=(-28.0, -12.0), snr_db=(15.0, 30.0)),
}


@dataclass(frozen=True)
class Chain:
    """One drawn production chain: what a studio (an artist's, or a lone track's) does to the mix.

    Applied in this order by :func:`post_process`: EQ (band limits and tilt), distortion through a cabinet
    filter (``drive`` 0: none), compression (``ratio`` 1: none), room reverb (``rt60`` 0: none), loudness,
    background noise, a soft limiter, and an MP3 round trip (``mp3_kbps`` 0: none).
    """

    highpass: float
    lowpass: float
    tilt: float
    drive: float
    cabinet: float
    threshold_db: float
    ratio: float
    rt60: float
    reverb_mix: float
    loudness_db: float
    snr_db: float
    noise: float          # noise colour: 0 white, 1 pink, 2 brown
    mp3_kbps: int

    def without_mp3(self) -> "Chain":
        """The same chain without its MP3 round trip (for a file that is written as an MP3 anyway)."""
        return dataclasses.replace(self, mp3_kbps=0)


def draw_chain(rng: np.random.Generator, shift: bool = False) -> Chain:
    """A production chain from the ranges of :data:`PRODUCTION` (``shift``: the "new data" ranges)."""
    prod = PRODUCTION[bool(shift)]
    distort = rng.random() < prod.saturation
    compress = rng.random() < prod.compression
    reverb = rng.random() < prod.reverb
    mp3 = rng.random() < prod.mp3
    return Chain(
        highpass=_loguniform(rng, *prod.highpass), lowpass=_loguniform(rng, *prod.lowpass),
        tilt=float(rng.uniform(*prod.tilt)),
        drive=float(rng.uniform(*prod.drive)) if distort else 0.0, cabinet=_loguniform(rng, *prod.cabinet),
        threshold_db=float(rng.uniform(*prod.threshold_db)),
        ratio=float(rng.uniform(*prod.ratio)) if compress else 1.0,
        rt60=float(rng.uniform(*prod.rt60)) if reverb else 0.0, reverb_mix=float(rng.uniform(*prod.reverb_mix)),
        loudness_db=float(rng.uniform(*prod.loudness_db)), snr_db=float(rng.uniform(*prod.snr_db)),
        noise=float(pick(rng, (0.0, 1.0, 2.0))), mp3_kbps=int(pick(rng, prod.mp3_kbps)) if mp3 else 0)


def post_process(y: np.ndarray, sr: int, rng: np.random.Generator, shift: bool = False,
                 chain: Chain | None = None) -> np.ndarray:
    """The production: EQ, distortion and cabinet, compression, reverb, loudness, noise, limiter, MP3.

    Parameters
    ----------
    y : ndarray, shape (n_samples,), float64
    sr : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
        The track's own draws: the chain when ``chain`` is None, the reverb's impulse response and the noise.
    shift : bool
        Draw the chain from the "new data" ranges of :data:`PRODUCTION`.
    chain : Chain, optional
        A chain drawn beforehand (an artist's, :func:`draw_chain`), applied as it is.

    Returns
    -------
    ndarray, shape (n_samples,), float64
        Peak at most 0.98 before the MP3 round trip; an all-zero input is returned unchanged.
    """
    if not np.any(y):
        return y
    chain = draw_chain(rng, shift) if chain is None else chain
    y = _equalise(y, sr, chain)
    if chain.drive > 0:
        y = _distort(y, sr, chain)
    if chain.ratio > 1:
        y = _compress(y, sr, chain)
    if chain.rt60 > 0:
        y = _reverb(y, sr, rng, chain)
    y = y * (10 ** (chain.loudness_db / 20) / _rms(y))
    y = y + _noise(y.size, sr, rng, chain.noise) * (_rms(y) / 10 ** (chain.snr_db / 20))
    y = _limit(y)
    if chain.mp3_kbps:
        y = mp3_round_trip(y, sr, chain.mp3_kbps)
    return y


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y)))) + 1e-12


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _equalise(y, sr, chain: Chain):
    """Band limits (a high-pass and a low-pass) and a spectral tilt around 1.5 kHz."""
    from scipy.signal import butter, sosfilt

    high = min(chain.lowpass, 0.45 * sr)
    y = sosfilt(butter(2, [chain.highpass, high], btype="bandpass", fs=sr, output="sos"), y)
    return y + chain.tilt * sosfilt(butter(1, 1500, btype="highpass", fs=sr, output="sos"), y)


def _distort(y, sr, chain: Chain):
    """tanh distortion, then a guitar cabinet: a band-pass from 90 Hz to ``chain.cabinet``."""
    from scipy.signal import butter, sosfilt

    peak = np.max(np.abs(y)) + 1e-12
    y = np.tanh(chain.drive * y / peak) / np.tanh(chain.drive) * peak
    return sosfilt(butter(2, [90.0, min(chain.cabinet, 0.45 * sr)], btype="bandpass", fs=sr, output="sos"), y)


def _compress(y, sr, chain: Chain, attack: float = 0.005, release: float = 0.08):
    """Feed-forward compressor: a 10-ms RMS detector, gain reduction above ``threshold_db`` (relative to the
    track's RMS) at ``ratio``, the gain smoothed with the attack and release times (seconds); the RMS level
    is restored afterwards."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / (0.010 * sr))
    power = lfilter([1 - a], [1, -a], y * y)
    level_db = 10 * np.log10(power + 1e-20) - 20 * np.log10(_rms(y))
    target = np.minimum(0.0, (chain.threshold_db - level_db) * (1 - 1 / chain.ratio))
    # one-pole smoothing with the slower (release) time, then the faster (attack) one: reductions come in
    # quickly and let go slowly
    r = np.exp(-1.0 / (release * sr))
    gain = lfilter([1 - r], [1, -r], target)
    k = np.exp(-1.0 / (attack * sr))
    gain = lfilter([1 - k], [1, -k], np.minimum(gain, target))
    out = y * 10 ** (gain / 20)
    return out * (_rms(y) / _rms(out))


def _reverb(y, sr, rng, chain: Chain):
    """Convolution with exponentially decaying noise (RT60 ``chain.rt60``, 10 ms pre-delay)."""
    from scipy.signal import fftconvolve

    t = np.arange(int(min(chain.rt60, 1.2) * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-6.91 * t / chain.rt60)
    ir[: int(0.01 * sr)] = 0.0
    wet = fftconvolve(y, ir)[: y.size]
    return y + chain.reverb_mix * wet * (_rms(y) / _rms(wet))


def _noise(n: int, sr: int, rng, colour: float) -> np.ndarray:
    """Unit-RMS background: white (0), pink (1) or brown (2) noise, sometimes with mains hum or crackle."""
    from scipy import fft

    m = fft.next_fast_len(n, real=True)  # shape white noise in the frequency domain, on a fast FFT size
    f = np.fft.rfftfreq(m, 1 / sr)
    f[0] = f[1]
    x = fft.irfft(fft.rfft(rng.standard_normal(m)) * (f / 1000.0) ** (-colour / 2), m)[:n]
    if rng.random() < 0.15:
        mains = pick(rng, (50.0, 60.0))
        t = np.arange(n) / sr
        x = x / _rms(x) + 2.0 * sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3))
    if rng.random() < 0.1:
        clicks = np.zeros(n)
        where = rng.integers(0, n, size=int(n / sr * rng.uniform(2, 15)))
        clicks[where] = rng.standard_normal(where.size) * 30
        x = x / _rms(x) + clicks
    return x / _rms(x)


def _limit(y: np.ndarray, ceiling: float = 0.98) -> np.ndarray:
    peak = np.max(np.abs(y))
    if peak <= ceiling:
        return y
    knee = 0.8 * ceiling  # linear below the knee, tanh-compressed above it
    over = np.abs(y) > knee
    out = y.copy()
    out[over] = np.sign(y[over]) * (knee + (ceiling - knee) * np.tanh((np.abs(y[over]) - knee) / (ceiling - knee)))
    return out


def soundfont_name(data: bytes) -> str | None:
    """The bank name a SoundFont 2 file gives itself (``INAM`` of its ``LIST INFO`` chunk); None if absent."""

    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"LIST" and data[pos + 8:pos + 12] == b"INFO":
            sub, end = pos + 12, min(pos + 8 + size, len(data))
            while sub + 8 <= end:
                sid, ssize = data[sub:sub + 4], struct.unpack("<I", data[sub + 4:sub + 8])[0]
                if sid == b"INAM":
                    return data[sub + 8:sub + 8 + ssize].split(b"\0")[0].decode("ascii", "replace").strip()
                sub += 8 + ssize + (ssize & 1)
            return None
        pos += 8 + size + (size & 1)
    return None


def corpus_tools() -> dict:
    """What renders the synthetic corpus: the versions of ``pretty_midi`` and ``tinysoundfont``, and for each
    General MIDI bank of :data:`genre_utils.synth.banks.BANKS` the name it gives itself (its ``INAM`` tag) and
    its sha256 (``'soundfont <bank>'``, ``'soundfont <bank> sha256'``). A bank that cannot be read (not
    fetched, damaged) is None."""
    out = {"pretty_midi": library_version("pretty_midi"), "tinysoundfont": library_version("tinysoundfont")}
    for bank in BANK_NAMES:
        out[f"soundfont {bank}"] = out[f"soundfont {bank} sha256"] = None
        try:
            data = bank_bytes(bank)   # checked against its recorded SHA-256 when read
        except (ImportError, OSError, ValueError):   # ValueError: the banks' UserErrors (missing, damaged)
            continue
        out[f"soundfont {bank}"] = soundfont_name(data) or BANKS[bank].name
        out[f"soundfont {bank} sha256"] = bank_sha256(bank)
    return out
