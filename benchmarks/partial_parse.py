"""dbt's parse as the transform's producer meets it: the run's window as `--vars` or in the environment.

    python -m benchmarks.partial_parse --rounds 6        (no database: `dbt parse` connects to nothing)

Each timed `dbt parse` (a process, with the producer's flags: `--profile liftoff --target prod
--no-static-parser`) follows one of another window in the same target folder, as each producer run
follows the previous one on Cosmos's kept parse. The two ways alternate, each in a target folder
of its own:

- `vars`: the window as `--vars` (dbt run by hand; how the DAG passed it before issue 18): dbt
  hashes the command line's vars into its parse's state, so every new window re-parses in full;
- `env`: the window in LIFTOFF_DBT_* (liftoff.transform.window.DBT_WINDOW_ENV; the DAG's way),
  which nothing reads while parsing: dbt reuses its saved parse.

Printed per run: the process's wall time, dbt's own parse time (`perf_info.json`,
`load_all_elapsed`), whether dbt parsed in full, and the 1-minute load average before it.
See docs/benchmarks.md ("dbt's partial parse kept from run to run").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from liftoff import settings
from liftoff.transform.window import RunWindow

FULL_PARSE = "Unable to do partial parsing"


def window(n: int) -> RunWindow:
    day = date(2026, 6, 1) + timedelta(days=n)
    return RunWindow(since=day - timedelta(days=1), until=day, run_days=(day - timedelta(days=1), day))


def parse(way: str, run: RunWindow, folder: Path) -> dict:
    project = str(settings.DBT_PROJECT_DIR)
    target = folder / f"target-{way}"
    command = [
        str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", project,
        "--profiles-dir", project, "--profile", "liftoff", "--target", settings.DBT_TARGET,
        "--no-static-parser", "--target-path", str(target), "--log-path", str(folder / f"logs-{way}"),
    ]  # fmt: skip
    env = {**os.environ, **dict.fromkeys(run.dbt_env(), "")}
    if way == "vars":
        command += ["--vars", json.dumps(run.dbt_vars())]
    else:
        env |= run.dbt_env()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=project)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:])
    perf = json.loads((target / "perf_info.json").read_text())
    return {"wall": wall, "parse": perf["load_all_elapsed"], "full": FULL_PARSE in done.stdout, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    rounds = parser.parse_args().rounds
    ways = ("vars", "env")
    runs: dict[str, list[dict]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory(prefix="partial-parse-") as folder:
        for way in ways:  # the kept parse of each way
            parse(way, window(0), Path(folder))
        for n in range(rounds):
            for way in ways if n % 2 == 0 else ways[::-1]:
                result = parse(way, window(1 + len(runs["vars"]) + len(runs["env"])), Path(folder))
                runs[way].append(result)
                print(
                    f"round {n + 1} {way:4s}: wall {result['wall']:5.2f} s,"
                    f" dbt's parse {result['parse']:5.2f} s, full parse {result['full']},"
                    f" load {result['load']:.2f}",
                    flush=True,
                )
    for way, results in runs.items():
        walls = [result["wall"] for result in results]
        print(
            f"{way}: wall median {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}),"
            f" dbt's parse median {statistics.median(result['parse'] for result in results):.2f} s,"
            f" full parses {sum(result['full'] for result in results)}/{len(results)},"
            f" load {min(r['load'] for r in results):.2f}-{max(r['load'] for r in results):.2f}"
        )


if __name__ == "__main__":
    main()
