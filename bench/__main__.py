"""``python -m bench``: the benchmark (see ``bench/main.py``)."""

import sys

from bench.main import main

sys.exit(main())
