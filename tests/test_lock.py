"""requirements.lock agrees with pyproject.toml; lock_fingerprint and synth.corpus_tools (fast, no network)."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from genre_utils import provenance

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / provenance.LOCK_FILE
PYPROJECT = ROOT / "pyproject.toml"
RUN_MAKE_LOCK = "pyproject.toml and requirements.lock disagree: run make lock"

#: The machine the lock is resolved for (CPython 3.11, Linux x86-64): markers are evaluated against it.
TARGET = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.0",
          "implementation_name": "cpython", "platform_python_implementation": "CPython",
          "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"}


def _header(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        m = re.match(r"# ([a-z-]+): (.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2).strip()
    return fields


def _entries(text: str) -> dict[str, dict]:
    """``{canonical name: {"version": str, "line": str, "hashes": [..]}}`` of the lock's requirement lines."""
    entries: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
            assert m, f"requirements.lock: not an exact pin: {line!r}"
            current = {"version": m.group(2), "line": line, "hashes": []}
            entries[canonicalize_name(m.group(1))] = current
        current["hashes"] += re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
    return entries


@pytest.fixture(scope="module")
def lock_text() -> str:
    if not LOCK.is_file():
        pytest.fail(f"{LOCK.name} is missing: run make lock")
    return LOCK.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def test_lock_was_generated_from_this_pyproject(lock_text):
    header = _header(lock_text)
    assert header.get("lock-format") == "1"
    recorded = header.get("pyproject-digest", "").removeprefix("sha256:")
    assert recorded == provenance.dependency_digest(PYPROJECT), RUN_MAKE_LOCK
    assert header.get("python") == "3.11" and "x86_64" in header.get("platform", "")


def test_every_direct_dependency_is_locked_within_its_specifier(lock_text, project):
    entries = _entries(lock_text)
    extras = {e.strip() for e in _header(lock_text).get("extras", "").split(",")}
    assert {"book", "test"} <= extras, RUN_MAKE_LOCK
    declared = list(project["dependencies"])
    for extra in ("book", "test"):
        declared += project["optional-dependencies"][extra]
    problems = []
    for spec in declared:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({**TARGET, "extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in entries:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(entries[name]["version"], prereleases=True):
            problems.append(f"{req.name}=={entries[name]['version']} does not satisfy {spec!r}")
    assert not problems, RUN_MAKE_LOCK + ":\n" + "\n".join(problems)


def _parts(text: str) -> tuple[dict, dict]:
    """(unhashed part, hashed part) of the lock, split at the marker lines the Makefile's sed uses."""
    assert text.count("\n# ---- unhashed") == 1 and text.count("\n# ---- hashed") == 1, \
        "the lock needs one '# ---- unhashed' and one '# ---- hashed' line (the Makefile splits on them)"
    head, hashed = text.split("\n# ---- hashed", 1)
    unhashed = head.split("\n# ---- unhashed", 1)[1]
    return _entries(unhashed.split("\n", 1)[1]), _entries(hashed.split("\n", 1)[1])  # minus the marker lines


def test_torch_is_pinned_exactly_without_local_suffix_or_hash(lock_text, project):
    unhashed, hashed = _parts(lock_text)
    torch = unhashed["torch"]
    assert torch["version"] == "2.13.0", "torch must be pinned as 2.13.0, without a local-version suffix"
    assert Version(torch["version"]).local is None
    assert torch["hashes"] == [] and torch["line"].strip() == "torch==2.13.0"
    assert "torch" not in hashed
    assert "torch==2.13.0" in [s.replace(" ", "") for s in project["dependencies"]]


def test_hashed_part_is_complete_and_cuda_free(lock_text):
    unhashed, hashed = _parts(lock_text)
    unhashed_names = [n for n, e in hashed.items() if not e["hashes"]]
    assert not unhashed_names, f"pinned without a hash in the hashed part: {unhashed_names}"
    assert not set(unhashed) & set(hashed)
    cuda = [n for n in hashed if n.startswith(("nvidia-", "cuda-")) or n == "triton"]
    assert not cuda, f"torch's CUDA stack must not be in the hashed part (CPU machines would install it): {cuda}"
    # the unhashed part is torch and its CUDA stack only, all exact pins without hashes
    others = [n for n in unhashed if n != "torch" and not (n.startswith(("nvidia-", "cuda-")) or n == "triton")]
    assert not others, f"only torch and its CUDA stack may go unhashed: {others}"
    assert all(not e["hashes"] for e in unhashed.values())
    # torch's portable dependencies are hashed (the CPU wheel needs them too)
    assert {"sympy", "networkx", "jinja2", "filelock", "fsspec", "typing-extensions"} <= set(hashed)
    assert len(hashed) > 50  # the whole transitive closure, not only the direct dependencies


def test_the_lock_holds_every_dependency_of_its_packages_but_the_overridden(lock_text):
    """make installs the lock with --no-deps, so pip no longer fetches what a package needs and the lock forgot:
    every requirement of every locked package (its metadata, markers for the lock's target) must be locked
    itself, or left out on purpose in tools/lock-overrides.txt."""
    unhashed, hashed = _parts(lock_text)
    locked = set(unhashed) | set(hashed)
    overridden = {canonicalize_name(Requirement(line).name)
                  for line in (ROOT / "tools" / "lock-overrides.txt").read_text().splitlines()
                  if line.strip() and not line.startswith("#")}
    assert overridden == {"pyaudio"} and not overridden & locked
    missing = {}
    for name in hashed:
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue   # not installed in this environment (another platform's build): its metadata is not here
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({**TARGET, "extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in locked and dep not in overridden:
                missing.setdefault(name, []).append(dep)
    assert not missing, f"locked packages need what the lock does not hold: {missing}; run make lock"


def test_dependency_digest_sees_requirements_not_formatting(tmp_path):
    text = PYPROJECT.read_text(encoding="utf-8")
    base = provenance.dependency_digest(PYPROJECT)
    reformatted = tmp_path / "a.toml"
    reformatted.write_text("# a comment\n" + text.replace('description = "', 'description = "Edited. '))
    assert provenance.dependency_digest(reformatted) == base
    changed = tmp_path / "b.toml"
    changed.write_text(text.replace('"numpy>=1.26"', '"numpy>=1.27"'))
    assert '"numpy>=1.27"' in changed.read_text()
    assert provenance.dependency_digest(changed) != base


def test_lock_fingerprint(tmp_path):
    expected = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    assert provenance.lock_fingerprint() == expected  # a checkout: found next to pyproject.toml
    assert provenance.lock_fingerprint(ROOT) == expected
    assert provenance.lock_fingerprint(tmp_path) is None  # no lock there (as for an installed wheel)
    shutil.copy(LOCK, tmp_path / provenance.LOCK_FILE)
    assert provenance.lock_fingerprint(tmp_path) == expected
    (tmp_path / provenance.LOCK_FILE).write_bytes(b"x")
    assert provenance.lock_fingerprint(tmp_path) == hashlib.sha256(b"x").hexdigest()[:16]


def test_corpus_tools():
    from genre_utils import synth

    tools = synth.corpus_tools()
    assert tools["pretty_midi"] == md.version("pretty_midi")
    assert tools["tinysoundfont"] == md.version("tinysoundfont")
    assert tools["soundfont timgm6mb"] == "TimGM6mb"  # the bank's own name (INAM)
    assert tools["soundfont timgm6mb sha256"] == hashlib.sha256(synth.soundfont_bytes("timgm6mb")).hexdigest()
    assert tools["soundfont fluidr3mono"].startswith("FluidR3Mono")   # fetched by `make banks` before the tests
    assert tools["soundfont fluidr3mono sha256"] == hashlib.sha256(synth.soundfont_bytes("fluidr3mono")).hexdigest()


def test_soundfont_name_parser():
    from genre_utils.synth import soundfont_name

    info = b"INAM" + (6).to_bytes(4, "little") + b"Bank\0\0"
    lst = b"LIST" + (4 + len(info)).to_bytes(4, "little") + b"INFO" + info
    sf2 = b"RIFF" + (4 + len(lst)).to_bytes(4, "little") + b"sfbk" + lst
    assert soundfont_name(sf2) == "Bank"
    assert soundfont_name(b"RIFF\0\0\0\0WAVE") is None
    assert soundfont_name(b"") is None


def _lock_tool():
    spec = importlib.util.spec_from_file_location("_lock_tool", ROOT / "tools" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lock_tool_leaves_out_only_what_torch_alone_pulls():
    tool = _lock_tool()
    uv_output = """\
jinja2==3.1.6 \\
    --hash=sha256:aa
    # via
    #   sphinx
    #   torch
nvidia-cublas==13.1 \\
    --hash=sha256:bb
    # via
    #   nvidia-cudnn-cu13
    #   torch
nvidia-cudnn-cu13==9.20 \\
    --hash=sha256:cc
    # via torch
sphinx==7.4.7 \\
    --hash=sha256:dd
    # via genre-utils (pyproject.toml)
sympy==1.14.0 \\
    --hash=sha256:ee
    # via torch
torch==2.13.0 \\
    --hash=sha256:ff
    # via genre-utils (pyproject.toml)
"""
    blocks = tool.parse_blocks(uv_output)
    assert set(blocks) == {"jinja2", "nvidia-cublas", "nvidia-cudnn-cu13", "sphinx", "sympy", "torch"}
    assert blocks["jinja2"]["via"] == {"sphinx", "torch"}
    assert tool.torch_only(blocks) == {"nvidia-cublas", "nvidia-cudnn-cu13", "sympy"}
    # sympy is torch-only too, but torch needs it everywhere: the tool keeps it (hashed) by subtracting the
    # CPU-platform resolution of torch alone, which lists it.


def test_make_fetches_the_second_soundfont_only_for_the_synthetic_corpus():
    """`make book` runs `make banks` first; given real data it renders no synthetic audio and skips the fetch."""
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("needs make")
    root = Path(__file__).resolve().parents[1]

    def dry(*args):
        return subprocess.run(["make", "-n", "book", *args], cwd=root, capture_output=True, text=True).stdout

    assert "genre_utils.cli banks" in dry()
    real = dry("GTZAN_DIR=/data/gtzan")
    assert "genre_utils.cli banks" not in real and "--gtzan /data/gtzan" in real
