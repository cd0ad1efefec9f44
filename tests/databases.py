"""Empty index databases for tests: a SQLite file, or a PostgreSQL schema of its own.

PostgreSQL is the server at TEST_PG_URL (default: the local one with trust auth, database
``test``); its tests skip, saying so, when no server answers, and fail instead when
TEST_REQUIRE_PG is set (CI). The variables are not OPENVNA_* ones: those are settings.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_PG_DSN = PG_URL.replace("postgresql+psycopg://", "postgresql://")
POSTGRES = pytest.param("postgresql", marks=pytest.mark.postgres)
ENGINES = ["sqlite", POSTGRES]


@functools.cache
def pg_problem() -> str | None:
    """None when PostgreSQL answers, else why not (asked once per test process)."""
    try:
        psycopg.connect(_PG_DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()[:120]}"
    return None


def require_pg() -> None:
    """Skip, saying why, when PostgreSQL does not answer; fail instead under TEST_REQUIRE_PG."""
    problem = pg_problem()
    if problem:
        if os.environ.get("TEST_REQUIRE_PG"):
            pytest.fail(problem)
        pytest.skip(problem)


@contextlib.contextmanager
def database_url(engine: str, directory: Path) -> Iterator[str]:
    """The URL of an empty index database on ``engine``, removed afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{directory / 'index.sqlite'}"
        return
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
