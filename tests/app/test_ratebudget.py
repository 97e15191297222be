"""The account-wide rate budget: shares follow the running units of every process, and two processes
working for one account stay under its limit together."""

from __future__ import annotations

import secrets
import threading
import time
import uuid

import pytest

from dsr.config import load_settings
from dsr.customvision.ratelimit import TokenBucket
from dsr.ratebudget import CLAIM_TTL_SECONDS, AccountBudget, BlobBoard, Claim, MemoryBoard, share
from dsr.runtime import Runtime
from dsr.storage import container_client
from emulator import EmulatorServer, SeedSpec, build_state
from tests.functional.fakes import KeyOnlySecrets

pytestmark = pytest.mark.services


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_share_splits_the_smallest_budget_by_running_units():
    assert share(Claim(1, 10, 0), [Claim(3, 10, 0)]) == 2.5
    assert share(Claim(2, 10, 0), [Claim(2, 4, 0)]) == 2.0  # the stricter request sets the budget
    assert share(Claim(1, 10, 0), []) == 10


def test_processes_share_and_reclaim_the_budget():
    board, clock = MemoryBoard(), _Clock()
    one = AccountBudget("acct", "one", 10, board, refresh_seconds=60, clock=clock)
    two = AccountBudget("acct", "two", 10, board, refresh_seconds=60, clock=clock)
    with one.running(10):
        assert one.bucket.rate == 10
        with two.running(10), two.running(10), two.running(10):
            one.refresh()
            assert (one.bucket.rate, two.bucket.rate) == (2.5, 7.5)
        one.refresh()
        assert board.claims("acct").keys() == {"one"}  # two withdrew when its last unit ended
        assert one.bucket.rate == 10


def test_a_stopped_process_claim_expires():
    board, clock = MemoryBoard(), _Clock()
    board.publish("acct", "crashed", Claim(4, 10, clock.now))
    budget = AccountBudget("acct", "alive", 10, board, refresh_seconds=60, clock=clock)
    with budget.running(10):
        assert budget.bucket.rate == 2.0
        clock.now += CLAIM_TTL_SECONDS + 1
        budget.refresh()
        assert budget.bucket.rate == 10


def test_blob_board_round_trip(storage_connection):
    board = BlobBoard(container_client(storage_connection, f"test-{uuid.uuid4().hex[:12]}"))
    board.publish("acct", "m1", Claim(2, 7.5, 123.25))
    board.publish("acct", "m2", Claim(1, 10.0, 124.0))
    board.publish("other", "m1", Claim(9, 1.0, 1.0))
    assert board.claims("acct") == {"m1": Claim(2, 7.5, 123.25), "m2": Claim(1, 10.0, 124.0)}
    board.withdraw("acct", "m1")
    board.withdraw("acct", "m1")  # twice is fine
    assert set(board.claims("acct")) == {"m2"}


def test_token_bucket_rate_can_change_while_shared():
    bucket = TokenBucket(10)
    bucket.set_rate(2.5)
    assert bucket.rate == 2.5
    with pytest.raises(ValueError, match="positive"):
        bucket.set_rate(0)


def test_two_instances_of_one_account_stay_under_its_limit_together(storage_connection, export_store):
    """Two runtimes (two scaled-out instances) hammer one account: the service never has to say 429."""
    key = secrets.token_hex(16)
    state = build_state(SeedSpec(projects_per_account=1, images_per_project=4), {"account-1": key})
    controls = state.account("account-1").controls
    board = BlobBoard(container_client(storage_connection, f"test-{uuid.uuid4().hex[:12]}"))
    with EmulatorServer(state) as server:
        controls.knobs.rate_limit_per_second = 10
        settings = load_settings(
            {
                "DSR_STORAGE_CONNECTION": storage_connection,
                "DSR_KEY_VAULT_URL": "https://unused.vault.azure.net",
                "DSR_ALLOWED_ENDPOINT_ORIGINS": server.base_url,
                "DSR_CV_MAX_RETRY_SECONDS": "0",  # a 429 would fail the call instead of being retried
            }
        )
        account = {"endpoint": server.base_url, "trainingKeySecret": "k", "secretVersion": "0" * 32}
        runtimes = [Runtime(settings, KeyOnlySecrets(key), export_store, board=board) for _ in range(2)]
        errors: list[BaseException] = []

        def work(runtime: Runtime) -> None:
            try:
                with runtime.unit_client(account) as (client, _):  # type: ignore[arg-type]
                    for _ in range(15):
                        client.get_projects()
            except BaseException as exc:
                errors.append(exc)

        time.sleep(1.1)  # let the service's bucket fill, as after any idle second
        threads = [threading.Thread(target=work, args=(r,)) for r in runtimes for _ in range(2)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert errors == []
    assert controls.counters["GetProjects"] == 60
    assert sum(controls.throttled.values()) == 0
    assert elapsed >= (60 - 10) / 10 * 0.9  # held to ~10 calls/s together, not 10 each


class _Keys:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = keys

    def resolve_version(self, name: str) -> str:
        return "0" * 32

    def get_secret(self, name: str, version: str) -> str:
        return self._keys[name]


def test_resources_behind_one_regional_endpoint_have_budgets_of_their_own(storage_connection, export_store):
    settings = load_settings(
        {"DSR_STORAGE_CONNECTION": storage_connection, "DSR_KEY_VAULT_URL": "https://unused.vault.azure.net"}
    )
    runtime = Runtime(settings, _Keys({"a": "k" * 32, "b": "j" * 32}), export_store)
    endpoint = "https://westeurope.api.cognitive.microsoft.com"
    first, second = (
        runtime.budget_for({"endpoint": endpoint, "trainingKeySecret": name, "secretVersion": "0" * 32})
        for name in ("a", "b")
    )
    assert first is not second
    assert "k" * 32 not in first.account  # the board never sees a key
