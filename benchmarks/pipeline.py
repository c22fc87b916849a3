"""The pipeline end to end at growing sizes: time and peak memory of every stage, and whether the
cost per sale stays flat as the data grows (near-linear growth).

    python -m benchmarks.pipeline --sizes 100000 1000000      (inside the stack: `make bench`)

Why: each stage has its own benchmark against its own reference (benchmarks/ingest.py,
transform.py, campaign.py); this one shows where the time of a whole day's run goes and which
stage stops scaling first. Every size runs in a fresh process on a fresh scratch database
(`liftoff_bench_pipeline_<sales>`, kept afterwards so the dashboard benchmark can read its gold),
with the production code of each stage:

- simulate: the CRM simulator (liftoff/ingest/simulator.py) for `--days` days holding about N sales in
  all, as `ingest.land_simulated_day` chooses (the first day a full snapshot of the dimensions).
  The CRM opens the day before, so the dimensions are proportional to the sales: customers start
  at one per daily sale and 30% of each day's sales bring a new one; employees start at one per
  ten daily sales; the catalog (120 products, 12 suppliers) does not grow with sales;
- land: the Parquet files written to a local landing zone (liftoff/ingest/landing.py);
- load: `ingest.load_landed_day` per entity and day (contracts, COPY, quarantine);
- transform: one plain `dbt build --full-refresh` over the days (`benchmarks.transform.dbt_build`);
- quality: the quality gate (`liftoff.quality.gate.run_gate`) on the last day;
- audience, copy, send: the cross-sell campaign of the last day (liftoff/campaign/runner.py):
  the audience SQL, one copy per segment from the openai SDK against the local chat-completions
  double, and every e-mail batch to a real SMTP server (aiosmtpd, its own process), as
  benchmarks/campaign.py runs them.
Simulate, land and load run day by day (a day is an ingest run); their times are summed.

Peak memory per stage: this Python process's own high-water mark during the stage (VmHWM, reset
at each stage through /proc/self/clear_refs) plus the largest summed RSS of the processes started
during the stage (dbt), sampled every 250 ms with psutil (a scan of the process table costs ~5 ms
here, so it is kept rare not to steal time from the stage measured). Not counted: the Postgres
server (the database's own memory is not in these figures) and the SMTP server, a process started
before the stages it serves.

Heavy imports (Great Expectations, the openai SDK, Airflow's SMTP hook) happen before the timing,
as in a warm worker; the first size pays no more set-up than the last.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from benchmarks.results import RESULTS, publish

STAGES = ("simulate", "land", "load", "transform", "quality", "audience", "copy", "send")
LAST_DAY = date(2026, 11, 20)
DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_DAYS = 30  # the quality gate compares the day with the same weekday of the 4 weeks before
SECRET = b"benchmark-unsubscribe-secret-of-32-bytes-or-more"
SAMPLE_EVERY_S = 0.25
AUDIENCE_TIMEOUT_S = 240.0  # the audience SQL's statement timeout (see run_size)
LINEAR_AIM = 1.5  # cost per sale at the largest size / at the smallest, at most


def database_for(sales: int) -> str:
    """The scratch database of one size (the dashboard benchmark reuses the 1M one)."""
    return f"liftoff_bench_pipeline_{sales}"


# --- memory ------------------------------------------------------------------------------------


def _self_hwm_mb() -> float | None:
    """This process's peak resident size since the last reset (VmHWM), where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_self_hwm() -> bool:
    """Reset this process's peak RSS (Linux ≥ 4.0: write 5 to clear_refs); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class StageMeter:
    """Wall time and peak RSS of each stage of one run; stages may be entered many times (a day
    at a time): their times add up and their peak is the largest seen.

    Peak RSS of a stage = this process's own peak during the stage (VmHWM after a reset: exact) +
    the largest summed RSS of the processes started during the stage (dbt), sampled every 250 ms
    with psutil. getrusage(RUSAGE_CHILDREN) is not used: a child's ru_maxrss includes the parent's
    resident set at the moment it exec'd, which would count this process twice. The sum is an
    upper bound (the two need not peak together; while dbt runs this process only waits). Where
    the VmHWM reset is not allowed, this process's RSS is sampled too."""

    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    load_1min: dict[str, float] = field(default_factory=dict)  # the machine's, as each stage ended
    _own_sampled_mb: float = 0.0
    _children_sampled_mb: float = 0.0
    _old_children: frozenset[int] = frozenset()
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        children = 0
        for child in me.children(recursive=True):  # ~5 ms a scan here, hence the 250 ms period
            if child.pid not in self._old_children:
                try:
                    children += child.memory_info().rss
                except psutil.Error:  # ended between the listing and the reading
                    continue
        self._children_sampled_mb = max(self._children_sampled_mb, children / 2**20)
        self._own_sampled_mb = max(self._own_sampled_mb, me.memory_info().rss / 2**20)

    def _sampler(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._sample()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        import psutil

        self._old_children = frozenset(child.pid for child in psutil.Process().children(recursive=True))
        exact = _reset_self_hwm()
        self._own_sampled_mb = self._children_sampled_mb = 0.0
        if self._thread is None:
            self._thread = threading.Thread(target=self._sampler, daemon=True)
            self._thread.start()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self._sample()
            own = max(_self_hwm_mb() or 0.0, self._own_sampled_mb) if exact else self._own_sampled_mb
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), own + self._children_sampled_mb)
            self.load_1min[name] = os.getloadavg()[0]

    def progress(self, *names: str) -> None:
        """The stages' figures so far, on stderr: a run of hours that is stopped still leaves them."""
        for name in names:
            print(
                f"pipeline bench: {name} {self.seconds[name]:.1f} s, {self.peak_mb[name]:,.0f} MB,"
                f" load {self.load_1min[name]:.1f}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# --- one size ----------------------------------------------------------------------------------


def _config(sales: int, days: int, dirty_rate: float):
    """Sales per day such that the `days` days ending on LAST_DAY hold about `sales` sales; the CRM
    opens the day before the first, so its dimensions are proportional to the sales."""
    from liftoff.ingest.simulator import SimulatorConfig, expected_sales

    first = LAST_DAY - timedelta(days=days - 1)
    weight = sum(
        expected_sales(SimulatorConfig(sales_per_day=1.0), first + timedelta(d)) for d in range(days)
    )
    return SimulatorConfig(
        sales_per_day=sales / weight, dirty_rate=dirty_rate, opening_day=first - timedelta(days=1)
    )


@contextmanager
def _pg_options(options: str) -> Iterator[None]:
    """Server settings for the connections opened inside the block (libpq reads PGOPTIONS)."""
    before = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = f"{before} {options}" if before else options
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS")
        else:
            os.environ["PGOPTIONS"] = before


def run_size(sales: int, days: int, dirty_rate: float, batch_size: int, audience_timeout_s: float) -> dict:
    """Every stage once for about `sales` sales over `days` days; the figures of this size.

    The audience SQL gets `audience_timeout_s` (a statement timeout): at 1M sales it ran for over
    15 minutes here, its planner estimating 42 recent buyers for ~90k and choosing a nested loop
    over them, squared. When it times out the stage's time is that lower bound, flagged; the same
    SQL is then run with nested loops disabled, only so that copy and send are still measured on
    the real audience (that time is reported apart, as a diagnosis, never as the stage's)."""
    import great_expectations  # noqa: F401  (imported before the timing: a warm worker has it)
    import psycopg

    from benchmarks.campaign import delivery_services, quiet_imports
    from benchmarks.ingest import fresh_database
    from benchmarks.transform import dbt_build
    from liftoff.campaign.config import AudienceRules, Links
    from liftoff.campaign.llm import copywriter_from_connection
    from liftoff.campaign.mail import send_email_batch
    from liftoff.campaign.runner import plan_campaign, summarise, write_copy
    from liftoff.ingest import landing, simulator
    from liftoff.ingest.daily import load_landed_day
    from liftoff.orchestration import ENTITIES
    from liftoff.quality.gate import run_gate

    quiet_imports()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # a line per asset otherwise
    database = database_for(sales)
    dsn = fresh_database(database)
    config = _config(sales, days, dirty_rate)
    first = LAST_DAY - timedelta(days=days - 1)
    meter = StageMeter()
    figures: dict = {"sales_requested": sales, "days": days, "dirty_rate": dirty_rate, "database": database}
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder).as_uri()
        root = landing.lake_root(lake)
        records = quarantined = 0
        for offset in range(days):
            day = first + timedelta(days=offset)
            with meter.stage("simulate"):  # as ingest.land_simulated_day chooses what to simulate
                tables = {
                    entity: simulator.snapshot(entity, day, config)
                    if offset == 0 and entity != "sales"
                    else simulator.activity(entity, day, config)
                    for entity in ENTITIES
                }
            with meter.stage("land"):
                for entity, table in tables.items():
                    landing.write_partition(root, entity, day, table)
            del tables
            with meter.stage("load"):
                for entity in ENTITIES:
                    summary = load_landed_day(dsn, lake, entity, day, run_id="bench-pipeline")
                    records += summary.records_in
                    quarantined += summary.records_quarantined
        figures |= {"records_in": records, "records_quarantined": quarantined}
        meter.progress("simulate", "land", "load")

        with meter.stage("transform"):
            dbt_build(database, first, LAST_DAY, "--full-refresh")
        meter.progress("transform")

        with meter.stage("quality"):
            report = run_gate(dsn, LAST_DAY, "bench-pipeline", project_dir=Path(folder) / "gx")
        meter.progress("quality")
        figures["quality_passed"] = report.passed
        figures["quality_failures"] = [failure.describe() for failure in report.failures]

        with delivery_services() as (server, llm):
            rules = AudienceRules(batch_size=batch_size)
            plan = None
            with meter.stage("audience"):
                try:
                    with _pg_options(f"-c statement_timeout={int(audience_timeout_s * 1000)}"):
                        plan = plan_campaign(dsn, LAST_DAY, rules)
                except psycopg.errors.QueryCanceled:
                    figures["audience_timed_out_after_s"] = audience_timeout_s
            if plan is None:  # as shipped it did not finish: measure the rest on the workaround's audience
                started = time.perf_counter()
                with _pg_options("-c enable_nestloop=off"):
                    plan = plan_campaign(dsn, LAST_DAY, rules)
                figures["audience_without_nested_loops_s"] = time.perf_counter() - started
            meter.progress("audience")
            campaign_id = plan["campaign_id"]
            with meter.stage("copy"):
                counts = write_copy(dsn, campaign_id, copywriter_from_connection(dsn))
            meter.progress("copy")
            with meter.stage("send"):
                for batch in plan["batches"]["email"]:
                    send_email_batch(dsn, campaign_id, batch, Links(), SECRET)
            meter.progress("send")
            email = next(s for s in summarise(dsn, campaign_id) if s.channel == "email")
            figures |= {
                "audience": plan["audience_size"],
                "segments": sum(counts.values()),
                "llm_calls": len(llm.requests),
                "emails_sent": email.sent,
            }
        figures["emails_received"] = server["messages"]
    meter.close()
    with psycopg.connect(dsn) as conn:
        figures["sales"] = conn.execute("select count(*) from raw.sales").fetchone()[0]
        figures["customers"] = conn.execute("select count(*) from silver.customers").fetchone()[0]
        figures["employees"] = conn.execute("select count(*) from silver.employees").fetchone()[0]
        figures["products"] = conn.execute("select count(*) from silver.products").fetchone()[0]
    figures["seconds"] = {stage: meter.seconds[stage] for stage in STAGES}
    figures["peak_mb"] = {stage: meter.peak_mb[stage] for stage in STAGES}
    figures["load_1min"] = {stage: meter.load_1min[stage] for stage in STAGES}
    figures["total_s"] = sum(figures["seconds"].values())
    return figures


# --- all sizes ---------------------------------------------------------------------------------


def _run_in_child(
    sales: int, days: int, dirty_rate: float, batch_size: int, audience_timeout_s: float
) -> dict:
    """One size in a fresh process (no cache, heap or import carried over from another size)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", "benchmarks.pipeline", "--one-size", str(sales), "--days", str(days),
             "--dirty-rate", str(dirty_rate), "--batch-size", str(batch_size),
             "--audience-timeout", str(audience_timeout_s), "--json", out.name],
            check=True,
        )  # fmt: skip
        return json.loads(Path(out.name).read_text())


def linearity(runs: list[dict]) -> dict:
    """Seconds per million sales per stage at each size, and the growth ratio: cost per sale at
    the largest size over the smallest (1.0 = exactly linear; below 1, fixed costs amortised)."""
    per_million = {
        str(run["sales"]): {
            stage: seconds / (run["sales"] / 1e6)
            for stage, seconds in (run["seconds"] | {"total": run["total_s"]}).items()
        }
        for run in runs
    }
    smallest, largest = str(runs[0]["sales"]), str(runs[-1]["sales"])
    growth = {
        stage: per_million[largest][stage] / per_million[smallest][stage]
        if per_million[smallest][stage]
        else None
        for stage in (*STAGES, "total")
    }
    return {"s_per_million_sales": per_million, "growth": growth, "aim": LINEAR_AIM}


def chart(runs: list[dict], path: Path) -> None:
    """Time per stage versus sales, log-log, with a dotted line of exactly linear growth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [run["sales"] for run in runs]
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    colours = [colour for index, colour in enumerate(plt.get_cmap("tab10").colors) if index != 7]  # no grey
    for index, stage in enumerate((*STAGES, "total")):
        values = [max(run["total_s"] if stage == "total" else run["seconds"][stage], 1e-3) for run in runs]
        style = {"linewidth": 2.5, "color": "black"} if stage == "total" else {"color": colours[index]}
        axes.plot(sizes, values, marker="o", label=stage, **style)
    linear = [runs[0]["total_s"] * size / sizes[0] for size in sizes]
    axes.plot(sizes, linear, linestyle=":", color="grey", label="linear from the smallest total")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("sales")
    axes.set_ylabel("seconds")
    axes.set_title("Pipeline time per stage versus data size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", ncols=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)


def report(figures: dict) -> None:
    runs = figures["runs"]
    growth = figures["linearity"]["growth"]
    head = " | ".join(f"{run['sales']:,} sales" for run in runs)
    lines = [
        f"Pipeline end to end over {runs[0]['days']} days (dimensions proportional); seconds, peak RSS"
        f" (Python + children, not Postgres), and cost per sale at the largest size / at the smallest"
        f" (aim ≤ {LINEAR_AIM})",
        "",
        f"| stage | {head} | s per 1M sales | growth |",
        "| --- |" + " ---: |" * (len(runs) + 2),
    ]
    per_million = figures["linearity"]["s_per_million_sales"]
    for stage in (*STAGES, "total"):
        cells = []
        for run in runs:
            if stage == "total":
                cells.append(f"{run['total_s']:.1f} s")
            elif stage == "audience" and "audience_timed_out_after_s" in run:
                cells.append(
                    f"> {run['seconds'][stage]:.1f} s (**timed out**), {run['peak_mb'][stage]:,.0f} MB"
                )
            else:
                cells.append(f"{run['seconds'][stage]:.1f} s, {run['peak_mb'][stage]:,.0f} MB")
        rate = " → ".join(f"{per_million[str(run['sales'])][stage]:.1f}" for run in runs)
        ratio = growth[stage]
        lines.append(
            f"| {stage} | {' | '.join(cells)} | {rate} | {'' if ratio is None else f'{ratio:.2f}'} |"
        )
    lines += [
        "",
        *(
            f"- {run['sales']:,} sales: {run['customers']:,} customers, {run['employees']:,} employees,"
            f" {run['products']:,} products; {run['records_quarantined']:,} of {run['records_in']:,} records"
            f" quarantined; quality gate {'passed' if run['quality_passed'] else 'FAILED'};"
            f" audience {run['audience']:,}, {run['llm_calls']} LLM calls for {run['segments']} segments,"
            f" {run['emails_sent']:,} e-mails sent"
            for run in runs
        ),
        *(
            f"- {run['sales']:,} sales: the machine's load average (1 min) as each stage ended: "
            + ", ".join(f"{stage} {load:.1f}" for stage, load in run["load_1min"].items())
            for run in runs
            if "load_1min" in run
        ),
        *(
            f"- {run['sales']:,} sales: the audience SQL **did not finish** within its"
            f" {run['audience_timed_out_after_s']:.0f} s statement timeout (so the growth of audience and"
            f" total is a lower bound); with `enable_nestloop=off` the same SQL took"
            f" {run['audience_without_nested_loops_s']:.1f} s, and copy and send ran on that audience"
            for run in runs
            if "audience_timed_out_after_s" in run
        ),
    ]
    publish("pipeline", figures, lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="sales per run")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days the sales spread over")
    parser.add_argument("--dirty-rate", type=float, default=0.0, help="share of records corrupted")
    parser.add_argument("--batch-size", type=int, default=500, help="e-mails per campaign batch")
    parser.add_argument(
        "--audience-timeout", type=float, default=AUDIENCE_TIMEOUT_S, help="seconds the audience SQL may take"
    )
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_size:
        figures = run_size(args.one_size, args.days, args.dirty_rate, args.batch_size, args.audience_timeout)
        Path(args.json).write_text(json.dumps(figures))
        return 0

    runs = [
        _run_in_child(sales, args.days, args.dirty_rate, args.batch_size, args.audience_timeout)
        for sales in sorted(args.sizes)
    ]
    figures = {"stages": list(STAGES), "runs": runs, "linearity": linearity(runs)}
    chart(runs, RESULTS / "stages.png")
    figures["chart"] = "stages.png"
    report(figures)
    ok = all(run["emails_sent"] == run["emails_received"] == run["audience"] for run in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
