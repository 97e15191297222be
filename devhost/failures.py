"""Failure text and details of a failed activity, built the way the Azure host chain builds them.

The Python worker reports ``<Type>: <message>`` plus the traceback; the Functions host wraps it in an
``RpcException`` whose message is ``Result: Failure\\nException: <message>\\nStack: <trace>`` after
scrubbing credential-like strings; the Durable extension cuts the text between ``\\nException:`` and
``\\nStack:`` (leading space included, hence the two spaces) and fails the task with
``Activity function '<name>' failed: <that text>`` and the serialized exception as details.
Sources are listed in docs/devhost.md ("Failure text").
"""

from __future__ import annotations

import json
import traceback
from datetime import timedelta

SECRET_REPLACEMENT = "[Hidden Credential]"  # noqa: S105 - the marker, not a secret
# Tokens azure-functions-host's Sanitizer treats as the start of a credential (case-insensitive).
_CREDENTIAL_TOKENS = (
    "Token=",
    "DefaultEndpointsProtocol=http",
    "AccountKey=",
    "Data Source=",
    "Server=",
    "Password=",
    "pwd=",
    "&amp;sig=",
    "&sig=",
    "?sig=",
    "SharedAccessKey=",
)
_ALLOWED_TOKENS = ("PublicKeyToken=",)
_VALUE_TERMINATORS = "<\"'"
_RPC_EXCEPTION_TYPE = (
    "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script"
)
_EXCEPTION_TYPE = "System.Exception, System.Private.CoreLib"
_TIMEOUT_TYPE = "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException, Microsoft.Azure.WebJobs.Host"
_EXCEPTION_HRESULT = -2146233088


def sanitize(text: str) -> str:
    """Replace each credential-like token up to the next quote or ``<`` (or the end) by a marker."""
    masked = text
    for allowed in _ALLOWED_TOKENS:
        masked = masked.replace(allowed, "#" * len(allowed))
    for token in _CREDENTIAL_TOKENS:
        start = 0
        while True:
            start = masked.lower().find(token.lower(), start)
            if start == -1:
                break
            ends = [i for i in (text.find(c, start) for c in _VALUE_TERMINATORS) if i != -1]
            end = min(ends) if ends else len(text)
            text = text[:start] + SECRET_REPLACEMENT + text[end:]
            masked = masked[:start] + SECRET_REPLACEMENT + masked[end:]
    return text


def timespan_text(value: timedelta) -> str:
    """A .NET TimeSpan's default text, e.g. ``00:10:00``."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}.{clock}" if days else clock


def _exception_json(
    type_name: str, message: str, inner: dict[str, object] | None = None
) -> dict[str, object]:
    # Newtonsoft's shape of a serialized System.Exception (ISerializable fields), as SerializeCause writes.
    return {
        "$type": type_name,
        "ClassName": type_name.split(",")[0],
        "Message": message,
        "Data": None,
        "InnerException": inner,
        "HelpURL": None,
        "StackTraceString": None,
        "RemoteStackTraceString": None,
        "RemoteStackIndex": 0,
        "ExceptionMethod": None,
        "HResult": _EXCEPTION_HRESULT,
        "Source": None,
        "WatsonBuckets": None,
    }


def worker_message(ex: BaseException) -> str:
    """What the Python worker reports as the exception message: ``<Type>: <message>``."""
    return f"{type(ex).__name__}: {ex}"


def activity_failure(name: str, ex: BaseException) -> tuple[str, str]:
    """``(reason, details)`` of the TaskFailed event for a user exception raised by activity ``name``."""
    message = sanitize(worker_message(ex))
    stack = "".join(traceback.format_exception(type(ex), ex, ex.__traceback__))
    rpc_message = f"Result: Failure\nException: {message}\nStack: {stack}"
    start = rpc_message.index("\nException:") + len("\nException:")
    friendly = rpc_message[start : rpc_message.index("\nStack:")]
    inner = _exception_json(_RPC_EXCEPTION_TYPE, rpc_message)
    inner.update({"RemoteStackTrace": stack, "RemoteMessage": message, "IsUserException": True})
    details = json.dumps(_exception_json(_EXCEPTION_TYPE, friendly, inner))
    return f"Activity function '{name}' failed: {friendly}", details


def timeout_message(name: str, timeout: timedelta) -> str:
    """The WebJobs SDK's FunctionTimeoutException message."""
    return f"Timeout value of {timespan_text(timeout)} was exceeded by function: Functions.{name}"


def activity_timeout(name: str, timeout: timedelta) -> tuple[str, str]:
    """``(reason, details)`` of the TaskFailed event for an activity that ran past functionTimeout."""
    message = timeout_message(name, timeout)
    details = json.dumps(_exception_json(_TIMEOUT_TYPE, message))
    return f"Activity function '{name}' failed: {message}", details
