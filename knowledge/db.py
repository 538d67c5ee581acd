"""The relational store behind one interface: SQLite files (the embedded default) or PostgreSQL (by URL).

Every module writes SQL once, in the dialect both engines share, with `?` placeholders; the Postgres
adapter turns them into psycopg's `%s`. What differs is kept here:
- transactions: SQLite takes the write lock up front (`BEGIN IMMEDIATE`: writers queue, no lost update);
  Postgres runs READ COMMITTED, so a read that decides a write locks its rows (`db.for_update`), and the
  job queue claims with `FOR UPDATE SKIP LOCKED` so workers on many hosts never wait for each other; a
  decision over rows it can't lock (the surge window: rows not yet written) takes a named advisory lock;
- DDL: `INTEGER PRIMARY KEY AUTOINCREMENT` is `BIGSERIAL PRIMARY KEY`, `BLOB` is `BYTEA`, `REAL` is
  `DOUBLE PRECISION`;
- rows: both give rows readable by column name and position (`row["state"]`, `row[0]`, `dict(row)`).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgres"]


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """A connection inside one transaction (sqlite3.Connection satisfies it; so does the Postgres adapter)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Database(Protocol):
    dialect: Dialect
    #: " FOR UPDATE" on Postgres, "" on SQLite (whose transactions hold the write lock already).
    for_update: str
    #: " FOR UPDATE SKIP LOCKED" on Postgres: a queue row another worker is claiming is simply skipped.
    skip_locked: str

    def transaction(self) -> Any: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executescript(self, ddl: str) -> None: ...

    def close(self) -> None: ...


def table_columns(conn: Tx, table: str) -> set[str]:
    """The table's column names, on either engine (read from an empty result's description)."""
    cursor: Any = conn.execute(f"SELECT * FROM {table} LIMIT 0")
    return {column[0] for column in cursor.description}


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (Postgres advisory locks take a bigint)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def named_lock(conn: Tx, dialect: Dialect, name: str) -> None:
    """Serialise transactions on `name` until this one ends, across processes and hosts: Postgres takes a
    transaction-level advisory lock; SQLite's transaction holds the database's write lock already."""
    if dialect == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def open_database(url: str | None, sqlite_path: Path) -> Database:
    """Postgres for a `postgresql://` URL, else the SQLite file at `sqlite_path`."""
    if url and is_postgres_url(url):
        return PostgresDatabase(url)
    if url:
        raise ValueError(f"CASEWORKER_DATABASE_URL must start with postgresql:// (got {url.split(':', 1)[0]}:...)")
    return SqliteDatabase(sqlite_path)


class SqliteDatabase:
    """One connection per process and data dir (WAL), shared by threads under a lock; writes serialised."""

    dialect: Dialect = "sqlite"
    for_update = ""
    skip_locked = ""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.url = f"sqlite:///{path}"
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchone()

    def executescript(self, ddl: str) -> None:
        with self.lock:
            self.conn.executescript(ddl)

    def close(self) -> None:
        self.conn.close()


# --- Postgres ----------------------------------------------------------------------------------------
_DDL = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
)


def postgres_ddl(ddl: str) -> str:
    for pattern, replacement in _DDL:
        ddl = pattern.sub(replacement, ddl)
    return ddl


def postgres_sql(sql: str) -> str:
    """`?` placeholders become `%s` and a literal `%` becomes `%%`, outside quoted strings (one linear pass)."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
            out.append(char)
        elif char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


class Row:
    """A result row readable by column name or position, and convertible with dict(), like sqlite3.Row."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _row_factory(cursor: Any) -> Any:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(index, values)


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(postgres_sql(sql), tuple(params))


class PostgresDatabase:
    """A psycopg 3 connection pool; each transaction (and each single query) takes its own connection."""

    dialect: Dialect = "postgres"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, max_size: int = 10) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, kwargs={"row_factory": _row_factory}, open=True, name="caseworker"
        )
        self.pool.wait(timeout=30)

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.pool.connection() as conn:
            return conn.execute(postgres_sql(sql), tuple(params)).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.pool.connection() as conn:
            return conn.execute(postgres_sql(sql), tuple(params)).fetchone()

    def executescript(self, ddl: str) -> None:
        statements = [s.strip() for s in postgres_ddl(ddl).split(";") if s.strip()]
        with self.pool.connection() as conn, conn.transaction():
            # DDL from several processes starting at once: one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(7310)")
            for statement in statements:
                conn.execute(statement)

    def close(self) -> None:
        self.pool.close()
