"""The simulator as the ingest DAG's source: its settings, from configuration read at run time.

Why not Params of the DAG: the seed, the volume and the share of bad records describe the
(simulated) CRM the platform ingests from, not a run of the production DAG; as Params they were
knobs anyone triggering the production DAG could turn, and they meant nothing on the Airbyte path.
They live in one Airflow Variable, `liftoff_simulator` (a JSON object; Airflow also reads it from
the `AIRFLOW_VAR_LIFTOFF_SIMULATOR` environment variable), read by the landing task when it runs,
never when the DAG file is parsed. Every key is optional; the defaults are here and only here.
A Variable with an unknown key or a bad value fails the run naming the Variable and the key,
rather than landing data nobody asked for.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from liftoff.ingest.simulator import SimulatorConfig

log = logging.getLogger(__name__)

SIMULATOR_VARIABLE = "liftoff_simulator"
SIMULATOR_ENV = f"AIRFLOW_VAR_{SIMULATOR_VARIABLE.upper()}"


class SimulatorSettings(BaseModel):
    """The settable part of the simulator source; the rest of SimulatorConfig keeps its defaults."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    seed: int = Field(42, description="Same seed, same data.")
    sales_per_day: float = Field(400.0, ge=1, description="Simulated sales on an average weekday.")
    # Unlike SimulatorConfig (clean unless asked), the source is a little dirty by default, so every
    # run exercises the contracts and the quarantine as real CRM data would.
    dirty_rate: float = Field(0.01, ge=0, le=1, description="Share of records made bad.")

    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(seed=self.seed, sales_per_day=self.sales_per_day, dirty_rate=self.dirty_rate)


class SimulatorSettingsError(ValueError):
    """The `liftoff_simulator` Variable is not valid JSON, has an unknown key or a bad value."""


def simulator_settings(raw: str | None) -> SimulatorSettings:
    """The settings from the Variable's raw value (None or empty: not set, every default)."""
    if raw is None or not raw.strip():
        return SimulatorSettings()
    try:
        return SimulatorSettings.model_validate_json(raw)
    except ValidationError as invalid:
        known = ", ".join(SimulatorSettings.model_fields)
        problems = []
        for error in invalid.errors():
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {error['loc'][0]!r} (known: {known})")
            elif error["loc"]:
                got = json.dumps(error["input"], default=str)
                problems.append(f"{error['loc'][0]}: {error['msg']}, got {got}")
            else:
                problems.append(f"{error['msg']} (a JSON object with keys among {known})")
        raise SimulatorSettingsError(
            f"Variable {SIMULATOR_VARIABLE} (or env {SIMULATOR_ENV}): {'; '.join(problems)}"
        ) from None


def simulator_source_config(raw: str | None = None) -> SimulatorConfig:
    """The simulator's config for this run: the Variable as it is now (read from Airflow unless
    `raw` is given), logged in one line so a run's log says what data it generated."""
    if raw is None:
        from airflow.sdk import Variable

        raw = Variable.get(SIMULATOR_VARIABLE, default=None)
    settings = simulator_settings(raw)
    log.info("simulator source: %s (Variable %s)", settings.model_dump(), SIMULATOR_VARIABLE)
    return settings.simulator_config()


def simulator_variable(**settings: object) -> str:
    """The Variable's value for these settings, checked: for a test's environment or a
    subprocess's (`{SIMULATOR_ENV: simulator_variable(sales_per_day=60)}`)."""
    return SimulatorSettings.model_validate(settings).model_dump_json()


def reject_simulator_conf(conf: dict | None) -> None:
    """Fail a run triggered with the simulator's settings as run conf (they were Params once):
    Airflow would silently ignore them and land the Variable's data instead."""
    stale = sorted(set(conf or {}) & set(SimulatorSettings.model_fields))
    if stale:
        raise SimulatorSettingsError(
            f"{', '.join(stale)} in the run conf: the simulator's settings are no longer run parameters; "
            f"set them in the Variable {SIMULATOR_VARIABLE} (or env {SIMULATOR_ENV}), a JSON object "
            f'such as {{"seed": 42, "sales_per_day": 400, "dirty_rate": 0.01}}'
        )
