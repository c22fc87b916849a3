"""Each service image (apps.Dockerfile) runs without Airflow, on its own requirements file.

Each service's entry modules are imported in a fresh interpreter that can import only what the
service's image has: the standard library, the liftoff package and the dependency closure of its
requirements-<service>.txt (read from the installed packages' metadata). Anything else is missing
(ModuleNotFoundError, as for a package not installed), Airflow, Cosmos, dbt and Great Expectations
included: a library's optional import behaves as in the image and a required one fails the test.
Offline and in seconds; the services tier resolves each file from the package index
(test_image_requirements.py). Modules a service imports inside functions (uvicorn, alembic, the
assistant's openai) are listed with its entry modules.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.requirements_files import ROOT, read_pins

BLOCKED = ("airflow", "cosmos", "dbt", "great_expectations")
DASHBOARD_MODULES = sorted(
    f"liftoff.apps.dashboard.{path.stem}"
    for path in (ROOT / "liftoff" / "apps" / "dashboard").glob("*.py")
    if path.stem != "__init__"
)
# service (apps.Dockerfile target) → modules its command imports
ENTRY_MODULES = {
    "crm-api": ["liftoff.apps.crm_api.__main__", "liftoff.apps.crm_api.app", "liftoff.apps.crm_api.migrate",
                "uvicorn", "alembic.command", "psycopg", "fastapi_offline"],
    "dashboard": [*DASHBOARD_MODULES, "streamlit", "pandas", "openai", "psycopg"],
    "unsubscribe": ["liftoff.campaign.unsubscribe", "liftoff.campaign.consent", "psycopg"],
    "outbox": ["liftoff.devstack.outbox", "aiosmtpd.controller"],
    "warehouse-roles": ["liftoff.warehouse.roles", "liftoff.apps.crm_api.roles", "psycopg"],
}  # fmt: skip

PROBE = """
import importlib, sys
from importlib import metadata

owners = metadata.packages_distributions()

class OnlyThisImage:
    # What the service's image has: the standard library, the liftoff package and ALLOWED; anything
    # else is missing as a module that is not installed is (ModuleNotFoundError).
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in BLOCKED:
            raise ModuleNotFoundError(f"{name}: Airflow and its stack are not in this service's image")
        dists = owners.get(top)
        if dists and not ALLOWED.intersection(d.lower().replace("_", "-") for d in dists):
            raise ModuleNotFoundError(f"{name} ({', '.join(dists)}) is not in this service's requirements")
        return None

sys.meta_path.insert(0, OnlyThisImage())
for module in MODULES:
    importlib.import_module(module)
"""


def closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution `requirements` bring, following the installed packages' metadata."""
    seen: set[str] = set()
    todo = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for line in metadata.requires(name) or []:
            dependency = Requirement(line)
            marker: Marker | None = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                todo.append((dependency, frozenset(dependency.extras)))
    return {key for key in seen if "[" not in key}


def import_with_only(modules: list[str], allowed: set[str]) -> subprocess.CompletedProcess[str]:
    """Import `modules` in a fresh interpreter that can import only the standard library, the
    liftoff package and the distributions in `allowed` (canonical names), as the image can."""
    script = (
        PROBE.replace("BLOCKED", repr(BLOCKED))
        .replace("ALLOWED", repr(allowed | {"liftoff-data"}))
        .replace("MODULES", repr(modules))
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "0"},
    )  # fmt: skip


@pytest.mark.parametrize("service", ENTRY_MODULES)
def test_each_service_runs_without_airflow_on_its_requirements(service: str) -> None:
    modules = ENTRY_MODULES[service]
    missing = [module for module in modules if importlib.util.find_spec(module.split(".")[0]) is None]
    if modules[0].startswith("liftoff.") and importlib.util.find_spec(modules[0].rsplit(".", 1)[0]):
        missing += [module for module in modules[:1] if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"{missing} not in this checkout (liftoff.warehouse.roles comes with the analyst role)")
    requirements_file = ROOT / f"requirements-{service}.txt"
    allowed = closure([Requirement(pin.line) for pin in read_pins(requirements_file)])
    result = import_with_only(modules, allowed)
    assert result.returncode == 0, f"{service} with only {requirements_file.name}:\n{result.stderr[-3000:]}"


def test_the_check_fails_when_a_service_imports_airflow() -> None:
    result = import_with_only(["liftoff.orchestration"], closure([Requirement("psycopg[binary]==3.3.9")]))
    assert "Airflow and its stack are not in this service's image" in result.stderr


def test_the_check_fails_when_a_requirement_is_missing() -> None:
    """The outbox with the unsubscribe endpoint's requirements: aiosmtpd is missing."""
    allowed = closure([Requirement(pin.line) for pin in read_pins(ROOT / "requirements-unsubscribe.txt")])
    result = import_with_only(ENTRY_MODULES["outbox"], allowed)
    assert "aiosmtpd (aiosmtpd) is not in this service's requirements" in result.stderr
