"""The container deployment's files agree with each other (fast; the stack itself is proven by
``bmrs_assets_tests/deploy/test_compose_stack.py``): the compose instance is the production one
plus its marked differences, and every variable a run container needs reaches it."""

from __future__ import annotations

import re

import yaml

from bmrs_assets_tests.conftest import REPO

DEPLOY = REPO / "deploy"
# What deploy/compose/dagster.yaml changes from deploy/instance/dagster.production.yaml (its header)
COMPOSE_ONLY = {"run_launcher", "compute_logs", "local_artifact_storage"}


def _load(path):
    return yaml.safe_load(path.read_text())


def _env_refs(node) -> set[str]:
    """Every ``{env: NAME}`` in an instance file."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_env_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_env_refs(v) for v in node)) if node else set()
    return set()


def test_compose_instance_is_the_production_one_with_its_marked_differences():
    prod, compose = _load(DEPLOY / "instance" / "dagster.production.yaml"), _load(DEPLOY / "compose" / "dagster.yaml")
    assert set(compose) - set(prod) == COMPOSE_ONLY - set(prod)
    for key in set(prod) - {"run_launcher", "run_monitoring"}:
        assert compose[key] == prod[key], key
    monitoring = {k: v for k, v in compose["run_monitoring"].items() if k != "max_resume_run_attempts"}
    assert monitoring == {k: v for k, v in prod["run_monitoring"].items() if k != "max_resume_run_attempts"}
    assert compose["run_launcher"]["class"] == "DockerRunLauncher"
    assert compose["run_launcher"]["config"]["container_kwargs"]["network_mode"] == "host"


def test_run_containers_get_every_variable_the_instance_reads_and_the_stack_sets_them():
    compose_instance = _load(DEPLOY / "compose" / "dagster.yaml")
    forwarded = set(compose_instance["run_launcher"]["config"]["env_vars"])
    # a run container loads this same instance file: each variable it reads must be forwarded
    assert _env_refs(compose_instance) <= forwarded, _env_refs(compose_instance) - forwarded
    # ... and the launcher refuses a run when a forwarded variable is unset in the daemon: each is
    # set by compose.yaml's shared environment or listed in the environment file's example
    stack = _load(DEPLOY / "compose.yaml")
    environment = set(stack["x-bmrs-environment"])
    example = {line.split("=", 1)[0] for line in (DEPLOY / "compose" / "stack.env.example").read_text().splitlines()
               if re.match(r"^[A-Z_]+=", line)}
    assert forwarded <= environment | example, forwarded - environment - example
    # secrets come from the environment file only, never from compose.yaml
    assert not {"DAGSTER_PG_PASSWORD", "BMRS_BQ_CREDENTIALS", "BMRS_ALERT_WEBHOOK_URL"} & environment


def test_every_compose_service_is_on_the_host_network():
    stack = _load(DEPLOY / "compose.yaml")
    for name, service in stack["services"].items():
        assert service.get("network_mode") == "host", name
    # the named volume the run containers mount (the launcher's container_kwargs) is the stack's
    volumes = _load(DEPLOY / "compose" / "dagster.yaml")["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert {v.split(":")[0] for v in volumes} == {stack["volumes"]["bmrs-data"]["name"]}
