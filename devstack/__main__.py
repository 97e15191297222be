"""Entry point of ``python -m devstack``."""

import sys

from devstack.cli import run

sys.exit(run())
