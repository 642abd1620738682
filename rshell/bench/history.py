"""Bench results kept in SQLite in the state directory; each result is written in one transaction."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rshell.bench.lock import state_directory
from rshell.errors import VerbFailed
from rshell.events import Column, JSONValue, Result, TableView

HISTORY_FILE = "bench.sqlite3"
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        target TEXT NOT NULL,
        partial INTEGER NOT NULL,
        document TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS run_models (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        PRIMARY KEY (run_id, model)
    )""",
)
HISTORY_TABLE = TableView(
    "runs",
    (
        Column("run_id", "RUN"),
        Column("started_at", "STARTED"),
        Column("target", "TARGET"),
        Column("headline", "RESULTS"),
        Column("status", "STATUS"),
    ),
    empty="(no bench runs recorded)",
)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored bench run, as ``bench history`` lists it."""

    run_id: str
    started_at: str
    target: str
    partial: bool
    document: Mapping[str, Any]

    def to_json(self) -> dict[str, JSONValue]:
        models = self.document.get("models") or []
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "target": self.target,
            "models": [str(model.get("name")) for model in models],
            "partial": self.partial,
            "status": "partial" if self.partial else "complete",
            "headline": "; ".join(_headlines(models)) or "-",
        }


class BenchHistory:
    """The history database at ``state_dir / bench.sqlite3``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / HISTORY_FILE

    def save(self, document: Mapping[str, JSONValue]) -> None:
        """Store one result (its run id, target, models and whole JSON document) atomically."""
        state_directory(self.path.parent)
        models = [str(model["name"]) for model in _models(document)]
        with self._connection() as connection, connection:
            connection.execute(
                "INSERT OR REPLACE INTO runs (run_id, started_at, target, partial, document) VALUES (?, ?, ?, ?, ?)",
                (
                    document["run_id"],
                    document["started_at"],
                    document["target"],
                    bool(document["partial"]),
                    json.dumps(document),
                ),
            )
            connection.executemany(
                "INSERT OR IGNORE INTO run_models (run_id, model) VALUES (?, ?)",
                [(document["run_id"], model) for model in models],
            )

    def recent(self, model: str | None, limit: int) -> list[HistoryEntry]:
        """The newest runs first, only those that benchmarked ``model`` when it is given."""
        if not self.path.exists():
            return []
        query = "SELECT run_id, started_at, target, partial, document FROM runs"
        parameters: tuple[object, ...] = ()
        if model is not None:
            query += " WHERE run_id IN (SELECT run_id FROM run_models WHERE model = ?)"
            parameters = (model,)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._connection() as connection:
            rows = connection.execute(query, (*parameters, limit)).fetchall()
        return [HistoryEntry(row[0], row[1], row[2], bool(row[3]), json.loads(row[4])) for row in rows]

    def load(self, run_id: str) -> Mapping[str, Any]:
        """The stored document of one run; VerbFailed naming the id when there is none."""
        row = None
        if self.path.exists():
            with self._connection() as connection:
                row = connection.execute("SELECT document FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise VerbFailed(f"bench: no recorded run {run_id!r} (see 'bench history')")
        document: Mapping[str, Any] = json.loads(row[0])
        return document

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=5.0)
        except sqlite3.Error as error:
            raise VerbFailed(f"bench: cannot open the history at {self.path}: {error}") from None
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            for statement in SCHEMA:
                connection.execute(statement)
            yield connection
        except sqlite3.Error as error:
            raise VerbFailed(f"bench: history database error: {error}") from None
        finally:
            connection.close()


def history_result(entries: list[HistoryEntry]) -> Result:
    rows: list[JSONValue] = [entry.to_json() for entry in entries]
    return Result({"runs": rows}, HISTORY_TABLE)


def _models(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    models = document.get("models")
    return [model for model in models if isinstance(model, Mapping)] if isinstance(models, list) else []


def _headlines(models: list[Mapping[str, Any]]) -> Iterator[str]:
    for model in models:
        for test in model.get("tests") or []:
            metric = "prompt_tps" if str(test.get("test", "")).startswith("pp") else "gen_tps"
            stats = test.get(metric) or {}
            if isinstance(stats.get("mean"), (int, float)):
                yield f"{model.get('name')} {test.get('test')} {stats['mean']:.1f} tok/s"
