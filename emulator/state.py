"""The emulator's data: accounts (one training key each) holding projects, tags, images, iterations,
exports and stored predictions. Tests inspect and change it directly; the server guards it with ``lock``."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.controls import Controls


@dataclass
class TagRecord:
    id: str
    name: str
    description: str | None = None
    type: str = "Regular"
    created: datetime | None = None


@dataclass
class ImageRecord:
    id: str
    created: datetime
    width: int
    height: int
    tag_ids: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    in_workspace: bool = True
    delete_at: float | None = None
    """Monotonic time when an accepted (202) all-iterations deletion completes."""
    regions: list[RegionRecord] = field(default_factory=list)
    """Object-detection boxes; seeded images have none, uploaded ones may."""
    content: bytes | None = None
    """Uploaded bytes (CreateImagesFromFiles); None: rendered deterministically on download."""


@dataclass
class RegionRecord:
    id: str
    tag_id: str
    left: float
    top: float
    width: float
    height: float
    created: datetime


@dataclass
class ExportRecord:
    platform: str
    status: str = "Done"
    flavor: str | None = None
    newer_version_available: bool = False


@dataclass
class TagScore:
    """Seeded per-tag performance of an iteration at threshold 0.5."""

    tag_id: str
    precision: float
    recall: float
    average_precision: float


@dataclass
class IterationRecord:
    id: str
    name: str
    created: datetime
    trained_at: datetime
    domain_id: str
    classification_type: str = "Multiclass"
    status: str = "Completed"
    publish_name: str | None = None
    prediction_resource_id: str | None = None
    image_ids: set[str] = field(default_factory=set)
    tag_ids: set[str] = field(default_factory=set)
    scores: list[TagScore] = field(default_factory=list)
    exports: list[ExportRecord] = field(default_factory=list)


@dataclass
class PredictionRecord:
    id: str
    created: datetime
    iteration_id: str
    domain_id: str
    application: str
    scores: list[tuple[str, float]] = field(default_factory=list)
    """(tag id, probability) pairs."""


@dataclass
class ProjectRecord:
    id: str
    name: str
    description: str | None
    domain_id: str
    created: datetime
    classification_type: str = "Multiclass"
    tags: dict[str, TagRecord] = field(default_factory=dict)
    images: dict[str, ImageRecord] = field(default_factory=dict)
    iterations: dict[str, IterationRecord] = field(default_factory=dict)
    predictions: dict[str, PredictionRecord] = field(default_factory=dict)
    _views: dict[Any, list[ImageRecord]] = field(default_factory=dict, repr=False)
    _due: list[tuple[float, str]] = field(default_factory=list, repr=False)
    """Pending all-iterations deletions as a heap of (when, image id): settling looks at the head only."""

    def changed(self) -> None:
        """Drop cached image listings; call after any change to images or tags."""
        self._views.clear()

    def image_view(self, key: Any, build: Callable[[], list[ImageRecord]]) -> list[ImageRecord]:
        """A cached, ordered listing, so paging through 100,000 images does not re-sort per page."""
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = build()
        return view

    def schedule_deletion(self, image: ImageRecord, when: float) -> None:
        """Accept an asynchronous deletion of ``image`` that completes at monotonic time ``when``."""
        if image.delete_at is not None and image.delete_at <= when:
            return
        image.delete_at = when
        heapq.heappush(self._due, (when, image.id))

    def complete_deletions(self, now: float) -> None:
        """Finish accepted image deletions whose delay has passed: work in proportion to those due,
        not to the project's size, so every request costs the same at any account size."""
        done = False
        while self._due and self._due[0][0] <= now:
            when, image_id = heapq.heappop(self._due)
            image = self.images.get(image_id)
            if image is None or image.delete_at != when:
                continue  # already gone, or rescheduled earlier
            del self.images[image_id]
            for iteration in self.iterations.values():
                iteration.image_ids.discard(image_id)
            done = True
        if done:
            self.changed()

    def published_iterations(self) -> list[IterationRecord]:
        return [it for it in self.iterations.values() if it.publish_name]


@dataclass
class Account:
    name: str
    key: str = field(repr=False)
    projects: dict[str, ProjectRecord] = field(default_factory=dict)
    controls: Controls = field(default_factory=Controls)

    def add_project(self, project: ProjectRecord) -> ProjectRecord:
        self.projects[project.id] = project
        return project


class EmulatorState:
    """All accounts. Keys are only ever compared, never listed by the admin API."""

    def __init__(self, accounts: Iterable[Account] = (), *, blob_secret: bytes | None = None) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self._blob_secret = blob_secret or secrets.token_bytes(32)
        self.blob_counters: dict[str, int] = {}
        for account in accounts:
            self.add_account(account)

    def add_account(self, account: Account) -> Account:
        with self.lock:
            if account.name in self.accounts:
                raise ValueError(f"duplicate account {account.name!r}")
            if any(hmac.compare_digest(a.key, account.key) for a in self.accounts.values()):
                raise ValueError("two accounts share a key")
            self.accounts[account.name] = account
            return account

    def account(self, name: str) -> Account:
        return self.accounts[name]

    def account_for_key(self, key: str) -> Account | None:
        found = None
        for account in self.accounts.values():
            # Compare against every account so timing does not reveal which one matched.
            if hmac.compare_digest(account.key.encode(), key.encode()):
                found = account
        return found

    def find_project(self, project_id: str) -> tuple[Account, ProjectRecord] | None:
        for account in self.accounts.values():
            project = account.projects.get(project_id)
            if project is not None:
                return account, project
        return None

    def reset_counters(self) -> None:
        with self.lock:
            for account in self.accounts.values():
                account.controls.reset()
            self.blob_counters.clear()

    def settle(self, now: float | None = None) -> None:
        """Complete every due asynchronous deletion (the server does this before each request)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            for account in self.accounts.values():
                for project in account.projects.values():
                    project.complete_deletions(now)

    def sign(self, path: str) -> str:
        """SAS-like signature of a blob path; blob URIs work without the key but cannot be guessed."""
        # Keyed BLAKE2b is a MAC and much cheaper than HMAC-SHA256 when a page holds 768 URIs.
        return hashlib.blake2b(path.encode(), key=self._blob_secret, digest_size=16).hexdigest()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready summary of every account (names, ids and counts; never keys)."""
        with self.lock:
            return {
                "accounts": {
                    account.name: {
                        "projects": {pid: _project_summary(p) for pid, p in account.projects.items()},
                        "counters": dict(account.controls.counters),
                        "throttled": dict(account.controls.throttled),
                        "apiSpanSeconds": _span(account.controls),
                        "knobs": vars(account.controls.knobs).copy(),
                        "pendingFaults": sum(f.remaining for f in account.controls.faults),
                    }
                    for account in self.accounts.values()
                },
                "blobDownloads": dict(self.blob_counters),
            }


def _span(controls: Controls) -> float:
    if controls.first_call_at is None or controls.last_call_at is None:
        return 0.0
    return round(controls.last_call_at - controls.first_call_at, 3)


def _project_summary(project: ProjectRecord) -> dict[str, Any]:
    workspace = [img for img in project.images.values() if img.in_workspace]
    return {
        "name": project.name,
        "tags": sorted(project.tags),
        "images": len(project.images),
        "workspaceImages": len(workspace),
        "pendingDeletion": sum(1 for img in project.images.values() if img.delete_at is not None),
        "iterations": {
            it.id: {"name": it.name, "publishName": it.publish_name, "images": len(it.image_ids)}
            for it in project.iterations.values()
        },
        "predictions": len(project.predictions),
    }
