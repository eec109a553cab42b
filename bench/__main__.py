"""``python -m bench``: the benchmark (see ``bench/main.py``)."""

import sys

from bench.main import main

if __name__ == "__main__":
    sys.exit(main())
