# The Airflow image: Astro Runtime 3.3-2 (Airflow 3.3.2; include/astro/runtime-3.3-2-constraints.txt
# lists what it ships). The runtime's ONBUILD steps install packages.txt (apt) and requirements.txt
# (pip: only what tasks need, never Airflow itself), then copy this project into /usr/local/airflow.
# The dashboard, the CRM API and the other services are images of their own (apps.Dockerfile).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

# No phone-home from any library;
# Cosmos watcher settings as in liftoff/devstack/stack.py (COSMOS_SETTINGS).
ENV AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False \
    AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False

# The domain package, installed (editable: the project folder is what Astro deploys). --no-deps:
# its dependencies are requirements.txt, already installed on top of the runtime's.
RUN pip install --no-cache-dir --no-deps --editable .

# PyAirbyte's own environment, from its lock as `make install` builds it locally: the ingest DAG's
# extract_crm runs the CRM's Airbyte connector in it (liftoff/ingest/airbyte_extract.py looks for
# .venv-airbyte in the project folder); PyAirbyte's pins cannot share Airflow's environment.
RUN python -m venv .venv-airbyte \
    && .venv-airbyte/bin/pip install --no-cache-dir --no-deps --requirement requirements-airbyte.lock

# Cosmos renders the dbt project from a manifest built here, so DAG parsing runs no dbt command.
RUN cd include/dbt && dbt parse --profiles-dir . --target prod --target-path target
