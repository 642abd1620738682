"""Bench results kept in SQLite in the state directory; each result is written in one transaction."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rshell.bench.lock import state_directory
from rshell.bench.policy import normalize_model, target_policy
from rshell.errors import VerbFailed
from rshell.events import Column, JSONValue, LinesView, Result, TableView

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
            "models": list(dict.fromkeys(str(model.get("name")) for model in models)),
            "partial": self.partial,
            "status": "partial" if self.partial else "complete",
            "headline": "; ".join(_headlines(models)) or "-",
        }


@dataclass(frozen=True)
class HistoryScope:
    """The stored runs one caller may see: those on its own bench targets whose every model it may
    benchmark there. Every other run is, to this caller, a run that does not exist."""

    #: target name -> the local models (normalised) the caller may benchmark on it
    targets: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, settings: Mapping[str, object]) -> HistoryScope:
        """The scope the caller's bench settings (``roles.R.settings.bench``) give."""
        raw = settings.get("targets")
        names = [str(name) for name in raw] if isinstance(raw, Mapping) else []
        policies = (target_policy(settings, name) for name in names)
        return cls({target.name: frozenset(map(normalize_model, target.local_models)) for target in policies})

    def admits(self, target: str, models: Iterable[str]) -> bool:
        allowed = self.targets.get(target)
        return allowed is not None and all(normalize_model(model) in allowed for model in models)

    def admits_document(self, document: Mapping[str, Any]) -> bool:
        return self.admits(str(document.get("target")), [str(model.get("name")) for model in _models(document)])


class BenchHistory:
    """The history database at ``state_dir / bench.sqlite3``; reads see only what a scope admits."""

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

    def recent(self, model: str | None, limit: int, scope: HistoryScope) -> list[HistoryEntry]:
        """The newest runs ``scope`` admits first, only those that benchmarked ``model`` when it is given."""
        if not self.path.exists() or not scope.targets:
            return []
        marks = ", ".join("?" for _ in scope.targets)
        query = f"SELECT run_id, started_at, target, partial, document FROM runs WHERE target IN ({marks})"  # noqa: S608 - only placeholders
        parameters: tuple[object, ...] = tuple(scope.targets)
        if model is not None:
            query += " AND run_id IN (SELECT run_id FROM run_models WHERE model = ?)"
            parameters = (*parameters, model)
        query += " ORDER BY started_at DESC, rowid DESC"
        entries: list[HistoryEntry] = []
        with self._connection() as connection:
            for row in connection.execute(query, parameters):
                entry = HistoryEntry(row[0], row[1], row[2], bool(row[3]), json.loads(row[4]))
                if scope.admits_document(entry.document):
                    entries.append(entry)
                if len(entries) >= limit:
                    break
        return entries

    def load(self, run_id: str, scope: HistoryScope) -> Mapping[str, Any]:
        """The stored document of one run ``scope`` admits; for a run it does not admit, the same
        VerbFailed as for an id that was never recorded."""
        row = None
        if self.path.exists():
            with self._connection() as connection:
                row = connection.execute("SELECT document FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        document: Mapping[str, Any] = json.loads(row[0]) if row is not None else {}
        if row is None or not scope.admits_document(document):
            raise VerbFailed(f"bench: no recorded run {run_id!r} (see 'bench history')")
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


def history_result(entries: list[HistoryEntry], form: str = "table") -> Result:
    rows: list[JSONValue] = [entry.to_json() for entry in entries]
    if form != "table":
        from rshell.bench.formats import history_lines  # noqa: PLC0415 - only when asked for

        lines: list[JSONValue] = list(history_lines([entry.document for entry in entries], form))
        return Result({"runs": rows, "formatted": lines}, LinesView("formatted"))
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
                setup = f" [{model['setup_label']}]" if model.get("setup_label") else ""
                yield f"{model.get('name')}{setup} {test.get('test')} {stats['mean']:.1f} tok/s"
