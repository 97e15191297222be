"""Parser for the GetImages ``$filter`` metadata expressions.

Grammar (the subset the service documents): ``expr := term ('or' term)*``, ``term := factor ('and'
factor)*``, ``factor := '(' expr ')' | key ('eq'|'ne') 'quoted'`` where quotes inside a literal are doubled.
A missing key compares as absent: ``eq`` is false and ``ne`` is true.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Predicate = Callable[[Mapping[str, str]], bool]

_TOKEN = re.compile(r"\s*(?:(?P<lit>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_.-]*))")


class FilterSyntaxError(ValueError):
    """The expression is not in the supported grammar."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise FilterSyntaxError(f"unexpected character at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def _peek_word(self) -> str | None:
        if self.index < len(self.tokens) and self.tokens[self.index][0] == "word":
            return self.tokens[self.index][1].lower()
        return None

    def _next(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise FilterSyntaxError("unexpected end of expression")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.term()]
        while self._peek_word() == "or":
            self.index += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda m: any(t(m) for t in terms))

    def term(self) -> Predicate:
        factors = [self.factor()]
        while self._peek_word() == "and":
            self.index += 1
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else (lambda m: all(f(m) for f in factors))

    def factor(self) -> Predicate:
        kind, text = self._next()
        if kind == "paren" and text == "(":
            inner = self.expression()
            if self._next() != ("paren", ")"):
                raise FilterSyntaxError("missing )")
            return inner
        if kind != "word":
            raise FilterSyntaxError("expected a metadata key")
        key = text
        operator = self._next()
        if operator[0] != "word" or operator[1].lower() not in {"eq", "ne"}:
            raise FilterSyntaxError("expected eq or ne")
        literal_kind, literal = self._next()
        if literal_kind != "lit":
            raise FilterSyntaxError("expected a quoted string")
        value = literal[1:-1].replace("''", "'")
        if operator[1].lower() == "eq":
            return lambda m: m.get(key) == value
        return lambda m: m.get(key) != value


def parse_filter(text: str) -> Predicate:
    """Compile ``text`` into a predicate over an image's metadata; raises ``FilterSyntaxError``."""
    parser = _Parser(_tokenize(text))
    predicate = parser.expression()
    if parser.index != len(parser.tokens):
        raise FilterSyntaxError("trailing tokens")
    return predicate
