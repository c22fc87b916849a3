"""Where every benchmark's figures go: `<name>.json` (machine-readable) and `<name>.md` (the table
it prints), in bench-results/ or LIFTOFF_BENCH_RESULTS (the smoke tests use a temporary folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS = Path(os.environ.get("LIFTOFF_BENCH_RESULTS", Path(__file__).resolve().parents[1] / "bench-results"))


def publish(name: str, figures: dict, table_lines: list[str]) -> None:
    """Write `name`.json and `name`.md, and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    table = "\n".join(table_lines)
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)
