"""Settings as Dagster sees them: an ``EnvVar`` when the variable is set, so the UI shows its source."""

from __future__ import annotations

import warnings

import dagster as dg

from bmrs_assets.settings import declared


def env_or_default(name: str) -> str | dg.EnvVar:
    """An ``EnvVar`` when ``name`` is set (Dagster resolves it when a run starts), else its default as text."""
    s = declared(name)
    return dg.EnvVar(name) if s.is_set() else s.default_text()


# Dagster's notices about its own API (beta, preview, superseded or deprecated parameters we use on
# purpose): for the code location's maintainers, not for the people running it. Only these categories,
# and deprecations only when Dagster issues them; every other warning (ours included) still shows.
DAGSTER_NOTICES: tuple[type[Warning], ...] = (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning)


def ignore_dagster_notices() -> None:
    """Filter :data:`DAGSTER_NOTICES` (and Dagster's deprecation warnings) in the current warnings context."""
    for category in DAGSTER_NOTICES:
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dagster(_[a-z]+)?(\.|$)")
