"""The reliability harness, shared by the CI tests in this folder and the soak (``soak.py``).

One emulator with three accounts (``race``, ``export``, ``delete``), their keys in the Key Vault
stand-in, and the real function app on devhost subprocesses. It runs requests, kills hosts at exact
points (emulator holds), and reduces what a request wrote to a form that two runs can be compared in:
request ids and clock times replaced, everything else (ids, bytes, counts, verification) kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import ContainerClient

from dsr.config import load_settings
from emulator.faults import FaultPlan
from emulator.seed import BASE_TIME, SeedSpec, account_name, build_state, subject_id
from emulator.server import EmulatorServer
from emulator.state import Account, EmulatorState, ImageRecord, ProjectRecord
from tests.e2e.stack import ExportFolder, HostProcess, environment

ACCOUNTS = ("race", "export", "delete")
SUBJECTS = 20
SPEC = SeedSpec(
    accounts=len(ACCOUNTS),
    projects_per_account=2,
    images_per_project=2 * (SUBJECTS + 2),
    tags_per_project=2,
    iterations_per_project=2,
    predictions_per_project=6,
    subjects=SUBJECTS,
)
"""Every one of the 20 subjects has two images per project, so every racing body has data."""
BULK_SUBJECT = "subject-bulk"
BULK_IMAGES = 600
"""Images of one subject in the delete account's first project: three DeleteImages batches (256)."""
VOLATILE_KEYS = frozenset(
    {"generatedAt", "startedAt", "completedAt", "at", "checkedAt", "durationMs", "receivedAt", "dueAt"}
)
"""Clock readings: they differ between any two runs, so comparisons blank them."""
_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def subject(index: int) -> str:
    return subject_id(index, SUBJECTS)


@dataclass
class Tally:
    """Figures for docs/reliability.md: what was tried, injected, killed and compared."""

    requests_run: int = 0
    races: int = 0
    race_submissions: int = 0
    kills: int = 0
    files_compared: int = 0
    receipts_compared: int = 0
    images_outside_scope_checked: int = 0
    images_lost: int = 0
    mismatches: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)

    def add_faults(self, injected: dict[str, int]) -> None:
        for kind, count in injected.items():
            self.faults[kind] = self.faults.get(kind, 0) + count


class Reliability:
    """The emulator, vault secrets and blob container of one run; hosts are made with :meth:`host`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = load_settings()  # fails loudly unless the local stack's settings are exported
        self.keys = {account_name(i): secrets.token_hex(16) for i in range(len(ACCOUNTS))}
        self.state: EmulatorState = build_state(SPEC, self.keys)
        add_bulk_subject(self.account("delete"))
        self.run_id = uuid.uuid4().hex[:10]
        self.container_name = f"rel-{self.run_id}"
        self.records_container_name = f"rel-{self.run_id}-records"
        self.emulator = EmulatorServer(self.state)
        self.tally = Tally()
        self._hosts: list[HostProcess] = []
        self._pristine = {name: copy.deepcopy(self.account(name).projects) for name in ACCOUNTS}

    def __enter__(self) -> Reliability:
        self.emulator.start()
        vault = SecretClient(
            self.settings.key_vault_url,
            DefaultAzureCredential(),
            verify_challenge_resource=self.settings.key_vault_verify_challenge_resource,
            connection_verify=self.settings.key_vault_ca_bundle or True,
        )
        for index, name in enumerate(ACCOUNTS):
            vault.set_secret(self.secret_name(name), self.keys[account_name(index)])
        return self

    def __exit__(self, *exc: object) -> None:
        for host in self._hosts:
            host.stop()
        self.emulator.stop()

    def account(self, name: str) -> Account:
        return self.state.account(account_name(ACCOUNTS.index(name)))

    def secret_name(self, name: str) -> str:
        return f"rel-{self.run_id}-{name}"

    def restore(self, name: str) -> None:
        """Put an account's data back as seeded (after a delete), with no faults or holds left."""
        account = self.account(name)
        with self.state.lock:
            account.projects = copy.deepcopy(self._pristine[name])
        account.controls.injector.set_plan(None)
        account.controls.injector.release_holds()

    def host(self, **settings: str) -> HostProcess:
        """A started host of its own (state directory, ports, log)."""
        index = len(self._hosts)
        host = HostProcess(
            env=environment(
                {
                    "DSR_ALLOWED_ENDPOINT_ORIGINS": self.emulator.base_url,
                    "DSR_EXPORT_CONTAINER": self.container_name,
                    "DSR_RECORDS_CONTAINER": self.records_container_name,
                    "DSR_REQUEST_QUEUE": self.container_name,
                    "DSR_DELETE_VERIFY_TIMEOUT_SECONDS": "30",
                    "DSR_CV_RATE_LIMIT_PER_SECOND": "200",
                    **settings,
                }
            ),
            state_dir=self.root / f"host-{index}" / "state",
            log_path=self.root / f"host-{index}.log",
            function_key=secrets.token_urlsafe(24),
        )
        host.state_dir.mkdir(parents=True, exist_ok=True)
        self._hosts.append(host)
        return host.start()

    def body(self, name: str, tag: str, **fields: Any) -> dict[str, Any]:
        """A request body; ids have one length so byte counts of files that hold them agree."""
        return {
            "requestId": f"{tag[:6]:-<6}-{uuid.uuid4().hex[:12]}",
            "account": {"endpoint": self.emulator.base_url, "trainingKeySecret": self.secret_name(name)},
            **fields,
        }

    def folder(self, request_id: str) -> ExportFolder:
        """The request's exports, payloads and journals (the export container)."""
        container = ContainerClient.from_connection_string(
            self.settings.storage_connection, self.container_name
        )
        return ExportFolder(container, request_id)

    def records(self, request_id: str) -> ExportFolder:
        """The request's record, status document and sealed receipts (the records container)."""
        container = ContainerClient.from_connection_string(
            self.settings.storage_connection, self.records_container_name
        )
        return ExportFolder(container, request_id)

    def images(self, name: str) -> dict[str, dict[str, str]]:
        """Image id -> metadata of every image the account still holds (pending deletions settled)."""
        self.state.settle()
        with self.state.lock:
            return {
                image.id: dict(image.metadata)
                for project in self.account(name).projects.values()
                for image in project.images.values()
            }


def add_bulk_subject(account: Account) -> None:
    """Give the first project ``BULK_IMAGES`` images of one subject; a third are in trained iterations."""
    project: ProjectRecord = account.projects[sorted(account.projects)[0]]
    rng = random.Random(f"bulk/{project.id}")
    trained = [it for it in project.iterations.values() if it.status == "Completed"]
    for n in range(BULK_IMAGES):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        project.images[image_id] = ImageRecord(
            image_id, BASE_TIME + timedelta(hours=n), 40, 30, [], {"subjectId": BULK_SUBJECT}
        )
        if n % 3 == 0 and trained:
            trained[n % len(trained)].image_ids.add(image_id)
    project.changed()


# -- running requests --------------------------------------------------------------------------------


def finish(host: HostProcess, request_id: str, timeout: float = 240) -> dict[str, Any]:
    """The final status document of a request (any terminal state)."""
    return dict(host.wait(request_id, timeout=timeout).json())


def run(rel: Reliability, host: HostProcess, body: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    accepted = host.submit(body)
    if accepted.status_code != 202:
        raise AssertionError(f"not accepted: {accepted.status_code} {accepted.text[:500]}")
    rel.tally.requests_run += 1
    return finish(host, body["requestId"], timeout)


def kill_at(
    rel: Reliability,
    host: HostProcess,
    name: str,
    body: dict[str, Any],
    operation: str,
    after: int,
    then: str = "drop",
    timeout: float = 240,
) -> dict[str, Any]:
    """Run ``body``, kill -9 the host while call ``after + 1`` of ``operation`` is in flight, restart
    it on the same state, and return the final document."""
    injector = rel.account(name).controls.injector
    hold = injector.hold(operation, after, then)  # type: ignore[arg-type]
    accepted = host.submit(body)
    if accepted.status_code != 202:
        raise AssertionError(f"not accepted: {accepted.status_code} {accepted.text[:500]}")
    rel.tally.requests_run += 1
    if not hold.reached.wait(timeout):
        injector.release_holds()
        raise AssertionError(f"the request never made call {after + 1} of {operation}")
    host.kill()
    rel.tally.kills += 1
    injector.release_holds()  # the held calls are dropped or applied; the caller is gone either way
    host.start()
    return finish(host, body["requestId"], timeout)


@contextmanager
def faults(rel: Reliability, name: str, plan: FaultPlan) -> Iterator[dict[str, int]]:
    """Run the block under ``plan`` on one account; yields the counts injected (filled in at exit)."""
    injector = rel.account(name).controls.injector
    injector.reset_counts()
    injector.set_plan(plan)
    injected: dict[str, int] = {}
    try:
        yield injected
    finally:
        injector.set_plan(None)
        injected.update(injector.injected)
        rel.tally.add_faults(injected)


def race(
    rel: Reliability, host: HostProcess, bodies: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], requests.Response]]:
    """POST every body at the same moment (one thread each, released by a barrier)."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[dict[str, Any], requests.Response] | None] = [None] * len(bodies)

    def submit(index: int) -> None:
        barrier.wait()
        results[index] = (bodies[index], host.submit(bodies[index]))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rel.tally.races += 1
    rel.tally.race_submissions += len(bodies)
    return [r for r in results if r is not None]


def orchestration_input(host: HostProcess, request_id: str) -> dict[str, Any]:
    """The input the request's orchestration was started with, read from devhost's Durable API."""
    response = requests.get(
        f"http://127.0.0.1:{host.rpc_port}/durabletask/instances/dsr-{request_id}",
        params={"showInput": "true"},
        timeout=10,
    )
    response.raise_for_status()
    value = response.json()["input"]
    return dict(json.loads(value) if isinstance(value, str) else value)


# -- what a request wrote, comparable across runs --------------------------------------------------


def normalise(value: Any, request_id: str) -> Any:
    """``value`` with the request id replaced and clock readings blanked; all else kept."""
    if isinstance(value, dict):
        return {
            key: "<clock>" if key in VOLATILE_KEYS and item is not None else normalise(item, request_id)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise(item, request_id) for item in value]
    if isinstance(value, str):
        return value.replace(request_id, "<request>")
    return value


def _text(data: bytes, request_id: str) -> str:
    return _CLOCK.sub("<clock>", data.decode().replace(request_id, "<request>"))


def export_files(rel: Reliability, document: dict[str, Any]) -> dict[str, Any]:
    """Every file the export's manifest lists, normalised; checks each file's bytes and sha256 first.

    Binary files (image bytes, models) are compared by their sha256 as they are; text files by their
    normalised content, since they hold the request id and clock readings.
    """
    request_id = document["requestId"]
    folder = rel.folder(request_id)
    manifest = folder.json(document["manifest"]["path"])
    root = manifest["root"]
    on_disk = {name.removeprefix(root + "/") for name in folder.names() if name.startswith(root + "/")}
    listed = {entry["path"]: entry for entry in manifest["files"]}
    if set(listed) != on_disk - {"manifest.json"}:
        raise AssertionError(
            f"manifest and blobs differ: {sorted(set(listed) ^ (on_disk - {'manifest.json'}))}"
        )
    files: dict[str, Any] = {}
    for path, entry in listed.items():
        data = folder.read(f"{root}/{path}")
        if entry["bytes"] != len(data) or entry["sha256"] != hashlib.sha256(data).hexdigest():
            raise AssertionError(f"{path}: bytes or sha256 differ from the manifest")
        if path.endswith(".html"):
            files[path] = _text(data, request_id)
        elif path.endswith(".ndjson"):
            files[path] = [
                normalise(json.loads(line), request_id) for line in data.splitlines() if line.strip()
            ]
        elif path.endswith(".json"):
            files[path] = normalise(json.loads(data), request_id)
        else:
            files[path] = entry["sha256"]
    rel.tally.files_compared += len(files)
    return files


RECEIPT_FIELDS = ("category", "projectId", "dryRun", "subjectScoped", "targeted", "deleted", "note")


def receipt_documents(rel: Reliability, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path -> receipt of every receipt the status document lists, each checked against its sha256."""
    folder = rel.records(document["requestId"])
    found: dict[str, dict[str, Any]] = {}
    for entry in document["categories"].values():
        for ref in (entry.get("receipt") or {}).get("files", []):
            data = folder.read(ref["path"])
            if hashlib.sha256(data).hexdigest() != ref["sha256"]:
                raise AssertionError(f"{ref['path']}: sha256 differs from the status document")
            found[ref["path"]] = json.loads(data)
    return found


def receipts(rel: Reliability, document: dict[str, Any]) -> dict[str, Any]:
    """Each receipt's exact content (what was targeted, deleted, verified), keyed by its path.

    Left out: the calls made and their timing (a run that was retried makes more calls).
    """
    request_id = document["requestId"]
    found: dict[str, Any] = {}
    for path, receipt in receipt_documents(rel, document).items():
        verification = receipt.get("verification") or {}
        found[path.replace(request_id, "<request>")] = {
            **{name: normalise(receipt.get(name), request_id) for name in RECEIPT_FIELDS},
            "targeted": sorted(receipt["targeted"]["ids"]),
            "deleted": sorted(receipt["deleted"]["ids"]),
            "deletedCount": receipt["deleted"]["count"],
            "alreadyGone": sorted(receipt["alreadyGone"]["ids"]),
            "verified": verification.get("verified"),
            "remaining": (verification.get("remaining") or {}).get("ids"),
        }
    rel.tally.receipts_compared += len(found)
    return found


RUN_COUNTS = frozenset({"apiCalls", "throttled"})
"""Counts that describe how a run went (calls made, 429s met), not what it exported or deleted."""


def outcome(document: dict[str, Any]) -> dict[str, Any]:
    """The status document's verdict: overall state and, per category, state, counts (less the
    run-dependent ones) and verified."""
    return {
        "state": document["state"],
        "categories": {
            name: {
                "state": entry["state"],
                "counts": {k: v for k, v in (entry.get("counts") or {}).items() if k not in RUN_COUNTS},
                "verified": entry.get("verified"),
            }
            for name, entry in document["categories"].items()
        },
    }


def check_equal(rel: Reliability, what: str, got: Any, want: Any) -> None:
    """Record a mismatch in the tally and raise, so tests fail and the soak counts it.

    ``want`` is a clean run's output, or what the emulator's data says the run must have used."""
    if got != want:
        rel.tally.mismatches.append(what)
        raise AssertionError(f"{what}: not as expected\n got: {_short(got)}\nwant: {_short(want)}")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 3000 else text[:3000] + "..."


def scope_kept(rel: Reliability, before: dict[str, dict[str, str]], name: str, in_scope: Any) -> None:
    """Nothing outside the request's scope was removed: every such image is still there."""
    after = rel.images(name)
    outside = {image_id for image_id, metadata in before.items() if not in_scope(metadata)}
    lost = outside - set(after)
    rel.tally.images_outside_scope_checked += len(outside)
    rel.tally.images_lost += len(lost)
    if lost:
        rel.tally.mismatches.append(f"{len(lost)} image(s) outside the scope were removed")
        raise AssertionError(f"{len(lost)} image(s) outside the scope were removed")
