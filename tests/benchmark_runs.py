"""A benchmark run as `make bench` runs it, at a smoke-test size, for the benchmarks' tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from liftoff import settings


def run_benchmark(results: Path, module: str, *args: str, timeout: int = 600) -> tuple[dict[str, Any], str]:
    """`python -m benchmarks.<module> ARGS`, writing into `results` (never bench-results/, which
    holds a real run): its figures (`<module>.json`, or the `--name` given) and what it printed.
    The test fails on any exit but 0, with the end of the benchmark's stderr."""
    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT), "LIFTOFF_BENCH_RESULTS": str(results)}
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    name = args[args.index("--name") + 1] if "--name" in args else module
    return json.loads((results / f"{name}.json").read_text()), done.stdout
