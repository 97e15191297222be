"""Throttling, faults, retry budget, error mapping and the 100,000-image listing against the emulator."""

from __future__ import annotations

import math
import random
import time

import pytest

from dsr.customvision import (
    AuthenticationError,
    NotFoundError,
    ServiceError,
    ThrottledError,
)
from emulator.seed import SeedSpec, _Ids, add_images


def _project_id(state):
    return next(iter(state.account("account-1").projects))


def test_429_retry_after_is_honoured(client, state, recorder):
    controls = state.account("account-1").controls
    controls.knobs.rate_limit_per_second = 1.0
    started = time.monotonic()
    for _ in range(3):
        client.get_projects()
    elapsed = time.monotonic() - started
    assert controls.throttled["GetProjects"] >= 1
    # Burst of 1, then Retry-After: 1 (rounded up) for each of the next two calls.
    assert 1.0 <= elapsed < 5.0
    retried = [c for c in recorder.records if c.attempts > 1]
    assert retried
    assert all(c.status == 200 for c in retried)
    assert sum(c.throttled for c in recorder.records) == controls.throttled["GetProjects"]


def test_throttled_error_when_retry_after_exceeds_budget(make_client, state):
    client = make_client(max_retry_seconds=0.5)
    controls = state.account("account-1").controls
    controls.knobs.rate_limit_per_second = 0.2  # Retry-After: 5
    client.get_projects()
    started = time.monotonic()
    with pytest.raises(ThrottledError) as info:
        client.get_projects()
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after == 5
    assert info.value.status == 429
    assert info.value.transient


def test_client_rate_limit_keeps_under_service_limit(make_client, state):
    client = make_client(rate_limit_per_second=5.0)
    state.account("account-1").controls.knobs.rate_limit_per_second = 6.0
    started = time.monotonic()
    for _ in range(10):
        client.get_projects()
    assert state.account("account-1").controls.throttled["GetProjects"] == 0
    assert time.monotonic() - started >= 0.9  # 5-token burst, then 5 more at 5/s


@pytest.mark.parametrize("kind", ["status", "reset"])
def test_transient_faults_are_retried(client, state, kind, recorder):
    state.account("account-1").controls.fail_next("GetProjects", 2, kind, status=503)
    assert client.get_projects()
    [record] = recorder.records
    assert (record.operation, record.status, record.attempts) == ("GetProjects", 200, 3)
    assert state.account("account-1").controls.counters["GetProjects"] == 3


def test_slow_response_times_out_and_is_retried(make_client, state, recorder):
    client = make_client(timeout_seconds=0.3)
    state.account("account-1").controls.fail_next("GetProjects", 1, "slow", delay_seconds=1.0)
    assert client.get_projects()
    assert recorder.records[-1].attempts == 2


def test_retry_budget_exhausted_raises_transient_error(make_client, state, recorder):
    client = make_client(max_retry_seconds=1.5)
    state.account("account-1").controls.fail_next("GetProjects", 1000, "status", status=500)
    started = time.monotonic()
    with pytest.raises(ServiceError) as info:
        client.get_projects()
    assert time.monotonic() - started <= 1.6
    assert info.value.status == 500
    assert info.value.attempts >= 2
    assert info.value.transient
    assert recorder.records[-1].status == 500


def test_reset_until_budget_ends_reports_no_status(make_client, state):
    client = make_client(max_retry_seconds=0.5)
    state.account("account-1").controls.fail_next("GetProjects", 1000, "reset")
    with pytest.raises(ServiceError) as info:
        client.get_projects()
    assert info.value.status is None
    assert info.value.code == "ConnectionError"


def test_wrong_key_is_authentication_error_without_retry(make_client, state):
    client = make_client(key="not-the-key")
    with pytest.raises(AuthenticationError) as info:
        client.get_projects()
    assert info.value.status == 401
    assert info.value.attempts == 1
    assert not info.value.transient


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c, p: c.get_project("00000000-0000-0000-0000-000000000000"), "NotFoundProject"),
        (lambda c, p: c.delete_tag(p, "00000000-0000-0000-0000-000000000000"), "NotFoundTag"),
        (lambda c, p: c.get_exports(p, "00000000-0000-0000-0000-000000000000"), "NotFoundIteration"),
    ],
)
def test_404_maps_to_not_found_with_code(client, state, call, code):
    with pytest.raises(NotFoundError) as info:
        call(client, _project_id(state))
    assert (info.value.status, info.value.code) == (404, code)


def test_key_never_appears_in_repr_errors_or_records(make_client, keys, state, recorder):
    key = keys["account-1"]
    client = make_client(max_retry_seconds=0.3)
    state.account("account-1").controls.fail_next("GetProjects", 1000, "status", status=503)
    texts = [repr(client), str(vars(client))]
    for failing in (
        lambda: client.get_projects(),
        lambda: make_client(key="x" + key, max_retry_seconds=0.3).get_projects(),
    ):
        with pytest.raises(Exception) as info:  # noqa: PT011 - any error; we inspect its text
            failing()
        texts += [str(info.value), repr(info.value), repr(info.value.args), str(vars(info.value))]
    texts += [repr(c) for c in recorder.records]
    assert all(key not in text for text in texts)


def test_listing_100000_images_takes_391_calls(make_client, state):
    project = next(iter(state.account("account-2").projects.values()))
    project.images.clear()
    add_images(project, 100_000, _Ids(random.Random(1)), random.Random(2), spec=SeedSpec(), tag_ids=[])
    state.reset_counters()
    client = make_client(key=state.account("account-2").key)
    started = time.monotonic()
    seen = 0
    for page in client.iter_images(project.id):
        seen += len(page)
    elapsed = time.monotonic() - started
    assert seen == 100_000
    assert state.account("account-2").controls.counters["GetImages"] == math.ceil(100_000 / 256) == 391
    assert elapsed < 60
    print(f"listed 100000 images in {elapsed:.2f}s")


def test_call_records_go_to_hooks_only_and_views_have_their_own(make_client, state, recorder):
    from dsr.customvision import CallTally

    client = make_client()
    tally = CallTally()
    unit = client.view((tally,))
    unit.get_projects()
    unit.close()  # a view's close leaves the shared sessions open
    client.get_projects()
    assert tally.api_calls == 1
    assert [r.operation for r in recorder.records] == ["GetProjects"]
    assert unit._bucket is client._bucket  # one rate limiter for the client and its views
    assert not any(isinstance(value, list) for value in vars(client).values())  # nothing kept per call
