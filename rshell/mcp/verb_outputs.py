"""Output schemas of inspect, stats, start, stop, requests and the ollama model verbs (joined into outputs.SUCCESS)."""

from __future__ import annotations

from typing import Any

STRING, INTEGER, NUMBER, BOOLEAN = ({"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"})
NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
NULLABLE_NUMBER = {"anyOf": [{"type": "number"}, {"type": "null"}]}
OBJECT: dict[str, Any] = {"type": "object"}
STRINGS = {"type": "array", "items": STRING}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


STATS_ROW = _object(
    {
        "name": STRING,
        "id": STRING,
        "cpu_percent": NUMBER,
        "memory_bytes": INTEGER,
        "memory_limit_bytes": INTEGER,
        "memory_percent": NUMBER,
        "net_rx_bytes": INTEGER,
        "net_tx_bytes": INTEGER,
        "block_read_bytes": INTEGER,
        "block_write_bytes": INTEGER,
        "pids": INTEGER,
    },
    ["name", "cpu_percent", "memory_bytes", "memory_limit_bytes"],
)
STATS_SAMPLE = _object({"sample": INTEGER, "containers": {"type": "array", "items": STATS_ROW}}, ["containers"])

INSPECT = _object(
    {
        "name": STRING,
        "id": STRING,
        "image": STRING,
        "image_id": STRING,
        "digest": NULLABLE_STRING,
        "created": STRING,
        "state": _object(
            {
                "status": STRING,
                "exit_code": INTEGER,
                "oom_killed": BOOLEAN,
                "restart_count": INTEGER,
                "started_at": STRING,
                "finished_at": STRING,
            },
            ["status", "exit_code"],
        ),
        "health": {"anyOf": [OBJECT, {"type": "null"}]},
        "restart_policy": OBJECT,
        "ports": STRINGS,
        "networks": STRINGS,
        "mounts": {"type": "array", "items": _object({"destination": STRING, "type": STRING}, ["destination"])},
        "labels": {"type": "object", "additionalProperties": STRING},
        "limits": OBJECT,
        "untrusted": STRINGS,
        "env_keys": STRINGS,
        "entrypoint": STRINGS,
        "command": STRINGS,
    },
    ["name", "id", "image", "state", "mounts", "labels"],
)

REQUEST_ROW = _object(
    {
        "id": STRING,
        "verb": STRING,
        "target": STRING,
        "state": {"enum": ["pending", "approved", "denied", "expired", "ran"]},
        "reason": STRING,
        "decided_by": NULLABLE_STRING,
        "decision_reason": NULLABLE_STRING,
        "created": NULLABLE_NUMBER,
        "expires": NULLABLE_NUMBER,
        "expires_in": STRING,
    },
    ["id", "verb", "target", "state", "reason", "decided_by", "expires"],
)

MODEL_ROW = _object({"name": STRING, "installed": BOOLEAN, "loaded": BOOLEAN}, ["name", "installed", "loaded"])

VERB_OUTPUTS: dict[str, dict[str, Any]] = {
    "inspect": INSPECT,
    "stats": {"anyOf": [STATS_SAMPLE, _object({"records": {"type": "array", "items": STATS_SAMPLE}}, ["records"])]},
    "start": _object(
        {
            "container": STRING,
            "id": STRING,
            "state": STRING,
            "health": NULLABLE_STRING,
            "already_running": BOOLEAN,
            "seconds": NUMBER,
        },
        ["container", "state"],
    ),
    "stop": _object(
        {
            "container": STRING,
            "id": STRING,
            "state": STRING,
            "exit_code": {"anyOf": [INTEGER, {"type": "null"}]},
            "already_stopped": BOOLEAN,
            "seconds": NUMBER,
        },
        ["container", "state"],
    ),
    "requests": _object({"requests": {"type": "array", "items": REQUEST_ROW}}, ["requests"]),
    "models": _object({"target": STRING, "models": {"type": "array", "items": MODEL_ROW}}, ["target", "models"]),
    "load": _object({"target": STRING, "model": STRING, "state": STRING, "seconds": NUMBER}, ["target", "model"]),
    "unload": _object({"target": STRING, "model": STRING, "state": STRING}, ["target", "model"]),
    "pull": _object(
        {"target": STRING, "model": STRING, "status": STRING, "digest": NULLABLE_STRING, "size_bytes": INTEGER},
        ["target", "model", "status"],
    ),
}
