"""Every ``BMRS_*`` environment variable: its type, default and meaning, declared once in ``SETTINGS``.

Modules read settings only through :func:`value` (typed) or :func:`setting` (the text in force).
Both read ``os.environ`` at the moment they are called, never at import, so a variable set before
the definitions are built or a command runs applies to it. An unset or empty variable means the
default. ``docs/configuration.md`` is generated from the table (``python -m bmrs_assets.settings
--markdown > docs/configuration.md``) and a test fails when the two disagree.

This module imports no Dagster: the Dagster wiring layer turns a set variable into a ``dg.EnvVar``
(``bmrs_assets.defs.env.env_or_default``) so the UI shows where a value came from.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bmrs_assets.core.durations import parse_durations
from bmrs_assets.core.settlement import parse_day
from bmrs_assets.elexon.base_url import LIVE_BASE_URL

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TYPES = ("str", "int", "float", "bool", "path", "date", "durations", "json")
TRUE, FALSE = ("on", "true", "yes", "1"), ("off", "false", "no", "0")

# The groups in the order docs/configuration.md shows them, each with its one-line introduction.
GROUPS: dict[str, str] = {
    "API": "The Elexon Insights API and how politely it is called.",
    "partitions and automation": "Which days are partitions, and what the Dagster daemon requests by itself.",
    "warehouse": "Where the tables are written.",
    "BigQuery": "Only with `BMRS_WAREHOUSE=bigquery`; credentials are Google's application-default credentials.",
    "Dagster": "How the assets describe themselves to Dagster, and the instance the commands use.",
    "quality": "When a stored day counts as complete, and how far back the gap check looks.",
    "monitoring": "The alert sensor and the freshness dashboard.",
    "revenue": "The Balancing Mechanism revenue assets (VLP classification and costs).",
    "IRIS": "Elexon's real-time push (`python -m bmrs_assets iris`) and the sensor that merges what it landed.",
    "deployment": "The container images and the compose stack (`deploy/`, [production](production.md#compose)): read by "
                  "the build scripts, docker-compose and the compose instance, not by the platform's code.",
    "testing": "Test and fault-injection hooks: never set them in production.",
}


@dataclass(frozen=True)
class Setting:
    """One environment variable. ``default`` is written as it would be in the environment (``None``:
    unset, the feature is off or the variable is required where it is used); a relative ``path``
    default lies under the project root. ``default_from``: unset means the other setting's value."""

    name: str
    type: str
    default: str | None
    meaning: str
    group: str
    secret: bool = False  # never printed: not in error messages, and docs show no value
    default_from: str | None = None

    def __post_init__(self) -> None:
        if not self.name.startswith("BMRS_"):
            raise ValueError(f"{self.name}: a setting's name starts with BMRS_")
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: type {self.type!r} is not one of {', '.join(TYPES)}")
        if self.group not in GROUPS:
            raise ValueError(f"{self.name}: group {self.group!r} is not one of {', '.join(GROUPS)}")
        if self.secret and self.default is not None:
            raise ValueError(f"{self.name}: a secret has no default")

    def is_set(self) -> bool:
        """Whether the environment gives a (non-empty) value."""
        return bool(os.environ.get(self.name))

    def default_text(self) -> str | None:
        """The default as text: a relative path default resolved under the project root."""
        if self.default_from is not None:
            return SETTINGS[self.default_from].text()
        if self.type == "path" and self.default:
            return str(PROJECT_ROOT / self.default)
        return self.default

    def text(self) -> str | None:
        """The text in force: the environment's (when set and not empty), else the default."""
        return os.environ.get(self.name) or self.default_text()

    def parse(self, text: str) -> Any:
        """``text`` as this setting's type; a ``ValueError`` naming the variable when it is not one."""
        shown = "a value (hidden: secret)" if self.secret else repr(text)
        if self.type == "str":
            return text
        if self.type == "path":
            return Path(text)
        if self.type == "int":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{self.name}: expected an integer, got {shown}") from None
        if self.type == "float":
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{self.name}: expected a number, got {shown}") from None
        if self.type == "bool":
            if text.strip().lower() in TRUE:
                return True
            if text.strip().lower() in FALSE:
                return False
            raise ValueError(f"{self.name}: expected on or off (or true/false, yes/no, 1/0), got {shown}")
        if self.type == "date":
            try:
                return parse_day(text)
            except ValueError as exc:
                raise ValueError(f"{self.name}: {exc if not self.secret else 'not a date'}") from None
        if self.type == "durations":
            try:
                return parse_durations(text)
            except ValueError as exc:
                raise ValueError(f"{self.name}: {exc}") from None
        try:  # json
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{self.name}: expected JSON, got {shown} ({exc})") from None

    def value(self) -> Any:
        """The typed value in force; ``None`` when unset without a default."""
        text = self.text()
        return None if text is None else self.parse(text)

    def default_value(self) -> Any:
        """The typed default (for config classes' field defaults)."""
        text = self.default_text()
        return None if text is None else self.parse(text)


_TABLE = (
    # --- API -----------------------------------------------------------------------------------
    Setting("BMRS_API_BASE_URL", "str", LIVE_BASE_URL, "Elexon Insights API base URL (the demo points it at the simulator)",
            "API"),
    Setting("BMRS_RATE_LIMIT_PER_S", "float", "4", "most API requests started per second, shared by every process of "
            "the machine through the rate-limit file", "API"),
    Setting("BMRS_RATE_LIMIT_FILE", "path", "data/.elexon_rate_limit", "the lock file through which processes share "
            "the rate limit", "API"),
    Setting("BMRS_API_MAX_RETRIES", "int", "5", "retries of a failed request (429, 5xx, reset, timeout, cut-off body) "
            "before the run fails", "API"),
    Setting("BMRS_API_BACKOFF_S", "float", "1", "first retry delay in seconds, doubled per retry (at most 30 s; a longer "
            "`Retry-After` wins, up to `BMRS_API_RETRY_AFTER_MAX_S`)", "API"),
    Setting("BMRS_API_RETRY_AFTER_MAX_S", "float", "300", "longest `Retry-After` a run waits for; a longer one is not "
            "slept: the day fails at once naming the value (the run ends and frees the API pool; a later run retries)",
            "API"),
    Setting("BMRS_API_TIMEOUT_S", "float", "60", "seconds each connect, read or write of a request may take before it "
            "times out (and is retried)", "API"),
    Setting("BMRS_API_DEADLINE_S", "float", "120", "seconds a whole request may take - connect, headers and the entire "
            "body - however steadily the server trickles; a request cut by it fails the day at once (not retried)",
            "API"),
    Setting("BMRS_API_IN_FLIGHT", "int", "1", "API requests a run keeps in flight: the next day is fetched while the "
            "current one is typed; raise it (e.g. 4) on a high-latency link, the rate limit still applies", "API"),
    Setting("BMRS_TYPING_WORKERS", "int", "2", "worker processes that parse and type API responses while the run "
            "fetches and writes (a write of at least 100,000 expected rows; smaller ones type in the run's own process); "
            "0: always in the run's own process", "API"),
    # --- partitions and automation -----------------------------------------------------------
    Setting("BMRS_START_DATE", "date", "2022-01-01", "first daily partition (a GB settlement day, YYYY-MM-DD)",
            "partitions and automation"),
    Setting("BMRS_AUTOMATION", "bool", "on", "`off` starts the `bmrs_automation` sensor (declarative automation) "
            "stopped", "partitions and automation"),
    Setting("BMRS_BACKFILL_MAX_DAYS_PER_RUN", "int", "0", "caps the partition days of one backfill run (each dataset's "
            "own size comes from its registry volume, see docs/backfills.md); 0: no cap", "partitions and automation"),
    Setting("BMRS_UI_URL", "str", "http://127.0.0.1:3000", "base URL of the Dagster UI in the links commands print "
            "(e.g. a backfill's page, `<base>/runs/b/<id>`)", "partitions and automation"),
    Setting("BMRS_CHUNK_ROWS", "int", "250000", "a range run commits in chunks of whole days of about this many rows "
            "(one day at least), each chunk its own transaction", "warehouse"),
    Setting("BMRS_CHUNK_DAYS", "int", "31", "most partition days in one committed chunk of a range run", "warehouse"),
    Setting("BMRS_RANGE_GIVE_UP_AFTER", "int", "5", "a range run stops asking for more days after this many "
            "consecutive failed days (the rest are reported as not attempted); 0: never", "warehouse"),
    Setting("BMRS_RETRY_MAX_ATTEMPTS", "int", "6", "a failed partition is requested again at most this many times "
            "(after `BMRS_RETRY_INTERVALS`); then automation stops and one alert says it needs a person",
            "partitions and automation"),
    Setting("BMRS_RETRY_INTERVALS", "durations", "15m,1h,4h,1d", "waits before the 1st, 2nd, ... retry of a failed "
            "partition, counted from its last failure; the last one repeats (units s, m, h, d)",
            "partitions and automation"),
    Setting("BMRS_AUTOMATION_CRON", "str", "*/15 * * * *", "when automation may request runs (a cron in "
            "Europe/London time): heal, retry and refresh requests wait for its next tick",
            "partitions and automation"),
    Setting("BMRS_HEAL_LOOKBACK_DAYS", "int", "14", "days back within which automation requests missing or failed "
            "partitions again", "partitions and automation"),
    # --- warehouse ---------------------------------------------------------------------------
    Setting("BMRS_WAREHOUSE", "str", "duckdb", "warehouse backend: `duckdb` or `bigquery`", "warehouse"),
    Setting("BMRS_DUCKDB_PATH", "path", "data/bmrs.duckdb", "the DuckDB file, written by runs only; analysts read the "
            "copy each run publishes beside it, `<file stem>.read.duckdb` (docs/duckdb.md)", "warehouse"),
    # --- BigQuery ----------------------------------------------------------------------------
    Setting("BMRS_BQ_PROJECT", "str", "", "project holding the dataset (jobs run and are billed there); empty: the "
            "credentials' project", "BigQuery"),
    Setting("BMRS_BQ_DATASET", "str", "bmrs", "dataset of the tables; created if missing", "BigQuery"),
    Setting("BMRS_BQ_LOCATION", "str", "", "location of the dataset (`EU`, `europe-west2`, ...); empty: jobs run where "
            "the dataset is, and a created dataset goes to BigQuery's default location", "BigQuery"),
    Setting("BMRS_BQ_CREDENTIALS", "str", None, "a base64-encoded service-account key (dagster-gcp's `gcp_credentials`); "
            "unset: Google's application-default credentials", "BigQuery", secret=True),
    Setting("BMRS_BQ_STAGING_STALE_S", "float", "3600", "seconds after which a staging table is taken to belong to a "
            "crashed write and dropped", "BigQuery"),
    # --- Dagster -----------------------------------------------------------------------------
    Setting("BMRS_ASSET_OWNERS", "str", None, "owners of every asset: comma-separated emails or `team:<name>` "
            "(e.g. `team:markets,ops@example.com`); unset: none", "Dagster"),
    Setting("BMRS_ASSET_TAGS", "json", None, "tags of every asset: a JSON object of strings (e.g. "
            "`{\"domain\": \"energy\"}`); unset: none", "Dagster"),
    Setting("BMRS_DAGSTER_HOME", "path", "data/dagster_home", "the Dagster instance the commands "
            "(`python -m bmrs_assets ...`) use when `DAGSTER_HOME` is unset; created with "
            "`deploy/instance/dagster.yaml` when missing", "Dagster"),
    # --- quality -----------------------------------------------------------------------------
    Setting("BMRS_GAP_CHECK_DAYS", "int", "14", "days before today the `no_gaps_recent_days` check covers", "quality"),
    Setting("BMRS_MEDIAN_FLOOR_FRACTION", "float", None, "overrides the fraction of the trailing 28-day median a day of a "
            "variable dataset needs to be complete; unset: each dataset's own (0.5)", "quality"),
    # --- monitoring --------------------------------------------------------------------------
    Setting("BMRS_ALERT_WEBHOOK_URL", "str", None, "Slack-compatible incoming webhook the alert sensor posts to; unset: "
            "alerts are logged only", "monitoring", secret=True),
    Setting("BMRS_ALERT_LOOKBACK_DAYS", "int", None, "days before today within which the alert sensor reports gaps",
            "monitoring", default_from="BMRS_GAP_CHECK_DAYS"),
    Setting("BMRS_DASHBOARD_PATH", "path", "data/dashboard/index.html", "the freshness dashboard page (its JSON is "
            "`index.json` beside it)", "monitoring"),
    # --- revenue -----------------------------------------------------------------------------
    Setting("BMRS_REVENUE_REPORT_PATH", "path", "data/revenue_report/index.html", "the revenue report page (charts; "
            "its JSON is `index.json` beside it)", "revenue"),
    Setting("BMRS_VLP_REFERENCE_CSV", "path", None, "CSV with columns `bmUnit`, `classification` (`vlp` marks a VLP "
            "unit); it overrides the BM unit id rule; unset: the rule alone", "revenue"),
    Setting("BMRS_VLP_COST_COMPONENTS", "json", "[]", "JSON list of `{\"name\", \"per_mwh_gbp\", \"share_of_revenue\"}` "
            "costs set against VLP revenue", "revenue"),
    # --- IRIS --------------------------------------------------------------------------------
    Setting("BMRS_IRIS_CLIENT_ID", "str", None, "client id from the IRIS registration page (required by the consumer)",
            "IRIS"),
    Setting("BMRS_IRIS_CLIENT_SECRET", "str", None, "client secret from the IRIS registration page (required by the "
            "consumer); held masked, only handed to the credential", "IRIS", secret=True),
    Setting("BMRS_IRIS_QUEUE", "str", None, "queue name from the IRIS registration page (required by the consumer)",
            "IRIS"),
    Setting("BMRS_IRIS_NAMESPACE", "str", "elexon-insights-iris.servicebus.windows.net", "Service Bus namespace as "
            "Elexon publishes it; a bare name gets `.servicebus.windows.net`", "IRIS"),
    Setting("BMRS_IRIS_TENANT_ID", "str", "4203b7a0-7773-4de5-b830-8b263a20426e", "Elexon's Entra ID tenant (changed "
            "Aug 2025; override if it changes again)", "IRIS"),
    Setting("BMRS_IRIS_LANDING_PATH", "path", "data/iris_landing.sqlite", "the landing store (SQLite) the consumer "
            "writes and the sensor reads", "IRIS"),
    Setting("BMRS_IRIS_SENSOR", "bool", "on", "`off` starts the `bmrs_iris_landed` sensor stopped", "IRIS"),
    Setting("BMRS_IRIS_MAX_RUNS_PER_TICK", "int", "4", "most IRIS runs the sensor requests per tick", "IRIS"),
    # --- deployment --------------------------------------------------------------------------
    Setting("BMRS_IMAGE", "str", "bmrs-assets:local", "the project image `deploy/image/build.sh` tags and the compose "
            "stack runs; the DockerRunLauncher starts every run from it", "deployment"),
    Setting("BMRS_POSTGRES_IMAGE", "str", "bmrs-postgres:15", "the PostgreSQL image `deploy/image/build.sh` tags and "
            "the compose stack runs", "deployment"),
    Setting("BMRS_BASE_IMAGE", "str", "bmrs-base:bookworm", "the base image `deploy/image/build-base.sh` makes with "
            "debootstrap and `docker import` (nothing to do when it exists)", "deployment"),
    Setting("BMRS_DEBIAN_MIRROR", "str", None, "the Debian mirror the base image is debootstrapped from; unset: the "
            "first Debian archive URI in this machine's apt sources", "deployment"),
    Setting("BMRS_DEBIAN_SUITE", "str", "bookworm", "the Debian release of the base image", "deployment"),
    Setting("BMRS_ENV_FILE", "path", None, "the compose stack's environment file, its secrets only "
            "(`deploy/compose/stack.env.example`); required by `deploy/compose.yaml`", "deployment"),
    Setting("BMRS_PG_PORT", "int", "15432", "port of the compose stack's PostgreSQL on 127.0.0.1", "deployment"),
    Setting("BMRS_GRPC_PORT", "int", "14266", "port of the compose stack's code server (gRPC) on 127.0.0.1",
            "deployment"),
    Setting("BMRS_WEB_PORT", "int", "13366", "port of the compose stack's webserver (UI, GraphQL) on 127.0.0.1",
            "deployment"),
    Setting("BMRS_DOCKER_SOCKET", "str", "/var/run/docker.sock", "the Docker socket mounted into the compose "
            "stack's daemon and webserver, which start the run containers", "deployment"),
    Setting("BMRS_DOCKER_GID", "int", None, "the group id owning that socket (`stat -c %g`), given to those two "
            "containers; required by `deploy/compose.yaml`", "deployment"),
    # --- testing -----------------------------------------------------------------------------
    Setting("BMRS_CRASH_AT", "str", None, "test hook: the process kills itself (SIGKILL) at this crash point of the "
            "write path (`duckdb:staged`, `duckdb:merged-uncommitted`, `bigquery:staged`, `bigquery:merged`); "
            "`<point>@<n>`: at its n-th hit (the n-th chunk of a range)",
            "testing"),
    Setting("BMRS_SIM_FAULT_RATE", "float", "0", "fault hook: fraction of requests the bundled simulator answers with "
            "a fault (its `--fault-rate` default)", "testing"),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _TABLE}
assert len(SETTINGS) == len(_TABLE), "a setting is declared twice"


def declared(name: str) -> Setting:
    """The declaration of ``name``; a ``KeyError`` saying where to declare an unknown one."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not a declared setting (declare it in bmrs_assets/settings.py)") from None


def setting(name: str) -> str | None:
    """The text in force for ``name``: the environment's (empty means unset), else the default."""
    return declared(name).text()


def value(name: str) -> Any:
    """The typed value in force for ``name`` (``int``, ``float``, ``bool``, ``Path``, ``date``, JSON, ``str``)."""
    return declared(name).value()


def is_set(name: str) -> bool:
    """Whether the environment sets ``name`` (to a non-empty value)."""
    return declared(name).is_set()


def start_date() -> date:
    """The first daily partition, ``BMRS_START_DATE``."""
    return value("BMRS_START_DATE")


def _default_cell(s: Setting) -> str:
    if s.secret:
        return "none (secret)"
    if s.default_from is not None:
        return f"as `{s.default_from}`"
    if s.default is None:
        return "unset"
    if s.default == "":
        return "empty"
    if s.type == "path":
        return f"`{s.default}` under the project root"
    return f"`{s.default}`"


def markdown() -> str:
    """``docs/configuration.md``: a short introduction and one table per group."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from bmrs_assets/settings.py: edit the table there, then run",
        "     .venv/bin/python -m bmrs_assets.settings --markdown > docs/configuration.md -->",
        "",
        "Every setting is an environment variable named `BMRS_*`, declared once with its type, default and",
        "meaning in `bmrs_assets/settings.py`, which this page is generated from. Values are read from the",
        "environment when they are used (for Dagster: when the code location loads, and resource values",
        "when a run starts), never cached at import. An unset or empty variable means the default; a value",
        "that does not parse as its type fails with an error naming the variable. A relative path you set",
        "is relative to the working directory.",
        "",
        "Types: `bool` is `on`/`off` (also `true`/`false`, `yes`/`no`, `1`/`0`); `date` is `YYYY-MM-DD`;",
        "`json` is a JSON document. Secrets are never logged or printed, and no value is shown here.",
    ]
    for group, intro in GROUPS.items():
        members = [s for s in _TABLE if s.group == group]
        if not members:
            continue
        lines += ["", f"## {group}", "", intro, "", "| Variable | Type | Default | Meaning |", "|---|---|---|---|"]
        for s in members:
            meaning = ("**secret**: " if s.secret else "") + s.meaning
            lines.append(f"| `{s.name}` | {s.type} | {_default_cell(s)} | {meaning.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m bmrs_assets.settings --markdown > docs/configuration.md")
    sys.stdout.write(markdown())
