"""Issue 8 defect 1: concurrent submits of one requestId with different subjects must never run the
winner's request with a loser's subject."""

from __future__ import annotations

import random

import pytest

from tests.reliability.scenarios import same_id_race

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.mark.parametrize(("operation", "seed"), [("export", 1), ("dry-run", 2), ("export", 3)])
def test_one_winner_and_its_subject_is_the_one_used(rel, host, operation, seed):
    same_id_race(rel, host, operation, contenders=20, rng=random.Random(seed))
