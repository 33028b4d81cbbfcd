"""What the test modules share: the small profiles built from ``tiny`` (one definition each).

Test modules import them by name (``from conftest import STORE_PROFILE``): the tests folder is on the path,
as it is for ``fixtures_audio``.
"""

import os
import shutil
import signal

import pytest

from genre_utils.config import get_profile

# A shell started without job control runs a background command with SIGINT ignored, and an ignored signal stays
# ignored across exec: the test processes would inherit it, and the tests that press Ctrl-C on a child (a render,
# an extraction, a training, the explorer) would see it carry on. Python's own handler here, so the children
# start with the default disposition whatever shell launched the suite.
signal.signal(signal.SIGINT, signal.default_int_handler)

#: A store of a few windows per split: 20 training and 10 validation windows, one test segment per track.
STORE_PROFILE = get_profile("tiny").replace(n_train=20, n_valid=10, test_segments_per_track=1)

#: The smallest synthetic corpus: one 5-s clip per genre, two FMA-layout tracks, no new data.
MINI_CORPUS = get_profile("tiny").replace(synth_tracks_per_genre=1, synth_fma_tracks=2, synth_newdata_per_genre=0,
                                          clip_seconds=5.0)

#: Fixtures that train a model (``genre-utils train`` or :func:`genre_utils.train.fit` on a store). Every test
#: that asks for one is marked ``slow`` at collection, so the fast loop (``pytest -m "not slow"``) trains nothing
#: through a fixture, and a new test on one of them cannot forget the mark.
TRAINING_FIXTURES = frozenset({"pipeline", "trained"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


#: Modules with a failed or erroring test: their folders are kept for a look afterwards.
_FAILED_MODULES: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        _FAILED_MODULES.add(item.module.__name__)
    return report


@pytest.fixture(scope="module", autouse=True)
def _free_module_folders(request, tmp_path_factory):
    """Delete the folders a module's fixtures made with ``tmp_path_factory`` once the module has finished, unless
    one of its tests failed. pytest itself keeps them to the end of the session, so the suite's module-wide stores,
    corpora and trained runs (100-600 MB each) would add up on the disk (``tmp_path_retention_policy`` in
    pyproject.toml does the same for each test's ``tmp_path``). No fixture wider than a module writes there."""
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    if request.module.__name__ not in _FAILED_MODULES:
        for folder in set(base.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _same_working_directory():
    """A test ends in the working directory it started in: one that moved into its own ``tmp_path`` would leave
    every later test (and the processes they start) in a deleted folder once that ``tmp_path`` is freed."""
    before = os.getcwd()
    yield
    try:
        after = os.getcwd()
    except FileNotFoundError:
        after = "a deleted folder"
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test left the working directory in {after} (it started in {before})")
