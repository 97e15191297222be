"""Timer triggers: NCRONTAB schedules evaluated in UTC, like the Functions host's default.

Azure's form is six fields, ``{second} {minute} {hour} {day} {month} {day-of-week}``, each ``*``, a
number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of those; months and weekdays
may be three-letter names. ``%SETTING%`` takes the schedule from an app setting. Anything devhost cannot
evaluate exactly as Azure does is refused when the host starts, never guessed: five-field cron, the
TimeSpan form (``hh:mm:ss``, App Service plans only), ``?``, ``L``, ``W``, ``#``, and a schedule that
restricts both the day of the month and the day of the week.

One listener per function; invocations never overlap (the host runs a timer function as a singleton),
and a failed invocation is logged and the next occurrence still fires.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter

from devhost.invoker import Invoker
from devhost.loader import FunctionInfo, resolve_app_setting

log = logging.getLogger("devhost.timers")

SEARCH_YEARS = 5
"""A schedule with no occurrence this far ahead (say, 30 February) is refused as impossible."""
PAST_DUE_SECONDS = 1.0
"""An invocation starting this much after its occurrence is reported as ``past_due``."""

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_ELEMENT = re.compile(r"^(\*|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/([0-9]+))?$")


class ScheduleError(ValueError):
    """A timer schedule devhost does not support, or that can never fire."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0

    def value(self, token: str, expression: str) -> int:
        if token.isdigit():
            number = int(token)
        elif token in self.names:
            number = self.names.index(token) + self.name_base
        else:
            raise ScheduleError(f"schedule {expression!r}: {self.name} value {token!r} is not supported")
        if not self.low <= number <= self.high:
            raise ScheduleError(
                f"schedule {expression!r}: {self.name} {number} is outside {self.low}-{self.high}"
            )
        return number

    def parse(self, text: str, expression: str) -> frozenset[int]:
        allowed: set[int] = set()
        for element in text.upper().split(","):
            match = _ELEMENT.fullmatch(element)
            if match is None:
                raise ScheduleError(
                    f"schedule {expression!r}: {self.name} field {text!r} is not supported by devhost "
                    "(use *, n, a-b, */n, a-b/n or lists of them)"
                )
            span, step_text = match.groups()
            if span == "*":
                start, stop = self.low, self.high
            elif "-" in span:
                first, last = span.split("-")
                start, stop = self.value(first, expression), self.value(last, expression)
                if start > stop:
                    raise ScheduleError(f"schedule {expression!r}: {self.name} range {span} is reversed")
            else:
                if step_text is not None:
                    raise ScheduleError(
                        f"schedule {expression!r}: {self.name} step {element!r} needs * or a range"
                    )
                start = stop = self.value(span, expression)
            step = int(step_text) if step_text is not None else 1
            if step < 1:
                raise ScheduleError(f"schedule {expression!r}: {self.name} step must be at least 1")
            allowed.update(range(start, stop + 1, step))
        return frozenset(allowed)


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 6, _WEEKDAYS, 0),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed six-field NCRONTAB schedule."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 = Sunday, as in cron."""

    def _day_matches(self, moment: datetime) -> bool:
        return moment.day in self.days and (moment.weekday() + 1) % 7 in self.weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (an aware datetime), in UTC."""
        candidate = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = candidate + timedelta(days=366 * SEARCH_YEARS)
        while candidate < limit:
            if candidate.month not in self.months:
                year, month = divmod(candidate.month, 12)
                candidate = candidate.replace(year=candidate.year + year, month=month + 1, day=1)
                candidate = candidate.replace(hour=0, minute=0, second=0)
            elif not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0, second=0)
            elif candidate.minute not in self.minutes:
                candidate = (candidate + timedelta(minutes=1)).replace(second=0)
            elif candidate.second not in self.seconds:
                candidate += timedelta(seconds=1)
            else:
                return candidate
        raise ScheduleError(f"schedule {self.expression!r} has no occurrence in {SEARCH_YEARS} years")


def parse_schedule(schedule: str, *, now: datetime | None = None) -> CronSchedule:
    """Parse a timer trigger's schedule (``%SETTING%`` resolved first); raise :class:`ScheduleError`."""
    try:
        expression = resolve_app_setting(schedule).strip()
    except LookupError as exc:
        raise ScheduleError(str(exc)) from exc
    parts = expression.split()
    if len(parts) != 6:
        kind = "a TimeSpan" if re.fullmatch(r"[0-9.:]+", expression) else f"{len(parts)} fields"
        raise ScheduleError(
            f"schedule {expression!r} is {kind}; devhost supports six-field NCRONTAB only "
            "({second} {minute} {hour} {day} {month} {day-of-week})"
        )
    sets = [spec.parse(text, expression) for spec, text in zip(_FIELDS, parts, strict=True)]
    if parts[3] != "*" and parts[5] != "*":
        raise ScheduleError(
            f"schedule {expression!r} restricts both day and day-of-week; devhost does not evaluate that"
        )
    parsed = CronSchedule(expression, *sets)
    parsed.next_after(now or datetime.now(UTC))  # refuses an impossible schedule at start-up
    return parsed


def _timer_request(past_due: bool, last: datetime | None, next_occurrence: datetime) -> Any:
    # The same JSON the Functions host sends, decoded with the SDK's own converter.
    payload = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": {
            "Last": last.isoformat() if last else None,
            "Next": next_occurrence.isoformat(),
            "LastUpdated": datetime.now(UTC).isoformat(),
        },
        "IsPastDue": past_due,
    }
    datum = meta.Datum(type="json", value=json.dumps(payload))
    return TimerRequestConverter.decode(datum, trigger_metadata=None)


class TimerListener:
    """Fires one timer function on its schedule until cancelled."""

    def __init__(self, info: FunctionInfo, invoker: Invoker, client_binding: Callable[[], str]) -> None:
        self.info = info
        self.schedule = parse_schedule(info.schedule)
        self._invoker = invoker
        self._client_binding = client_binding
        self._last: datetime | None = None

    async def _fire(self, occurrence: datetime, reason: str) -> None:
        now = datetime.now(UTC)
        past_due = (now - occurrence).total_seconds() > PAST_DUE_SECONDS
        kwargs: dict[str, Any] = {
            self.info.trigger_arg: _timer_request(past_due, self._last, self.schedule.next_after(now))
        }
        for name in self.info.client_args:
            kwargs[name] = self._client_binding()
        self._last = occurrence
        try:
            await self._invoker.call(self.info, kwargs, reason)
        except Exception:  # logged by the invoker; the schedule goes on, as in Azure
            return

    async def run(self) -> None:
        """Invoke at start-up when ``run_on_startup``, then at every occurrence."""
        if self.info.run_on_startup:
            await self._fire(datetime.now(UTC), "Timer fired at startup")
        while True:
            occurrence = self.schedule.next_after(datetime.now(UTC))
            await asyncio.sleep(max(0.0, (occurrence - datetime.now(UTC)).total_seconds()))
            await self._fire(occurrence, f"Timer fired at {occurrence.isoformat()}")


def timer_listeners(
    timers: list[FunctionInfo], invoker: Invoker, client_binding: Callable[[], str]
) -> list[TimerListener]:
    """One listener per timer function; a bad schedule raises :class:`ScheduleError` naming the function."""
    listeners = []
    for info in timers:
        try:
            listeners.append(TimerListener(info, invoker, client_binding))
        except ScheduleError as exc:
            raise ScheduleError(f"timer function {info.name}: {exc}") from exc
    return listeners
