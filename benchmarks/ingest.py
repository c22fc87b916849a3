"""Ingestion at scale: simulator speed, raw load versus a plain COPY, peak memory of the load.

    python -m benchmarks.ingest --sales 1000000      (inside the stack: `make bench`)

Figures (all from this run, on this machine):
- simulate: sales rows generated per second;
- load: the embedded loader on a landed day (read Parquet, check every record against its
  contract, COPY the valid ones, record the invalid ones) versus a plain COPY of the very same
  rows into an identical empty table: the ratio is load speed as a share of COPY's;
- peak memory: maximum resident size of a process that runs only the load, and of one that
  only imports the same modules (the baseline), so the difference is what the load holds; as a
  share of the aim (`MEMORY_AIM_MB` for a 10M-row day: the loader streams a file batch by batch,
  so its peak must not grow with the day's size).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.results import publish

DAY = date(2026, 11, 20)
SPEED_AIM = 0.5  # load speed as a share of a plain COPY's, at least
MEMORY_AIM_MB = 1536  # peak resident memory of the load, at most (1.5 GB for a 10M-row day)


HISTORY_DAYS = 1  # the CRM opened the day before: dimensions proportional to the day's sales


def _config(sales: int, dirty_rate: float):
    from datetime import timedelta

    from liftoff.ingest.simulator import SimulatorConfig, expected_sales

    # Enough sales per day that the day holds at least `sales` rows; the table is cut to size.
    weight = expected_sales(SimulatorConfig(sales_per_day=1.0), DAY)
    return SimulatorConfig(
        sales_per_day=sales / weight * 1.01,
        dirty_rate=dirty_rate,
        opening_day=DAY - timedelta(days=HISTORY_DAYS),
    )


def fresh_database(name: str) -> str:
    import psycopg
    from psycopg import sql

    from liftoff.devstack import stack

    pg = stack.embedded_postgres()
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return pg.url(name)


def prepare(sales: int, dirty_rate: float, lake: str, dsn: str) -> dict:
    """Simulate (timed) and land the day; load the dimensions the sales reference (not timed)."""
    import pyarrow as pa

    from liftoff.ingest import landing, simulator
    from liftoff.ingest.daily import land_simulated_day, load_landed_day

    config = _config(sales, dirty_rate)
    simulator._history(config, DAY)  # the CRM's history since opening: set-up, not per-day cost
    simulator._pools(config.seed)
    started = time.perf_counter()
    table = simulator.activity("sales", DAY, config)
    simulate_s = time.perf_counter() - started
    table = table.slice(0, sales)
    landing.write_partition(landing.lake_root(lake), "sales", DAY, pa.Table.from_batches(table.to_batches()))
    clean = dataclasses.replace(config, dirty_rate=0.0)
    for entity in ("suppliers", "products", "employees", "customers"):
        land_simulated_day(lake, entity, DAY, clean, full_refresh=True)
        load_landed_day(dsn, lake, entity, DAY, run_id="bench-setup")
    return {
        "rows": table.num_rows,
        "customers": simulator.snapshot("customers", DAY, clean).num_rows,
        "simulate_s": simulate_s,
        "simulate_rows_per_s": table.num_rows / simulate_s,
    }


def timed_load(lake: str, dsn: str) -> dict:
    from liftoff.ingest import landing
    from liftoff.ingest.daily import load_landed_day

    # Airflow's imports (the landing zone's ObjectStoragePath: ~2 s) are paid once per worker process,
    # before any task runs: not part of a load, so not timed (they still count in the peak memory).
    landing.lake_root(lake)
    started = time.perf_counter()
    summary = load_landed_day(dsn, lake, "sales", DAY, run_id="bench")
    elapsed = time.perf_counter() - started
    return {
        "load_s": elapsed,
        "records_in": summary.records_in,
        "records_quarantined": summary.records_quarantined,
    }


def timed_plain_copy(lake: str, dsn: str) -> dict:
    """The reference: the same rows, as CSV, COPYed into an empty table shaped like raw.sales."""
    import psycopg
    import pyarrow.csv as pacsv

    from liftoff.ingest import landing

    table = landing.read_partition(landing.lake_root(lake), "sales", DAY)
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
    columns = ", ".join(table.column_names)
    with psycopg.connect(dsn) as conn:
        conn.execute("drop table if exists public.copy_reference")
        conn.execute("create table public.copy_reference (like raw.sales including defaults)")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"copy public.copy_reference ({columns}) from stdin with (format csv)") as copy,
        ):
            copy.write(buffer.getbuffer())
        conn.commit()
        elapsed = time.perf_counter() - started
    return {"copy_s": elapsed}


def _child(step: str, lake: str, dsn: str) -> dict:
    """Run one step in a fresh process and report its result and peak resident memory."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--step", step, "--lake", lake, "--dsn", dsn],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_step(step: str, lake: str, dsn: str) -> dict:
    if step == "baseline":
        import liftoff.ingest.daily  # noqa: F401  (the modules the load imports, and nothing else)

        result: dict = {}
    elif step == "load":
        result = timed_load(lake, dsn)
    else:
        raise ValueError(step)
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    """This process's peak resident size (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--dirty-rate", type=float, default=0.01)
    parser.add_argument("--step", choices=["baseline", "load"])
    parser.add_argument("--lake")
    parser.add_argument("--dsn")
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(run_step(args.step, args.lake, args.dsn)))
        return 0

    dsn = fresh_database("liftoff_bench")
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder).as_uri()
        figures = prepare(args.sales, args.dirty_rate, lake, dsn)
        figures |= _child("load", lake, dsn)
        figures["baseline_rss_mb"] = _child("baseline", lake, dsn)["peak_rss_mb"]
        figures |= timed_plain_copy(lake, dsn)
    figures["load_rows_per_s"] = figures["records_in"] / figures["load_s"]
    figures["copy_rows_per_s"] = figures["rows"] / figures["copy_s"]
    figures["load_vs_copy"] = figures["copy_s"] / figures["load_s"]
    figures["speed_aim"] = SPEED_AIM
    figures["memory_aim_mb"] = MEMORY_AIM_MB
    figures["peak_vs_memory_aim"] = figures["peak_rss_mb"] / MEMORY_AIM_MB
    report(figures)
    return 0


def report(figures: dict) -> None:
    lines = [
        f"| figure ({figures['rows']:,} sales of {figures['customers']:,} customers,"
        f" {figures['records_quarantined']:,} quarantined) | value |",
        "| --- | --- |",
        f"| simulate | {figures['simulate_rows_per_s']:,.0f} rows/s ({figures['simulate_s']:.2f} s) |",
        f"| load (read + contracts + COPY + quarantine) | {figures['load_rows_per_s']:,.0f} rows/s"
        f" ({figures['load_s']:.2f} s) |",
        f"| plain COPY of the same rows (reference) | {figures['copy_rows_per_s']:,.0f} rows/s"
        f" ({figures['copy_s']:.2f} s) |",
        f"| load speed / COPY speed | {figures['load_vs_copy']:.2f} (aim ≥ {SPEED_AIM}) |",
        f"| peak memory of the load process | {figures['peak_rss_mb']:,.0f} MB"
        f" (baseline after imports: {figures['baseline_rss_mb']:,.0f} MB) |",
        f"| peak memory / aim | {figures['peak_vs_memory_aim']:.2f} (aim ≤ {MEMORY_AIM_MB:,} MB"
        " at any size: a 10M-row day included) |",
    ]
    publish("ingest", figures, lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
