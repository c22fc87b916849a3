"""Registers the project's timetable with Airflow.

The scheduler, the dag-processor and the api-server rebuild each DAG's timetable from its serialized
form, and Airflow only rebuilds custom timetables that a plugin lists; without this, the ingest DAG
fails to serialize ("timetable ... is not registered"). The class itself lives in the package
(`liftoff.orchestration.timetables`) so DAG files and tests import it like any other module.
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from liftoff.orchestration.timetables import BusinessDayTimetable


class LiftoffTimetablesPlugin(AirflowPlugin):
    name = "liftoff_timetables"
    timetables: ClassVar[list[type]] = [BusinessDayTimetable]
