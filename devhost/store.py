"""SQLite persistence for instances, history and pending work.

Every state change of an orchestration is one transaction (an episode, a completed activity, a fired
timer, a raised event), so killing the process at any point leaves a state the host can resume from.
WAL with synchronous=NORMAL survives a killed process (not a power cut), which is what a dev host needs.

Several host processes (scale-out instances) may share one file. Each registers as a worker; an
orchestration episode runs under a lease on its instance and an activity under a claim, both held by
one worker, and a worker whose process is gone loses them (its activities run again elsewhere:
at-least-once, as when an Azure instance dies).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from devhost.engine import ActivityWork, EpisodeOutcome, Instance, Message, new_engine_state, new_execution_id
from devhost.history import TERMINAL_STATUSES, Event, EventType, RuntimeStatus, event, iso, parse_time, utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    engine_state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, idx)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    instance_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    activity_id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL
);
"""
# How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30.0


class InstanceExistsError(Exception):
    """start_new with the id of an instance that is still Pending or Running."""


class LeaseLostError(Exception):
    """An episode's lease or messages were taken over (its worker was taken for dead, or a purge)."""


@dataclass(frozen=True)
class InstanceRecord:
    """An instance row as the status API reports it."""

    instance_id: str
    name: str
    execution_id: str
    status: str
    input_json: str | None
    output_json: str | None
    custom_status_json: str | None
    created: datetime
    updated: datetime
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    engine_state: dict[str, Any]

    def to_engine(self) -> Instance:
        """The subset the engine works on."""
        return Instance(
            instance_id=self.instance_id,
            name=self.name,
            execution_id=self.execution_id,
            status=self.status,
            input_json=self.input_json,
            custom_status_json=self.custom_status_json,
            parent_instance_id=self.parent_instance_id,
            parent_execution_id=self.parent_execution_id,
            parent_task_id=self.parent_task_id,
            engine_state=self.engine_state,
        )


@dataclass(frozen=True)
class ActivityRow:
    """A pending activity invocation (deleted when its result is recorded)."""

    row_id: int
    instance_id: str
    execution_id: str
    work: ActivityWork


@dataclass(frozen=True)
class TimerRow:
    """A pending durable timer (deleted when it fires or is canceled)."""

    row_id: int
    instance_id: str
    execution_id: str
    timer_id: int
    fire_at: datetime


@dataclass(frozen=True)
class Completion:
    """The result of a pending activity or timer, to record as a message for its instance."""

    source_table: str
    row_id: int
    instance_id: str
    execution_id: str
    event: Event


@dataclass(frozen=True)
class InstanceFilter:
    """Query parameters of the list and purge-by APIs."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    statuses: frozenset[str] | None = None
    prefix: str | None = None


@dataclass
class CommitResult:
    """Rows created by an episode commit, for the dispatcher to act on."""

    activities: list[ActivityRow]
    timers: list[TimerRow]
    notified: list[str]


def _row_to_record(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        instance_id=row["instance_id"],
        name=row["name"],
        execution_id=row["execution_id"],
        status=row["status"],
        input_json=row["input"],
        output_json=row["output"],
        custom_status_json=row["custom_status"],
        created=parse_time(row["created"]),
        updated=parse_time(row["updated"]),
        parent_instance_id=row["parent_instance_id"],
        parent_execution_id=row["parent_execution_id"],
        parent_task_id=row["parent_task_id"],
        engine_state=json.loads(row["engine_state"]),
    )


def _played(ev: Event) -> str:
    return json.dumps({**ev, "IsPlayed": True})


class Store:
    """All durable state in one SQLite file. Used from the host's event-loop thread only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ instances
    def create_instance(
        self,
        instance_id: str,
        name: str,
        input_json: str | None,
        *,
        parent: tuple[str, str, int] | None = None,
    ) -> None:
        """Create (or replace a finished) instance and queue its ExecutionStarted message."""
        with self._tx() as db:
            self._create(db, instance_id, name, input_json, parent)

    def _create(
        self,
        db: sqlite3.Connection,
        instance_id: str,
        name: str,
        input_json: str | None,
        parent: tuple[str, str, int] | None,
    ) -> None:
        row = db.execute("SELECT status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        if row is not None and row["status"] not in TERMINAL_STATUSES:
            raise InstanceExistsError(
                f"An Orchestration instance with the status {row['status']} already exists."
            )
        self._delete_instance(db, instance_id)
        now = iso(utcnow())
        execution_id = new_execution_id()
        parent_id, parent_execution, parent_task = parent if parent else (None, None, None)
        db.execute(
            "INSERT INTO instances VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?)",
            (
                instance_id,
                name,
                execution_id,
                RuntimeStatus.PENDING,
                input_json,
                now,
                now,
                parent_id,
                parent_execution,
                parent_task,
                json.dumps(new_engine_state()),
            ),
        )
        started = event(
            EventType.EXECUTION_STARTED,
            Name=name,
            Version="",
            Input=input_json,
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
            ParentInstance=(
                {"OrchestrationInstance": {"InstanceId": parent_id}, "TaskScheduleId": parent_task}
                if parent_id
                else None
            ),
        )
        db.execute(
            "INSERT INTO messages (instance_id, execution_id, event) VALUES (?, ?, ?)",
            (instance_id, execution_id, json.dumps(started)),
        )

    @staticmethod
    def _delete_instance(db: sqlite3.Connection, instance_id: str) -> None:
        db.execute(
            "DELETE FROM claims WHERE activity_id IN (SELECT id FROM activities WHERE instance_id = ?)",
            (instance_id,),
        )
        for table in ("instances", "history", "messages", "activities", "timers", "leases"):
            db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))  # noqa: S608

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        """One instance, or None."""
        row = self._db.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return _row_to_record(row) if row else None

    def query_instances(self, where: InstanceFilter) -> list[InstanceRecord]:
        """Instances matching the list/purge filter, oldest first."""
        sql, args = "SELECT * FROM instances WHERE 1=1", list[Any]()
        if where.created_from is not None:
            sql += " AND created >= ?"
            args.append(iso(where.created_from))
        if where.created_to is not None:
            sql += " AND created <= ?"
            args.append(iso(where.created_to))
        if where.prefix:
            sql += " AND substr(instance_id, 1, ?) = ?"
            args.extend([len(where.prefix), where.prefix])
        rows = [_row_to_record(r) for r in self._db.execute(sql + " ORDER BY created", args)]
        if where.statuses is not None:
            rows = [r for r in rows if r.status in where.statuses]
        return rows

    def purge(self, instance_ids: list[str]) -> int:
        """Delete instances with their history and pending work, in any state (running ones too)."""
        deleted = 0
        with self._tx() as db:
            for instance_id in instance_ids:
                row = db.execute("SELECT 1 FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
                if row is not None:
                    self._delete_instance(db, instance_id)
                    deleted += 1
        return deleted

    def history(self, instance_id: str) -> list[str]:
        """History events of the current execution as stored JSON text, in order."""
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY idx", (instance_id,)
        )
        return [r["event"] for r in rows]

    # ------------------------------------------------------------------ messages
    def add_message(self, instance_id: str, ev: Event, execution_id: str | None = None) -> None:
        """Queue a message (raised event, termination) for an instance."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO messages (instance_id, execution_id, event) VALUES (?, ?, ?)",
                (instance_id, execution_id, json.dumps(ev)),
            )

    def messages(self, instance_id: str) -> list[Message]:
        """Pending messages of an instance in arrival order."""
        rows = self._db.execute(
            "SELECT id, execution_id, event FROM messages WHERE instance_id = ? ORDER BY id", (instance_id,)
        )
        return [Message(r["id"], r["execution_id"], json.loads(r["event"])) for r in rows]

    def instances_with_messages(self) -> list[str]:
        """Ids of instances that have pending messages and no episode running on any worker."""
        rows = self._db.execute(
            "SELECT DISTINCT m.instance_id FROM messages m"
            " LEFT JOIN leases l ON l.instance_id = m.instance_id WHERE l.instance_id IS NULL"
        )
        return [r["instance_id"] for r in rows]

    # ------------------------------------------------------------------ workers, leases, claims
    def register_worker(self, worker_id: str, pid: int) -> None:
        """Record a running worker (one host process, or one Host object in a test process)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO workers VALUES (?, ?)", (worker_id, pid))

    def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker and free what it held (its activities become claimable again)."""
        with self._tx() as db:
            self._forget_worker(db, worker_id)

    @staticmethod
    def _forget_worker(db: sqlite3.Connection, worker_id: str) -> None:
        db.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
        db.execute("DELETE FROM leases WHERE owner = ?", (worker_id,))
        db.execute("DELETE FROM claims WHERE owner = ?", (worker_id,))

    def reap_workers(self, alive: Callable[[int], bool]) -> int:
        """Forget workers whose process is gone; returns how many."""
        rows = self._db.execute("SELECT worker_id, pid FROM workers").fetchall()
        dead = [r["worker_id"] for r in rows if not alive(int(r["pid"]))]
        if dead:
            with self._tx() as db:
                for worker_id in dead:
                    self._forget_worker(db, worker_id)
        return len(dead)

    def worker_count(self) -> int:
        """Registered workers (the host's instances)."""
        return int(self._db.execute("SELECT COUNT(*) AS n FROM workers").fetchone()["n"])

    def acquire_lease(self, instance_id: str, owner: str) -> bool:
        """Take (or keep) the right to run the instance's next episode."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO leases VALUES (?, ?)", (instance_id, owner))
            row = db.execute("SELECT owner FROM leases WHERE instance_id = ?", (instance_id,)).fetchone()
        return row is not None and row["owner"] == owner

    def release_lease(self, instance_id: str, owner: str) -> None:
        """Give the instance back (no episode of ``owner`` runs for it any more)."""
        with self._tx() as db:
            db.execute("DELETE FROM leases WHERE instance_id = ? AND owner = ?", (instance_id, owner))

    def claim_activity(self, activity_id: int, owner: str) -> bool:
        """Take a pending activity for ``owner``; False when it is gone or another worker runs it."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM activities WHERE id = ?", (activity_id,)).fetchone() is None:
                return False
            cur = db.execute("INSERT OR IGNORE INTO claims VALUES (?, ?)", (activity_id, owner))
        return bool(cur.rowcount)

    def release_claim(self, activity_id: int, owner: str) -> None:
        """Let the activity run again (its worker restarted under it)."""
        with self._tx() as db:
            db.execute("DELETE FROM claims WHERE activity_id = ? AND owner = ?", (activity_id, owner))

    def unclaimed_activities(self, limit: int) -> list[ActivityRow]:
        """Pending activities no worker runs, oldest first."""
        rows = self._db.execute(
            "SELECT a.* FROM activities a LEFT JOIN claims c ON c.activity_id = a.id"
            " WHERE c.activity_id IS NULL ORDER BY a.id LIMIT ?",
            (limit,),
        )
        return [
            ActivityRow(
                r["id"],
                r["instance_id"],
                r["execution_id"],
                ActivityWork(r["task_id"], r["name"], r["input"]),
            )
            for r in rows
        ]

    def timers_after(self, row_id: int) -> list[TimerRow]:
        """Pending timers created after row ``row_id`` (by any worker)."""
        rows = self._db.execute("SELECT * FROM timers WHERE id > ? ORDER BY id", (row_id,))
        return [
            TimerRow(r["id"], r["instance_id"], r["execution_id"], r["timer_id"], parse_time(r["fire_at"]))
            for r in rows
        ]

    def drop_messages(self, message_ids: list[int]) -> None:
        """Discard messages that can no longer be delivered (instance finished or gone)."""
        with self._tx() as db:
            db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in message_ids])

    # ------------------------------------------------------------------ activities and timers
    def record_completions(self, completions: list[Completion]) -> list[str]:
        """Turn finished activities / fired timers into messages; returns the instances to wake.

        A completion whose row is gone (instance finished, timer canceled) is dropped.
        """
        woken: list[str] = []
        with self._tx() as db:
            for c in completions:
                cur = db.execute(f"DELETE FROM {c.source_table} WHERE id = ?", (c.row_id,))  # noqa: S608
                if c.source_table == "activities":
                    db.execute("DELETE FROM claims WHERE activity_id = ?", (c.row_id,))
                if cur.rowcount:
                    db.execute(
                        "INSERT INTO messages (instance_id, execution_id, event) VALUES (?, ?, ?)",
                        (c.instance_id, c.execution_id, json.dumps(c.event)),
                    )
                    woken.append(c.instance_id)
        return woken

    # ------------------------------------------------------------------ episodes
    def commit_episode(self, outcome: EpisodeOutcome, execution_id: str, owner: str) -> CommitResult:
        """Apply one episode atomically: history, instance row, consumed messages and new work.

        Raises LeaseLostError (and changes nothing) unless ``owner`` still holds the lease and every
        consumed message is still there; the lease is released with the commit.
        """
        result = CommitResult(activities=[], timers=[], notified=[])
        iid = outcome.instance_id
        with self._tx() as db:
            lease = db.execute("SELECT owner FROM leases WHERE instance_id = ?", (iid,)).fetchone()
            if lease is None or lease["owner"] != owner:
                raise LeaseLostError(f"lease on {iid} lost")
            deleted = sum(
                db.execute("DELETE FROM messages WHERE id = ?", (i,)).rowcount for i in outcome.consumed
            )
            if deleted != len(outcome.consumed):
                raise LeaseLostError(f"messages of {iid} were consumed elsewhere")
            db.execute("DELETE FROM leases WHERE instance_id = ?", (iid,))
            if outcome.reset_history:
                db.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
            row = db.execute(
                "SELECT COALESCE(MAX(idx), -1) + 1 AS n FROM history WHERE instance_id = ?", (iid,)
            ).fetchone()
            start = int(row["n"])
            db.executemany(
                "INSERT INTO history VALUES (?, ?, ?)",
                [(iid, start + i, _played(e)) for i, e in enumerate(outcome.history)],
            )
            new_execution = outcome.execution_id or execution_id
            db.execute(
                "UPDATE instances SET status = ?, output = ?, custom_status = ?, execution_id = ?,"
                " input = COALESCE(?, input), engine_state = ?, updated = ? WHERE instance_id = ?",
                (
                    outcome.status,
                    outcome.output_json,
                    outcome.custom_status_json,
                    new_execution,
                    outcome.input_json,
                    json.dumps(outcome.engine_state),
                    iso(utcnow()),
                    iid,
                ),
            )
            if outcome.status in TERMINAL_STATUSES or outcome.reset_history:
                db.execute("DELETE FROM activities WHERE instance_id = ?", (iid,))
                db.execute("DELETE FROM timers WHERE instance_id = ?", (iid,))
            for timer_id in outcome.canceled_timers:
                db.execute(
                    "DELETE FROM timers WHERE instance_id = ? AND execution_id = ? AND timer_id = ?",
                    (iid, execution_id, timer_id),
                )
            for work in outcome.activities:
                cur = db.execute(
                    "INSERT INTO activities (instance_id, execution_id, task_id, name, input)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (iid, execution_id, work.task_id, work.name, work.input_json),
                )
                result.activities.append(ActivityRow(int(cur.lastrowid or 0), iid, execution_id, work))
            for timer in outcome.timers:
                cur = db.execute(
                    "INSERT INTO timers (instance_id, execution_id, timer_id, fire_at) VALUES (?, ?, ?, ?)",
                    (iid, execution_id, timer.timer_id, iso(timer.fire_at)),
                )
                result.timers.append(
                    TimerRow(int(cur.lastrowid or 0), iid, execution_id, timer.timer_id, timer.fire_at)
                )
            for child in outcome.children:
                try:
                    self._create(
                        db,
                        child.instance_id,
                        child.name,
                        child.input_json,
                        (iid, execution_id, child.parent_task_id),
                    )
                    result.notified.append(child.instance_id)
                except InstanceExistsError as ex:
                    failed = event(
                        EventType.SUB_ORCHESTRATION_FAILED,
                        TaskScheduledId=child.parent_task_id,
                        Reason=str(ex),
                        Details=str(ex),
                    )
                    db.execute(
                        "INSERT INTO messages (instance_id, execution_id, event) VALUES (?, ?, ?)",
                        (iid, execution_id, json.dumps(failed)),
                    )
                    result.notified.append(iid)
            for out in outcome.outbound:
                db.execute(
                    "INSERT INTO messages (instance_id, execution_id, event) VALUES (?, ?, ?)",
                    (out.instance_id, out.execution_id, json.dumps(out.event)),
                )
                result.notified.append(out.instance_id)
        return result
