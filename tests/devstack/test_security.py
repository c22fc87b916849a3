"""Security checks on the repository itself: no secret is tracked in git.

(The rest of the security story is tested where it lives: the dashboard's read-only role in
tests/apps/dashboard/test_dashboard_role.py, parameterised SQL by ruff's bandit rules in `make lint`,
the CRM API's authentication in tests/apps/test_crm_api.py.)
"""

from __future__ import annotations

import re
import subprocess

import pytest

from liftoff import settings

# Shapes of real credentials: private keys, AWS access keys, OpenAI/Groq keys, Telegram bot tokens,
# Slack tokens, and URLs with a password in them.
SECRET_SHAPES = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "OpenAI-style API key": re.compile(r"\b(?:sk|gsk)-[A-Za-z0-9_-]{24,}\b"),
    "Telegram bot token": re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b"),
    "Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),
    # Placeholder passwords the tests use on purpose (closed ports, example hosts) are not secrets.
    "password in a URL": re.compile(
        r"\b[a-z][a-z0-9+]*://[^/\s:@'\"{}$]+:(?!(?:nothing|secret|sample|password|changeme)@)[^/\s:@'\"{}$<>]{6,}@"
    ),
}


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=settings.PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in listed.stdout.split("\0") if name]


@pytest.fixture(scope="module")
def files() -> list[str]:
    names = tracked_files()
    assert "README.md" in names  # the listing works (a fresh clone has git)
    return names


def test_no_local_state_or_environment_file_is_tracked(files):
    forbidden = [
        name
        for name in files
        if name.startswith(".liftoff/") or name == ".env" or name.endswith((".password", "secrets.json"))
    ]
    assert forbidden == []


def test_no_tracked_file_holds_a_credential(files):
    found = []
    for name in files:
        path = settings.PROJECT_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        found += [f"{name}: {kind}" for kind, shape in SECRET_SHAPES.items() if shape.search(text)]
    assert found == []


def test_the_secret_shapes_catch_what_they_are_for():
    # Assembled at run time, so that this file itself holds nothing of those shapes.
    samples = {
        "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
        "AWS access key": "aws_access_key_id = " + "AKIA" + "ABCDEFGHIJKLMNOP",
        "OpenAI-style API key": "OPENAI_API_KEY=" + "sk-" + "abcdefghijklmnopqrstuvwxyz123456",
        "Telegram bot token": "123456789" + ":" + "AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0",
        "Slack token": "xoxb" + "-1234567890-abcdef",
        "password in a URL": "postgresql://liftoff:" + "s3cr3tpass" + "@db:5432/warehouse",
    }
    assert {kind for kind, text in samples.items() if SECRET_SHAPES[kind].search(text)} == set(samples)
