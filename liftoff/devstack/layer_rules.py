"""Two import-linter contract types the built-in ones cannot express (`make lint`, pyproject.toml).

- `private_names`: no package imports another package's private names (`from x import _y`, or a
  module whose path has an underscore segment). Within one package (`liftoff.campaign.*` among
  themselves) private names are the package's own business.
- `module_level_imports`: the listed third-party packages (Airflow, Cosmos) are imported at module
  level only by the allowed modules. Elsewhere they may be imported inside a function, which runs in
  a task; at module level they would load Airflow into every command-line tool and test that
  imports the module, and into DAG parsing for every module a DAG file imports.

Only `lint-imports` loads this module; it is developer tooling, so it lives in the dev stack.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from functools import cache

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _render(check: ContractCheck, advice: str) -> None:
    """Each offending import on its own line (module:line: statement), then what to do about it."""
    for line in check.metadata["found"]:
        output.print_error(line, bold=False)
        output.new_line()
    output.print(advice)


def _package_of(module: str, depth: int) -> str:
    """`liftoff.campaign.mail` → `liftoff.campaign` at depth 2: the unit that owns private names."""
    return ".".join(module.split(".")[:depth])


class PrivateNamesContract(Contract):
    """Modules of one package (the first `depth` dotted parts) never import another's private names."""

    type_name = "private_names"
    root = fields.StringField()
    depth = fields.IntegerField(required=False, default=2)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        depth = int(self.depth)  # type: ignore[arg-type]
        found: list[str] = []
        modules = sorted(m for m in graph.modules if m == self.root or m.startswith(f"{self.root}."))
        for importer in modules:
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if not imported.startswith(f"{self.root}."):
                    continue
                if _package_of(importer, depth) == _package_of(imported, depth):
                    continue
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    if _names_private(importer, imported, detail["line_number"]):
                        found.append(f"{importer}:{detail['line_number']}: {detail['line_contents']}")
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        _render(check, "Give the imported package a public name for it (no leading underscore).")


def _names_private(importer: str, imported: str, line_number: int) -> bool:
    """Whether the import at `line_number` of `importer` reaches a private name of `imported`."""
    if any(part.startswith("_") and not part.startswith("__") for part in imported.split(".")):
        return True
    for node in ast.walk(_syntax_tree(importer)):
        if isinstance(node, ast.ImportFrom) and node.lineno == line_number:
            return any(alias.name.startswith("_") for alias in node.names)
    return False


@cache
def _syntax_tree(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ast.Module(body=[], type_ignores=[])
    with open(spec.origin, encoding="utf-8") as source:
        return ast.parse(source.read())


class ModuleLevelImportsContract(Contract):
    """Only `allowed_modules` (and their submodules) import `packages` outside a function body."""

    type_name = "module_level_imports"
    root = fields.StringField()
    packages = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        packages = set(self.packages)  # type: ignore[arg-type]
        allowed = tuple(self.allowed_modules)  # type: ignore[arg-type]
        found: list[str] = []
        for module in sorted(m for m in graph.modules if m == self.root or m.startswith(f"{self.root}.")):
            if any(module == a or module.startswith(f"{a}.") for a in allowed):
                continue
            for node, name in _module_level_imports(_syntax_tree(module).body):
                if name.split(".")[0] in packages:
                    found.append(f"{module}:{node.lineno}: imports {name} at module level")
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        _render(
            check,
            "Import it inside the function that runs in the task, or move the code to an allowed module.",
        )


def _module_level_imports(body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, str]]:
    """Imports that run when the module is imported: top level, class bodies, if/try/with blocks."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _module_level_imports(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node, node.module
        for block in ("body", "orelse", "finalbody"):
            yield from _module_level_imports(getattr(node, block, None) or [])
        for handler in getattr(node, "handlers", None) or []:
            yield from _module_level_imports(handler.body)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
