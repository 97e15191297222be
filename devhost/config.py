"""Host settings: host.json, local.settings.json and command-line overrides, read once at start."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
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
DEFAULT_MAX_POLLING_INTERVAL = timedelta(minutes=1)
QUEUE_ENCODINGS = ("base64", "none")
DEFAULT_QUEUE_ENCODING = "base64"
# Azure's functionTimeout default and ceiling on Flex Consumption (the plan infra/ deploys).
DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)
SYSTEM_KEY_NAME = "durabletask_extension"
# Azure's default is 10 x processor count for both limits.
DEFAULT_CONCURRENCY_PER_CORE = 10

_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan string such as ``00:00:30`` or ``1.02:03:04.5``."""
    if text.strip() == "-1":
        return timedelta(-1)
    m = _TIMESPAN.match(text.strip())
    if m is None:
        raise ValueError(f"not a TimeSpan: {text!r}")
    sign, days, hours, minutes, seconds, frac = m.groups()
    return (-1 if sign else 1) * timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int((frac or "0")[:6].ljust(6, "0")),
    )


@dataclass(frozen=True)
class HostKeys:
    """The host's keys, kept apart as in Azure: function keys open function-level routes, the
    ``durabletask_extension`` system key opens the Durable webhooks, the master key opens everything.

    All empty means keys are off (Core Tools behaviour); with any key given, the missing ones are
    random, so no key works where Azure's would not.
    """

    function: frozenset[str] = frozenset()
    system: str = ""
    master: str = ""

    @property
    def enabled(self) -> bool:
        """Whether requests are checked at all."""
        return bool(self.function or self.system or self.master)

    @classmethod
    def build(cls, function: str | None, system: str | None, master: str | None) -> HostKeys:
        """Keys from options, else DEVHOST_FUNCTION_KEY / DEVHOST_SYSTEM_KEY / DEVHOST_MASTER_KEY."""
        function = function or os.environ.get("DEVHOST_FUNCTION_KEY") or ""
        system = system or os.environ.get("DEVHOST_SYSTEM_KEY") or ""
        master = master or os.environ.get("DEVHOST_MASTER_KEY") or ""
        if not (function or system or master):
            return cls()
        return cls(
            function=frozenset([function or secrets.token_urlsafe(32)]),
            system=system or secrets.token_urlsafe(32),
            master=master or secrets.token_urlsafe(32),
        )


HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def _setting_value(text: str) -> Any:
    if text.isdigit():
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def apply_host_overrides(doc: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Apply ``AzureFunctionsJobHost__a__b=value`` settings to host.json, as the Functions host does.

    Keys match case-insensitively (configuration keys do); returns the overridden paths (names only,
    the values are never logged).
    """
    applied = []
    for name, value in sorted(environ.items()):
        if not name.lower().startswith(HOST_OVERRIDE_PREFIX.lower()):
            continue
        path = [part for part in name[len(HOST_OVERRIDE_PREFIX) :].split("__") if part]
        node = doc
        for part in path[:-1]:
            key = next((k for k in node if k.lower() == part.lower()), part)
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        last = next((k for k in node if k.lower() == path[-1].lower()), path[-1]) if path else None
        if last is not None:
            node[last] = _setting_value(value)
            applied.append(":".join(path))
    if applied:
        log.info("host.json settings overridden from the environment: %s", ", ".join(applied))
    return applied


def _positive_int(section: dict[str, Any], name: str, default: int) -> int:
    value = section.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"host.json: {name} must be a positive integer, got {value!r}")
    return value


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
    queue_new_batch_threshold: int = DEFAULT_QUEUE_BATCH_SIZE // 2
    queue_max_polling_interval: timedelta = DEFAULT_MAX_POLLING_INTERVAL
    queue_message_encoding: str = DEFAULT_QUEUE_ENCODING
    function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    keys: HostKeys = field(default_factory=lambda: HostKeys())
    fast_timers: bool = False
    reuse_port: bool = False

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
    system_key: str | None = None,
    master_key: str | None = None,
    fast_timers: bool | None = None,
    reuse_port: bool = False,
) -> HostSettings:
    """Build settings from ``app_dir/host.json`` and the environment (call after load_local_settings)."""
    app_dir = app_dir.resolve()
    host_json_path = app_dir / "host.json"
    doc: dict[str, Any] = json.loads(host_json_path.read_text()) if host_json_path.exists() else {}
    apply_host_overrides(doc, os.environ)
    extensions = _section(doc, "extensions")
    http = _section(extensions, "http")
    durable = _section(extensions, "durableTask")
    queues = _section(extensions, "queues")
    defaults = HostSettings(app_dir=app_dir)
    if fast_timers is None:
        fast_timers = os.environ.get("DEVHOST_FAST_TIMERS", "").lower() in ("1", "true", "yes")
    visibility = queues.get("visibilityTimeout")
    polling = queues.get("maxPollingInterval")
    batch_size = _positive_int(queues, "batchSize", DEFAULT_QUEUE_BATCH_SIZE)
    encoding = str(queues.get("messageEncoding", DEFAULT_QUEUE_ENCODING)).lower()
    if encoding not in QUEUE_ENCODINGS:
        raise ValueError(f"host.json: messageEncoding must be one of {QUEUE_ENCODINGS}, got {encoding!r}")
    timeout_text = doc.get("functionTimeout")
    function_timeout: timedelta | None = (
        parse_timespan(timeout_text) if timeout_text else DEFAULT_FUNCTION_TIMEOUT
    )
    # "-1" (or a negative TimeSpan) means unbounded where the plan allows it.
    if function_timeout is not None and function_timeout <= timedelta(0):
        function_timeout = None
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
        queue_batch_size=batch_size,
        queue_new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),
        queue_max_polling_interval=parse_timespan(polling) if polling else DEFAULT_MAX_POLLING_INTERVAL,
        queue_message_encoding=encoding,
        function_timeout=function_timeout,
        keys=HostKeys.build(function_key, system_key, master_key),
        fast_timers=fast_timers,
        reuse_port=reuse_port,
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
