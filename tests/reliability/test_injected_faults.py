"""20 % of the Training API calls and image/model downloads fail (500, 503, 429 + Retry-After, TCP
reset) over several exports and scoped deletes: the outputs still equal a clean run's."""

from __future__ import annotations

import pytest

from tests.reliability.scenarios import faulty_delete, faulty_export, plan

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_an_export_under_20_percent_faults_equals_a_clean_run(rel, host, clean_export_run):
    # One export here (about 30 faults, 15 s of retrying); the soak runs many more seeds.
    assert faulty_export(rel, host, clean_export_run, plan(0.2, seed=11)) > 0


@pytest.mark.parametrize("seed", [21, 22])
def test_scoped_deletes_under_20_percent_faults_are_exact(rel, host, clean_delete_run, seed):
    assert faulty_delete(rel, host, clean_delete_run, plan(0.2, seed)) > 0
