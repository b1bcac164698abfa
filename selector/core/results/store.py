"""The results database: every probe result, grouped in sessions, in one SQLite file.

One probe ends, one transaction writes it (the result, its rows, its loss curve and its
events), so killing the app mid-run loses at most the probe in flight. The file lives in
the user's data directory (``data_dir() / "results.sqlite"``) in WAL mode; every call opens
its own short-lived connection, so a GUI thread can read while a worker thread writes.

The schema is versioned with ``PRAGMA user_version`` and upgraded by the ``MIGRATIONS``
below, in order; a database written by a newer selector is refused with a clear message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from selector.core.errors import SelectorError
from selector.core.results.record import ProbeResult

DB_NAME = "results.sqlite"

MIGRATIONS: list[str] = [
    # 1: sessions, results, their rows, loss curves and events.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        hardware_json TEXT,
        notes TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE results (
        id TEXT PRIMARY KEY,
        session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        model_id TEXT NOT NULL,
        device TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        duration_s REAL,
        weights TEXT,
        record_json TEXT NOT NULL
    );
    CREATE INDEX results_by_session ON results(session_id, ended_at);
    CREATE INDEX results_by_model ON results(model_id, kind, device, ended_at);
    CREATE TABLE result_rows (
        result_id TEXT NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        batch_size INTEGER,
        dtype TEXT,
        row_json TEXT NOT NULL,
        PRIMARY KEY (result_id, idx)
    );
    CREATE TABLE loss_points (
        result_id TEXT NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        loss REAL,
        point_json TEXT NOT NULL,
        PRIMARY KEY (result_id, step)
    );
    CREATE TABLE events (
        result_id TEXT NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        event_json TEXT NOT NULL,
        PRIMARY KEY (result_id, seq)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

SESSION_OPEN = "open"
"""Probes may still be added (a run in progress, or one the GUI can resume)."""
SESSION_CLOSED = "closed"
"""The run finished; its results stay."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Session:
    """A run that groups several probes (one ``selector bench`` call, one GUI queue)."""

    id: str
    name: str = ""
    created_at: str = ""
    """ISO 8601, UTC."""
    updated_at: str = ""
    status: str = SESSION_OPEN
    """``open`` or ``closed``."""
    hardware: dict[str, Any] | None = None
    """``HardwareProfile.to_dict()`` of the machine the session ran on."""
    notes: str = ""
    result_count: int = 0
    """How many results it holds (filled by the queries)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Session":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ResultStore:
    """The SQLite store. ``ResultStore()`` opens (and creates or upgrades) the default file."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            from selector.core.paths import data_dir

            path = data_dir() / DB_NAME
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # ------------------------------------------------------------ connection
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose ``with`` block is one transaction (committed or rolled back)."""
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as err:
            raise SelectorError(f"cannot open the results database {self.path}: {err}") from err
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:
                yield conn
        except sqlite3.DatabaseError as err:
            raise SelectorError(f"results database {self.path}: {err}") from err
        finally:
            conn.close()

    def _migrate(self) -> None:
        version = self._use_wal()
        if version > SCHEMA_VERSION:
            raise SelectorError(
                f"the results database {self.path} has schema version {version}, newer than "
                f"this selector understands ({SCHEMA_VERSION}); update selector"
            )
        while version < SCHEMA_VERSION:
            with self._connect() as conn:
                # The write lock first, then the version again: of several selectors opening a
                # new file at once, one migrates and the others wait (busy timeout), then skip.
                conn.execute("BEGIN IMMEDIATE")  # DDL too: a migration applies whole or not at all
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    break
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            version += 1

    def _use_wal(self, wait_s: float = 30.0) -> int:
        """Put the file in WAL mode (kept in the file) and return its schema version.

        Switching to WAL needs the file to itself, and SQLite answers "database is locked" at
        once rather than wait out the busy timeout, so a selector that opens a new file while
        another does retries for up to ``wait_s`` seconds.
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with self._connect() as conn:
                    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                    if str(mode).lower() != "wal":
                        conn.execute("PRAGMA journal_mode = WAL")
                    return conn.execute("PRAGMA user_version").fetchone()[0]
            except SelectorError as err:
                cause = err.__cause__
                if not (isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)
                        and time.monotonic() < deadline):
                    raise
            time.sleep(0.02)

    @property
    def schema_version(self) -> int:
        with self._connect() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # --------------------------------------------------------------- sessions
    def create_session(self, name: str = "", hardware: dict[str, Any] | None = None,
                       notes: str = "") -> Session:
        now = _now()
        session = Session(uuid.uuid4().hex[:12], name, now, now, SESSION_OPEN, hardware, notes)
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO sessions (id, name, created_at, updated_at, status, hardware_json, notes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session.id, name, now, now, SESSION_OPEN,
                 json.dumps(hardware) if hardware is not None else None, notes),
            )
        return session

    def get_session(self, session_id: str) -> Session:
        """The session with this id, or a unique id prefix; ``SelectorError`` if none."""
        with self._connect() as conn:
            rows = conn.execute(
                _SESSION_QUERY + " WHERE s.id = ? OR s.id LIKE ? GROUP BY s.id",
                (session_id, session_id + "%"),
            ).fetchall()
        exact = [r for r in rows if r["id"] == session_id]
        if exact or len(rows) == 1:
            return _session(exact[0] if exact else rows[0])
        if not rows:
            raise SelectorError(f"no session {session_id!r} in {self.path}")
        raise SelectorError(f"session id {session_id!r} is ambiguous: " + ", ".join(r["id"] for r in rows))

    def list_sessions(self, limit: int | None = None) -> list[Session]:
        """Sessions, newest first, with their result counts."""
        sql = _SESSION_QUERY + " GROUP BY s.id ORDER BY s.created_at DESC, s.rowid DESC"
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._connect() as conn:
            return [_session(r) for r in conn.execute(sql, params)]

    def set_session_status(self, session_id: str, status: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?",
                         (status, _now(), session_id))

    def rename_session(self, session_id: str, name: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE sessions SET name = ?, updated_at = ? WHERE id = ?",
                         (name, _now(), session_id))

    def discard_session(self, session_id: str) -> int:
        """Delete a session and all its results; returns how many results went."""
        with self._connect() as conn:
            count = conn.execute("SELECT COUNT(*) FROM results WHERE session_id = ?",
                                 (session_id,)).fetchone()[0]
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return count

    # ---------------------------------------------------------------- results
    def save_result(self, result: ProbeResult) -> None:
        """Write one result, its rows, loss curve and events in a single transaction.

        Saving a result with an existing id replaces it.
        """
        record = result.to_dict()
        rows = record.pop("rows")
        loss = record.pop("loss_curve")
        events = record.pop("events")
        with self._connect() as conn:
            conn.execute("DELETE FROM results WHERE id = ?", (result.id,))
            conn.execute(
                "INSERT INTO results (id, session_id, kind, model_id, device, status, started_at,"
                " ended_at, duration_s, weights, record_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (result.id, result.session_id, result.kind, result.model_id, result.device,
                 result.status, result.started_at, result.ended_at, result.duration_s,
                 result.weights, json.dumps(record)),
            )
            conn.executemany(
                "INSERT INTO result_rows (result_id, idx, batch_size, dtype, row_json) VALUES (?,?,?,?,?)",
                [(result.id, i, r.get("batch_size") or r.get("batch_size_used"), r.get("dtype"),
                  json.dumps(r)) for i, r in enumerate(rows)],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO loss_points (result_id, step, loss, point_json) VALUES (?,?,?,?)",
                [(result.id, int(p.get("step", i)), p.get("loss"), json.dumps(p))
                 for i, p in enumerate(loss)],
            )
            conn.executemany(
                "INSERT INTO events (result_id, seq, type, event_json) VALUES (?,?,?,?)",
                [(result.id, i, e.get("type", ""), json.dumps(e)) for i, e in enumerate(events)],
            )
            if result.session_id:
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?",
                             (_now(), result.session_id))

    def get_result(self, result_id: str, *, with_events: bool = True) -> ProbeResult:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM results WHERE id = ?", (result_id,)).fetchone()
            if row is None:
                raise SelectorError(f"no probe result {result_id!r} in {self.path}")
            return self._assemble(conn, row, with_events)

    def session_results(self, session_id: str, *, with_events: bool = False) -> list[ProbeResult]:
        """The results of one session, in the order they ended."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM results WHERE session_id = ? ORDER BY ended_at, rowid", (session_id,)
            ).fetchall()
            return [self._assemble(conn, r, with_events) for r in rows]

    def session_models(self, session_id: str) -> list[str]:
        """The models a session probed, in the order their first probe ended (a cheap query)."""
        with self._connect() as conn:
            rows = conn.execute("SELECT model_id FROM results WHERE session_id = ? GROUP BY model_id"
                                " ORDER BY MIN(ended_at), MIN(rowid)", (session_id,)).fetchall()
        return [r[0] for r in rows]

    def latest_results(self, *, kind: str | None = None, device: str | None = None,
                       status: str | None = "finished", model_ids: list[str] | None = None
                       ) -> list[ProbeResult]:
        """The newest result per (model, kind, device), optionally filtered.

        ``status=None`` considers every end; by default only finished probes count.
        """
        where, params = [], []
        for column, value in (("kind", kind), ("device", device), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if model_ids:
            where.append(f"model_id IN ({','.join('?' * len(model_ids))})")
            params.extend(model_ids)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sql = (
            f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY model_id, kind, device"
            f" ORDER BY ended_at DESC, rowid DESC) AS rank FROM results{clause})"
            f" WHERE rank = 1 ORDER BY model_id, kind, device"
        )
        with self._connect() as conn:
            return [self._assemble(conn, r, False) for r in conn.execute(sql, params).fetchall()]

    def delete_result(self, result_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM results WHERE id = ?", (result_id,))

    def _assemble(self, conn: sqlite3.Connection, row: sqlite3.Row, with_events: bool) -> ProbeResult:
        data = json.loads(row["record_json"])
        rid = row["id"]
        data["rows"] = [json.loads(r[0]) for r in conn.execute(
            "SELECT row_json FROM result_rows WHERE result_id = ? ORDER BY idx", (rid,))]
        data["loss_curve"] = [json.loads(r[0]) for r in conn.execute(
            "SELECT point_json FROM loss_points WHERE result_id = ? ORDER BY step", (rid,))]
        data["events"] = [json.loads(r[0]) for r in conn.execute(
            "SELECT event_json FROM events WHERE result_id = ? ORDER BY seq", (rid,))] if with_events else []
        data["session_id"] = row["session_id"]
        return ProbeResult.from_dict(data)


_SESSION_QUERY = (
    "SELECT s.*, COUNT(r.id) AS result_count FROM sessions s LEFT JOIN results r ON r.session_id = s.id"
)


def _session(row: sqlite3.Row) -> Session:
    hardware = json.loads(row["hardware_json"]) if row["hardware_json"] else None
    return Session(row["id"], row["name"], row["created_at"], row["updated_at"], row["status"],
                   hardware, row["notes"], row["result_count"])
