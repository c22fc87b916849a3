"""Prepare the local Airflow: migrate its metadata database and apply `airflow_settings.yaml`.

`astro dev start` applies airflow_settings.yaml inside Docker; the no-Docker path does the same here
so both paths see the same connections, variables and pools. Connections set in the environment
(`AIRFLOW_CONN_*`, e.g. the embedded warehouse) still win: Airflow looks there before the metastore.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from liftoff import settings
from liftoff.devstack.errors import LocalStackError
from liftoff.private_files import PRIVATE_UMASK, private_folder, write_private

SETTINGS_FILE = settings.PROJECT_ROOT / "airflow_settings.yaml"


def _fingerprint(env: dict[str, str]) -> str:
    """What the prepared state depends on: installed versions, the settings file, the database."""
    digest = hashlib.sha256()
    for path in (settings.PROJECT_ROOT / "requirements.lock", SETTINGS_FILE):
        digest.update(path.read_bytes())
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__FERNET_KEY"):
        digest.update(env.get(key, "").encode())
    return digest.hexdigest()


def prepare_airflow(env: dict[str, str]) -> None:
    """Migrate the metadata DB and apply the settings file; skipped when nothing changed since."""
    full_env = {**os.environ, **env}
    home = Path(env["AIRFLOW_HOME"])
    private_folder(home)
    stamp = home / ".liftoff-prepared"
    fingerprint = _fingerprint(env)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=full_env, capture_output=True, text=True, umask=PRIVATE_UMASK
    )
    if migrate.returncode != 0:
        tail = (migrate.stderr or migrate.stdout).strip().splitlines()[-1:]
        raise LocalStackError(f"`airflow db migrate` failed: {' '.join(tail)}")
    subprocess.run(
        [sys.executable, "-m", "liftoff.devstack.airflow_setup", str(SETTINGS_FILE)],
        env=full_env,
        check=True,
        umask=PRIVATE_UMASK,
    )
    write_private(stamp, fingerprint)


def load_settings(path: Path) -> dict[str, list[dict[str, Any]]]:
    import yaml

    document = yaml.safe_load(path.read_text()) or {}
    section = document.get("airflow") or {}
    return {key: section.get(key) or [] for key in ("connections", "variables", "pools")}


def apply_settings(path: Path) -> None:
    """Upsert the file's connections, variables and pools into the metastore (idempotent)."""
    # The metastore's ORM models, not the Task SDK's: this runs as an admin step, not in a task.
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    wanted = load_settings(path)
    with create_session() as session:
        for item in wanted["connections"]:
            conn_id = item["conn_id"]
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()
            extra = item.get("conn_extra")
            session.add(
                Connection(
                    conn_id=conn_id,
                    conn_type=item["conn_type"],
                    host=item.get("conn_host"),
                    schema=item.get("conn_schema"),
                    login=item.get("conn_login"),
                    password=item.get("conn_password"),
                    port=item.get("conn_port"),
                    extra=extra if isinstance(extra, str) or extra is None else json.dumps(extra),
                )
            )
    for item in wanted["variables"]:
        Variable.set(item["variable_name"], item["variable_value"])
    for item in wanted["pools"]:
        Pool.create_or_update_pool(
            name=item["pool_name"],
            slots=int(item["pool_slot"]),
            description=item.get("pool_description", ""),
            include_deferred=False,
        )
    print(
        f"liftoff: applied {path.name}: {len(wanted['connections'])} connections, "
        f"{len(wanted['variables'])} variables, {len(wanted['pools'])} pools"
    )


if __name__ == "__main__":
    apply_settings(Path(sys.argv[1]))
