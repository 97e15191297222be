"""Just enough reading of Bicep source to check the templates without a Bicep compiler.

No Bicep compiler installs from the package registries this project can reach (the npm ``bicep-node``
wrapper downloads the CLI at run time), so the infra tests read the files as text. This module finds a
declaration's ``{ ... }`` body and its top-level ``key: value`` entries, skipping quoted strings
(``'${x}'`` holds braces) and ``//`` comments. It understands the subset of Bicep that ``infra/`` is
written in: single-quoted strings, one entry per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

OPENERS = "{["
CLOSERS = "}]"
_KEY = re.compile(r"\s*(?:'([^']*)'|([A-Za-z_]\w*))\s*:\s?(.*)$")
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def mask(text: str) -> str:
    """``text`` with string contents and comments blanked out, same length, so offsets still match."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            out.append("'" + "_" * (min(j, n) - i - 1) + "'")
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)[:n]


def body_after(text: str, anchor: str) -> str:
    """The text inside the first ``{ ... }`` (or ``[ ... ]``) that opens after regex ``anchor``."""
    found = re.search(anchor, text, flags=re.MULTILINE)
    if found is None:
        raise LookupError(f"no match for {anchor!r}")
    masked = mask(text)
    start = min(
        (pos for pos in (masked.find(c, found.end()) for c in OPENERS) if pos != -1),
        default=-1,
    )
    if start == -1:
        raise LookupError(f"nothing opens after {anchor!r}")
    depth = 0
    for i in range(start, len(masked)):
        if masked[i] in OPENERS:
            depth += 1
        elif masked[i] in CLOSERS:
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    raise LookupError(f"unbalanced braces after {anchor!r}")


def entries(body: str) -> dict[str, str]:
    """Top-level ``key: value`` pairs of an object body; a nested value is its first line (``{``)."""
    result: dict[str, str] = {}
    masked = mask(body)
    depth = 0
    offset = 0
    for line in body.splitlines(keepends=True):
        masked_line = masked[offset : offset + len(line)]
        if depth == 0:
            match = _KEY.match(line)
            if match:
                value = line[match.start(3) :]
                comment = _comment_start(line, masked_line)
                if comment is not None:
                    value = line[match.start(3) : comment]
                result[match.group(1) or match.group(2)] = value.strip()
        depth += sum(masked_line.count(c) for c in OPENERS) - sum(masked_line.count(c) for c in CLOSERS)
        offset += len(line)
    return result


def _comment_start(line: str, masked_line: str) -> int | None:
    """Where a ``//`` comment starts in ``line`` (blanked in the masked line), if it has one."""
    start = line.find("//")
    while start != -1:
        if masked_line[start : start + 2] == "  ":
            return start
        start = line.find("//", start + 2)
    return None


def literal(value: str) -> str | None:
    """The string a Bicep literal stands for, ``${...}`` replaced by ``x``; None for an expression."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return _INTERPOLATION.sub("x", value[1:-1])
    return None


@dataclass(frozen=True)
class BicepFile:
    """One ``.bicep`` file and its top-level declarations."""

    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def params(self) -> dict[str, str | None]:
        """Declared parameters and their default value as written (None: required)."""
        found: dict[str, str | None] = {}
        for name, default in re.findall(r"^param (\w+) [\w.]+(?: = (.+))?$", self.text, flags=re.MULTILINE):
            found[name] = default.strip() or None
        return found

    def variables(self) -> dict[str, str]:
        return dict(re.findall(r"^var (\w+) = (.+)$", self.text, flags=re.MULTILINE))

    def outputs(self) -> dict[str, str]:
        return dict(re.findall(r"^output (\w+) \w+ = (.+)$", self.text, flags=re.MULTILINE))

    def modules(self) -> dict[str, str]:
        """Symbolic module name -> relative path of the module file."""
        return dict(re.findall(r"^module (\w+) '([^']+)'", self.text, flags=re.MULTILINE))

    def module_params(self, symbol: str) -> dict[str, str]:
        """The ``params: { ... }`` a module declaration passes."""
        declaration = body_after(self.text, rf"^module {symbol} '")
        return entries(body_after(declaration, r"^\s*params:"))

    def resources(self, type_prefix: str) -> dict[str, str]:
        """Symbolic name -> body of every resource (top-level or nested) whose type starts with the prefix.

        A nested resource is written with its short type (``'containers'``); pass that short type.
        """
        found: dict[str, str] = {}
        pattern = rf"^\s*resource (\w+) '{re.escape(type_prefix)}[^']*'(?! existing)"
        for match in re.finditer(pattern, self.text, flags=re.MULTILINE):
            found[match.group(1)] = body_after(self.text[match.start() :], r"=")
        return found
