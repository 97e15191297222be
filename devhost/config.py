"""Host settings: host.json, local.settings.json and command-line overrides, read once at start."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("devhost")

# Defaults of the Functions host / Durable extension when host.json says nothing.
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_MAX_DEQUEUE_COUNT = 5
DEFAULT_QUEUE_BATCH_SIZE = 16
DEFAULT_QUEUE_VISIBILITY = timedelta(0)
# Azure's default is 10 x processor count for both limits.
DEFAULT_CONCURRENCY_PER_CORE = 10

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan string such as ``00:00:30`` or ``1.02:03:04.5``."""
    m = _TIMESPAN.match(text.strip())
    if m is None:
        raise ValueError(f"not a TimeSpan: {text!r}")
    days, hours, minutes, seconds, frac = m.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int((frac or "0")[:6].ljust(6, "0")),
    )


@dataclass(frozen=True)
class HostSettings:
    """Everything the host reads from host.json plus the CLI options."""

    app_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    rpc_port: int = 17071
    state_dir: Path = Path(".local/devhost")
    route_prefix: str = DEFAULT_ROUTE_PREFIX
    hub_name: str = DEFAULT_HUB_NAME
    max_concurrent_activities: int = DEFAULT_CONCURRENCY_PER_CORE * (os.cpu_count() or 1)
    max_concurrent_orchestrations: int = DEFAULT_CONCURRENCY_PER_CORE * (os.cpu_count() or 1)
    queue_max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    queue_visibility_timeout: timedelta = DEFAULT_QUEUE_VISIBILITY
    queue_batch_size: int = DEFAULT_QUEUE_BATCH_SIZE
    function_keys: frozenset[str] = field(default_factory=frozenset)
    fast_timers: bool = False

    @property
    def db_path(self) -> Path:
        """SQLite file holding all durable state."""
        return self.state_dir / "devhost.sqlite3"


def _section(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = doc
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def load_settings(
    app_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7071,
    rpc_port: int = 17071,
    state_dir: Path | None = None,
    function_key: str | None = None,
    fast_timers: bool | None = None,
) -> HostSettings:
    """Build settings from ``app_dir/host.json`` and the environment (call after load_local_settings)."""
    app_dir = app_dir.resolve()
    host_json_path = app_dir / "host.json"
    doc: dict[str, Any] = json.loads(host_json_path.read_text()) if host_json_path.exists() else {}
    extensions = _section(doc, "extensions")
    http = _section(extensions, "http")
    durable = _section(extensions, "durableTask")
    queues = _section(extensions, "queues")
    defaults = HostSettings(app_dir=app_dir)
    key = function_key or os.environ.get("DEVHOST_FUNCTION_KEY") or ""
    if fast_timers is None:
        fast_timers = os.environ.get("DEVHOST_FAST_TIMERS", "").lower() in ("1", "true", "yes")
    visibility = queues.get("visibilityTimeout")
    return HostSettings(
        app_dir=app_dir,
        host=host,
        port=port,
        rpc_port=rpc_port,
        state_dir=(state_dir or app_dir / ".local" / "devhost").resolve(),
        route_prefix=str(http.get("routePrefix", DEFAULT_ROUTE_PREFIX)).strip("/"),
        hub_name=str(durable.get("hubName", DEFAULT_HUB_NAME)),
        max_concurrent_activities=int(
            durable.get("maxConcurrentActivityFunctions", defaults.max_concurrent_activities)
        ),
        max_concurrent_orchestrations=int(
            durable.get("maxConcurrentOrchestratorFunctions", defaults.max_concurrent_orchestrations)
        ),
        queue_max_dequeue_count=int(queues.get("maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT)),
        queue_visibility_timeout=parse_timespan(visibility) if visibility else DEFAULT_QUEUE_VISIBILITY,
        queue_batch_size=int(queues.get("batchSize", DEFAULT_QUEUE_BATCH_SIZE)),
        function_keys=frozenset([key]) if key else frozenset(),
        fast_timers=fast_timers,
    )


def load_local_settings(app_dir: Path) -> int:
    """Copy ``local.settings.json`` Values into os.environ (existing variables win, like Core Tools).

    Returns how many values were applied; the values themselves are never logged.
    """
    path = app_dir / "local.settings.json"
    if not path.exists():
        return 0
    values = _section(json.loads(path.read_text()), "Values")
    applied = 0
    for name, value in values.items():
        if name not in os.environ and value is not None:
            os.environ[name] = str(value)
            applied += 1
    log.info("Loaded %d setting(s) from local.settings.json", applied)
    return applied
