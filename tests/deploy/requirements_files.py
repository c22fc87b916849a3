"""Reading the project's requirements files and the runtime's constraints, for the deploy tests.

One place for what "the runtime" is: the Dockerfile's FROM tag names it, and
include/astro/runtime-<tag>-constraints.txt lists what that image already has installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
APPS_DOCKERFILE = ROOT / "apps.Dockerfile"
REQUIREMENTS = ROOT / "requirements.txt"
# Airflow itself: never listed in requirements.txt, never replaced in the image.
AIRFLOW_CORE = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    line: str  # as written, without comment
    version: str | None  # for `==` pins
    reason: str  # the comment lines right above it


def read_pins(path: Path) -> list[Pin]:
    """The requirement lines of a requirements file (`-r`/`-c` lines skipped), each with the
    comment block written right above it."""
    pins: list[Pin] = []
    comment: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line:
            comment = []
            continue
        if line.startswith("#"):
            comment.append(line.lstrip("# "))
            continue
        if line.startswith("-"):
            comment = []
            continue
        text = line.split(" #", 1)[0].strip()
        try:
            requirement = Requirement(text)
        except Exception as error:
            raise ValueError(f"{path.name}:{number}: not a requirement: {text!r} ({error})") from None
        specs = list(requirement.specifier)
        version = specs[0].version if len(specs) == 1 and specs[0].operator == "==" else None
        pins.append(Pin(canonicalize_name(requirement.name), text, version, " ".join(comment)))
        comment = []
    return pins


def runtime_tag(dockerfile: Path = DOCKERFILE) -> str:
    """The Astro Runtime tag the Dockerfile builds FROM (e.g. `3.3-2`)."""
    match = re.search(r"^FROM\s+\S*/runtime:(\S+)", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f"{dockerfile}: no `FROM .../runtime:<tag>` line")
    return match.group(1)


@dataclass(frozen=True)
class Runtime:
    tag: str
    python: str
    airflow: dict[str, str]  # apache-airflow, -core, -task-sdk → version
    providers: dict[str, str]  # bundled provider → version
    path: Path


def runtime(tag: str | None = None) -> Runtime:
    """The runtime's installed Airflow and bundled providers, from its constraints file."""
    tag = tag or runtime_tag()
    path = ROOT / "include" / "astro" / f"runtime-{tag}-constraints.txt"
    if not path.exists():
        raise FileNotFoundError(f"the Dockerfile builds FROM runtime:{tag} but {path} does not exist")
    python = re.search(r"^# python: (\d+\.\d+)$", path.read_text(), re.MULTILINE)
    if not python:
        raise ValueError(f"{path}: no `# python: X.Y` line")
    airflow, providers = {}, {}
    for pin in read_pins(path):
        if pin.version is None:
            raise ValueError(f"{path}: {pin.line!r} is not an exact pin")
        (airflow if pin.name in AIRFLOW_CORE else providers)[pin.name] = pin.version
    missing = set(AIRFLOW_CORE) - set(airflow)
    if missing:
        raise ValueError(f"{path}: no pin for {sorted(missing)}")
    return Runtime(tag, python.group(1), airflow, providers, path)
