"""gold.campaign_summaries, the dbt model (include/dbt/models/gold/campaign), built on demand.

The campaign's summarise step builds just this model (and its tests: the counts must add up)
with dbt's Python entry point, in the task's own process, as Cosmos's watcher runs the transform:
a plain function rather than a Cosmos operator, so the DAG, the runner's tests and the benchmarks
build it the same way. The model also builds with every transform, so lineage and docs cover it.
"""

from __future__ import annotations

import logging
import tempfile

from liftoff import settings
from liftoff.transform import dbt_runner

log = logging.getLogger(__name__)

MODEL = "gold_campaign_summaries"
# The dashboard's views over the campaign's copy and send log (cheap: views), built here too so
# the Campanhas page can read them even where no transform has run since they were added.
VIEWS = ("gold_campaign_copy", "gold_campaign_messages")


class SummariesBuildFailed(RuntimeError):
    """dbt could not build gold.campaign_summaries (or one of its tests failed)."""


def build_summaries(dsn: str) -> None:
    """`dbt build --select gold_campaign_summaries` against the warehouse at `dsn`."""
    project = str(settings.DBT_PROJECT_DIR)
    with tempfile.TemporaryDirectory(prefix="campaign-summaries-") as scratch:
        arguments = [
            "--quiet", "build", "--select", MODEL, *VIEWS, "--exclude-resource-type", "unit_test",
            "--project-dir", project, "--profiles-dir", project, "--target", settings.DBT_TARGET,
            "--target-path", scratch, "--log-path", scratch,
        ]  # fmt: skip
        result = dbt_runner.invoke(dsn, arguments)
    if not result.success:
        raise SummariesBuildFailed(f"dbt build of {MODEL} failed: {result.exception or result.result}")
    log.info("built gold.campaign_summaries")
