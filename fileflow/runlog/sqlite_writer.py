"""A build's writes to a SQLite run log, with the standard library's sqlite3. Layer 3.

The statements are fileflow.runlog.writes'; this module only supplies the transaction:
BEGIN IMMEDIATE (a writer takes the write lock up front, since a deferred transaction
that upgrades from read to write can fail with "locked" without waiting for the busy
timeout), the same connection settings as the SQL half, and a whole-transaction retry
when another process holds the lock beyond the busy timeout.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from fileflow.runlog.records import RunLogError, configure_sqlite, sqlite_journal_mode
from fileflow.runlog.writes import RETRIES, RETRY_BASE, CursorWrites, T, busy_error, next_delay, run_log_error

__all__ = ["SqliteWriter"]


class SqliteWriter(CursorWrites):
    """Writes to the SQLite log at `path`, whose schema is current (fileflow.runlog.log sees to
    that through the SQL half before the first write)."""

    is_sqlite = True
    paramstyle = "named"

    def __init__(self, path: str, busy_timeout: float):
        self.where = path
        self.busy_timeout = busy_timeout
        self.journal_mode = sqlite_journal_mode(path)
        self._conn: sqlite3.Connection | None = None
        self._prepared: dict[str, str] = {}
        self._data_version: int | None = None  # SQLite's, when the connection opened

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(self.where, timeout=self.busy_timeout,
                                       isolation_level=None)   # we BEGIN ourselves
            except sqlite3.Error as exc:
                raise RunLogError(f"cannot open the run log {self.where}: {exc}") from None
            try:
                configure_sqlite(conn, self.busy_timeout, self.journal_mode)
                self._data_version = _data_version(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def others_committed(self) -> bool:
        """Whether another connection, of this process or another, committed to the log
        since this writer's connection opened (SQLite's `data_version`, which this
        connection's own commits leave alone); True when that cannot be told (not open)."""
        if self._conn is None or self._data_version is None:
            return True
        try:
            return _data_version(self._conn) != self._data_version
        except sqlite3.Error:
            return True

    def _transaction(self, fn: Callable[[Any], T], write: bool = True) -> T:
        delay = RETRY_BASE
        attempt = 0
        began = time.monotonic()
        while True:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    cursor = conn.cursor()
                    try:
                        result = fn(cursor)
                    finally:
                        cursor.close()
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                if "locked" in message or "busy" in message:
                    if attempt < RETRIES:
                        attempt += 1
                        delay = next_delay(delay)
                        continue
                    raise busy_error(self.where, time.monotonic() - began) from None
                raise run_log_error(self.where, str(exc), True) from None
            except sqlite3.Error as exc:
                raise run_log_error(self.where, str(exc), True) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._data_version = None


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
