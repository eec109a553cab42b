"""``python -m bench``: the benchmark (see ``bench/platform_bench.py``)."""

import sys

from bench.platform_bench import main

sys.exit(main())
