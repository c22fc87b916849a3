"""The CRM API's declarative Airbyte source, generated from the contracts.

`include/airbyte/crm/manifest.yaml` is what PyAirbyte runs (`include/airbyte/run_source.py`) and what
a deployed Airbyte can load as a custom (Builder) connector. It is generated here, not written by
hand, so that its streams and their JSON schemas cannot drift from `liftoff/contracts`: a contract
change without `python -m liftoff.ingest.airbyte_manifest` fails `tests/ingest/test_airbyte_source.py`.

One stream per ingested entity, each a page-by-key read of `GET /<entity>`:

- **API key** in `X-API-Key`. It must be an `admin` key: soft-deleted records are listed only to
  admin keys (`include_deleted=true`), and an extraction that missed deletions would be wrong.
- **Incremental** on `updated_at` (a DatetimeBasedCursor): one run reads the half-open window
  [`start_datetime`, `end_datetime`) of the config, sent as `updated_since` (inclusive) and
  `updated_before` (exclusive), so consecutive business days never read one change twice. Without
  `end_datetime` (a deployed Airbyte's scheduled syncs) a sync reads up to the moment it starts.
  Airbyte's state (the latest `updated_at` read) moves the start forward when it is later than the
  config's.
- **Keyset pagination** (`after` = the last key read, records in key order): a record changed while
  the pages are read moves out of the window without shifting a page, which offsets would.
- **Errors**: 401 and 403 fail at once with what to do (a retry cannot fix a key); 5xx and
  connection errors are retried twice, a second apart, then fail.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Any

import yaml

from liftoff import settings
from liftoff.contracts import CONTRACTS, field_shapes

MANIFEST_PATH = settings.PROJECT_ROOT / "include" / "airbyte" / "crm" / "manifest.yaml"
# The airbyte-cdk version the manifest is written for (requirements-airbyte.lock pins this one).
CDK_VERSION = "7.39.1"
# The CRM API's largest page (liftoff.apps.crm_api.app.MAX_PAGE; a test keeps the two equal).
PAGE_SIZE = 500
# Fields every listed record carries besides its contract's (the API's response model).
CURSOR_FIELD = "updated_at"
DELETED_FIELD = "deleted_at"
# How moments travel: in requests (updated_since/updated_before), in the config and in the state.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
# How the API writes them (Pydantic drops a zero fraction of a second).
RECORD_DATETIME_FORMATS = (DATETIME_FORMAT, "%Y-%m-%dT%H:%M:%S%z")

_JSON_TYPES: dict[type, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    date: {"type": "string", "format": "date"},
    datetime: {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
}


def _property(python_type: type, required: bool) -> dict[str, Any]:
    schema = dict(_JSON_TYPES[python_type])
    if not required:
        schema["type"] = ["null", schema["type"]]
    return schema


def stream_schema(entity: str) -> dict[str, Any]:
    """The JSON schema of a record of `entity` as the API lists it: the contract's fields with their
    types (the contract's rules are checked on landing, not here), plus `updated_at` and
    `deleted_at`. `required` names what every record carries: a record without one of them means
    the CRM's schema changed."""
    contract = CONTRACTS[entity]
    shapes = field_shapes(contract)
    properties = {name: _property(shape.python_type, shape.required) for name, shape in shapes.items()}
    properties[CURSOR_FIELD] = _property(datetime, required=True)
    properties[DELETED_FIELD] = _property(datetime, required=False)
    required = [name for name, shape in shapes.items() if shape.required]
    required += [CURSOR_FIELD] if CURSOR_FIELD not in required else []
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": True,
        "properties": properties,
        "required": required,
    }


def _option(field_name: str) -> dict[str, str]:
    return {"type": "RequestOption", "inject_into": "request_parameter", "field_name": field_name}


def _fail(codes: list[int], message: str) -> dict[str, Any]:
    return {"type": "HttpResponseFilter", "action": "FAIL", "http_codes": codes, "error_message": message}


def _stream(entity: str) -> dict[str, Any]:
    key = CONTRACTS[entity].natural_key
    return {
        "type": "DeclarativeStream",
        "name": entity,
        "primary_key": [key],
        "schema_loader": {"type": "InlineSchemaLoader", "schema": stream_schema(entity)},
        "retriever": {
            "type": "SimpleRetriever",
            "requester": {"$ref": "#/definitions/requester", "path": f"/{entity}"},
            "record_selector": {
                "type": "RecordSelector",
                "extractor": {"type": "DpathExtractor", "field_path": ["items"]},
            },
            "paginator": {
                "type": "DefaultPaginator",
                "pagination_strategy": {
                    "type": "CursorPagination",
                    "page_size": PAGE_SIZE,
                    "cursor_value": f"{{{{ last_record['{key}'] }}}}",
                    "stop_condition": (
                        f"{{{{ not last_record or response['items'] | length < {PAGE_SIZE} }}}}"
                    ),
                },
                "page_token_option": _option("after"),
                "page_size_option": _option("limit"),
            },
        },
        "incremental_sync": {"$ref": "#/definitions/window"},
    }


def manifest() -> dict[str, Any]:
    """The declarative source, as the airbyte-cdk's declarative_component_schema.yaml defines it."""
    key_advice = "set an admin key of the CRM API in the crm_api connection (make crm-api-key SCOPE=admin …)"
    requester = {
        "type": "HttpRequester",
        "url_base": "{{ config['api_url'] }}",
        "http_method": "GET",
        "authenticator": {
            "type": "ApiKeyAuthenticator",
            "api_token": "{{ config['api_key'] }}",
            "inject_into": {"type": "RequestOption", "inject_into": "header", "field_name": "X-API-Key"},
        },
        "request_parameters": {"include_deleted": "true"},
        "error_handler": {
            "type": "DefaultErrorHandler",
            "max_retries": 2,
            "backoff_strategies": [{"type": "ConstantBackoffStrategy", "backoff_time_in_seconds": 1}],
            "response_filters": [
                _fail([401], f"the CRM API refused the API key (401): {key_advice}"),
                _fail(
                    [403], f"the API key is not an admin key (403: deleted records are hidden): {key_advice}"
                ),
            ],
        },
    }
    # Empty in a deployed Airbyte's source: each scheduled sync reads up to the moment it starts.
    end = "{{ config.get('end_datetime') or now_utc().strftime('" + DATETIME_FORMAT + "') }}"
    window = {
        "type": "DatetimeBasedCursor",
        "cursor_field": CURSOR_FIELD,
        "datetime_format": DATETIME_FORMAT,
        "cursor_datetime_formats": list(RECORD_DATETIME_FORMATS),
        "start_datetime": {"type": "MinMaxDatetime", "datetime": "{{ config['start_datetime'] }}",
                           "datetime_format": DATETIME_FORMAT},
        "end_datetime": {"type": "MinMaxDatetime", "datetime": end, "datetime_format": DATETIME_FORMAT},
        "start_time_option": _option("updated_since"),
        "end_time_option": _option("updated_before"),
    }  # fmt: skip
    moment = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{4}$"}
    spec = {
        "type": "Spec",
        "connection_specification": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "required": ["api_url", "api_key", "start_datetime"],
            "additionalProperties": True,
            "properties": {
                "api_url": {"type": "string", "title": "CRM API URL", "examples": ["http://127.0.0.1:8090"]},
                "api_key": {"type": "string", "title": "Admin API key", "airbyte_secret": True},
                "start_datetime": moment | {"title": "Window start (inclusive)",
                                            "examples": ["2026-10-14T03:00:00.000000+0000"]},
                "end_datetime": moment | {"title": "Window end (exclusive; empty: when the sync starts)",
                                          "examples": ["2026-10-15T03:00:00.000000+0000"]},
            },
        },
    }  # fmt: skip
    return {
        "version": CDK_VERSION,
        "type": "DeclarativeSource",
        "check": {"type": "CheckStream", "stream_names": [next(iter(CONTRACTS))]},
        "definitions": {"requester": requester, "window": window},
        "streams": [_stream(entity) for entity in CONTRACTS],
        "spec": spec,
    }


HEADER = (
    "# The CRM API as a declarative Airbyte source: PyAirbyte runs it (include/airbyte/run_source.py),\n"
    "# any Airbyte can load it as a custom connector. GENERATED from liftoff/contracts by\n"
    "# `python -m liftoff.ingest.airbyte_manifest`: do not edit by hand (a test fails on drift).\n"
)


def render() -> str:
    """The manifest file's text."""
    return HEADER + yaml.safe_dump(manifest(), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file differs from the contracts")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not MANIFEST_PATH.is_file() or MANIFEST_PATH.read_text(encoding="utf-8") != text:
            print(f"{MANIFEST_PATH} is out of date with liftoff/contracts: "
                  "run `python -m liftoff.ingest.airbyte_manifest`", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {MANIFEST_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
