"""`make bench`: every benchmark in one run, and one summary of every figure against its aim.

    python -m benchmarks.suite --sizes 100000 1000000      (inside the stack: `make bench`)

Why one run: the machine is shared and noisy, so a figure means something only as a ratio to a
reference measured in the same run; this runs each benchmark (each in its own process, one after
the other, so they never compete with each other) and gathers their figures:

1. the pipeline end to end at each size: time and peak memory per stage, growth of the cost per
   sale (benchmarks/pipeline.py; the chart stages.png);
2. the raw load versus a plain COPY of the same rows, at the largest size (benchmarks/ingest.py);
3. the incremental day versus the full build, at the two largest sizes (benchmarks/transform.py,
   one results file per size: transform-<sales>.json), and how the incremental day grows with
   the history;
4. the Cosmos-rendered transform versus one plain `dbt build` (same runs, largest size);
5. each DAG file's parse time with Airflow's DagBag (same runs, largest size);
6. the campaign for 10k recipients: LLM calls versus segments, e-mails/s versus a bare smtplib loop
   (benchmarks/campaign.py);
7. the dashboard's first render, cold and warm, with 1M sales (benchmarks/dashboard.py, on the
   pipeline's 1M warehouse when that size ran, otherwise on one it builds);
8. the CRM API's writes and reads per second (and p99 latency) against a minimal FastAPI +
   psycopg app doing the same insert and lookup (benchmarks/crm_api.py);
9. one CRM business day extracted by the Airbyte connector (PyAirbyte, the CRM API) against the
   hand-written SQL extraction, records per second (benchmarks/crm_extract.py).

Writes summary.json (every benchmark's figures, each step's duration) and summary.md (the table
below, then each benchmark's own table) to bench-results/ (or LIFTOFF_BENCH_RESULTS), and prints
the table. A benchmark that fails is reported as failed; the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.pipeline import DEFAULT_SIZES, database_for
from benchmarks.results import RESULTS

DASHBOARD_SALES = 1_000_000
CAMPAIGN_AUDIENCE = 10_000
TRANSFORM_DAYS = 60


@dataclass(frozen=True)
class Step:
    """One benchmark run: its results file (without .json) and its command line."""

    results: str
    args: tuple[str, ...]


def plan(sizes: list[int], transform_days: int, audience: int, dashboard_sales: int) -> list[Step]:
    """The benchmarks to run for these sizes, in order."""
    sizes = sorted(set(sizes))
    steps = [Step("pipeline", ("benchmarks.pipeline", "--sizes", *map(str, sizes)))]
    steps.append(Step("ingest", ("benchmarks.ingest", "--sales", str(sizes[-1]))))
    for sales in sizes[-2:]:
        name = f"transform-{sales}"
        steps.append(
            Step(
                name,
                (
                    "benchmarks.transform",
                    "--sales",
                    str(sales),
                    "--days",
                    str(transform_days),
                    "--name",
                    name,
                ),
            )
        )
    steps.append(Step("campaign", ("benchmarks.campaign", "--audience", str(audience))))
    if dashboard_sales in sizes:  # the pipeline's warehouse of that size is still there
        dashboard = ("--existing", "--database", database_for(dashboard_sales))
    else:
        dashboard = ("--sales", str(dashboard_sales))
    steps.append(Step("dashboard", ("benchmarks.dashboard", *dashboard)))
    steps.append(Step("crm_api", ("benchmarks.crm_api",)))
    steps.append(Step("crm_extract", ("benchmarks.crm_extract",)))
    return steps


def run(steps: list[Step]) -> dict[str, dict]:
    """Run each step in its own process; its duration and whether it succeeded."""
    outcomes = {}
    for step in steps:
        print(f"\n=== {step.results}: python -m {' '.join(step.args)}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", *step.args], check=False)
        outcomes[step.results] = {
            "seconds": time.perf_counter() - started,
            "ok": done.returncode == 0,
            "command": f"python -m {' '.join(step.args)}",
        }
    return outcomes


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


PIPELINE_AIM_SALES = 1_000_000
PIPELINE_AIM_S = 45.0  # every stage but sending, at 1M sales
LARGE_RUN_GROWTH_AIM = 1.2  # cost per sale at 10M (or any larger size) / at 1M


def incremental_aim(sales: int) -> float:
    """The incremental day's aim as a share of the full build: never above 1 at any size, ≤ 0.15 from
    1M sales of history, ≤ 0.1 from 10M (below 1M a day is mostly dbt's fixed cost per node)."""
    if sales >= 10_000_000:
        return 0.1
    if sales >= 1_000_000:
        return 0.15
    return 1.0


def _verdict(value: float | None, aim: float | None, below: bool) -> str:
    if value is None or aim is None:
        return ""
    return "yes" if (value < aim if below else value >= aim) else "**no**"


def rows(results: dict[str, dict | None], transform_names: list[str]) -> list[tuple[str, str, str, str, str]]:
    """(item, figure, measured, aim, met) for every figure of the issue, from the results files."""
    out: list[tuple[str, str, str, str, str]] = []
    pipeline = results.get("pipeline")
    if pipeline:
        for run_ in pipeline["runs"]:
            peak = max(run_["peak_mb"].values())
            slowest = max(run_["seconds"], key=run_["seconds"].get)
            out.append(
                (
                    "1",
                    f"end to end, {run_['sales']:,} sales",
                    f"{run_['total_s']:.1f} s (slowest stage {slowest}: {run_['seconds'][slowest]:.1f} s),"
                    f" peak {peak:,.0f} MB"
                    + (
                        f"; **audience SQL timed out** after {run_['audience_timed_out_after_s']:.0f} s"
                        if "audience_timed_out_after_s" in run_
                        else ""
                    ),
                    "",
                    "",
                )
            )
        for run_ in pipeline["runs"]:
            before_sending = sum(seconds for stage, seconds in run_["seconds"].items() if stage != "send")
            at_1m = run_["sales"] == PIPELINE_AIM_SALES
            out.append(
                (
                    "1",
                    f"every stage but sending, {run_['sales']:,} sales",
                    f"{before_sending:.1f} s",
                    f"≤ {PIPELINE_AIM_S:.0f} s" if at_1m else "",
                    _verdict(before_sending, PIPELINE_AIM_S + 1e-9, below=True) if at_1m else "",
                )
            )
        by_size = {r["sales"]: r for r in pipeline["runs"]}
        for sales in sorted(by_size):
            if sales > PIPELINE_AIM_SALES and PIPELINE_AIM_SALES in by_size:
                per_sale = by_size[sales]["total_s"] / sales
                reference = by_size[PIPELINE_AIM_SALES]["total_s"] / PIPELINE_AIM_SALES
                out.append(
                    (
                        "1",
                        f"cost per sale at {sales:,} / at {PIPELINE_AIM_SALES:,} (same run)",
                        f"{per_sale / reference:.2f}",
                        f"≤ {LARGE_RUN_GROWTH_AIM}",
                        _verdict(per_sale / reference, LARGE_RUN_GROWTH_AIM + 1e-9, below=True),
                    )
                )
        growth = pipeline["linearity"]["growth"]["total"]
        sizes = [r["sales"] for r in pipeline["runs"]]
        out.append(
            (
                "1",
                f"growth: cost per sale at {sizes[-1]:,} / at {sizes[0]:,}",
                f"{growth:.2f}",
                f"≤ {pipeline['linearity']['aim']} (near linear)",
                _verdict(growth, pipeline["linearity"]["aim"] + 1e-9, below=True),
            )
        )
        aim = pipeline["linearity"]["aim"]
        steep = {
            stage: ratio
            for stage, ratio in pipeline["linearity"]["growth"].items()
            if stage != "total" and ratio is not None and ratio > aim
        }
        out.append(
            (
                "1",
                "stages whose cost per sale grows faster than that",
                ", ".join(f"{stage} {ratio:.2f}" for stage, ratio in steep.items()) or "none",
                f"≤ {aim} each",
                "**no**" if steep else "yes",
            )
        )
    else:
        out.append(("1", "end to end", "failed", "", ""))
    ingest = results.get("ingest")
    if ingest:
        out.append(
            (
                "2",
                f"raw load / plain COPY speed, {ingest['rows']:,} sales",
                f"{ingest['load_vs_copy']:.2f} ({ingest['load_s']:.1f} s vs {ingest['copy_s']:.1f} s)",
                "≥ 0.5",
                _verdict(ingest["load_vs_copy"], 0.5, below=False),
            )
        )
        aim_mb = ingest.get("memory_aim_mb", 1536)
        out.append(
            (
                "2",
                f"raw load peak memory, {ingest['rows']:,} sales in one day",
                f"{ingest['peak_rss_mb']:,.0f} MB = {ingest['peak_rss_mb'] / aim_mb:.2f} of the aim",
                f"≤ {aim_mb:,} MB (a 10M-row day too)",
                _verdict(ingest["peak_rss_mb"], aim_mb + 1e-9, below=True),
            )
        )
    else:
        out.append(("2", "raw load / plain COPY", "failed", "≥ 0.5", ""))
        out.append(("2", "raw load peak memory", "failed", "≤ 1,536 MB", ""))
    transforms = [(name, results.get(name)) for name in transform_names]
    for name, figures in transforms:
        if not figures:
            out.append(("3", f"incremental / full ({name})", "failed", "< 0.1", ""))
            continue
        aim = incremental_aim(figures["sales"])
        out.append(
            (
                "3",
                f"incremental day / full build, {figures['history_sales']:,} sales",
                f"{figures['incremental_vs_full']:.2f} ({figures['incremental_day_s']:.1f} s vs"
                f" {figures['full_build_s']:.1f} s)",
                f"≤ {aim}",
                _verdict(figures["incremental_vs_full"], aim + 1e-9, below=True),
            )
        )
    done = [figures for _, figures in transforms if figures]
    if len(done) == 2:
        small, large = done
        history = large["history_sales"] / small["history_sales"]
        day = large["day_sales"] / small["day_sales"]
        grew = large["incremental_day_s"] / small["incremental_day_s"]
        out.append(
            (
                "3",
                f"incremental day's time, {large['history_sales']:,} / {small['history_sales']:,} sales of"
                f" history (×{history:.0f}; the day itself ×{day:.0f})",
                f"×{grew:.2f}",
                "flat in history size",
                "",
            )
        )
    if done:
        largest = done[-1]
        out.append(
            (
                "4",
                f"Cosmos dbt task group / plain `dbt build`, a day after {largest['history_sales']:,} sales",
                f"{largest['cosmos_group_vs_plain']:.2f} ({largest['cosmos_dbt_group_s']:.1f} s vs"
                f" {largest['plain_day_rerun_s']:.1f} s)",
                "≤ 1.5",
                _verdict(largest["cosmos_group_vs_plain"], 1.5 + 1e-9, below=True),
            )
        )
        out.append(
            (
                "4",
                "whole transform DAG run (`dag.test`) / plain `dbt build`",
                f"{largest['cosmos_dag_vs_plain']:.2f} ({largest['cosmos_dag_s']:.1f} s)",
                "",
                "",
            )
        )
        if "scheduler_vs_plain" in largest:
            out.append(
                (
                    "4",
                    f"transform DAG under the scheduler (REST trigger, LocalExecutor) / plain `dbt build`,"
                    f" a day after {largest['history_sales']:,} sales",
                    f"{largest['scheduler_vs_plain']:.2f} ({largest['scheduler_run_s']:.1f} s,"
                    f" {largest['scheduler_tasks']} tasks)",
                    "≤ 1.5 at 1M",
                    _verdict(largest["scheduler_vs_plain"], 1.5 + 1e-9, below=True),
                )
            )
        for file, seconds in largest["parse_s"].items():
            out.append(
                (
                    "5",
                    f"parse `dags/{file}` (DagBag)",
                    f"{seconds:.2f} s",
                    "< 1 s",
                    _verdict(seconds, 1, True),
                )
            )
    else:
        out.append(("4–5", "Cosmos vs plain, DAG parse", "failed", "", ""))
    campaign = results.get("campaign")
    if campaign:
        out.append(
            (
                "6",
                f"LLM calls / segments, {campaign['audience']:,} recipients",
                f"{campaign['llm_calls']} / {campaign['segments']}",
                "≤ 1 call per segment",
                _verdict(campaign["llm_calls"], campaign["segments"] + 1e-9, below=True),
            )
        )
        out.append(
            (
                "6",
                "e-mails/s through the campaign / bare smtplib loop",
                f"{campaign['campaign_vs_bare']:.2f} ({campaign['emails_per_s']:,.0f}/s vs"
                f" {campaign['bare_smtplib_per_s']:,.0f}/s)",
                "≥ 0.8",
                _verdict(campaign["campaign_vs_bare"], 0.8, below=False),
            )
        )
        if "parallel_send_speedup" in campaign:
            out.append(
                (
                    "6",
                    "e-mails/s, two send processes at once / one",
                    f"{campaign['parallel_send_speedup']:.2f} ({campaign['send_2_processes_per_s']:,.0f}/s vs"
                    f" {campaign['send_1_processes_per_s']:,.0f}/s)",
                    "≥ 1.6",
                    _verdict(campaign["parallel_send_speedup"], 1.6, below=False),
                )
            )
    else:
        out.append(("6", "campaign", "failed", "", ""))
    dashboard = results.get("dashboard")
    if dashboard:
        bare = dashboard["bare_sql_s"] or 1e-9
        for key, label, aim in (
            ("warm_render_s", "warm render", 2.0),
            ("first_render_s", "first render of a fresh process", None),
            ("cold_render_s", "cold render (cache empty)", None),
        ):
            out.append(
                (
                    "7",
                    f"dashboard {label}, {dashboard['sales']:,} sales",
                    f"{dashboard[key]:.2f} s = {dashboard[key] / bare:.1f} × bare SQL ({bare:.3f} s)",
                    "< 2 s" if aim else "",
                    _verdict(dashboard[key], aim, below=True),
                )
            )
    else:
        out.append(("7", "dashboard", "failed", "< 2 s", ""))
    crm_api = results.get("crm_api")
    if crm_api:
        for operation, label in (("write", "POST /sales"), ("read", "GET /sales/{key}")):
            api, reference = crm_api[f"api_{operation}"], crm_api[f"reference_{operation}"]
            ratio = crm_api[f"{operation}_ratio"]
            out.append(
                (
                    "8",
                    f"CRM API {label} per second / the minimal reference's",
                    f"{api['per_s']:,.0f}/s (p99 {api['p99_ms']:.0f} ms) / {reference['per_s']:,.0f}/s"
                    f" (p99 {reference['p99_ms']:.0f} ms) = {ratio:.2f}",
                    f"≥ {crm_api['aim']}",
                    _verdict(ratio, crm_api["aim"], below=False),
                )
            )
    else:
        out.append(("8", "CRM API", "failed", "≥ 0.5", ""))
    extract = results.get("crm_extract")
    if extract:
        out.append(
            (
                "9",
                "CRM day extracted by the Airbyte connector, records/s / the hand-written extraction's",
                f"{extract['connector_per_s']:,.0f}/s"
                f" (fixed cost {extract['connector_fixed_seconds']:.1f} s) / "
                f"{extract['hand_written_per_s']:,.0f}/s = {extract['ratio']:.3f}",
                "measured",
                "",
            )
        )
    else:
        out.append(("9", "CRM extraction, Airbyte connector", "failed", "measured", ""))
    return out


def summarise(steps: list[Step], outcomes: dict[str, dict], sizes: list[int]) -> None:
    """Write summary.json and summary.md; print the summary table."""
    results = {step.results: _load(step.results) if outcomes[step.results]["ok"] else None for step in steps}
    transform_names = [step.results for step in steps if step.results.startswith("transform-")]
    table = [
        "| # | figure | measured (same run) | aim | met |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {item} | {figure} | {measured} | {aim} | {met} |"
            for item, figure, measured, aim, met in rows(results, transform_names)
        ),
    ]
    total = sum(outcome["seconds"] for outcome in outcomes.values())
    durations = [
        f"- `{outcome['command']}`: {outcome['seconds'] / 60:.1f} min{'' if outcome['ok'] else ' (FAILED)'}"
        for outcome in outcomes.values()
    ]
    lines = [
        f"# Benchmarks: sizes {', '.join(f'{s:,}' for s in sorted(sizes))} sales",
        "",
        *table,
        "",
        f"Duration of this run: {total / 60:.1f} min in all.",
        "",
        *durations,
        "",
        "![time per stage versus data size](stages.png)",
    ]
    for step in steps:
        own = RESULTS / f"{step.results}.md"
        if results[step.results] and own.exists():
            lines += ["", f"## {step.results}", "", own.read_text().rstrip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    summary = {
        "sizes": sorted(sizes),
        "steps": outcomes,
        "total_s": total,
        "figures": [
            dict(zip(("item", "figure", "measured", "aim", "met"), row, strict=True))
            for row in rows(results, transform_names)
        ],
        "results": results,
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    print("\n" + "\n".join(table))
    print(f"\nAll of it in {RESULTS}/summary.md ({total / 60:.1f} min).")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="sales per pipeline run"
    )
    parser.add_argument("--transform-days", type=int, default=TRANSFORM_DAYS)
    parser.add_argument("--audience", type=int, default=CAMPAIGN_AUDIENCE)
    parser.add_argument("--dashboard-sales", type=int, default=DASHBOARD_SALES)
    parser.add_argument(
        "--summary-only", action="store_true", help="rewrite the summary from the results files"
    )
    args = parser.parse_args(argv)
    steps = plan(args.sizes, args.transform_days, args.audience, args.dashboard_sales)
    if args.summary_only:
        previous = _load("summary") or {}
        outcomes = {
            step.results: previous.get("steps", {}).get(step.results)
            or {
                "seconds": 0.0,
                "ok": (RESULTS / f"{step.results}.json").exists(),
                "command": " ".join(step.args),
            }
            for step in steps
        }
    else:
        outcomes = run(steps)
    summarise(steps, outcomes, args.sizes)
    return 0 if all(outcome["ok"] for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
