"""Local emulator of the Custom Vision Training API (v3.3 and v3.4-preview paths). Dev tool only:
nothing deployed imports it.

    state = seed.preset("demo", {"account-1": key})
    with EmulatorServer(state) as server:
        ...  # server.base_url; state.account("account-1").controls.fail_next("GetImages", 2)
"""

from emulator.controls import Controls, Fault, Knobs
from emulator.seed import PRESETS, SeedSpec, build_state, preset
from emulator.server import EmulatorServer
from emulator.state import Account, EmulatorState

__all__ = [
    "PRESETS",
    "Account",
    "Controls",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "Knobs",
    "SeedSpec",
    "build_state",
    "preset",
]
