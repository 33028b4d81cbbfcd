"""The test suite's own rules: fixtures that train are known to conftest, so their tests leave the fast loop."""

import re
from pathlib import Path

from conftest import TRAINING_FIXTURES

TESTS = Path(__file__).parent
FIXTURE = re.compile(r"@pytest\.fixture[^\n]*\ndef (\w+)\([^)]*\)[^\n]*\n(.*?)(?=\n(?:def |@|class )|\Z)", re.S)
TRAINS = re.compile(r"\btrain_run\(|\brun_experiment\(|\bfit\(|\[\"train\"")


def fixtures_that_train() -> set[str]:
    found = set()
    for path in TESTS.glob("*.py"):
        for name, body in FIXTURE.findall(path.read_text()):
            if TRAINS.search(body):
                found.add(name)
    return found


def test_every_fixture_that_trains_is_listed_in_conftest():
    found = fixtures_that_train()
    assert found, "the scan found no training fixture at all: the pattern no longer matches the tests"
    assert found <= TRAINING_FIXTURES, f"fixtures that train but are not in conftest.TRAINING_FIXTURES: " \
                                       f"{sorted(found - TRAINING_FIXTURES)}"
