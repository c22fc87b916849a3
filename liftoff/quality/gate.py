"""Run the quality gate for a logical day: fetch the frames, validate them with Great Expectations,
reconcile the layers record by record (`liftoff/quality/reconcile.py`), keep the findings where
analysts read them, and say whether gold may reach customers.

Great Expectations (core 1.x, not the Airflow provider: see the README) is imported only inside
`validate`, never at DAG parse time: importing it costs seconds.

Findings go to `quality.results` (one row per expectation, failing samples included; a rerun of a
day replaces that day's rows) and to the GX data docs (HTML, one page per validation): GX builds them
in the local GX project (`gx_dir`), and `publish_data_docs` copies the run's pages into the landing
zone (`gx-docs/`), the copy the report links to. The gate runs on whichever worker picks the task,
and that worker's disk is neither the reader's nor, on Astro, kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liftoff import settings, sql_files
from liftoff.quality.suites import SUITES, Suite
from liftoff.warehouse import migrate

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 10  # failing rows kept per expectation
DATA_DOCS_SITE = Path("gx") / "uncommitted" / "data_docs" / "local_site"
DATA_DOCS_INDEX = DATA_DOCS_SITE / "index.html"
# The published data docs: this folder under the landing zone's root (next to `dbt-docs/`).
DATA_DOCS_FOLDER = "gx-docs"


@dataclass(frozen=True)
class Finding:
    """One expectation's verdict on the day."""

    suite: str
    expectation: str
    column: str | None
    success: bool
    observed_value: Any
    unexpected_count: int | None
    failing_samples: list[Any]
    arguments: dict[str, Any]

    def describe(self) -> str:
        what = f"{self.expectation}({self.column})" if self.column else self.expectation
        bounds = {k: v for k, v in self.arguments.items() if k in ("min_value", "max_value", "value_set")}
        detail = f"{self.unexpected_count} failing row(s)" if self.unexpected_count else ""
        if self.observed_value is not None:
            detail = f"observed {self.observed_value}"
        samples = f"; e.g. {_json(self.failing_samples[:3])}" if self.failing_samples else ""
        return f"{self.suite}: {what} {_json(bounds) if bounds else ''} {detail}{samples}".replace("  ", " ")


@dataclass(frozen=True)
class GateReport:
    logical_date: date
    run_id: str
    findings: tuple[Finding, ...]
    data_docs: str | None  # where the data docs are read: the published index's URL

    @property
    def passed(self) -> bool:
        return all(finding.success for finding in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.success]

    @property
    def failed_suites(self) -> list[str]:
        return sorted({finding.suite for finding in self.failures})

    def summary(self) -> str:
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} expectation(s))"
        suites = len({finding.suite for finding in self.findings})
        lines = [
            f"Quality gate for {self.logical_date}: {verdict}; "
            f"{len(self.findings)} expectations in {suites} suites.",
            *(f"  - {failure.describe()}" for failure in self.failures),
        ]
        if self.data_docs:
            lines.append(f"Data docs: {self.data_docs}")
        lines.append(f"Findings: quality.results where logical_date = '{self.logical_date}'")
        return "\n".join(lines)


class QualityGateFailed(Exception):
    """Gold failed its expectations for the day: customer-facing work must not run on it."""

    def __init__(self, report: GateReport) -> None:
        super().__init__(report.summary())
        self.report = report


def gx_dir() -> Path:
    """Where the GX project (its stores and data docs) lives: LIFTOFF_GX_DIR or the state folder."""
    import os

    return Path(os.environ.get("LIFTOFF_GX_DIR", settings.state_dir() / "gx"))


def fetch_frames(dsn: str, day: date) -> dict[str, pd.DataFrame]:
    """Each suite's frame for `day`, by its parameterised query in include/sql/quality/."""
    import pandas as pd
    import psycopg

    frames = {}
    with psycopg.connect(dsn) as conn:
        for suite in SUITES:
            cursor = sql_files.execute(conn, f"quality/{suite.frame}.sql", {"day": day})
            columns = [column.name for column in cursor.description]
            frames[suite.frame] = _decimals_as_floats(pd.DataFrame(cursor.fetchall(), columns=columns))
    return frames


def _decimals_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Postgres numerics arrive as Decimal objects; GX compares bounds on numbers."""
    from decimal import Decimal

    for column in frame.columns:
        if any(isinstance(value, Decimal) for value in frame[column].head(100)):
            frame[column] = frame[column].astype(float)
    return frame


def validate(frames: dict[str, pd.DataFrame], day: date, run_id: str, project_dir: Path) -> GateReport:
    """Validate each suite's frame with Great Expectations; results and data docs in `project_dir`."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_or_update_pandas("quality_frames")
    gx_run = RunIdentifier(run_name=f"{day.isoformat()} {run_id}", run_time=datetime.now(UTC))
    findings: list[Finding] = []
    for suite in SUITES:
        findings.extend(_validate_suite(context, source, suite, frames[suite.frame], gx_run))
    return GateReport(day, run_id, tuple(findings), str(project_dir / DATA_DOCS_INDEX))


def data_docs_url(lake_url: str) -> str:
    """The published data docs' index: `gx-docs/index.html` under the landing zone's root."""
    return f"{lake_url.rstrip('/')}/{DATA_DOCS_FOLDER}/{DATA_DOCS_INDEX.name}"


def publish_data_docs(project_dir: Path, changed_since: float, lake_url: str | None = None) -> str:
    """Copy the data docs pages GX wrote in `project_dir` since `changed_since` (a time.time()),
    and the site's index, to `gx-docs/` under the landing zone; the published index's URL.

    Only what changed: each validation adds its own pages, and pages published by earlier runs (on
    any machine) stay. The whole site the first time (the landing zone has no index yet). The index
    last, so a reader who finds the new index also finds the pages it links to.
    """
    from liftoff.ingest.landing import lake_root, write_whole_file

    lake_url = lake_url or settings.lake_url()
    site = project_dir / DATA_DOCS_SITE
    destination = lake_root(lake_url) / DATA_DOCS_FOLDER
    index = destination / DATA_DOCS_INDEX.name
    first = not index.exists()
    # Coarse file-system clocks: a second of slack never loses a page (copying one twice is harmless).
    changed = [
        path
        for path in sorted(site.rglob("*"))
        if path.is_file()
        and path != site / DATA_DOCS_INDEX.name
        and (first or path.stat().st_mtime >= changed_since - 1)
    ]
    for path in changed:
        write_whole_file(destination / path.relative_to(site).as_posix(), path.read_bytes())
    write_whole_file(index, (site / DATA_DOCS_INDEX.name).read_bytes())
    return data_docs_url(lake_url)


def _validate_suite(
    context: Any, source: Any, suite: Suite, frame: pd.DataFrame, gx_run: Any
) -> list[Finding]:
    import great_expectations as gx

    asset = source.add_dataframe_asset(suite.frame)
    batch = asset.add_batch_definition_whole_dataframe("logical_day")
    expectation_suite = context.suites.add_or_update(
        gx.ExpectationSuite(
            name=suite.name, expectations=suite.expectations(), meta={"notes": suite.description}
        )
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=expectation_suite)
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
    if suite.key_columns:
        result_format["unexpected_index_column_names"] = list(suite.key_columns)
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"quality_gate_{suite.name}",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format=result_format,
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=gx_run)
    findings = []
    for validation in outcome.run_results.values():
        for result in validation.results:
            config = result.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
            details = result.result or {}
            findings.append(
                Finding(
                    suite=suite.name,
                    expectation=config.type,
                    column=kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or None,
                    success=bool(result.success),
                    observed_value=_plain(details.get("observed_value")),
                    unexpected_count=details.get("unexpected_count"),
                    failing_samples=_plain(
                        details.get("partial_unexpected_index_list")
                        or details.get("partial_unexpected_list")
                        or []
                    ),
                    arguments=_plain(kwargs),
                )
            )
    return findings


def store(dsn: str, report: GateReport) -> None:
    """Replace the day's findings in quality.results (one transaction: never half a report)."""
    import psycopg

    migrate.upgrade(dsn)  # quality.results is one of the warehouse's own, migrated tables
    rows = [
        (
            report.logical_date, f.suite, f.expectation, f.column, f.success, _json(f.observed_value),
            f.unexpected_count, _json(f.failing_samples), _json(f.arguments), report.run_id,
        )
        for f in report.findings
    ]  # fmt: skip
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("delete from quality.results where logical_date = %s", (report.logical_date,))
        cursor.executemany(
            "insert into quality.results (logical_date, suite, expectation, column_name, success,"
            " observed_value, unexpected_count, failing_samples, arguments, run_id)"
            " values (%s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb, %s::jsonb, %s)",
            rows,
        )


def run_gate(
    dsn: str,
    day: date,
    run_id: str,
    project_dir: Path | None = None,
    airbyte_until: datetime | None = None,
    *,
    audience: bool = True,
    as_of: date | None = None,
) -> GateReport:
    """Check `day`: its expectation suites, its reconciliation (Airbyte rows extracted from the
    day's midnight, UTC, to `airbyte_until`, open when None) and, with `audience`, the cross-sell
    audience of `day` (liftoff/quality/audience.py); store and return the report (raising is the
    caller's decision)."""
    from liftoff.quality.audience import audience_findings
    from liftoff.quality.reconcile import reconcile

    started = time.time()
    project_dir = project_dir or gx_dir()
    report = validate(fetch_frames(dsn, day), day, run_id, project_dir)
    report = replace(report, data_docs=publish_data_docs(project_dir, started))
    report = replace(report, findings=(*report.findings, *reconcile(dsn, day, airbyte_until, as_of)))
    if audience:
        report = replace(report, findings=(*report.findings, *audience_findings(dsn, day)))
    store(dsn, report)
    return report


def _plain(value: Any) -> Any:
    """Findings as plain JSON-able Python (numpy scalars, dates and Decimals become numbers/text)."""
    return json.loads(_json(value))


def _json(value: Any) -> str:
    def default(item: Any) -> Any:
        if hasattr(item, "item"):  # numpy scalar
            return item.item()
        return str(item)

    return json.dumps(value, default=default, ensure_ascii=False)


def check_days(
    dsn: str, days: Iterable[date], run_id: str, audience_day: date | None = None
) -> list[GateReport]:
    """The gate for every day a transform rebuilt (a backfill certifies each of its days; a run that
    took in a late record checks the late record's day too). Each day reconciles the Airbyte rows
    extracted up to the next checked day, the last one all since (see `reconcile.airbyte_ranges`).
    The audience is certified on `audience_day` (default: the last day): the transform builds the
    audience of its logical date only, which a late record's ripple days may come after."""
    from liftoff.quality.reconcile import airbyte_ranges

    ranges = airbyte_ranges(days)
    if audience_day is None:
        audience_day = max(ranges)
    reports = [
        run_gate(dsn, day, run_id, airbyte_until=until, audience=day == audience_day, as_of=audience_day)
        for day, (_, until) in sorted(ranges.items())
    ]
    return reports


def check_window(dsn: str, since: date, until: date, run_id: str) -> list[GateReport]:
    """The gate for every day from `since` to `until` (see `check_days`)."""
    from datetime import timedelta

    days = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    return check_days(dsn, days, run_id, audience_day=until)


def alert_payload(reports: list[GateReport]) -> dict[str, Any]:
    """What an alert needs: the days, the failed suites, and every report's summary."""
    failed = [report for report in reports if not report.passed]
    return {
        "logical_date": ", ".join(str(report.logical_date) for report in failed)
        or str(reports[-1].logical_date),
        "failed_suites": sorted({suite for report in failed for suite in report.failed_suites}),
        "summary": "\n\n".join(report.summary() for report in reports),
    }
