"""Pages of the documentation site generated at build time (an MkDocs hook, see mkdocs.yml).

Generated, never written by hand, so they cannot drift from what they describe:

- `data-dictionary.md` from the dbt manifest (models, relations, declared columns, types, tests,
  enforced contracts; `make dbt-manifest` builds it) and from the contracts (`liftoff.contracts`:
  every field with the exact rules and reasons ingestion and the API report);
- `api-reference.md` and `openapi.json` from the CRM API's own OpenAPI spec.

MkDocs loads this file by path; it imports the installed `liftoff` package like any other code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from liftoff.settings import PROJECT_ROOT as ROOT

MANIFEST = ROOT / "include" / "dbt" / "target" / "manifest.json"
LAYERS = ("bronze", "silver", "gold")


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").strip()


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {path}: run `make dbt-manifest` before building the docs"
        )
    return json.loads(path.read_text())


def _tests_by_column(manifest: dict[str, Any]) -> dict[tuple[str, str | None], list[str]]:
    tests: dict[tuple[str, str | None], list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        name = (node.get("test_metadata") or {}).get("name") or node["name"]
        tests.setdefault((node["attached_node"], node.get("column_name")), []).append(name)
    return tests


def dbt_markdown(manifest: dict[str, Any]) -> str:
    tests = _tests_by_column(manifest)
    lines = ["## Warehouse (dbt)", ""]
    sources = sorted(manifest["sources"].values(), key=lambda s: s["name"])
    lines += ["### raw (sources)", "", "| relation | description |", "| --- | --- |"]
    lines += [f"| `{s['schema']}.{s['identifier']}` | {_cell(s['description'])} |" for s in sources]
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    for layer in LAYERS:
        lines += ["", f"### {layer}", ""]
        for model in sorted((m for m in models if m["schema"] == layer), key=lambda m: m["name"]):
            contract = " · contract enforced" if model["config"].get("contract", {}).get("enforced") else ""
            lines += [
                f"#### `{model['schema']}.{model['alias']}`",
                "",
                f"{_cell(model['description']) or '(no description)'}",
                "",
                f"dbt model `{model['name']}` ({model['config'].get('materialized')}{contract}),"
                f" `{model['original_file_path']}`",
                "",
            ]
            model_tests = tests.get((model["unique_id"], None), [])
            if model_tests:
                lines += [f"Model tests: {', '.join(sorted(model_tests))}", ""]
            if model["columns"]:
                lines += ["| column | type | description | tests |", "| --- | --- | --- | --- |"]
                for column in model["columns"].values():
                    column_tests = sorted(tests.get((model["unique_id"], column["name"]), []))
                    lines.append(
                        f"| `{column['name']}` | {_cell(column.get('data_type'))} |"
                        f" {_cell(column.get('description'))} | {_cell(', '.join(column_tests))} |"
                    )
                lines.append("")
    return "\n".join(lines)


def contracts_markdown() -> str:
    from liftoff.contracts import CRM_CONTRACTS, field_shapes, rules_by_field

    lines = [
        "## CRM records (contracts)",
        "",
        "The rules every record meets, from `liftoff/contracts/entities.py`: ingestion quarantines a record",
        "that breaks one (`raw.quarantine.reason`), the CRM API answers 422 with the same words.",
        "",
    ]
    for entity, contract in CRM_CONTRACTS.items():
        checks = rules_by_field(contract)
        where = "`crm." + entity + "`" + ("" if entity == "opt_outs" else f", `raw.{entity}`")
        lines += [
            f"### {entity}",
            "",
            f"{_cell(contract.__doc__) if contract.__doc__ and 'Usage docs' not in contract.__doc__ else ''}",
            "",
            f"Key `{contract.natural_key}`; stored in {where}.",
            "",
            "| field | type | required | rejected when it … |",
            "| --- | --- | --- | --- |",
        ]
        for name, shape in field_shapes(contract).items():
            required = "yes" if shape.required else "no"
            lines.append(
                f"| `{name}` | {shape.python_type.__name__} | {required} |"
                f" {_cell('; '.join(checks.get(name, [])))} |"
            )
        lines.append("")
    return "\n".join(lines)


def data_dictionary(manifest: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Data dictionary",
            "",
            "Generated when the site is built, from the dbt manifest and the data contracts: it describes",
            "what the code does, not what someone remembered to write down.",
            "",
            contracts_markdown(),
            dbt_markdown(manifest),
        ]
    )


def openapi_spec() -> dict[str, Any]:
    from liftoff.apps.crm_api.app import create_app

    # The spec needs no database: the engine connects lazily and is never used here.
    return create_app("postgresql://spec-only@127.0.0.1:9/none").openapi()


def _schema_type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_schema_type(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def api_reference(spec: dict[str, Any]) -> str:
    lines = [
        f"# {spec['info']['title']} reference",
        "",
        f"Version {spec['info']['version']}. Generated from the API's OpenAPI spec"
        " ([openapi.json](openapi.json)); a running API serves the same spec with Swagger UI at `/docs`.",
        "",
        spec["info"].get("description", ""),
    ]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            lines += ["", f"## `{method.upper()} {path}`", "", operation.get("summary", "")]
            if operation.get("description"):
                lines += ["", operation["description"]]
            if operation.get("security"):
                lines += ["", "Needs an API key (`X-API-Key`)."]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["", "| parameter | in | type | description |", "| --- | --- | --- | --- |"]
                lines += [
                    f"| `{p['name']}` | {p['in']} | {_cell(_schema_type(p.get('schema', {})))} |"
                    f" {_cell(p.get('description'))} |"
                    for p in parameters
                ]
            body = (
                operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            )
            if body:
                required = set(body.get("required", []))
                lines += [
                    "",
                    "Body fields:",
                    "",
                    "| field | type | required | notes |",
                    "| --- | --- | --- | --- |",
                ]
                for name, field in body.get("properties", {}).items():
                    notes = [f"{k} {field[k]}" for k in ("minLength", "maxLength", "minimum", "maximum",
                                                          "exclusiveMinimum") if k in field]  # fmt: skip
                    if field.get("description"):
                        notes.append(field["description"])
                    lines.append(
                        f"| `{name}` | {_cell(_schema_type(field))} | {'yes' if name in required else 'no'} |"
                        f" {_cell('; '.join(notes))} |"
                    )
            responses = operation.get("responses", {})
            lines += ["", "Responses: " + "; ".join(f"**{code}** {_cell(r.get('description'))}"
                                                     for code, r in responses.items())]  # fmt: skip
    return "\n".join(lines) + "\n"


# --- the MkDocs hook ---------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    spec = openapi_spec()
    generated = {
        "data-dictionary.md": data_dictionary(load_manifest()),
        "api-reference.md": api_reference(spec),
        "openapi.json": json.dumps(spec, indent=2, ensure_ascii=False) + "\n",
    }
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files
