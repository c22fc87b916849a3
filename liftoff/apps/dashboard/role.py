"""The dashboard's read-only Postgres role: SELECT on the gold schema and nothing else.

Described with the other reader roles in liftoff/warehouse/roles.py (`DASHBOARD`), whose command
applies them all; this module keeps the dashboard's own names for the app and its tests:

    LIFTOFF_DASHBOARD_PASSWORD=... python -m liftoff.apps.dashboard.role "postgresql://dbt_user@host/warehouse"

applies the dashboard's role alone, as the role dbt builds gold with.
"""

from __future__ import annotations

import sys

from liftoff.warehouse.roles import DASHBOARD, apply_role

URL_ENV = DASHBOARD.url_env


def role_name() -> str:
    return DASHBOARD.name()


def dashboard_password() -> str:
    return DASHBOARD.password()


def apply_dashboard_role(admin_dsn: str, role: str | None = None, password: str | None = None) -> None:
    """Create or update the role and its grants in the warehouse `admin_dsn` points at."""
    apply_role(DASHBOARD, admin_dsn, role, password)


def dashboard_url(admin_dsn: str, role: str | None = None, password: str | None = None) -> str:
    """The admin URL with the dashboard role's credentials instead (same host, port, database)."""
    return DASHBOARD.url(admin_dsn, role, password)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    apply_dashboard_role(sys.argv[1])
    print(f"liftoff: role {role_name()} can read gold only")
