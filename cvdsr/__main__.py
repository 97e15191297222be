"""``python -m cvdsr``: the same as the ``cvdsr`` console script."""

from cvdsr.app import main

main()
