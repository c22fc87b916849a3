"""The documentation site builds with `mkdocs build --strict` (any warning fails: a broken link, a
page missing from the nav, a failing generator), and its generated pages describe the real code.

The README is the front door, not the manual: it stays at most 200 lines and every relative link
in it resolves, so it can neither grow back into a design document nor point at moved pages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from markdown.extensions.toc import slugify

from liftoff import settings
from liftoff.contracts import CRM_CONTRACTS

README_MAX_LINES = 200
# Every page of the site, generated ones included: each must be in the nav and built.
SITE_PAGES = (
    "getting-started",
    "architecture",
    "ingest",
    "data-quality",
    "transform",
    "campaign",
    "dashboard",
    "analysts",
    "runbook",
    "crm-api",
    "api-reference",
    "data-dictionary",
    "development",
    "testing",
    "benchmarks",
    "security",
)


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
    for page in SITE_PAGES:
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


def markdown_links(text: str) -> list[str]:
    """Targets of the inline (`[text](target)`) and reference (`[id]: target`) links outside code.

    Fenced blocks and code spans are dropped first: the README's diagram and shell examples hold
    brackets that are not links."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)", prose)
    reference = re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, flags=re.MULTILINE)
    return inline + reference


def heading_anchors(markdown_file: Path) -> set[str]:
    """The anchors MkDocs gives the headings of a page (the `toc` extension's slugs)."""
    text = re.sub(r"^```.*?^```", "", markdown_file.read_text(), flags=re.DOTALL | re.MULTILINE)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.MULTILINE)
    return {slugify(heading.replace("`", ""), "-") for heading in headings}


def test_the_readme_stays_short():
    lines = (settings.PROJECT_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the detail into a docs/ page "
        "and link it"
    )


def test_every_relative_link_in_the_readme_resolves():
    root = settings.PROJECT_ROOT
    links = markdown_links((root / "README.md").read_text())
    links = [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]  # not http:, mailto:
    # The README links into the documentation; none found means the parsing, not the README, broke.
    assert any(link.startswith("docs/") for link in links), links
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (root / path) if path else root / "README.md"
        if not target.is_file():
            broken.append(f"{link}: no file {path}")
        elif anchor and target.suffix == ".md" and anchor not in heading_anchors(target):
            broken.append(f"{link}: {path or 'README.md'} has no heading with the anchor #{anchor}")
    assert not broken, "broken links in README.md:\n" + "\n".join(broken)


def test_the_link_parsing_skips_code_and_reads_anchors_as_mkdocs_does(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Targets: only `prod` writes\n\n```\n# not a heading\n```\n")
    assert heading_anchors(page) == {"title", "targets-only-prod-writes"}
    text = (
        "[a](docs/a.md) and [b](docs/b.md#part 'title'), `[c](not/a/link.md)`, <https://x.org>\n"
        "```\n[d](in/a/fence.md)\n```\n[e]: docs/e.md\n[f](https://example.com)\n"
    )
    assert markdown_links(text) == ["docs/a.md", "docs/b.md#part", "https://example.com", "docs/e.md"]
