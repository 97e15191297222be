"""Timer triggers on devhost: NCRONTAB evaluation, refusal of what devhost cannot honour, and a real
host firing a timer function (with a durable client binding) on its schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from devhost.host import BackgroundHost, Host
from devhost.timers import ScheduleError, parse_schedule
from tests.devhost.devhost_client import APPS, WAIT_SECONDS, Client

START = datetime(2026, 1, 30, 23, 59, 58, tzinfo=UTC)  # a Friday


def occurrences(schedule: str, count: int, start: datetime = START) -> list[str]:
    parsed = parse_schedule(schedule, now=start)
    found, moment = [], start
    for _ in range(count):
        moment = parsed.next_after(moment)
        found.append(moment.strftime("%a %Y-%m-%d %H:%M:%S"))
    return found


def test_every_five_minutes_at_second_zero() -> None:
    assert occurrences("0 */5 * * * *", 3) == [
        "Sat 2026-01-31 00:00:00",
        "Sat 2026-01-31 00:05:00",
        "Sat 2026-01-31 00:10:00",
    ]


def test_ranges_lists_and_names() -> None:
    assert occurrences("0 30 9-10 * * MON-FRI", 3) == [
        "Mon 2026-02-02 09:30:00",
        "Mon 2026-02-02 10:30:00",
        "Tue 2026-02-03 09:30:00",
    ]
    assert occurrences("15,45 0 0 1 jan,Jul *", 3) == [
        "Wed 2026-07-01 00:00:15",
        "Wed 2026-07-01 00:00:45",
        "Fri 2027-01-01 00:00:15",
    ]


def test_month_end_and_leap_day() -> None:
    assert occurrences("0 0 12 31 * *", 2) == ["Sat 2026-01-31 12:00:00", "Tue 2026-03-31 12:00:00"]
    assert occurrences("0 0 0 29 2 *", 1) == ["Tue 2028-02-29 00:00:00"]


def test_every_second_steps_one_second() -> None:
    assert occurrences("* * * * * *", 3) == [
        "Fri 2026-01-30 23:59:59",
        "Sat 2026-01-31 00:00:00",
        "Sat 2026-01-31 00:00:01",
    ]


def test_schedule_from_an_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMER_TEST_SCHEDULE", "0 0 3 * * *")
    assert occurrences("%TIMER_TEST_SCHEDULE%", 1) == ["Sat 2026-01-31 03:00:00"]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("00:05:00", "TimeSpan"),
        ("*/5 * * * *", "5 fields"),
        ("0 0 0 ? * MON", "not supported"),
        ("0 0 0 L * *", "not supported"),
        ("0 0 0 * * MON#2", "not supported"),
        ("0 0 0 15W * *", "not supported"),
        ("0 0 0 13 * FRI", "both day and day-of-week"),
        ("0 0 0 * * 7", "outside 0-6"),
        ("60 * * * * *", "outside 0-59"),
        ("0 0 5-2 * * *", "reversed"),
        ("0 5/10 * * * *", r"needs \* or a range"),
        ("0 0 0 30 2 *", "no occurrence"),
        ("%NOT_A_SETTING_ANYWHERE%", "not set"),
    ],
)
def test_unsupported_or_impossible_schedules_are_refused(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(schedule, now=START)


@pytest.fixture
def timer_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    monkeypatch.setenv("TIMER_TEST_SCHEDULE", "*/1 * * * * *")
    host = Host(APPS / "timers", port=0, rpc_port=0, state_dir=tmp_path / "state")
    with BackgroundHost(host):
        yield host


def test_timer_fires_on_startup_and_every_second_with_a_durable_client(timer_host: Host) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        seen = requests.get(timer_host.url + "/api/ticks", timeout=5).json()
        if len(seen["ticks"]) >= 3 and seen["failures"] >= 2:
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    first = seen["ticks"][0]
    assert first["pastDue"] is False
    assert datetime.fromisoformat(first["next"]) > datetime.now(UTC).replace(year=2000)
    client = Client(timer_host.url)
    webhook = timer_host.url + "/runtime/webhooks/durabletask/instances/"
    for index, tick in enumerate(seen["ticks"][:3]):
        assert client.wait(webhook + tick["instanceId"])["output"] == index


def test_host_refuses_to_start_with_an_unsupported_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMER_TEST_SCHEDULE", "00:05:00")
    host = Host(APPS / "timers", port=0, rpc_port=0, state_dir=tmp_path / "state")
    with pytest.raises(ScheduleError, match=r"timer function tick: .*TimeSpan"):
        asyncio.run(host.start())
