"""What decides the rows a response body becomes, as one string (no pandas: the code location reads it at load).

Its digest is a dataset asset's ``code_version`` (``defs/conventions.py``), and the body-digest
store remembers it beside each day's digest (``elexon/api_source.py``): a change here, or in the
registry entry, makes every remembered day parse again once.
"""

from __future__ import annotations

from bmrs_assets.elexon.dataset import Dataset

# Bump when typing, hashing or validation changes what a body turns into: every remembered body
# digest then stops matching and each day is parsed and MERGEd again once.
# 2: settlement periods checked against their day and time (``core/periods.py``, ``Dataset.period_labels``).
TYPING_VERSION = "2"


def typing_fingerprint(ds: Dataset) -> str:
    """Everything in the registry and in ``core/conform.py`` that decides what rows a body becomes."""
    cols = [(c.name, c.kind.value, c.nullable, c.origin.value, [(k.name, repr(k.statistics)) for k in c.checks])
            for c in ds.columns]
    no_table_checks: list[str] = []  # where frame-level checks once stood (never used): kept so stored digests stay valid
    labels = [(lab.period, lab.time, lab.rule.value, lab.date) for lab in ds.period_labels]
    return repr((TYPING_VERSION, ds.code, cols, ds.key, ds.partition_column, ds.revision_column, ds.flatten,
                 no_table_checks, ds.allow_empty, labels))
