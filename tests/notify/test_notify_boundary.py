"""notify/ holds the channels the quality gate and the campaign share: it must depend on neither,
and production code must not depend on the dev stack (it is not deployed)."""

from __future__ import annotations

import ast
from pathlib import Path

from liftoff import settings

PACKAGE = settings.PROJECT_ROOT / "liftoff"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement stands (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_notify_imports_neither_campaign_nor_quality() -> None:
    for path in sorted((PACKAGE / "notify").glob("*.py")):
        leaks = {m for m in imported_modules(path) if m.startswith(("liftoff.campaign", "liftoff.quality"))}
        assert not leaks, f"{path.name} imports {sorted(leaks)}"


def test_campaign_and_notify_do_not_import_the_dev_stack() -> None:
    for folder in ("campaign", "notify"):
        for path in sorted((PACKAGE / folder).glob("*.py")):
            leaks = {m for m in imported_modules(path) if m.startswith("liftoff.devstack")}
            assert not leaks, f"{folder}/{path.name} imports {sorted(leaks)}"
