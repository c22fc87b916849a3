"""Dashboard speed: time to the first full render of the dashboard page, cold and warm, next to the
bare SQL time of the very same queries measured in the same run.

    python -m benchmarks.dashboard --sales 1000000 --days 60     (inside the stack: `make bench-dashboard`)

Steps: a fresh warehouse database is filled the production way (simulator → landing zone → loader
→ `dbt build` over the days) and the read-only role applied; then, in this process:
- first render: the page run by Streamlit's AppTest in a process that has not drawn it yet
  (imports of pandas/plotly included), cache empty;
- cold: the page again with Streamlit's data cache cleared (every query goes to Postgres);
- warm: the page with the cache filled (what a reader sees on every rerun within the TTL), median;
- query layer: the page's queries through `liftoff.apps.dashboard.queries` (connections, pandas);
- bare SQL (the reference): the same statements with the same parameters, replayed on one open
  connection, rows fetched and dropped.
A render is the whole script run (queries, frames, Plotly figures, the page's element tree), not
the browser painting it. Figures land in bench-results/dashboard.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.results import RESULTS

LAST_DAY = date(2026, 11, 20)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


def build_warehouse(sales: int, days: int, database: str) -> tuple[str, dict]:
    """A warehouse with about `sales` sales over `days` days ending on LAST_DAY (set-up, timed apart)."""
    import os
    import subprocess
    import sys

    import psycopg
    from psycopg import sql

    from liftoff import settings
    from liftoff.devstack import stack
    from liftoff.ingest.daily import land_simulated_day, load_landed_day
    from liftoff.ingest.simulator import SimulatorConfig
    from liftoff.transform.dbt_runner import profile_env

    pg = stack.embedded_postgres()
    pg.ensure_running()
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    dsn = pg.url(database)
    first = LAST_DAY - timedelta(days=days - 1)
    config = SimulatorConfig(sales_per_day=sales / days)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as lake_dir:
        lake = Path(lake_dir).as_uri()
        for offset in range(days):
            day = first + timedelta(days=offset)
            for entity in ENTITIES:
                land_simulated_day(lake, entity, day, config, full_refresh=offset == 0)
                load_landed_day(dsn, lake, entity, day, run_id="bench-dashboard")
    loaded_s = time.perf_counter() - started
    project = str(settings.DBT_PROJECT_DIR)
    variables = json.dumps({"since_date": str(first), "logical_date": str(LAST_DAY)})
    started = time.perf_counter()
    built = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"), "build", "--exclude-resource-type", "unit_test",
            "--vars", variables, "--project-dir", project, "--profiles-dir", project,
            "--target", settings.DBT_TARGET, "--target-path", "target-bench",
        ],
        capture_output=True, text=True, cwd=project, env={**os.environ, **profile_env(dsn)},
    )  # fmt: skip
    if built.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{built.stdout[-3000:]}")
    built_s = time.perf_counter() - started
    return dsn, {
        **warehouse_figures(dsn),
        "days": days,
        "load_s": round(loaded_s, 1),
        "dbt_build_s": round(built_s, 1),
    }


def existing_warehouse(database: str) -> tuple[str, dict]:
    """A warehouse another benchmark built (`make bench` reuses the pipeline benchmark's 1M one
    rather than loading the same sales twice); its set-up is not timed here."""

    from liftoff.devstack import stack

    dsn = stack.embedded_postgres().url(database)
    return dsn, {**warehouse_figures(dsn), "load_s": None, "dbt_build_s": None}


def warehouse_figures(dsn: str) -> dict:
    """What the dashboard reads (sales, their days, gold daily rows), with the dashboard's
    read-only role applied to the warehouse first."""
    import psycopg

    from liftoff.apps.dashboard.role import apply_dashboard_role

    apply_dashboard_role(dsn)
    with psycopg.connect(dsn) as conn:
        (sales_rows, days) = conn.execute(
            "select count(*), count(distinct sale_date) from silver.sales"
        ).fetchone()
        (gold_rows,) = conn.execute(
            "select (select count(*) from gold.daily_product_sales)"
            " + (select count(*) from gold.daily_seller_sales)"
        ).fetchone()
    return {"sales": sales_rows, "days": days, "gold_daily_rows": gold_rows}


def render_seconds(app_path: str) -> float:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(app_path, default_timeout=600)
    started = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - started
    if app.exception or len(app.get("plotly_chart")) != 7:
        raise SystemExit(f"the dashboard did not render fully: {app.exception}")
    return elapsed


def measure(admin_dsn: str, runs: int) -> dict:
    import os

    import psycopg

    import streamlit as st
    from liftoff import settings
    from liftoff.apps.dashboard import queries, warehouse
    from liftoff.apps.dashboard.role import URL_ENV, dashboard_url

    dsn = dashboard_url(admin_dsn)
    os.environ[URL_ENV] = dsn
    app_path = str(settings.PROJECT_ROOT / "streamlit" / "app.py")

    # Record the statements one page render sends (and replay them later as the reference).
    statements: list[tuple] = []
    original = warehouse.fetch_rows

    def recording(dsn_, query, params=None, **kwargs):
        statements.append((query, dict(params or {})))
        return original(dsn_, query, params, **kwargs)

    warehouse.fetch_rows = recording
    queries.fetch_rows = recording
    st.cache_data.clear()
    first_render = render_seconds(app_path)
    warehouse.fetch_rows = original
    queries.fetch_rows = original

    cold = []
    for _ in range(runs):
        st.cache_data.clear()
        cold.append(render_seconds(app_path))
    warm = [render_seconds(app_path) for _ in range(runs)]

    bounds = queries.sale_date_bounds(dsn)
    hires = queries.hire_date_bounds(dsn)
    layer = []
    for _ in range(runs):
        started = time.perf_counter()
        queries.sale_date_bounds(dsn)
        queries.hire_date_bounds(dsn)
        queries.kpis(dsn, bounds.first, bounds.last, hires.first, hires.last)
        queries.daily_sales(dsn, bounds.first, bounds.last)
        queries.sales_by_product(dsn, bounds.first, bounds.last)
        queries.top_sellers(dsn, bounds.first, bounds.last)
        queries.monthly_payroll(dsn)
        queries.employees_by_gender(dsn, hires.first, hires.last)
        queries.average_salary_by_title(dsn, hires.first, hires.last)
        queries.hires_per_month(dsn, hires.first, hires.last)
        queries.birthdays_of_the_month(dsn)
        layer.append(time.perf_counter() - started)

    bare = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(runs):
            started = time.perf_counter()
            for query, params in statements:
                conn.execute(query, params).fetchall()
            bare.append(time.perf_counter() - started)

    return {
        "statements_per_render": len(statements),
        "first_render_s": round(first_render, 3),
        "cold_render_s": round(statistics.median(cold), 3),
        "warm_render_s": round(statistics.median(warm), 3),
        "query_layer_s": round(statistics.median(layer), 3),
        "bare_sql_s": round(statistics.median(bare), 3),
        "runs": runs,
    }


def report(figures: dict, out: Path = RESULTS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(figures, indent=2))
    bare = figures["bare_sql_s"] or 1e-9
    lines = [
        f"Dashboard render, {figures['sales']:,} sales over {figures['days']} days "
        f"({figures['gold_daily_rows']:,} rows in the per-day gold marts); medians of {figures['runs']} runs",
        "",
        "| measure | seconds | × bare SQL |",
        "| --- | ---: | ---: |",
        f"| bare SQL of the page's {figures['statements_per_render']} statements (reference) "
        f"| {figures['bare_sql_s']:.3f} | 1.0 |",
        f"| query layer (connections + pandas) | {figures['query_layer_s']:.3f} "
        f"| {figures['query_layer_s'] / bare:.1f} |",
        f"| cold render (cache empty) | {figures['cold_render_s']:.3f} "
        f"| {figures['cold_render_s'] / bare:.1f} |",
        f"| warm render (cache filled) | {figures['warm_render_s']:.3f} "
        f"| {figures['warm_render_s'] / bare:.1f} |",
        f"| first render of a fresh process | {figures['first_render_s']:.3f} "
        f"| {figures['first_render_s'] / bare:.1f} |",
        "",
        f"Set-up (not speed): load {figures['load_s']} s, dbt build {figures['dbt_build_s']} s."
        if figures["load_s"] is not None
        else f"Set-up: the warehouse of {figures.get('database')} (built by another benchmark).",
    ]
    text = "\n".join(lines)
    (out / "dashboard.md").write_text(text + "\n")
    print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=1_000_000, help="about how many sales in the warehouse")
    parser.add_argument("--days", type=int, default=60, help="over how many days ending on 2026-11-20")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measure (medians are reported)")
    parser.add_argument("--database", default="bench_dashboard", help="the database it (re)creates")
    parser.add_argument(
        "--existing", action="store_true", help="measure --database as it is (built by another benchmark)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where dashboard.{json,md} go")
    args = parser.parse_args(argv)
    if args.existing:
        admin_dsn, setup = existing_warehouse(args.database)
    else:
        admin_dsn, setup = build_warehouse(args.sales, args.days, args.database)
    figures = {**setup, "database": args.database, **measure(admin_dsn, args.runs)}
    report(figures, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
