"""Names and defaults shared by the DAGs, the domain code and the local stack.

One place for every connection id, schema name and embedded default, so a DAG file, a test and
the Makefile never disagree about what "the warehouse" is.
"""

from __future__ import annotations

import os
from pathlib import Path


def _project_root() -> Path:
    """The project folder (dags/, include/, .liftoff/): LIFTOFF_PROJECT_ROOT when set; else the
    checkout this package sits in (an editable install, as `make install` and the image do); else
    the working directory (a wheel installed elsewhere, run from the project)."""
    if configured := os.environ.get("LIFTOFF_PROJECT_ROOT"):
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "include" / "dbt").is_dir():
        return checkout
    return Path.cwd().resolve()


PROJECT_ROOT = _project_root()
DAGS_FOLDER = PROJECT_ROOT / "dags"
DBT_PROJECT_DIR = PROJECT_ROOT / "include" / "dbt"
SQL_DIR = PROJECT_ROOT / "include" / "sql"

# Airflow connection ids. A user-supplied connection (environment or metastore) wins over the
# embedded default that `liftoff.devstack` exports.
WAREHOUSE_CONN_ID = "warehouse"
LAKE_CONN_ID = "lake"
# The CRM's own operational database (the data-entry API writes it; the ingest DAG extracts it).
CRM_CONN_ID = "crm"
# The CRM's data-entry API, as the Airbyte source reads it: host (and port) of the API, password an
# admin API key (the extraction lists soft-deleted records too).
CRM_API_CONN_ID = "crm_api"

# Warehouse schemas, one per layer.
RAW_SCHEMA = "raw"
# The CRM's schema in its own database (not a warehouse layer).
CRM_SCHEMA = "crm"

# The dbt production target: the only one that writes the real layer schemas (bronze, silver, gold,
# audit; include/dbt/macros/naming.sql). Cosmos builds its profile from the warehouse connection
# under this name; every other dbt command of the project passes it explicitly. The profile's
# default target, `dev`, is for people running dbt by hand and writes `dev_<layer>` schemas.
DBT_TARGET = "prod"

DEFAULT_SIMULATOR_SEED = 42

# The business calendar: a sale belongs to the day it happened in Brasília, whatever the server's zone.
BUSINESS_TIMEZONE = "America/Sao_Paulo"


def state_dir() -> Path:
    """Where the embedded stack keeps its data, PIDs and logs (git-ignored)."""
    return Path(os.environ.get("LIFTOFF_STATE_DIR", PROJECT_ROOT / ".liftoff")).resolve()


def outbox_dir() -> Path:
    """The local mail outbox (a Maildir): every message the embedded SMTP server accepted.

    The embedded stack's SMTP server writes it (`liftoff.devstack.outbox`); the dashboard's
    Campanhas page and `make demo` read it. LIFTOFF_OUTBOX_DIR moves it.
    """
    return Path(os.environ.get("LIFTOFF_OUTBOX_DIR", state_dir() / "outbox")).resolve()


def lake_url() -> str:
    """Base URL of the landing zone: a local folder by default, `s3://bucket/prefix` in production.

    Read at task run time (never at DAG parse time) from LIFTOFF_LAKE_URL.
    """
    default = (state_dir() / "lake").as_uri()
    return os.environ.get("LIFTOFF_LAKE_URL", default)
