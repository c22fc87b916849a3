"""The package installs like any other: `pip install .` into a fresh virtual environment, then
`import liftoff` from elsewhere, with no sys.path or PYTHONPATH tweak (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from liftoff import settings

# Builds a wheel (setuptools from the package index) into a new venv: not in `make test-fast`.
pytestmark = pytest.mark.services


def test_a_fresh_venv_installs_the_package_and_imports_it_from_anywhere(tmp_path):
    venv = tmp_path / "venv"
    uv = [sys.executable, "-m", "uv"]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [*uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(settings.PROJECT_ROOT)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # From another folder, so the checkout itself is not what gets imported. (--no-deps: the
    # runtime's pins are requirements.txt's business; settings needs only the standard library.)
    simple = subprocess.run(
        [str(python), "-c", "import liftoff, liftoff.settings; print(liftoff.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert simple.returncode == 0, simple.stderr
    assert "site-packages" in simple.stdout
    listed = subprocess.run(
        [*uv, "pip", "show", "--files", "--python", str(python), "liftoff-data"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    files = listed.stdout
    for shipped in (
        "liftoff/warehouse/migrations/versions/0001_warehouse_schemas.py",
        "liftoff/apps/crm_api/migrations/script.py.mako",
        "liftoff/orchestration/cosmos_config.py",
    ):
        assert shipped in files, f"{shipped} is not in the installed package:\n{files}"
