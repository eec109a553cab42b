"""Settings as Dagster sees them: an ``EnvVar`` when the variable is set, so the UI shows its source."""

from __future__ import annotations

import dagster as dg

from bmrs_assets.settings import declared


def env_or_default(name: str) -> str | dg.EnvVar:
    """An ``EnvVar`` when ``name`` is set (Dagster resolves it when a run starts), else its default as text."""
    s = declared(name)
    return dg.EnvVar(name) if s.is_set() else s.default_text()
