"""The settings table is the one place a ``BMRS_*`` variable is declared, and docs/configuration.md is its mirror."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bmrs_assets import settings
from bmrs_assets.settings import GROUPS, PROJECT_ROOT, SETTINGS, TYPES, markdown, setting, start_date, value

DOC = PROJECT_ROOT / "docs" / "configuration.md"
SCANNED = ("bmrs_assets", "bench", "tools", "deploy")
NAME = re.compile(r"BMRS_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
# a read of a BMRS_ variable, named literally or through a ``*_ENV`` constant (writes stay allowed)
_KEY = r"\s*(?:[\"']BMRS_|[A-Z_]*ENV\b)"
ENV_READ = re.compile(rf"os\.(?:environ\.get|getenv)\({_KEY}|os\.environ\[{_KEY}[^\]]*\](?!\s*=[^=])"
                      rf"|[\"']BMRS_\w+[\"'] in os\.environ")


def _sources() -> list[Path]:
    files = [p for d in SCANNED for p in (PROJECT_ROOT / d).rglob("*")
             if p.is_file() and p.suffix in (".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".json")]
    return sorted([*files, PROJECT_ROOT / "Makefile"])


def test_docs_configuration_md_is_generated_from_the_table():
    assert DOC.exists() and DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/configuration.md differs from bmrs_assets/settings.py; regenerate it with\n"
        "    .venv/bin/python -m bmrs_assets.settings --markdown > docs/configuration.md")


def test_the_module_prints_the_markdown():
    out = subprocess.run([sys.executable, "-m", "bmrs_assets.settings", "--markdown"], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT).stdout
    assert out == markdown()


def test_every_bmrs_name_in_the_sources_is_declared():
    found: dict[str, set[str]] = {}
    for path in _sources():
        for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, set()).add(str(path.relative_to(PROJECT_ROOT)))
    undeclared = {n: sorted(where) for n, where in found.items() if n not in SETTINGS}
    assert not undeclared, f"declare these in bmrs_assets/settings.py: {undeclared}"
    assert len(found) >= 30, "the scan found the variables (it is not vacuous)"


def test_only_the_settings_module_reads_bmrs_variables_from_the_environment():
    readers = [f"{path.relative_to(PROJECT_ROOT)}:{n}: {line.strip()}"
               for path in _sources() if path.suffix == ".py" and path != PROJECT_ROOT / "bmrs_assets" / "settings.py"
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if ENV_READ.search(line)]
    assert not readers, "read settings through bmrs_assets.settings (setting/value), not os.environ:\n" + "\n".join(readers)
    assert ENV_READ.search('x = os.environ.get("BMRS_X") or 1') and ENV_READ.search("os.environ.get(WEBHOOK_ENV)")
    assert not ENV_READ.search('os.environ["BMRS_API_BASE_URL"] = sim.url'), "writing the environment is allowed"


def test_every_setting_is_fully_declared_and_its_default_parses():
    for s in SETTINGS.values():
        assert s.type in TYPES and s.group in GROUPS, s.name
        assert s.meaning and "\n" not in s.meaning, s.name
        if s.default_from is not None:
            assert s.default is None and SETTINGS[s.default_from].type == s.type, s.name
        elif s.default is not None:
            s.parse(s.default)  # raises naming the variable if the table is wrong
            if s.type == "path":
                assert not Path(s.default).is_absolute(), f"{s.name}: a path default is relative to the project root"
    assert [g for g in GROUPS if any(s.group == g for s in SETTINGS.values())] == list(GROUPS), "no empty group"


def test_secrets_have_no_default_and_never_appear_in_errors_or_docs(monkeypatch):
    secrets = [s for s in SETTINGS.values() if s.secret]
    assert {s.name for s in secrets} >= {"BMRS_IRIS_CLIENT_SECRET", "BMRS_ALERT_WEBHOOK_URL"}
    assert all(s.default is None for s in secrets)
    doc = markdown()
    for s in secrets:
        assert f"| `{s.name}` | {s.type} | none (secret) | **secret**" in doc
    hidden = settings.Setting("BMRS_TEST_SECRET_NUMBER", "int", None, "a secret number", "testing", secret=True)
    with pytest.raises(ValueError, match="BMRS_TEST_SECRET_NUMBER") as err:
        hidden.parse("s3cr3t-value")
    assert "s3cr3t-value" not in str(err.value)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("BMRS_RATE_LIMIT_PER_S", "abc", "BMRS_RATE_LIMIT_PER_S: expected a number, got 'abc'"),
    ("BMRS_API_MAX_RETRIES", "2.5", "BMRS_API_MAX_RETRIES: expected an integer, got '2.5'"),
    ("BMRS_AUTOMATION", "maybe", "BMRS_AUTOMATION: expected on or off"),
    ("BMRS_START_DATE", "01/02/2024", "BMRS_START_DATE: not a valid settlement date"),
    ("BMRS_VLP_COST_COMPONENTS", "[{", "BMRS_VLP_COST_COMPONENTS: expected JSON"),
])
def test_an_invalid_value_is_an_error_naming_the_variable(monkeypatch, name, text, message):
    monkeypatch.setenv(name, text)
    with pytest.raises(ValueError) as err:
        value(name)
    assert str(err.value).startswith(message)


def test_values_are_read_from_the_environment_when_asked(monkeypatch):
    for name in ("BMRS_RATE_LIMIT_PER_S", "BMRS_START_DATE", "BMRS_AUTOMATION", "BMRS_GAP_CHECK_DAYS",
                 "BMRS_ALERT_LOOKBACK_DAYS", "BMRS_DUCKDB_PATH", "BMRS_VLP_REFERENCE_CSV", "BMRS_VLP_COST_COMPONENTS"):
        monkeypatch.delenv(name, raising=False)
    assert value("BMRS_RATE_LIMIT_PER_S") == 4.0 and start_date() == date(2022, 1, 1)
    assert value("BMRS_AUTOMATION") is True and value("BMRS_ALERT_LOOKBACK_DAYS") == 14
    assert value("BMRS_DUCKDB_PATH") == PROJECT_ROOT / "data" / "bmrs.duckdb"
    assert setting("BMRS_DUCKDB_PATH") == str(PROJECT_ROOT / "data" / "bmrs.duckdb")
    assert value("BMRS_VLP_REFERENCE_CSV") is None and value("BMRS_VLP_COST_COMPONENTS") == []

    monkeypatch.setenv("BMRS_RATE_LIMIT_PER_S", "12.5")
    monkeypatch.setenv("BMRS_START_DATE", "2024-03-31")
    monkeypatch.setenv("BMRS_AUTOMATION", "OFF")
    monkeypatch.setenv("BMRS_GAP_CHECK_DAYS", "3")  # the alert lookback follows it while unset
    monkeypatch.setenv("BMRS_DUCKDB_PATH", "elsewhere.duckdb")
    assert value("BMRS_RATE_LIMIT_PER_S") == 12.5 and start_date() == date(2024, 3, 31)
    assert value("BMRS_AUTOMATION") is False and value("BMRS_ALERT_LOOKBACK_DAYS") == 3
    assert value("BMRS_DUCKDB_PATH") == Path("elsewhere.duckdb"), "a path you set is taken as given"
    monkeypatch.setenv("BMRS_ALERT_LOOKBACK_DAYS", "7")
    assert value("BMRS_ALERT_LOOKBACK_DAYS") == 7

    monkeypatch.setenv("BMRS_RATE_LIMIT_PER_S", "")  # empty means the default, as before
    assert value("BMRS_RATE_LIMIT_PER_S") == 4.0 and setting("BMRS_RATE_LIMIT_PER_S") == "4"


def test_an_undeclared_name_says_where_to_declare_it():
    with pytest.raises(KeyError, match=r"declare it in bmrs_assets/settings\.py"):
        setting("BMRS_NOT_A_SETTING")


def test_the_settings_module_imports_no_dagster():
    code = "import sys, bmrs_assets.settings; sys.exit('dagster' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT).returncode == 0


def test_the_dagster_layer_records_a_set_variable_as_an_env_var(monkeypatch):
    import dagster as dg

    from bmrs_assets.defs.env import env_or_default

    monkeypatch.delenv("BMRS_WAREHOUSE", raising=False)
    assert env_or_default("BMRS_WAREHOUSE") == "duckdb"
    monkeypatch.setenv("BMRS_WAREHOUSE", "bigquery")
    assert env_or_default("BMRS_WAREHOUSE") == dg.EnvVar("BMRS_WAREHOUSE")


def test_the_crash_point_setting_names_every_crash_point_and_nothing_else():
    from bmrs_assets.warehouse.crash_points import POINTS, crash_point

    named = re.findall(r"`([a-z]+:[a-z-]+)`", SETTINGS["BMRS_CRASH_AT"].meaning)
    assert sorted(named) == sorted(POINTS)
    with pytest.raises(ValueError, match="unknown crash point"):
        crash_point("duckdb:nowhere")
