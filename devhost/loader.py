"""Import the function app and index its functions the way the Python worker's indexer does."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.routes import RouteTemplate

# Binding types the host knows how to supply; anything else makes an invocation fail loudly.
DURABLE_CLIENT = "durableClient"
_PASSIVE_BINDINGS = frozenset(
    {"httpTrigger", "http", "queueTrigger", "activityTrigger", "orchestrationTrigger", "timerTrigger"}
)


class AppLoadError(Exception):
    """The function app could not be imported or indexed."""


@dataclass(frozen=True)
class FunctionInfo:
    """One indexed function: its trigger, bindings and the callable the worker would invoke."""

    name: str
    trigger_type: str
    trigger_arg: str
    user_function: Callable[..., Any]
    client_args: tuple[str, ...] = ()
    unsupported_bindings: tuple[str, ...] = ()
    route: RouteTemplate | None = None
    methods: frozenset[str] = frozenset()
    auth_level: str = "function"
    queue_name: str = ""
    connection: str = "AzureWebJobsStorage"
    schedule: str = ""
    run_on_startup: bool = False


@dataclass
class FunctionIndex:
    """Functions grouped by trigger type."""

    http: list[FunctionInfo] = field(default_factory=list)
    orchestrators: dict[str, FunctionInfo] = field(default_factory=dict)
    activities: dict[str, FunctionInfo] = field(default_factory=dict)
    queues: list[FunctionInfo] = field(default_factory=list)
    timers: list[FunctionInfo] = field(default_factory=list)
    other: list[FunctionInfo] = field(default_factory=list)

    def all(self) -> list[FunctionInfo]:
        """Every indexed function."""
        return [
            *self.http,
            *self.orchestrators.values(),
            *self.activities.values(),
            *self.queues,
            *self.timers,
            *self.other,
        ]


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _describe(fn: Any) -> FunctionInfo:
    trigger = fn.get_trigger()
    if trigger is None:
        raise AppLoadError(f"function {fn.get_function_name()!r} has no trigger")
    kind = trigger.get_binding_name()
    bindings = fn.get_bindings()
    clients = tuple(b.name for b in bindings if b.type == DURABLE_CLIENT)
    unsupported = tuple(
        f"{b.name}:{b.type}" for b in bindings if b.type not in _PASSIVE_BINDINGS and b.type != DURABLE_CLIENT
    )
    common: dict[str, Any] = {
        "name": fn.get_function_name(),
        "trigger_type": kind,
        "trigger_arg": trigger.name,
        "user_function": fn.get_user_function(),
        "client_args": clients,
        "unsupported_bindings": unsupported,
    }
    if kind == "httpTrigger":
        methods = frozenset(_enum_text(m).upper() for m in (trigger.methods or []))
        return FunctionInfo(
            **common,
            route=RouteTemplate(trigger.route or fn.get_function_name()),
            methods=methods,
            auth_level=_enum_text(trigger.auth_level or "function").lower(),
        )
    if kind == "queueTrigger":
        return FunctionInfo(
            **common,
            queue_name=resolve_app_setting(trigger.queue_name),
            connection=trigger.connection or "AzureWebJobsStorage",
        )
    if kind == "timerTrigger":  # the schedule is parsed when the host starts (devhost/timers.py)
        return FunctionInfo(**common, schedule=trigger.schedule, run_on_startup=bool(trigger.run_on_startup))
    return FunctionInfo(**common)


_APP_SETTING = re.compile(r"%([A-Za-z0-9_.:-]+)%")


def resolve_app_setting(value: str) -> str:
    """Binding expressions like ``%DSR_REQUEST_QUEUE%`` take the app setting's value, as in Azure."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise LookupError(f"binding expression %{name}% names an app setting that is not set")
        return os.environ[name]

    return _APP_SETTING.sub(lookup, value)


def find_register(module: Any) -> func.FunctionRegister:
    """Return the one FunctionRegister defined at module level."""
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(f"expected exactly one FunctionApp in {module.__name__}, found {len(apps)}")
    return apps[0]


def load_app(app_dir: Path, module_name: str = "function_app") -> FunctionIndex:
    """Import ``app_dir/function_app.py`` (app_dir goes first on sys.path, like the worker) and index it."""
    path = app_dir / f"{module_name}.py"
    if not path.exists():
        raise AppLoadError(f"{path} not found")
    # The app's own packages (dsr/, activities/, ...) resolve from app_dir first, like in the worker.
    if str(app_dir) in sys.path:
        sys.path.remove(str(app_dir))
    sys.path.insert(0, str(app_dir))
    # Load this exact file: a test process may load several apps that all call their module function_app.
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as ex:
        sys.modules.pop(module_name, None)
        raise AppLoadError(f"importing {module_name} failed: {type(ex).__name__}: {ex}") from ex
    index = FunctionIndex()
    for fn in find_register(module).get_functions():
        info = _describe(fn)
        if info.trigger_type == "httpTrigger":
            index.http.append(info)
        elif info.trigger_type == "orchestrationTrigger":
            index.orchestrators[info.name] = info
        elif info.trigger_type == "activityTrigger":
            index.activities[info.name] = info
        elif info.trigger_type == "queueTrigger":
            index.queues.append(info)
        elif info.trigger_type == "timerTrigger":
            index.timers.append(info)
        else:
            index.other.append(info)
    return index
