"""The two layer rules import-linter has no contract type for (liftoff/devstack/layer_rules.py)
catch what they promise on a throwaway package, so `make lint` passing means something."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFIG = """
[tool.importlinter]
root_package = "shop"
include_external_packages = true
contract_types = [
    "private_names: liftoff.devstack.layer_rules.PrivateNamesContract",
    "module_level_imports: liftoff.devstack.layer_rules.ModuleLevelImportsContract",
]

[[tool.importlinter.contracts]]
name = "private"
type = "private_names"
root = "shop"

[[tool.importlinter.contracts]]
name = "airflow"
type = "module_level_imports"
root = "shop"
packages = ["airflow"]
allowed_modules = ["shop.orchestration"]
"""


GLUE = "try:\n    from airflow.sdk import Variable\nexcept ImportError:\n    pass\n"  # still module level


def lint(root: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    for name, text in {"pyproject.toml": CONFIG, "shop/__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--config", "pyproject.toml"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def test_a_private_name_of_another_package_and_airflow_at_module_level_are_reported(tmp_path):
    result = lint(
        tmp_path,
        {
            "shop/engine/__init__.py": "",
            "shop/engine/rules.py": "def _compile():\n    pass\n\n\ndef _also():\n    pass\n",
            "shop/engine/own.py": "from shop.engine.rules import _compile\n",  # same package: allowed
            "shop/api/__init__.py": "",
            "shop/api/app.py": "from shop.engine.rules import (\n    _also,\n)\n",
            "shop/api/dag_glue.py": GLUE,
            # Inside a function (runs in a task): allowed.
            "shop/api/task.py": "def run():\n    from airflow.sdk import Variable\n",
            "shop/orchestration.py": "from airflow.sdk import Asset\n",  # the allowed module
        },
    )
    assert result.returncode == 1, result.stdout
    out = " ".join(result.stdout.split())
    assert "shop.api.app:1: from shop.engine.rules import (" in out
    assert "shop.api.dag_glue:2: imports airflow.sdk at module level" in out
    assert "shop.engine.own" not in out
    assert "shop.api.task" not in out
    assert "shop.orchestration:" not in out


def test_a_package_that_keeps_the_rules_passes(tmp_path):
    result = lint(
        tmp_path,
        {
            "shop/engine/__init__.py": "def compile_rules():\n    pass\n",
            "shop/api/__init__.py": "from shop.engine import compile_rules\n",
        },
    )
    assert result.returncode == 0, result.stdout
    assert "2 kept, 0 broken" in result.stdout
