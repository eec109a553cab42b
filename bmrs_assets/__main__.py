"""``python -m bmrs_assets``: the command line (``bmrs_assets/cli``)."""

import sys

from bmrs_assets.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
