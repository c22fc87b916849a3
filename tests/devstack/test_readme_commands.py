"""Every command the README shows works as written.

The README is where a new user starts, so its commands are extracted from it (fenced `bash` blocks
and inline `make …` spans), never copied into this file: a command renamed in the Makefile, a
target that lost a variable, or a step that needs something the README does not say fails here.

How each command is proven, from cheapest to dearest:
- every `make` command resolves as written (`make -n`: the target exists, its prerequisites
  resolve, required variables are given);
- the quick ones run for real on the test stack (RUN_FOR_REAL): `make warehouse-url`,
  `make crm-api-key NAME=…`, `make shell` with commands on its standard input, `make dbt-manifest`;
- the long ones run for real elsewhere, named in PROVEN_ELSEWHERE (`make test` is CI itself,
  `make demo` by tests/devstack/test_demo.py on the same code path, `make up`/`make down` by
  tests/devstack/test_dev_stack.py), and this test checks those files still do;
- `astro dev start` needs Docker, which these machines cannot run: its inputs are checked instead.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_INLINE_MAKE = re.compile(r"`(make [^`]+)`")
_PLACEHOLDER = re.compile(r"<[^>]+>")

# Commands too long for a test of their own, and the file that runs them for real.
PROVEN_ELSEWHERE = {
    "make test": (".ci/run", "make test"),
    "make demo": ("tests/devstack/test_demo.py", 'demo.main(["--days", "2"])'),
    "make up": ("tests/devstack/test_dev_stack.py", '"make", "--no-print-directory", "up"'),
    "make down": ("tests/devstack/test_dev_stack.py", '"make", "--no-print-directory", "down"'),
    "make test-fast": ("tests/conftest.py", "LIFTOFF_TEST_TIER"),
    "make lint": ("Makefile", "test: lint test-tools pytest"),
    "make docs": ("tests/devstack/test_docs_site.py", "mkdocs"),
    "make bench": ("tests/devstack/test_benchmarks.py", "benchmarks"),
    "make clean": ("Makefile", "clean: down"),
}
# Quick enough to run for real here (each has its test below), by target.
RUN_FOR_REAL = {"make warehouse-url", "make crm-api-key", "make shell", "make dbt-manifest"}
# Docker-only: checked by what they read, since Docker cannot run here.
DOCKER_ONLY = {"astro dev start"}


def readme_commands(text: str) -> list[str]:
    """The shell commands the README shows: each line of a bash/sh block (comments and `&&`
    chains split), then each inline `make …` span, in order, without repeats."""
    commands: list[str] = []
    language = None
    for line in text.splitlines():
        fence = _FENCE.match(line.strip())
        if fence:
            language = None if language is not None else fence.group(1)
            continue
        if language in ("bash", "sh", "shell"):
            code = line.split(" #", 1)[0].strip()
            commands.extend(part.strip() for part in code.split("&&") if part.strip())
    commands.extend(match.strip() for match in _INLINE_MAKE.findall(text))
    return list(dict.fromkeys(commands))


def _runnable(command: str) -> list[str]:
    """argv for a README command, its placeholders (`NAME=<who>`) given a value."""
    return shlex.split(_PLACEHOLDER.sub("readme-check", command))


def _make(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, **kwargs)


COMMANDS = readme_commands(README.read_text())
MAKE_COMMANDS = [c for c in COMMANDS if c.startswith("make ")]


def test_the_readme_shows_the_two_commands_and_every_one_is_accounted_for():
    assert {"make demo", "make test"} <= set(COMMANDS), COMMANDS
    unknown = [
        command
        for command in COMMANDS
        if not command.startswith("make ") and command not in DOCKER_ONLY and not command.startswith("cp ")
    ]
    assert not unknown, f"README commands this test does not know how to check: {unknown}"
    unproven = [
        command
        for command in MAKE_COMMANDS
        if command not in PROVEN_ELSEWHERE and " ".join(command.split()[:2]) not in RUN_FOR_REAL
    ]
    assert not unproven, f"README make commands neither run here nor elsewhere: {unproven}"


@pytest.mark.parametrize("command", MAKE_COMMANDS)
def test_every_make_command_in_the_readme_resolves_as_written(command):
    result = _make(["make", "-n", *_runnable(command)[1:]])
    assert result.returncode == 0, f"`{command}` does not resolve: {result.stderr.strip()}"


@pytest.mark.parametrize("command", [c for c in MAKE_COMMANDS if c in PROVEN_ELSEWHERE])
def test_the_long_commands_are_run_for_real_by_the_file_that_says_so(command):
    path, evidence = PROVEN_ELSEWHERE[command]
    assert evidence in (ROOT / path).read_text(), f"{path} no longer runs `{command}` ({evidence!r})"


def test_the_astro_path_has_what_it_reads():
    """`cp .env.example .env && astro dev start`: Docker cannot run here, so its inputs are checked."""
    assert any(c.startswith("cp .env.example .env") for c in COMMANDS)
    for name in (".env.example", "Dockerfile", "requirements.txt", "packages.txt", "airflow_settings.yaml"):
        assert (ROOT / name).is_file(), f"the Astro path needs {name}"


def test_make_warehouse_url_prints_a_url_that_connects(warehouse):
    import psycopg

    result = _make(["make", "--no-print-directory", "warehouse-url"])
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip().splitlines()[-1]
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_make_crm_api_key_mints_a_key_the_api_accepts(crm_database):
    command = next(c for c in MAKE_COMMANDS if c.startswith("make crm-api-key"))
    result = _make(["make", "--no-print-directory", *_runnable(command)[1:]])
    assert result.returncode == 0, result.stderr
    key = re.search(r"\b(lok_[A-Za-z0-9_\-]+)", result.stdout)
    assert key, f"no key printed: {result.stdout!r}"
    from fastapi.testclient import TestClient

    from liftoff.apps.crm_api.app import create_app

    with TestClient(create_app(crm_database)) as client:
        assert client.get("/customers", headers={"X-API-Key": key.group(1)}).status_code == 200
        assert client.get("/customers", headers={"X-API-Key": key.group(1) + "x"}).status_code == 401


@pytest.mark.parametrize("login_shell", ["/bin/bash", None])
def test_make_shell_gives_the_stack_environment_with_the_venv_on_path(warehouse, login_shell):
    """What the README's runbook does in `make shell`: run `airflow` and the project's modules.
    With and without $SHELL set (CI runners and `env -i` have none)."""
    env = {k: v for k, v in os.environ.items() if k != "SHELL"}
    env["PATH"] = "/usr/bin:/bin"  # the venv is not on the user's PATH
    if login_shell:
        env["SHELL"] = login_shell
    script = "command -v airflow && python -c 'import psycopg, liftoff; print(\"imports ok\")'\n"
    result = _make(["make", "--no-print-directory", "shell"], input=script, env=env)
    assert result.returncode == 0, result.stderr
    assert "/.venv/bin/airflow" in result.stdout, result.stdout
    assert "imports ok" in result.stdout, result.stdout


def test_make_dbt_manifest_is_up_to_date_after_it_runs():
    result = _make(["make", "--no-print-directory", "dbt-manifest"])
    assert result.returncode == 0, result.stderr
    assert (ROOT / "include" / "dbt" / "target" / "manifest.json").is_file()
    assert _make(["make", "-q", "dbt-manifest"]).returncode == 0, "a second run would rebuild it"
