"""The documentation site builds with `mkdocs build --strict` (any warning fails: a broken link, a
page missing from the nav, a failing generator), and its generated pages describe the real code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from liftoff import settings
from liftoff.contracts import CRM_CONTRACTS


def test_the_site_builds_strictly_with_its_generated_pages(tmp_path: Path):
    site = tmp_path / "site"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mkdocs")), "build", "--strict", "--site-dir", str(site)],
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in ("getting-started", "architecture", "runbook", "crm-api", "api-reference", "data-dictionary"):
        assert (site / page / "index.html").exists(), page
    dictionary = (site / "data-dictionary" / "index.html").read_text()
    # From the dbt manifest: relations with their enforced contracts; from the contracts: the rules.
    assert "gold.daily_sales" in dictionary
    assert "contract enforced" in dictionary
    assert "is not a valid e-mail address" in dictionary
    assert "differs from unit_price × quantity" in dictionary
    spec = json.loads((site / "openapi.json").read_text())
    assert {f"/{entity.replace('_', '-')}" for entity in CRM_CONTRACTS} <= set(spec["paths"])
    reference = (site / "api-reference" / "index.html").read_text()
    assert "POST /sales" in reference
    assert "X-API-Key" in reference
    assert 'class="mermaid"' in (site / "architecture" / "index.html").read_text()
