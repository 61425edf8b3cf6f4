"""Database engine and sessions. The caller owns the transaction: `with sessions.begin() as s:`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3)."""
    url = make_url(database_url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; "begin" event opens
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


@compiles(IdAmong)
def _id_in_list(element: IdAmong, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.key, expanding=True)), **kw)


@compiles(IdAmong, "postgresql")
def _id_in_array(element: IdAmong, compiler: SQLCompiler, **kw: Any) -> str:
    ids = bindparam(element.key, type_=ARRAY(BigInteger))
    return compiler.process(element.column == any_(ids), **kw)
