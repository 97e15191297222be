"""Fan-out benchmark for devhost: 1,000 trivial activities in one orchestration, through the real host.

Run: ``.venv/bin/python -m benchmarks.devhost_fanout [--n 1000] [--baseline 100]``. Prints wall time
from start request to Completed status, episodes, time spent inside the SDK replay, and the same for a
baseline fan-out measured in the same run (the ratio shows how cost grows with n).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import requests

from devhost.host import BackgroundHost, Host

APP_DIR = Path(__file__).parent / "devhost_app"
TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.01


def run_fan_out(host: Host, n: int) -> dict[str, float]:
    """Start one fan-out of ``n`` activities and wait for it; returns the measurements."""
    assert host.dispatcher is not None
    episodes_before = host.dispatcher.episode_count
    replay_before = host.dispatcher.replay_seconds
    started = time.perf_counter()
    response = requests.post(f"{host.url}/api/fan/{n}", timeout=10)
    response.raise_for_status()
    status_url = response.json()["statusQueryGetUri"]
    deadline = started + TIMEOUT_SECONDS
    while True:
        status = requests.get(status_url, timeout=10)
        if status.status_code == 200:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"fan-out of {n} did not finish in {TIMEOUT_SECONDS}s")
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    body = status.json()
    if body["output"] != sum(range(1, n + 1)):
        raise AssertionError(f"wrong result {body['output']}")
    return {
        "n": n,
        "seconds": elapsed,
        "episodes": host.dispatcher.episode_count - episodes_before,
        "replay_seconds": host.dispatcher.replay_seconds - replay_before,
    }


def main() -> None:
    """Measure baseline and target fan-outs in one host and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as state:
        host = Host(APP_DIR, port=0, rpc_port=0, state_dir=state)
        with BackgroundHost(host):
            run_fan_out(host, 10)  # warm-up: imports, first client session
            baseline = run_fan_out(host, args.baseline)
            target = run_fan_out(host, args.n)
    for row in (baseline, target):
        print(
            f"fan-out n={row['n']:>5}: {row['seconds']:.2f} s wall, {row['episodes']:.0f} episodes,"
            f" {row['replay_seconds']:.2f} s in SDK replay"
        )
    ratio = target["seconds"] / baseline["seconds"]
    print(f"ratio n={args.n} / n={args.baseline}: {ratio:.1f}x wall for {args.n / args.baseline:.0f}x work")
    print(f"target < 10 s: {'met' if target['seconds'] < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
