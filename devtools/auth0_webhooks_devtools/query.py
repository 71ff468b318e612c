"""The search-mode `q` of GET /api/v2/logs: a parser for Auth0's Lucene-ish syntax and `LogQuery`.

`LogQuery(q)` compiles a query once; `matches(entry)` tests a stored log, and `window` is the
date range (ms) the query can match, so that the emulator only scans that slice of its logs.
Fields: `field:value` (`*`/`?` wildcards), `field:[A TO B]` / `{A TO B}` ranges, `date` by day
or instant, bare words matched against any top-level value; AND/&&, OR/||, NOT/!, parentheses.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date as date_type
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from auth0_webhooks_devtools.events import parse_date, to_epoch_ms

if TYPE_CHECKING:
    from auth0_webhooks_devtools.emulator import _Entry  # one stored log: .log (dict) and .date_ms


class QueryError(ValueError):
    """A `q` the emulator (like Auth0) rejects with 400."""


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        (?P<range>[\[{][^\]}]*[\]}]) |
        (?P<quoted>"(?:\\.|[^"\\])*") |
        (?P<field>[A-Za-z_@][\w.@]*):(?=[^\s]) |
        (?P<word>(?:\\.|[^\s()"\[\]{}\\])+)
    )""",
    re.X,
)
_UNESCAPE_RE = re.compile(r"\\(.)")
_DAY_MS = 86_400_000
_NEG, _POS = -(10**18), 10**18


def _tokenize(q: str) -> list[tuple[str, str]]:
    tokens, pos, q = [], 0, q.rstrip()
    while pos < len(q):
        match = _TOKEN_RE.match(q, pos)
        if not match or match.end() == pos:
            raise QueryError(f"cannot parse q near {q[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return _UNESCAPE_RE.sub(r"\1", text)


def _date_bounds(text: str) -> tuple[int, int]:
    """(first ms, last ms) a date value covers: a whole day for YYYY-MM-DD, else one instant."""
    text = _unquote(text).strip()
    try:
        if len(text) == 10:
            day = date_type.fromisoformat(text)
            start = to_epoch_ms(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
            return start, start + _DAY_MS - 1
        instant = to_epoch_ms(parse_date(text))
    except ValueError as exc:
        raise QueryError(f"invalid date {text!r}") from exc
    return instant, instant


class _Parser:
    """Recursive-descent parser for Auth0's Lucene-ish `q`: OR (or side by side) < AND < NOT."""

    def __init__(self, q: str) -> None:
        self.tokens = _tokenize(q)
        self.pos = 0

    def parse(self) -> tuple:
        node = self._or(None)
        if self.pos != len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.pos][1]!r} in q")
        return node

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _is_op(self, *names: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and token[1] in names

    def _or(self, fld: str | None) -> tuple:
        items = [self._and(fld)]
        while self._peek() is not None and self._peek()[0] != "rparen":
            if self._is_op("OR", "||"):  # terms side by side are OR'ed too, as in Lucene
                self.pos += 1
            items.append(self._and(fld))
        return items[0] if len(items) == 1 else ("or", items)

    def _and(self, fld: str | None) -> tuple:
        items = [self._unary(fld)]
        while self._is_op("AND", "&&"):
            self.pos += 1
            items.append(self._unary(fld))
        return items[0] if len(items) == 1 else ("and", items)

    def _unary(self, fld: str | None) -> tuple:
        if self._is_op("NOT", "!"):
            self.pos += 1
            return ("not", self._unary(fld))
        return self._primary(fld)

    def _primary(self, fld: str | None) -> tuple:
        token = self._peek()
        if token is None:
            raise QueryError("q ends too early")
        kind, text = token
        self.pos += 1
        if kind == "lparen":
            node = self._or(fld)
            if self._peek() is None or self._peek()[0] != "rparen":
                raise QueryError("missing ) in q")
            self.pos += 1
            return node
        if kind == "field":
            return self._primary(text)
        if kind == "rparen":
            raise QueryError("unexpected ) in q")
        return self._value(fld, kind, text)

    @staticmethod
    def _value(fld: str | None, kind: str, text: str) -> tuple:
        if fld is None:
            return ("text", _unquote(text))
        if kind == "range":
            return _Parser._range(fld, text)
        return ("term", fld, _unquote(text))

    @staticmethod
    def _range(fld: str, text: str) -> tuple:
        parts = text[1:-1].strip().split()
        if len(parts) != 3 or parts[1] != "TO":
            raise QueryError(f"invalid range {text!r} (expected [A TO B])")
        return ("range", fld, _unquote(parts[0]), text[0] == "[", _unquote(parts[2]), text[-1] == "]")


def field_value(log: dict, path: str) -> Any:
    """The value at a dotted path of a log (`details.error.message`), None where the path ends early."""
    value: Any = log
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def as_text(value: Any) -> str:
    """A log value as `q` compares it: booleans as true/false, None as the empty string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class LogQuery:
    """A compiled `q`: `matches(entry)` and the date window (ms, inclusive) it can match."""

    def __init__(self, q: str) -> None:
        self.node = _Parser(q).parse() if q.strip() else None
        self.window = self._window(self.node) if self.node else None
        self.date_only = self.node is not None and self._date_only(self.node)
        self._predicate = self._compile(self.node) if self.node else None

    def matches(self, entry: "_Entry") -> bool:
        """Whether the log matches (always true for an empty q)."""
        return self._predicate is None or self._predicate(entry)

    def _compile(self, node: tuple) -> Callable[["_Entry"], bool]:
        kind = node[0]
        if kind in ("and", "or"):
            parts = [self._compile(child) for child in node[1]]
            combine = all if kind == "and" else any
            return lambda entry: combine(part(entry) for part in parts)
        if kind == "not":
            inner = self._compile(node[1])
            return lambda entry: not inner(entry)
        if kind == "text":
            word = node[1]
            return lambda entry: any(as_text(v) == word for v in entry.log.values() if not isinstance(v, dict))
        if node[1] == "date":
            low, high = self._date_window(node)
            return lambda entry: low <= entry.date_ms <= high
        path = node[1]
        if kind == "range":
            return lambda entry: self._in_range(as_text(field_value(entry.log, path)), node)
        wanted = node[2]
        return lambda entry: self._term(field_value(entry.log, path), wanted)

    @staticmethod
    def _term(value: Any, wanted: str) -> bool:
        if wanted == "*":
            return value not in (None, "")
        text = as_text(value)
        if "*" in wanted or "?" in wanted:
            return fnmatch.fnmatchcase(text, wanted)
        return text == wanted

    @staticmethod
    def _in_range(text: str, node: tuple) -> bool:
        _, _, low, low_incl, high, high_incl = node
        above = low == "*" or (text >= low if low_incl else text > low)
        below = high == "*" or (text <= high if high_incl else text < high)
        return bool(text) and above and below

    @staticmethod
    def _date_window(node: tuple) -> tuple[int, int]:
        if node[0] == "term":
            return (_NEG, _POS) if node[2] == "*" else _date_bounds(node[2])
        _, _, low, low_incl, high, high_incl = node
        first = _NEG if low == "*" else (_date_bounds(low)[0] if low_incl else _date_bounds(low)[1] + 1)
        last = _POS if high == "*" else (_date_bounds(high)[1] if high_incl else _date_bounds(high)[0] - 1)
        return first, last

    def _window(self, node: tuple) -> tuple[int, int] | None:
        kind = node[0]
        if kind in ("term", "range"):
            return self._date_window(node) if node[1] == "date" else None
        if kind == "and":
            windows = [w for w in (self._window(child) for child in node[1]) if w]
            if not windows:
                return None
            return max(w[0] for w in windows), min(w[1] for w in windows)
        if kind == "or":
            windows = [self._window(child) for child in node[1]]
            if any(w is None for w in windows):
                return None
            return min(w[0] for w in windows), max(w[1] for w in windows)
        return None

    def _date_only(self, node: tuple) -> bool:
        if node[0] in ("term", "range"):
            return node[1] == "date"
        return node[0] == "and" and all(self._date_only(child) for child in node[1])
