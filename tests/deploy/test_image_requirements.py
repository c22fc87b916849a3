"""The Airflow image installs requirements.txt on top of the Astro Runtime without replacing Airflow,
and replaces a provider the runtime bundles only where requirements.txt says why.

Astro's convention (docs/production.md, Requirements): requirements.txt never lists Airflow, and the
bundled providers keep the runtime's versions unless there is a written reason. The fast checks
read the files; the resolver check (`services`: it asks the package index) resolves requirements.txt
with uv on top of what the runtime has installed (include/astro/runtime-<tag>-constraints.txt), for
the runtime's Python and Linux, as pip would when the image builds: a distribution already installed
is kept when it satisfies every requirement. Run it with `-s` to see the summary it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.deploy.requirements_files import (
    AIRFLOW_CORE,
    REQUIREMENTS,
    ROOT,
    Runtime,
    read_pins,
    runtime,
)

# Packages only a service image needs (requirements-<service>.txt): never in the Airflow image.
SERVICE_ONLY = {"streamlit", "plotly", "fastapi-offline", "aiosmtpd", "jupyterlab"}
PLATFORM = "x86_64-manylinux_2_28"  # the runtime's and python:3.12-slim's: Debian, glibc, x86-64


def requirement_problems(path: Path, rt: Runtime) -> list[str]:
    """What in a requirements file breaks the Astro convention for runtime `rt`."""
    problems = []
    for pin in read_pins(path):
        if pin.name in AIRFLOW_CORE:
            problems.append(f"{path.name} lists {pin.line!r}: the runtime's Airflow must not be replaced")
        elif pin.name in rt.providers and rt.providers[pin.name] not in pin.reason:
            problems.append(
                f"{path.name} lists {pin.line!r}, which runtime {rt.tag} bundles at "
                f"{rt.providers[pin.name]}: write why right above it, naming the version it replaces"
            )
        if pin.name in SERVICE_ONLY:
            problems.append(f"{path.name} lists {pin.line!r}: a service's package, not the Airflow image's")
        if pin.version is None:
            problems.append(f"{path.name}: {pin.line!r} is not pinned to one version")
    return problems


def test_requirements_txt_follows_the_astro_convention() -> None:
    assert requirement_problems(REQUIREMENTS, runtime()) == []


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ("apache-airflow==3.3.2", "must not be replaced"),
        ("apache-airflow-task-sdk==1.3.2", "must not be replaced"),
        ("apache-airflow-providers-standard==1.21.0", "write why"),
        ("# a comment that names no version\napache-airflow-providers-smtp==3.2.0", "write why"),
        ("streamlit==1.67.0", "a service's package"),
        ("faker>=40", "not pinned"),
    ],
)
def test_the_convention_check_fails_on_a_broken_file(tmp_path: Path, added: str, expected: str) -> None:
    broken = tmp_path / "requirements.txt"
    broken.write_text(REQUIREMENTS.read_text() + "\n" + added + "\n")
    problems = requirement_problems(broken, runtime())
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_the_runtime_file_matches_the_dockerfile() -> None:
    """The Dockerfile's FROM tag has a constraints file, with Airflow and a Python version."""
    rt = runtime()
    assert rt.airflow["apache-airflow"] == rt.airflow["apache-airflow-core"]
    assert re.fullmatch(r"3\.\d+", rt.python)
    # The local venv runs the runtime's Airflow (requirements-dev.txt says so).
    dev = {pin.name: pin.version for pin in read_pins(ROOT / "requirements-dev.txt")}
    assert dev["apache-airflow"] == rt.airflow["apache-airflow"]


def compile_(requirements: Path, python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "uv", "pip", "compile", str(requirements),
            "--python-version", python, "--python-platform", PLATFORM,
            "--resolution", "lowest-direct", "--no-header", "--no-annotate", "--color", "never",
        ],
        capture_output=True, text=True, timeout=600, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )  # fmt: skip


def resolved_versions(output: str) -> dict[str, str]:
    versions = {}
    for line in output.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if match:
            versions[canonicalize_name(match.group(1))] = match.group(2)
    return versions


def resolve_on_runtime(requirements: Path, rt: Runtime, workdir: Path) -> tuple[list[str], list[str]]:
    """(summary lines, bundled distributions replaced with no reason) of resolving `requirements`
    on runtime `rt`: its Airflow pinned exactly, each bundled provider at least at the runtime's
    version and as low as possible (pip keeps an installed distribution that satisfies every
    requirement). Airflow cannot move: a conflict fails the resolve, with uv's explanation."""
    image = workdir / "image.in"
    image.write_text(
        "".join(f"{name}=={version}\n" for name, version in rt.airflow.items())
        + "".join(f"{name}>={version}\n" for name, version in rt.providers.items())
        + f"-r {requirements}\n"
    )
    result = compile_(image, rt.python)
    where = f"{requirements.name} does not resolve on runtime {rt.tag}"
    assert result.returncode == 0, f"{where}:\n{result.stderr}"
    resolved = resolved_versions(result.stdout)
    listed = {pin.name: pin for pin in read_pins(requirements)}
    lines = [
        f"runtime {rt.tag} (Python {rt.python}, {rt.path.relative_to(ROOT)}): {requirements.name} resolves "
        f"to {len(resolved)} distributions"
    ]
    replaced_silently = []
    for name, version in {**rt.airflow, **rt.providers}.items():
        now = resolved.get(name)
        if now == version:
            lines.append(f"  {name} {version}: kept")
        elif name in rt.providers and name in listed and version in listed[name].reason:
            reason = listed[name].reason
            lines.append(f"  {name} {version} -> {now}: replaced; {requirements.name} says: {reason}")
        else:
            lines.append(f"  {name} {version} -> {now}: REPLACED with no reason in {requirements.name}")
            replaced_silently.append(name)
    return lines, replaced_silently


@pytest.mark.services
def test_requirements_resolve_on_the_runtime_without_replacing_airflow(tmp_path: Path) -> None:
    """A bundled provider that moves must be one requirements.txt pins with its reason."""
    lines, replaced_silently = resolve_on_runtime(REQUIREMENTS, runtime(), tmp_path)
    print("\n".join(lines))
    assert replaced_silently == [], "\n".join(lines)


@pytest.mark.services
def test_the_resolver_check_fails_when_a_bundled_provider_moves_without_reason(tmp_path: Path) -> None:
    """A newer standard provider (what the local venv has) would replace the runtime's 1.15.0."""
    broken = tmp_path / "requirements.txt"
    broken.write_text(REQUIREMENTS.read_text() + "\napache-airflow-providers-standard==1.21.0\n")
    _, replaced_silently = resolve_on_runtime(broken, runtime(), tmp_path)
    assert replaced_silently == ["apache-airflow-providers-standard"]


@pytest.mark.services
def test_the_resolver_check_fails_when_airflow_would_move(tmp_path: Path) -> None:
    broken = tmp_path / "requirements.txt"
    broken.write_text(REQUIREMENTS.read_text() + "\napache-airflow-core==3.3.1\n")
    with pytest.raises(AssertionError, match="does not resolve on runtime"):
        resolve_on_runtime(broken, runtime(), tmp_path)


# requirements-airbyte.txt is no service image's: it is PyAirbyte's own venv (.venv-airbyte, locked
# in requirements-airbyte.lock), apart from Airflow's pins.
NOT_SERVICES = ("requirements-dev.txt", "requirements-airbyte.txt")
SERVICE_FILES = sorted(p.name for p in ROOT.glob("requirements-*.txt") if p.name not in NOT_SERVICES)


@pytest.mark.services
@pytest.mark.parametrize("name", SERVICE_FILES)
def test_each_service_requirements_file_resolves_for_the_apps_image(name: str) -> None:
    """Each service image installs its own file on python:3.12-slim (apps.Dockerfile)."""
    python = re.search(r"^FROM python:(\d+\.\d+)", (ROOT / "apps.Dockerfile").read_text(), re.MULTILINE)
    assert python, "apps.Dockerfile has no `FROM python:X.Y...` stage"
    result = compile_(ROOT / name, python.group(1))
    assert result.returncode == 0, result.stderr
    for pin in read_pins(ROOT / name):
        assert pin.version, f"{name}: {pin.line!r} is not pinned to one version"
        assert resolved_versions(result.stdout)[pin.name] == pin.version


AIRBYTE_LOCK = ROOT / "requirements-airbyte.lock"


def test_the_airflow_image_builds_pyairbytes_venv_from_its_lock() -> None:
    """The Dockerfile builds .venv-airbyte where the ingest DAG looks for it, from the lock, and the
    build context leaves out a local one (a developer's venv would otherwise be copied in)."""
    from liftoff.ingest.airbyte_extract import airbyte_python

    venv = airbyte_python().parent.parent.relative_to(ROOT)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"python -m venv {venv}\b", dockerfile)
    assert re.search(rf"{venv}/bin/pip install [^\n]*--no-deps --requirement {AIRBYTE_LOCK.name}", dockerfile)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert str(venv) in ignored


@pytest.mark.services
def test_the_airbyte_lock_installs_on_the_runtimes_python() -> None:
    """requirements-airbyte.lock (universal) resolves to its own pins on the runtime's Python."""
    from packaging.markers import Marker

    rt = runtime()
    result = compile_(AIRBYTE_LOCK, rt.python)
    where = f"{AIRBYTE_LOCK.name} does not resolve on Python {rt.python}"
    assert result.returncode == 0, f"{where}:\n{result.stderr}"
    resolved = resolved_versions(result.stdout)
    assert resolved["airbyte"] == next(pin.version for pin in read_pins(ROOT / "requirements-airbyte.txt"))
    image = {  # the runtime image: CPython on Linux x86-64
        "python_version": rt.python,
        "python_full_version": f"{rt.python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
    }
    wanted = {
        pin.name: pin.version
        for pin in read_pins(AIRBYTE_LOCK)
        if ";" not in pin.line or Marker(pin.line.split(";", 1)[1].split("#", 1)[0]).evaluate(image)
    }
    assert {name: resolved.get(name) for name in wanted} == wanted
