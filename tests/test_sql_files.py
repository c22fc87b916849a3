"""The one SQL loader (liftoff.sql_files): psycopg's `%(name)s` placeholders, checked on load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from liftoff import settings, sql_files


@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An include/sql of the test's own (the loader caches by name: cleared around the test)."""
    monkeypatch.setattr(settings, "SQL_DIR", tmp_path)
    sql_files.read.cache_clear()
    yield tmp_path
    sql_files.read.cache_clear()


def test_a_missing_parameter_is_named(sql_dir: Path) -> None:
    (sql_dir / "q.sql").write_text("select %(day)s::date, %(campaign_id)s::text, %(day)s::date\n")
    assert sql_files.placeholders("q.sql") == {"day", "campaign_id"}
    with pytest.raises(KeyError, match=r"q\.sql: no value for the placeholder\(s\) campaign_id"):
        sql_files.query("q.sql", {"day": "2026-06-01"})
    # More values than placeholders is fine (one dict serves several files).
    assert sql_files.query("q.sql", {"day": 1, "campaign_id": 2, "other": 3}).startswith("select")


def test_a_lone_percent_is_refused_with_its_line(sql_dir: Path) -> None:
    (sql_dir / "modulo.sql").write_text("-- remainder\nselect 10 % 3, %(day)s\n")
    with pytest.raises(ValueError, match=r"modulo.sql:2: a lone % .* write %%"):
        sql_files.read("modulo.sql")


def test_an_escaped_percent_reaches_postgres_as_one(sql_dir: Path, warehouse: str) -> None:
    (sql_dir / "like.sql").write_text("select 10 %% 3, 'a%%b' like %(pattern)s\n")
    with psycopg.connect(warehouse) as conn:
        row = sql_files.execute(conn, "like.sql", {"pattern": "a%"}).fetchone()
    assert row == (1, True)


def test_compose_fills_placeholders_with_sql_pieces(sql_dir: Path) -> None:
    (sql_dir / "role.sql").write_text("grant select on %(table)s to %(role)s; select 10 %% 3, '{x}'\n")
    with pytest.raises(KeyError, match="role"):
        sql_files.compose("role.sql", table=sql.Identifier("t"))
    composed = sql_files.compose("role.sql", table=sql.Identifier("gold", "t"), role=sql.Identifier("a b"))
    assert composed.as_string(None) == 'grant select on "gold"."t" to "a b"; select 10 % 3, \'{x}\'\n'


def test_every_file_of_include_sql_loads() -> None:
    """No shipped file holds a lone % (each would fail only when its query first runs)."""
    for path in sorted(settings.SQL_DIR.rglob("*.sql")):
        assert sql_files.read(str(path.relative_to(settings.SQL_DIR))), path
