"""HTTP route templates in the ASP.NET syntax the Functions host accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r"\{([^{}]+)\}")
# Constraints the host evaluates; unknown ones match any segment rather than rejecting the route.
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}


@dataclass
class RouteTemplate:
    """A compiled template like ``items/{id:int}/{name?}`` or ``files/{*rest}``."""

    template: str
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        segments = [s for s in self.template.strip("/").split("/") if s]
        pattern = ""
        for segment in segments:
            m = _PARAM.fullmatch(segment)
            if m is None:
                pattern += "/" + _PARAM.sub(lambda p: self._param(p.group(1)), segment)
                continue
            spec = m.group(1)
            if spec.startswith("*"):
                pattern += f"(?:/(?P<{spec[1:].rstrip('?')}>.*))?"
            elif spec.endswith("?"):
                pattern += "(?:/" + self._param(spec[:-1]) + ")?"
            else:
                pattern += "/" + self._param(spec)
        self._regex = re.compile("^" + pattern + "/?$", re.IGNORECASE)

    @staticmethod
    def _param(spec: str) -> str:
        name, *constraints = spec.split(":")
        body = "[^/]+"
        for constraint in constraints:
            body = _CONSTRAINTS.get(constraint.split("(")[0].lower(), body)
        return f"(?P<{name}>{body})"

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters when ``path`` (without route prefix, leading slash optional) matches."""
        normalized = "/" + path.strip("/") if path.strip("/") else ""
        m = self._regex.match(normalized)
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}
