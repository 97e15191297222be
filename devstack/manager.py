"""Start, stop and inspect the local services by pid file.

A service started here runs in its own session (so stopping it also stops its children), writes to
``logs/<service>.log`` and is remembered in ``run/<service>.pid`` together with its kernel start time, so
a recycled pid is never mistaken for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from devstack.environment import local_environment
from devstack.layout import DevstackError, StackLayout
from devstack.services import Service, port_open

POLL_INTERVAL_SECONDS = 0.1
LOG_TAIL_LINES = 40
KILL_WAIT_SECONDS = 3.0


def _proc_start_time(pid: int) -> str | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it follow the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child (tests start services in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and has not exited."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


@dataclass(frozen=True)
class PidRecord:
    """Content of a pid file."""

    pid: int
    start_time: str | None
    started_at: str

    def alive(self) -> bool:
        """The recorded process is still the one running under this pid."""
        if not pid_alive(self.pid):
            return False
        current = _proc_start_time(self.pid)
        return self.start_time is None or current is None or current == self.start_time


@dataclass(frozen=True)
class ServiceState:
    """What ``status`` reports for one service."""

    name: str
    pid: int | None
    running: bool
    ready: bool
    ports: tuple[int, ...]
    log_file: Path


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' if there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ServiceManager:
    """Runs devstack commands against one :class:`StackLayout`."""

    def __init__(
        self,
        layout: StackLayout,
        *,
        base_env: Mapping[str, str] | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.layout = layout
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def _say(self, message: str) -> None:
        print(message, file=self._out, flush=True)

    # ---- pid files -------------------------------------------------------------------------------------

    def read_pid(self, service: str) -> PidRecord | None:
        """The pid record of ``service`` (None if missing or unreadable)."""
        try:
            doc = json.loads(self.layout.pid_file(service).read_text(encoding="utf-8"))
            return PidRecord(
                pid=int(doc["pid"]), start_time=doc.get("startTime"), started_at=doc["startedAt"]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_pid(self, service: str, pid: int) -> None:
        path = self.layout.pid_file(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "pid": pid,
            "startTime": _proc_start_time(pid),
            "startedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path.write_text(json.dumps(doc) + "\n", encoding="utf-8")

    def _remove_pid(self, service: str) -> None:
        self.layout.pid_file(service).unlink(missing_ok=True)

    # ---- start -----------------------------------------------------------------------------------------

    def service_env(self, service: Service) -> dict[str, str]:
        """The environment a service runs with: the caller's, the local configuration, its own extras."""
        env = dict(self._base_env)
        env.update(local_environment(self.layout))
        env.update(service.extra_env(self.layout))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _wait_ready(self, service: Service, process: subprocess.Popen[bytes] | None, pid: int) -> str | None:
        """None once ready; otherwise why not (exited, or timed out)."""
        deadline = time.monotonic() + self.layout.start_timeout
        while True:
            if process is not None and process.poll() is not None:
                return f"exited with code {process.returncode} before it was ready"
            if process is None and not pid_alive(pid):
                return "exited before it was ready"
            if service.ready(self.layout):
                return None
            if time.monotonic() >= deadline:
                return f"not ready after {self.layout.start_timeout:g}s"
            time.sleep(POLL_INTERVAL_SECONDS)

    def _fail(self, service: Service, reason: str) -> None:
        log = self.layout.log_file(service.name)
        lines = tail(log)
        message = f"devstack: {service.name} {reason}; last lines of {log}:\n{lines or '(log is empty)'}"
        raise DevstackError(message)

    def start_one(self, service: Service) -> None:
        """Start ``service`` unless it already runs; wait until it is ready."""
        record = self.read_pid(service.name)
        if record is not None and record.alive():
            reason = self._wait_ready(service, None, record.pid)
            if reason is None:
                self._say(f"{service.name}: already running (pid {record.pid})")
                return
            self._fail(service, f"(pid {record.pid}) is running but {reason}")
        if record is not None:
            self._remove_pid(service.name)
        command = service.command(self.layout)
        busy = [p for p in service.ports(self.layout) if port_open(p)]
        if busy:
            raise DevstackError(
                f"devstack: cannot start {service.name}: port(s) {', '.join(map(str, busy))} on 127.0.0.1 "
                f"are already in use by a process devstack did not start (see {self.layout.run_dir})"
            )
        log_path = self.layout.log_file(service.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.layout.data_dir(service.name).mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"==== devstack start {service.name} {stamp} ====\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                cwd=self.layout.repo_root,
                env=self.service_env(service),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._write_pid(service.name, process.pid)
        reason = self._wait_ready(service, process, process.pid)
        if reason is not None:
            self._terminate(process.pid)
            self._remove_pid(service.name)
            self._fail(service, reason)
        self._say(f"{service.name}: started (pid {process.pid}), ready on port(s) {self._ports(service)}")

    def start(self, services: list[Service]) -> None:
        """Start several services in order; the first failure stops the sequence."""
        for service in services:
            self.start_one(service)

    # ---- stop ------------------------------------------------------------------------------------------

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            # Not a group leader we own: signal just the process.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL_SECONDS)
        return True

    def _terminate(self, pid: int) -> bool:
        """SIGTERM the service's process group, then SIGKILL after the stop timeout; True if it was killed."""
        self._signal(pid, signal.SIGTERM)
        if self._wait_exit(pid, self.layout.stop_timeout):
            return False
        self._signal(pid, signal.SIGKILL)
        self._wait_exit(pid, KILL_WAIT_SECONDS)
        return True

    def stop_one(self, service: Service) -> None:
        """Stop ``service`` if its pid file names a live process; remove the pid file either way."""
        record = self.read_pid(service.name)
        if record is None:
            self._say(f"{service.name}: not running")
            return
        if record.alive():
            killed = self._terminate(record.pid)
            how = "killed (did not exit on SIGTERM)" if killed else "stopped"
            self._say(f"{service.name}: {how} (pid {record.pid})")
        else:
            self._say(f"{service.name}: not running (removed stale pid file)")
        self._remove_pid(service.name)

    def stop(self, services: list[Service]) -> None:
        """Stop services in reverse start order."""
        for service in reversed(services):
            self.stop_one(service)

    # ---- status ----------------------------------------------------------------------------------------

    def _ports(self, service: Service) -> str:
        return ",".join(str(p) for p in service.ports(self.layout))

    def state(self, service: Service) -> ServiceState:
        """Whether ``service`` runs and answers its readiness probe."""
        record = self.read_pid(service.name)
        running = record is not None and record.alive()
        return ServiceState(
            name=service.name,
            pid=record.pid if record is not None and running else None,
            running=running,
            ready=running and service.ready(self.layout),
            ports=service.ports(self.layout),
            log_file=self.layout.log_file(service.name),
        )

    def status(self, services: list[Service]) -> list[ServiceState]:
        """Print and return the state of each service."""
        states = [self.state(s) for s in services]
        for st in states:
            if st.running:
                health = "ready" if st.ready else "NOT READY"
                line = (
                    f"{st.name:<13} running  pid {st.pid:<8} {health:<9} ports {','.join(map(str, st.ports))}"
                )
            else:
                line = f"{st.name:<13} stopped                           ports {','.join(map(str, st.ports))}"
            self._say(line)
        return states
