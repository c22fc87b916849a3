"""The simulator source's settings: one Variable, defaults in one place, bad values named."""

from __future__ import annotations

import json

import pytest
import yaml

from liftoff import settings
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.ingest.sources import (
    SIMULATOR_ENV,
    SIMULATOR_VARIABLE,
    SimulatorSettingsError,
    reject_simulator_conf,
    simulator_settings,
    simulator_source_config,
    simulator_variable,
)

# What the ingest DAG generated before these were Variables (its Params' defaults): `make demo`'s
# numbers depend on them staying so.
DEFAULTS = SimulatorConfig(seed=42, sales_per_day=400, dirty_rate=0.01)


@pytest.mark.parametrize("raw", [None, "", "  ", "{}"])
def test_an_unset_or_empty_variable_gives_the_defaults(raw):
    assert simulator_settings(raw).simulator_config() == DEFAULTS


def test_a_key_overrides_its_default_only():
    config = simulator_source_config('{"sales_per_day": 60, "dirty_rate": 0}')
    assert config == SimulatorConfig(seed=42, sales_per_day=60, dirty_rate=0.0)


def test_an_unknown_key_is_named_with_the_variable():
    with pytest.raises(SimulatorSettingsError) as error:
        simulator_settings('{"seed": 7, "sales_per_dy": 60}')
    message = str(error.value)
    assert SIMULATOR_VARIABLE in message
    assert "unknown key 'sales_per_dy'" in message
    assert "sales_per_day" in message  # the known keys, to spot the typo


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"dirty_rate": 1.5}', "dirty_rate"),
        ('{"dirty_rate": -0.1}', "dirty_rate"),
        ('{"sales_per_day": 0}', "sales_per_day"),
        ('{"sales_per_day": "400"}', "sales_per_day"),
        ('{"seed": 4.5}', "seed"),
        ('{"seed": true}', "seed"),
    ],
)
def test_a_bad_value_is_named_with_its_key_and_the_variable(raw, key):
    with pytest.raises(SimulatorSettingsError, match=rf"{SIMULATOR_VARIABLE}.*\b{key}: .*got "):
        simulator_settings(raw)


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "400"])
def test_a_value_that_is_not_a_json_object_is_refused(raw):
    with pytest.raises(SimulatorSettingsError, match=rf"{SIMULATOR_VARIABLE}.*JSON object"):
        simulator_settings(raw)


def test_the_variable_is_read_from_airflow_when_the_task_runs(monkeypatch):
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(seed=7, sales_per_day=30))
    assert simulator_source_config() == SimulatorConfig(seed=7, sales_per_day=30, dirty_rate=0.01)
    monkeypatch.delenv(SIMULATOR_ENV)
    monkeypatch.setattr("airflow.sdk.Variable.get", lambda key, default=None: default)
    assert simulator_source_config() == DEFAULTS


def test_simulator_variable_checks_what_it_writes():
    assert json.loads(simulator_variable(sales_per_day=60)) == {
        "seed": 42,
        "sales_per_day": 60,
        "dirty_rate": 0.01,
    }
    with pytest.raises(ValueError, match="dirty_rate"):
        simulator_variable(dirty_rate=2)


def test_airflow_settings_show_the_variable_at_its_defaults():
    document = yaml.safe_load((settings.PROJECT_ROOT / "airflow_settings.yaml").read_text())
    [value] = [
        item["variable_value"]
        for item in document["airflow"]["variables"]
        if item["variable_name"] == SIMULATOR_VARIABLE
    ]
    assert simulator_settings(value).simulator_config() == DEFAULTS


@pytest.mark.parametrize("conf", [{"sales_per_day": 60}, {"full_refresh": True, "seed": 3, "dirty_rate": 0}])
def test_simulator_settings_given_as_run_conf_fail_the_run(conf):
    with pytest.raises(SimulatorSettingsError, match=rf"in the run conf.*{SIMULATOR_VARIABLE}"):
        reject_simulator_conf(conf)


@pytest.mark.parametrize("conf", [None, {}, {"full_refresh": True, "on_missing_file": "skip"}])
def test_operational_run_conf_is_accepted(conf):
    reject_simulator_conf(conf)
