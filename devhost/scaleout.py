"""Scale-out: N host processes (instances) on one state store, like an app scaled out to N instances.

Each instance is a full ``python -m devhost start`` with host.json's per-instance limits; they share
the SQLite store (leases and claims keep each episode and activity on one instance) and bind the same
ports with SO_REUSEPORT, so the kernel spreads connections over them as a front end would. Every
instance polls the queues (competing consumers). The supervisor restarts an instance that dies, as
Azure replaces a lost instance; the others take over what it held, so its activities run twice.
``<state dir>/instances.json`` lists the instance pids (tests kill one to exercise that).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

log = logging.getLogger("devhost")

PR_SET_PDEATHSIG = 1
RESTART_PAUSE_SECONDS = 0.5
STOP_WAIT_SECONDS = 10.0
INSTANCES_FILE = "instances.json"


def free_port(host: str) -> int:
    """A port free right now (all instances must bind the same concrete port)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child before exec: if the supervisor is killed, the kernel kills the instance too.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Supervisor:
    """Starts, watches and stops the instance processes."""

    def __init__(self, instance_args: list[str], count: int, state_dir: Path, env: dict[str, str]) -> None:
        self._args = instance_args
        self._env = env
        self._count = count
        self._state_file = state_dir / INSTANCES_FILE
        state_dir.mkdir(parents=True, exist_ok=True)
        self._children: list[subprocess.Popen[bytes]] = []
        self._stopping = False

    def _spawn(self, number: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "devhost", "start", *self._args]
        env = {**os.environ, **self._env, "DEVHOST_INSTANCE": str(number)}
        return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)

    def _record(self) -> None:
        doc = {"supervisor": os.getpid(), "instances": [c.pid for c in self._children]}
        self._state_file.write_text(json.dumps(doc))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self._children = [self._spawn(i) for i in range(self._count)]
        self._record()
        log.info("Scale-out: %d instances started (pids %s)", self._count, [c.pid for c in self._children])
        while not self._stopping:
            for number, child in enumerate(self._children):
                code = child.poll()
                if code is not None and not self._stopping:
                    log.warning(
                        "Instance %d (pid %d) exited with %s; starting a new one", number, child.pid, code
                    )
                    time.sleep(RESTART_PAUSE_SECONDS)
                    self._children[number] = self._spawn(number)
                    self._record()
            time.sleep(0.2)
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for child in self._children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        with contextlib.suppress(OSError):
            self._state_file.unlink()
        return 0
