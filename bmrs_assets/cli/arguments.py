"""What every command checks before it starts: its arguments, and the Dagster instance it uses.

A bad argument is one line on stderr (``error: ...``) and exit status 2, never a traceback: a day
that is not a date, a range whose ``--from`` is after its ``--to``, ``--days`` under 1, an unknown
dataset, a day after today (Europe/London: its data cannot exist yet, so it is refused, not
clipped) or before ``BMRS_START_DATE`` (there is no such partition). argparse's own errors are one
line too.

``DAGSTER_HOME`` unset: the commands use ``BMRS_DAGSTER_HOME`` (default ``data/dagster_home``
under the project root, the Makefile's) and create it, with ``deploy/instance/dagster.yaml``
copied in, when it is missing - as ``make`` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from bmrs_assets.core.settlement import london_today, parse_day
from bmrs_assets.settings import PROJECT_ROOT, start_date, value

INSTANCE_TEMPLATE = PROJECT_ROOT / "deploy" / "instance" / "dagster.yaml"


class UsageError(ValueError):
    """A refused argument; its message is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (``<prog>: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def day(option: str, text: str | None) -> date | None:
    """``text`` as a settlement day, or None when not given; a :class:`UsageError` naming ``option``."""
    if text is None:
        return None
    try:
        return parse_day(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def at_least_one(option: str, n: int) -> int:
    if n < 1:
        raise UsageError(f"{option} must be at least 1, got {n}")
    return n


def day_range(first: date, last: date, first_option: str = "--from", last_option: str = "--to",
              last_given: bool = True, today: date | None = None) -> tuple[date, date]:
    """``first``..``last`` when it is a range of existing partition days (see the module's rules)."""
    today = today or london_today()
    if first > last:
        default = "" if last_given else " (its default: the last complete day)"
        raise UsageError(f"{first_option} {first} is after {last_option} {last}{default}")
    if last > today:
        raise UsageError(f"{last_option} {last} is after today ({today} in Europe/London): no data exists for it yet")
    if first < start_date():
        raise UsageError(f"{first_option} {first} is before the first partition, {start_date()} (BMRS_START_DATE)")
    return first, last


def dataset_codes(names: Sequence[str] | None) -> list[str] | None:
    """The registry codes of ``names`` (case-insensitive), None for none; an unknown one is refused."""
    if not names:
        return None
    from bmrs_assets.elexon.datasets import get_dataset

    try:
        return [get_dataset(n).code for n in names]
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def ensure_dagster_home() -> Path:
    """``DAGSTER_HOME`` (made absolute), else ``BMRS_DAGSTER_HOME``; created with the instance
    template's ``dagster.yaml`` when it has none. Sets ``DAGSTER_HOME`` for this process."""
    home = Path(os.environ.get("DAGSTER_HOME") or value("BMRS_DAGSTER_HOME")).expanduser().absolute()
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")
    except OSError as exc:
        raise UsageError(f"cannot prepare the Dagster instance at {home} (DAGSTER_HOME): {exc.strerror or exc}") from None
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def fail(exc: Exception) -> int:
    """Print the refusal's one line; exit status 2."""
    print(f"error: {exc}", file=sys.stderr)
    return 2
