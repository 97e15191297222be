"""An account's Training API budget (calls/s), shared by every process working for that account.

Custom Vision limits calls per resource, not per caller: activities running in parallel, in one worker
or in several scaled-out instances, must stay under the limit *together*. Each process keeps one token
bucket per account (all its threads wait on it) and publishes a *claim* on a shared board: how many
units it is running for the account, and the budget they asked for. Every process sets its bucket to
its share of the smallest budget claimed, ``budget * my units / all live units``, and refreshes the
claim about once a second, so shares follow the work as units start and finish. A process that dies
stops refreshing and its claim expires. Throttling (429 + Retry-After) stays the backstop for the
second after a new process joins, not the plan.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Protocol

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from dsr import layout
from dsr.customvision import TokenBucket

REFRESH_SECONDS = 1.0
"""How often a process with running units republishes its claim and recomputes its share."""
CLAIM_TTL_SECONDS = 5.0
"""A claim not refreshed for this long belongs to a process that stopped: it no longer counts."""


@dataclass(frozen=True)
class Claim:
    units: int
    budget: float
    """The smallest calls/s budget among the member's running units."""
    at: float
    """Wall-clock time (epoch seconds) of the last refresh."""


class ClaimBoard(Protocol):
    """Where the processes of one deployment see each other's claims."""

    def publish(self, account: str, member: str, claim: Claim) -> None: ...

    def withdraw(self, account: str, member: str) -> None: ...

    def claims(self, account: str) -> dict[str, Claim]: ...


class MemoryBoard:
    """A board within one process (tests; several runtimes standing in for several instances)."""

    def __init__(self) -> None:
        self._claims: dict[str, dict[str, Claim]] = {}
        self._lock = threading.Lock()

    def publish(self, account: str, member: str, claim: Claim) -> None:
        with self._lock:
            self._claims.setdefault(account, {})[member] = claim

    def withdraw(self, account: str, member: str) -> None:
        with self._lock:
            self._claims.get(account, {}).pop(member, None)

    def claims(self, account: str) -> dict[str, Claim]:
        with self._lock:
            return dict(self._claims.get(account, {}))


class BlobBoard:
    """Claims as empty blobs whose metadata holds the claim: one listing reads every claim."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self._ensured = False

    def _ensure(self) -> None:
        if not self._ensured:
            with suppress(ResourceExistsError):
                self._container.create_container()
            self._ensured = True

    def publish(self, account: str, member: str, claim: Claim) -> None:
        self._ensure()
        metadata = {"units": str(claim.units), "budget": repr(claim.budget), "at": repr(claim.at)}
        self._container.upload_blob(
            layout.board_claim(account, member), b"", overwrite=True, metadata=metadata
        )

    def withdraw(self, account: str, member: str) -> None:
        with suppress(ResourceNotFoundError):
            self._container.delete_blob(layout.board_claim(account, member))

    def claims(self, account: str) -> dict[str, Claim]:
        self._ensure()
        prefix = layout.board_prefix(account)
        found: dict[str, Claim] = {}
        for item in self._container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            meta = item.metadata or {}
            try:
                claim = Claim(int(meta["units"]), float(meta["budget"]), float(meta["at"]))
            except (KeyError, ValueError):
                continue  # a half-written or foreign blob: not a claim
            found[item.name.removeprefix(prefix)] = claim
        return found


def account_key(endpoint: str, training_key: str) -> str:
    """The board's name for a Custom Vision resource: a one-way hash of its endpoint and key (many
    resources share a regional endpoint; the key tells them apart and never leaves the process)."""
    return hashlib.sha256(f"dsr-ratebudget\n{endpoint}\n{training_key}".encode()).hexdigest()[:32]


def share(mine: Claim, others: list[Claim]) -> float:
    """This member's calls/s: the smallest budget claimed, split in proportion to running units."""
    live = [mine, *others]
    units = sum(c.units for c in live)
    return min(c.budget for c in live) * mine.units / units


class AccountBudget:
    """One process's side of an account's budget: the bucket its units wait on, kept at its share.

    ``board=None`` means this process is the only one (tests, benchmarks of one worker): the bucket
    then runs at the budget of the units running.
    """

    def __init__(
        self,
        account: str,
        member: str,
        default_budget: float,
        board: ClaimBoard | None = None,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.member = member
        # No bursts: calls are paced evenly, so processes that have not yet seen each other's claims
        # (the first second after one joins) stay within what the service's own bucket absorbs.
        self.bucket = TokenBucket(default_budget, burst=1.0)
        self._board = board
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._budgets: list[float] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.board_errors = 0

    @contextmanager
    def running(self, budget: float) -> Iterator[TokenBucket]:
        """Count one unit (asking for ``budget`` calls/s) as running while the block runs."""
        with self._lock:
            self._budgets.append(budget)
            if self._board is not None and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="dsr-ratebudget", daemon=True)
                self._thread.start()
        self.refresh()
        try:
            yield self.bucket
        finally:
            with self._lock:
                self._budgets.remove(budget)
                idle = not self._budgets
            if idle:
                # Withdraw at once, so the other processes take the whole budget at their next refresh.
                self._withdraw()
                self._wake.set()
            else:
                self.refresh()

    def _claim(self) -> Claim | None:
        with self._lock:
            if not self._budgets:
                return None
            return Claim(len(self._budgets), min(self._budgets), self._clock())

    def refresh(self) -> None:
        """Publish this process's claim and set the bucket to its share of the account's budget."""
        mine = self._claim()
        if mine is None:
            return
        if self._board is None:
            self.bucket.set_rate(mine.budget)
            return
        try:
            self._board.publish(self.account, self.member, mine)
            claims = self._board.claims(self.account)
        except AzureError:
            # Storage hiccup: keep the last share; the service's 429s still protect the account.
            self.board_errors += 1
            return
        now = self._clock()
        others = [
            c for m, c in claims.items() if m != self.member and now - c.at < CLAIM_TTL_SECONDS and c.units
        ]
        self.bucket.set_rate(share(mine, others))

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._refresh_seconds)
            self._wake.clear()
            with self._lock:
                if not self._budgets:
                    self._thread = None
                    return
            self.refresh()

    def _withdraw(self) -> None:
        if self._board is None:
            return
        try:
            self._board.withdraw(self.account, self.member)
        except AzureError:
            self.board_errors += 1
