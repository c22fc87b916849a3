# The project's services outside Airflow, one image per target, all from one small Python base
# (docker-compose.override.yml builds each target; docs/production.md lists them):
#
#   docker build -f apps.Dockerfile --target crm-api .
#
# Each target installs its own requirements-<target>.txt, then the liftoff package with --no-deps:
# nothing from Airflow (tests/deploy/test_service_imports.py imports each entry module with Airflow
# blocked and checks its requirements file covers every distribution it loads). The Airflow image
# (Dockerfile, Astro Runtime) carries none of these services' packages.

# ---- base: Python, an unprivileged user, the project's SQL files -------------------------------
FROM python:3.12.12-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LIFTOFF_PROJECT_ROOT=/app \
    LIFTOFF_STATE_DIR=/app/.liftoff \
    DO_NOT_TRACK=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
RUN useradd --system --create-home --uid 10001 liftoff
WORKDIR /app
# SQL run outside dbt (the dashboard role, campaign recipients, quality queries): liftoff.sql_files
# reads it from LIFTOFF_PROJECT_ROOT/include/sql.
COPY include/sql ./include/sql

# ---- package: the liftoff wheel, built once for every target ----------------------------------
FROM base AS package
COPY pyproject.toml ./
COPY liftoff ./liftoff
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- crm-api: the CRM data-entry API (FastAPI), migrates the CRM database, then serves ---------
FROM base AS crm-api
COPY requirements-crm-api.txt ./
RUN pip install -r requirements-crm-api.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
USER liftoff
EXPOSE 8090
CMD ["python", "-m", "liftoff.apps.crm_api", "serve", "--host", "0.0.0.0", "--port", "8090"]

# ---- dashboard: the Streamlit dashboard and AI sales assistant (read-only role) ----------------
FROM base AS dashboard
COPY requirements-dashboard.txt ./
RUN pip install -r requirements-dashboard.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
COPY streamlit ./streamlit
USER liftoff
EXPOSE 8501
CMD ["streamlit", "run", "streamlit/app.py", "--server.port", "8501", "--server.address", "0.0.0.0", \
     "--server.headless", "true"]

# ---- unsubscribe: the endpoint the e-mails' unsubscribe links open (RFC 8058) ------------------
FROM base AS unsubscribe
COPY requirements-unsubscribe.txt ./
RUN pip install -r requirements-unsubscribe.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
USER liftoff
EXPOSE 8765
# The warehouse URL comes from LIFTOFF_WAREHOUSE_URL (compose), read by the shell, not baked in.
CMD ["sh", "-c", "exec python -m liftoff.campaign.unsubscribe --serve --host 0.0.0.0 --port 8765 --dsn \"$LIFTOFF_WAREHOUSE_URL\""]

# ---- outbox: the mail outbox (SMTP → Maildir); the dashboard reads the Maildir -----------------
FROM base AS outbox
COPY requirements-outbox.txt ./
RUN pip install -r requirements-outbox.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
RUN mkdir -p /outbox && chown liftoff /outbox
USER liftoff
EXPOSE 8025
CMD ["python", "-m", "liftoff.devstack.outbox", "--host", "0.0.0.0", "--port", "8025", "--dir", "/outbox"]

# ---- warehouse-roles: one-shot, applies the read-only roles (dashboard, analyst) ---------------
FROM base AS warehouse-roles
COPY requirements-warehouse-roles.txt ./
RUN pip install -r requirements-warehouse-roles.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
USER liftoff
CMD ["sh", "-c", "exec python -m liftoff.warehouse.roles \"$LIFTOFF_WAREHOUSE_URL\""]

# ---- notebook: JupyterLab for analysts, as the read-only analyst role --------------------------
FROM base AS notebook
COPY requirements-notebook.txt ./
RUN pip install -r requirements-notebook.txt
COPY --from=package /wheels /wheels
RUN pip install --no-deps /wheels/*.whl
RUN mkdir -p /app/notebooks && chown liftoff /app/notebooks
USER liftoff
EXPOSE 8888
# The login token comes from JUPYTER_TOKEN (compose passes it from .env); the port is published on
# the host's loopback only.
CMD ["jupyter", "lab", "--ip", "0.0.0.0", "--port", "8888", "--no-browser", \
     "--ServerApp.root_dir=/app/notebooks"]
