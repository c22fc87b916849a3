"""dbt docs for the warehouse: built by the transform DAG, served in the Airflow UI by Cosmos.

The transform's `dbt_docs` task runs `dbt docs generate --static` (one self-contained HTML page
with the manifest and the catalog inside) and hands the result to `publish`, which copies it into
the landing zone under `dbt-docs/`: a local folder by default, the bucket in production, so every
Airflow component (and anyone with the bucket) reads the same copy. Cosmos's Airflow plugin
serves it under Browse → "dbt docs" once `[cosmos] dbt_docs_projects` points there
(`docs_projects_setting`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from liftoff import settings

DOCS_FOLDER = "dbt-docs"
INDEX = "static_index.html"
# The static page is the one the UI shows; the JSON files are for tools (lineage, catalog search).
PUBLISHED_FILES = (INDEX, "manifest.json", "catalog.json")


def docs_url(lake_url: str) -> str:
    """Where the docs are published: `dbt-docs/` under the landing zone's root."""
    return lake_url.rstrip("/") + "/" + DOCS_FOLDER


def publish(project_dir: str, **_: Any) -> None:
    """Cosmos callback of the docs task: copy the generated docs from the run's project folder."""
    from liftoff.ingest.landing import lake_root, write_whole_file

    target_dir = Path(project_dir) / "target"
    missing = [name for name in PUBLISHED_FILES if not (target_dir / name).exists()]
    if missing:
        raise FileNotFoundError(f"dbt docs generate left no {', '.join(missing)} in {target_dir}")
    destination = lake_root(settings.lake_url()) / DOCS_FOLDER
    # The index last: a reader who finds the new page also finds the files it was built with.
    for name in (*PUBLISHED_FILES[1:], INDEX):
        write_whole_file(destination / name, (target_dir / name).read_bytes())


def docs_projects_setting(lake_url: str, conn_id: str = settings.LAKE_CONN_ID) -> str:
    """The value of `[cosmos] dbt_docs_projects` (AIRFLOW__COSMOS__DBT_DOCS_PROJECTS) for the
    docs published under `lake_url`: a local path for a `file://` landing zone, else the URL read
    through the `lake` connection."""
    url = docs_url(lake_url)
    project: dict[str, str] = {"index": INDEX, "name": "dbt docs (warehouse)"}
    if url.startswith("file://"):
        project["dir"] = unquote(urlparse(url).path)
    else:
        project |= {"dir": url, "conn_id": conn_id}
    return json.dumps({"liftoff": project})
