"""The transform at scale: full build, incremental day, Cosmos versus plain dbt, DAG parse time.

    python -m benchmarks.transform --sales 1000000 --days 60      (inside the stack: `make bench`)

Figures (all from this run, on this machine):
- full build: `dbt build --full-refresh` of every layer over the whole history;
- incremental day: the next day ingested, then `dbt build` for that day only; reported as a share
  of the full build (aim: under 0.1);
- Cosmos: the `transform_warehouse` DAG run by Airflow (`dag.test`, watcher mode) for that day,
  against one plain `dbt build` of the same day just before it; both the dbt task group's span
  and the whole DAG run (which also publishes the gold Asset and the dbt docs) are reported. The
  history's loads are marked transformed first (as the runs that built it would have), so the DAG
  rebuilds that one day, like the plain build (before 2026-12-02 it rebuilt the whole history);
- the same DAG under the real scheduler (`--scheduler`, on by default): Airflow's api-server,
  scheduler (LocalExecutor, every task a process) and dag-processor as `make up` runs them, the
  run triggered through the REST API (benchmarks/scheduler.py), against the same plain build;
  the second run of the day is timed (the first warms the api-server up);
- parse: seconds to load each DAG file with Airflow's DagBag in a fresh process, the file's own
  imports (Cosmos, ...) included (aim: under 1 s per file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.ingest import fresh_database
from benchmarks.results import publish

FIRST_DAY = date(2026, 6, 1)
BRASILIA = ZoneInfo("America/Sao_Paulo")
DATABASE = "liftoff_bench_transform"


def ingest_history(lake: str, dsn: str, sales: int, days: int) -> tuple[dict, date]:
    """Land and load `days` days holding about `sales` sales in all; returns the counts and the last day."""
    import psycopg

    from liftoff.ingest.daily import land_simulated_day, load_landed_day
    from liftoff.ingest.simulator import SimulatorConfig, expected_sales
    from liftoff.orchestration import ENTITIES

    weight = sum(
        expected_sales(SimulatorConfig(sales_per_day=1.0), FIRST_DAY + timedelta(d)) for d in range(days)
    )
    config = SimulatorConfig(
        sales_per_day=sales / weight, dirty_rate=0.0, opening_day=FIRST_DAY - timedelta(days=1)
    )
    last = FIRST_DAY + timedelta(days=days - 1)
    for offset in range(days + 1):  # the history, then the day the incremental run adds
        day = FIRST_DAY + timedelta(days=offset)
        for entity in ENTITIES:
            land_simulated_day(lake, entity, day, config, full_refresh=offset == 0)
            load_landed_day(dsn, lake, entity, day, run_id="bench")
    with psycopg.connect(dsn) as conn:
        history = conn.execute("select count(*) from raw.sales where _liftoff_logical_date <= %s", (last,))
        counts = {"history_sales": history.fetchone()[0]}
        counts["day_sales"] = conn.execute(
            "select count(*) from raw.sales where _liftoff_logical_date = %s", (last + timedelta(1),)
        ).fetchone()[0]
    return counts, last


def dbt_build(database: str, since: date, until: date, *extra: str) -> float:
    """One plain `dbt build` (the CLI, as a user would run it); returns its wall time.

    Its artifacts go to a target folder of the benchmark's own (`--target-path`), not the
    project's: Cosmos starts each producer from the newest partial parse it finds, its own cache
    or the project's target folder, and a parse saved by these builds (other `--vars`, another
    profile) made the Cosmos runs right after them parse the whole project again, which a
    deployment's runs do not (about 3 s of the producer's time at 1M sales).
    """
    from liftoff import settings

    variables = json.dumps({"since_date": since.isoformat(), "logical_date": until.isoformat()})
    target = Path(tempfile.gettempdir()) / f"liftoff-bench-dbt-target-{database}"
    command = [
        str(Path(sys.executable).with_name("dbt")), "build", "--profiles-dir", ".", "--vars", variables,
        "--target", settings.DBT_TARGET, "--exclude-resource-type", "unit_test", "--target-path", str(target),
        *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(
        command, cwd=settings.DBT_PROJECT_DIR, env=os.environ | {"LIFTOFF_WAREHOUSE_DB": database},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - started


def cosmos_run(database: str, day: date) -> dict:
    """The transform DAG for `day`, run by Airflow against the benchmark's database."""
    from liftoff import settings
    from liftoff.devstack import stack

    connection = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": database}
    os.environ[stack.WAREHOUSE_CONN_ENV] = json.dumps(connection)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(settings.DAGS_FOLDER)).dags["transform_warehouse"]
    started = time.perf_counter()
    dag_run = dag.test(logical_date=datetime(day.year, day.month, day.day, 1, tzinfo=BRASILIA))
    elapsed = time.perf_counter() - started
    if "success" not in str(dag_run.state):
        raise SystemExit(f"benchmark: transform_warehouse ended {dag_run.state}")
    spans = [
        (ti.start_date, ti.end_date) for ti in dag_run.get_task_instances() if ti.task_id.startswith("dbt.")
    ]
    group_s = (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()
    return {"cosmos_dag_s": elapsed, "cosmos_dbt_group_s": group_s}


def mark_history_transformed(dsn: str, last: date) -> int:
    """Mark the loads of every day up to `last` transformed, as the runs that built the history
    would have: the DAG's window then holds only the day after (liftoff.transform.window)."""
    import psycopg

    from liftoff.transform.window import mark_transformed, pending_loads

    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        history = [load for load, _ in pending_loads(cursor) if load.logical_date <= last]
    return mark_transformed(dsn, history, "bench-history")


def scheduler_run(day: date) -> dict:
    """The transform DAG for `day` under the real scheduler, triggered through the REST API (the
    warehouse and lake connections are those the process's environment holds)."""
    from benchmarks.scheduler import airflow_running, run_profile

    logical = datetime(day.year, day.month, day.day, 1, tzinfo=BRASILIA)
    with airflow_running({}) as airflow:
        # The api-server sets up its task-execution API on the first task's request (3 s of the
        # first task here), once per start: a deployment's runs meet a warm one. So the first run
        # warms Airflow up and the second, of the same day and the same work, is the figure.
        first = airflow.timed_run("transform_warehouse", logical)
        timed = airflow.timed_run("transform_warehouse", logical)
    producer_task = next(task for task in timed["task_s"] if task.endswith("dbt_producer_watcher"))
    producer = timed["task_s"][producer_task]
    return {
        "scheduler_profile": run_profile(timed["timeline"], producer_task),
        "scheduler_timeline": timed["timeline"],
        "scheduler_first_run_s": first["run_s"],
        # When the `gold` Asset is out (the quality gate and the campaign start then): the docs after it.
        "scheduler_gold_s": timed["timeline"]["publish_gold"]["end"],
        "scheduler_run_s": timed["run_s"],
        "scheduler_wall_s": timed["wall_s"],
        "scheduler_tasks": timed["tasks"],
        # Where the run's time went: dbt's own build (the producer) and every task's duration.
        "scheduler_producer_s": producer,
        "scheduler_task_s": timed["task_s"],
    }


def parse_times() -> dict:
    """Seconds to DagBag-load each DAG file in a fresh process (Airflow imported first, the file's
    own imports such as Cosmos counted)."""
    from liftoff import settings

    probe = (
        "import sys, time; import airflow.dag_processing.dagbag as d; started = time.perf_counter();"
        " bag = d.DagBag(dag_folder=sys.argv[1]); assert not bag.import_errors, bag.import_errors;"
        " print(time.perf_counter() - started)"
    )
    times = {}
    for path in sorted(settings.DAGS_FOLDER.glob("*.py")):
        out = subprocess.run(
            [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True
        )
        times[path.name] = float(out.stdout.split()[-1])
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument(
        "--name", default="transform", help="results file name (make bench runs two sizes: transform-<sales>)"
    )
    parser.add_argument(
        "--scheduler",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the DAG under the real scheduler (Airflow's api-server, scheduler, dag-processor)",
    )
    args = parser.parse_args(argv)

    dsn = fresh_database(DATABASE)
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder).as_uri()
        started = time.perf_counter()
        figures, last = ingest_history(lake, dsn, args.sales, args.days)
        figures["ingest_s"] = time.perf_counter() - started
        day = last + timedelta(days=1)
        figures["full_build_s"] = dbt_build(DATABASE, FIRST_DAY, last, "--full-refresh")
        figures["incremental_day_s"] = dbt_build(DATABASE, day, day)
        figures["plain_day_rerun_s"] = dbt_build(DATABASE, day, day)
        os.environ["LIFTOFF_LAKE_URL"] = lake  # the DAG publishes its docs there
        mark_history_transformed(dsn, last)
        figures |= cosmos_run(DATABASE, day)
        if args.scheduler:
            figures |= scheduler_run(day)
            figures["scheduler_vs_plain"] = figures["scheduler_run_s"] / figures["plain_day_rerun_s"]
    figures["incremental_vs_full"] = figures["incremental_day_s"] / figures["full_build_s"]
    figures["cosmos_group_vs_plain"] = figures["cosmos_dbt_group_s"] / figures["plain_day_rerun_s"]
    figures["cosmos_dag_vs_plain"] = figures["cosmos_dag_s"] / figures["plain_day_rerun_s"]
    figures["parse_s"] = parse_times()
    figures |= {"sales": args.sales, "days": args.days}
    report(figures, args.name)
    return 0


def report(figures: dict, results_name: str = "transform") -> None:
    lines = [
        f"| figure ({figures['history_sales']:,} sales over {figures['days']} days,"
        f" then a day of {figures['day_sales']:,}) | value |",
        "| --- | --- |",
        f"| full build (`dbt build --full-refresh`) | {figures['full_build_s']:.1f} s |",
        f"| incremental day (`dbt build` of the new day) | {figures['incremental_day_s']:.1f} s"
        f" = {figures['incremental_vs_full']:.2f} of the full build |",
        f"| plain `dbt build` of that day (reference) | {figures['plain_day_rerun_s']:.1f} s |",
        f"| Cosmos dbt task group for that day (watcher) | {figures['cosmos_dbt_group_s']:.1f} s"
        f" = {figures['cosmos_group_vs_plain']:.2f} × plain |",
        f"| whole transform DAG run (+ gold Asset, dbt docs) | {figures['cosmos_dag_s']:.1f} s"
        f" = {figures['cosmos_dag_vs_plain']:.2f} × plain |",
        *(
            [
                f"| the same DAG under the scheduler (REST API trigger, LocalExecutor,"
                f" {figures['scheduler_tasks']} tasks) | {figures['scheduler_run_s']:.1f} s"
                f" = {figures['scheduler_vs_plain']:.2f} × plain (its dbt build:"
                f" {figures['scheduler_producer_s']:.1f} s) |",
                f"| … `gold` published (the docs follow) / the first run after Airflow started |"
                f" {figures['scheduler_gold_s']:.1f} s / {figures['scheduler_first_run_s']:.1f} s |",
            ]
            if "scheduler_run_s" in figures
            else []
        ),
        *(
            [
                "| … of which: before the dbt build / the build (producer task) / after it |"
                f" {profile['before_producer_s']:.1f} s / {profile['producer_s']:.1f} s /"
                f" {profile['after_producer_s']:.1f} s |",
                f"| … after it, along the last chain of {profile['chain_tasks_after_producer']} tasks:"
                " the tasks running / waiting to start after their upstream |"
                f" {profile['chain_run_s_after_producer']:.1f} s /"
                f" {profile['chain_wait_s_after_producer']:.1f} s"
                f" (mean wait per task, whole run: {profile['mean_wait_s']:.1f} s) |",
            ]
            if (profile := figures.get("scheduler_profile"))
            else []
        ),
        *(
            f"| parse `dags/{name}` (DagBag, imports included) | {seconds:.2f} s |"
            for name, seconds in figures["parse_s"].items()
        ),
    ]
    publish(results_name, figures, lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
