"""Parse a DAG folder the way the dag-processor does, with import-time work forbidden.

Run as a subprocess by the integrity tests: `python import_guard.py DAG_FOLDER` prints JSON with
the DAG ids, the import errors and every forbidden call a DAG file made while being imported
(a database or network connection, a Variable read). The metadata DB and the warehouse
connection point at a closed port, so a connection that slips past the patches fails too.
"""

from __future__ import annotations

import json
import os
import socket
import sys

CLOSED = "postgresql+psycopg2://nobody:nothing@127.0.0.1:9/none"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = CLOSED
os.environ["AIRFLOW_CONN_WAREHOUSE"] = "postgresql://nobody:nothing@127.0.0.1:9/none"

attempts: list[str] = []


def forbid(kind: str):
    def refuse(*args, **kwargs):
        attempts.append(kind)
        raise RuntimeError(f"{kind} during DAG import")

    return refuse


socket.socket.connect = forbid("socket connect")  # type: ignore[method-assign]
socket.create_connection = forbid("socket connect")

import psycopg  # noqa: E402
import psycopg2  # noqa: E402

psycopg.connect = forbid("database connect")  # type: ignore[assignment]
psycopg2.connect = forbid("database connect")

import airflow.sdk  # noqa: E402
from airflow.models.variable import Variable as MetastoreVariable  # noqa: E402

airflow.sdk.Variable.get = staticmethod(forbid("Variable.get"))  # type: ignore[method-assign]
MetastoreVariable.get = staticmethod(forbid("Variable.get"))  # type: ignore[method-assign]

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(dag_folder=sys.argv[1])
print(
    json.dumps(
        {
            "dag_ids": sorted(bag.dag_ids),
            "import_errors": bag.import_errors,
            "attempts": sorted(set(attempts)),
        }
    )
)
