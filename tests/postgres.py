"""Postgres for the tests: `CASEWORKER_TEST_DATABASE_URL` (dev.py sets it: the local server when it answers,
else a throwaway cluster it starts), and a fresh schema per test so tests never see each other's rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

TEST_DATABASE_URL = os.environ.get("CASEWORKER_TEST_DATABASE_URL")
SKIP_REASON = (
    "CASEWORKER_TEST_DATABASE_URL is unset: `python3 dev.py test` sets it (a local PostgreSQL, or a throwaway "
    "cluster it starts); export it to run the Postgres half of the storage tests"
)


def with_search_path(url: str, schema: str) -> str:
    """The URL with `options=-csearch_path=<schema>`: every connection of the pool lands in that schema."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A database URL whose connections use a new, empty schema (dropped afterwards)."""
    if not TEST_DATABASE_URL:
        pytest.skip(SKIP_REASON)
    import psycopg

    schema = f"cw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(TEST_DATABASE_URL, schema)
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
