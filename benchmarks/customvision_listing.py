"""Benchmark: list N images of one emulated project with the client; report calls and wall time.

.venv/bin/python -m benchmarks.customvision_listing [N]
"""

from __future__ import annotations

import math
import random
import secrets
import sys
import time

from dsr.customvision import ClientOptions, EndpointAllowList, TrainingClient
from emulator import EmulatorServer, SeedSpec, build_state
from emulator.seed import _Ids, add_images


def main(count: int) -> None:
    key = secrets.token_hex(16)
    spec = SeedSpec(
        projects_per_account=1, images_per_project=0, iterations_per_project=0, predictions_per_project=0
    )
    state = build_state(spec, {"account-1": key})
    project = next(iter(state.account("account-1").projects.values()))
    started = time.monotonic()
    add_images(project, count, _Ids(random.Random(1)), random.Random(2), spec=SeedSpec(), tag_ids=[])
    seeded = time.monotonic() - started
    with EmulatorServer(state) as server:
        allow = EndpointAllowList(extra_origins=(server.base_url,))
        options = ClientOptions(rate_limit_per_second=None)
        with TrainingClient(server.base_url, key, options, allow) as client:
            started = time.monotonic()
            listed = sum(len(page) for page in client.iter_images(project.id))
            elapsed = time.monotonic() - started
    calls = state.account("account-1").controls.counters["GetImages"]
    expected_calls = math.ceil(count / 256) + (count % 256 == 0)  # an exact multiple needs one empty page
    if listed != count or calls != expected_calls:
        raise SystemExit(f"listed {listed} images in {calls} calls; expected {count} in {expected_calls}")
    print(
        f"images={count} seed_s={seeded:.2f} list_s={elapsed:.2f} GetImages_calls={calls} "
        f"ms_per_call={1000 * elapsed / calls:.1f} (unthrottled; at 10 calls/s: {calls / 10:.0f}s)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
