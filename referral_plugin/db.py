"""Database engine and sessions. The caller owns the transaction: `with sessions.begin() as s:`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Executable,
    Integer,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    literal,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


def make_engine(database_url: str, *, commit_to_disk: bool = False, **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3).

    SQLite runs with `synchronous=NORMAL`: in WAL mode a commit survives a crash of the
    process, not always a power loss or an OS crash. `commit_to_disk` makes it FULL (each
    commit waits for the disk), for the webhook edge, which tells the store a delivery is kept.
    PostgreSQL's commits are durable either way (`synchronous_commit=on`)."""
    url = make_url(database_url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        pragmas = _sqlite_pragmas_to_disk if commit_to_disk else _sqlite_pragmas
        event.listen(engine, "connect", pragmas)
        # Let SQLAlchemy, not pysqlite, open transactions, so SAVEPOINTs and BEGIN behave.
        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:  # NullPool (migrations) takes no size arguments
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


# orjson: a well-kept C library, 3-10x faster than the standard library's json. It never
# decides alone what a value means: where it would differ from `json`, `json` does the work.
_DUMP_OPTIONS = (
    orjson.OPT_NON_STR_KEYS  # {1: x} -> {"1": x}, as json.dumps writes it
    | orjson.OPT_PASSTHROUGH_DATETIME  # refused, as json.dumps refuses them
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_LONG_DIGIT_RUN = "0" * 19  # orjson reads integers beyond 64 bits (20+ digits) as floats
_DIGITS_TO_ZEROS = str.maketrans("123456789", "000000000")
_BYTE_DIGITS_TO_ZEROS = bytes.maketrans(b"123456789", b"000000000")


def json_dumps(value: Any) -> str:
    """JSON text of `value`, equal in meaning to `json.dumps(value)` (compact, non-ASCII as
    UTF-8 rather than \\u escapes): orjson, or `json.dumps` for what orjson refuses
    (integers beyond 64 bits; other types, which then raise json's own TypeError)."""
    try:
        return orjson.dumps(value, option=_DUMP_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def json_loads(text: str | bytes | bytearray | memoryview) -> Any:
    """The value `json.loads(text)` reads, or its error: orjson parses it unless it holds a
    run of 19+ digits (a possible integer beyond 64 bits) or orjson refuses it (NaN,
    Infinity, a BOM, UTF-16, lone surrogates, bad UTF-8), then `json.loads` does."""
    if isinstance(text, memoryview):
        text = bytes(text)
    if isinstance(text, str):
        long_run = _LONG_DIGIT_RUN in text.translate(_DIGITS_TO_ZEROS)
    else:
        long_run = _LONG_DIGIT_RUN.encode() in text.translate(_BYTE_DIGITS_TO_ZEROS)
    if not long_run:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _begin_immediate(connection: Connection) -> None:
    """Open SQLite transactions as the single writer; AUTOCOMMIT connections open none (each
    statement is its own transaction), so nothing is left uncommitted when they go back to
    the pool."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, synchronous: str = "NORMAL") -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; "begin" event opens
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()


def _sqlite_pragmas_to_disk(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record, synchronous="FULL")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


class IdAmong(ColumnElement[bool]):
    """`column` is one of the ids in the list parameter `key`: `column = ANY(:key)` (a
    BIGINT[]) on PostgreSQL, so the statement has one text for any number of ids (psycopg
    converts and prepares it once; an IN list is a new text per count, parsed and planned
    again), and an expanding `column IN (...)` elsewhere."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # no "= 1" after it where booleans are integers (SQLite)
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[int], key: str) -> None:
        self.column = column
        self.key = key


def among(column: ColumnElement[Any], values: Iterable[Any], dialect: str) -> ColumnElement[bool]:
    """`column IN values` with one statement text for any number of values on PostgreSQL:
    `column = ANY(:values::BIGINT[])` (or VARCHAR[]), the list bound as one array (see
    `IdAmong`); an IN list elsewhere."""
    values = list(values)
    if dialect != "postgresql":
        return column.in_(values)
    array = ARRAY(_array_element(column))
    return column == any_(literal(values, array))


def _array_element(column: ColumnElement[Any]) -> BigInteger | String:
    if isinstance(column.type, String):
        return String()
    if isinstance(column.type, Integer):
        return BigInteger()
    raise TypeError(f"no array element type for {column}: {column.type!r}")


@compiles(IdAmong)
def _id_in_list(element: IdAmong, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.key, expanding=True)), **kw)


@compiles(IdAmong, "postgresql")
def _id_in_array(element: IdAmong, compiler: SQLCompiler, **kw: Any) -> str:
    ids = bindparam(element.key, type_=ARRAY(BigInteger))
    return compiler.process(element.column == any_(ids), **kw)


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement compiled once for one dialect, run straight on a pooled DB-API
    connection: the SQL text and the bind processing SQLAlchemy would use, without its
    per-execution work (events, caching lookups, result set-up; ~0.25 ms a statement). For a
    hot one-statement path only (the webhook edge's insert): rows come back as the driver
    returns them, and driver errors are the caller's to wrap."""

    sql: str
    keys: tuple[str, ...]  # the parameters in the order the text takes them
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    @classmethod
    def compile(
        cls, statement: Executable, dialect: Dialect, keys: Iterable[str]
    ) -> DriverStatement:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        order = tuple(compiled.positiontup if compiled.positional else compiled.binds)
        processors = tuple(
            compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect) for key in order
        )
        return cls(compiled.string, order, processors, compiled.positional)

    def rows(self, dbapi_connection: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with `values` (by key) and fetch every row the statement returns."""
        bound = {
            key: values[key] if process is None else process(values[key])
            for key, process in zip(self.keys, self.processors, strict=True)
        }
        params = [bound[key] for key in self.keys] if self.positional else bound
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()
