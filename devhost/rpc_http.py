"""What a Python function receives of an HTTP request: the host's conversion, not the raw request.

The host hands the worker one string per query name and per header (``RpcHttp.query`` and
``RpcHttp.headers`` are string maps). ASP.NET collects repeated names, and query names that differ
only in case, as one ``StringValues``, whose string form joins the values with commas; header names
are lower-cased. The Python worker does not declare ``UseNullableValueDictionaryForHttp``, so an empty
query value is dropped, and not ``IgnoreEmptyValuedRpcHttpHeaders``, so an empty header is kept.
Sources in docs/devhost.md ("HTTP requests").
"""

from __future__ import annotations

from collections.abc import Iterable


def _grouped(pairs: Iterable[tuple[str, str]], *, lower_names: bool) -> dict[str, list[str]]:
    """Values by name, names compared case-insensitively, kept as first spelled (or lower-cased)."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name.lower() if lower_names else name)
        grouped.setdefault(key, []).append(value)
    return grouped


def worker_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The ``params`` the function sees: names as first spelled, repeats joined, empty values gone."""
    joined = {name: ",".join(values) for name, values in _grouped(pairs, lower_names=False).items()}
    return {name: value for name, value in joined.items() if value}


def worker_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The ``headers`` the function sees: names lower-cased, repeats joined."""
    return {name: ",".join(values) for name, values in _grouped(pairs, lower_names=True).items()}
