"""``python -m bmrs_assets``: the command line (``bmrs_assets/cli``)."""

import sys

from bmrs_assets.cli.main import main

sys.exit(main())
