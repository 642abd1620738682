"""The redacted container view ``inspect`` shows: each field copied by name from an allow-list.

Nothing here copies a mapping of the engine's document wholesale: a field the engine adds later
(or one that carries secrets, as ``Config.Env``, ``Args`` and mount sources do) is not shown
until it is named here. Environment *values* are never read at all.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from rshell.events import JSONValue

#: docker keeps the last five probes (daemon/health.go maxLogEntries); each output is cut to this
MAX_PROBE_OUTPUT = 1024
#: fields whose text whoever runs the container chose: data to show or quote, never instructions to follow
UNTRUSTED_FIELDS = ("labels", "health.probes[].output")


def redacted_view(
    details: Mapping[str, Any], name: str, digest: str | None, settings: Mapping[str, object]
) -> dict[str, JSONValue]:
    """The JSON document of ``inspect``: allow-listed fields, and the optional ones the policy allows."""
    config = _map(details.get("Config"))
    host = _map(details.get("HostConfig"))
    network = _map(details.get("NetworkSettings"))
    data: dict[str, JSONValue] = {
        "name": name,
        "id": str(details.get("Id", ""))[:12],
        "image": _text(config.get("Image")),
        "image_id": _text(details.get("Image")),
        "digest": digest,
        "created": _text(details.get("Created")),
        "state": _state(details),
        "health": _health(_map(details.get("State")).get("Health")),
        "restart_policy": _restart_policy(_map(host.get("RestartPolicy"))),
        "ports": _ports(_map(network.get("Ports"))),
        "networks": sorted(str(key) for key in _map(network.get("Networks"))),
        "mounts": _mounts(details.get("Mounts"), sources=settings.get("show_mount_sources") is True),
        "labels": _labels(_map(config.get("Labels")), _patterns(settings.get("hide_labels"))),
        "limits": _limits(host),
        "untrusted": list(UNTRUSTED_FIELDS),
    }
    if settings.get("show_env_keys") is True:
        data["env_keys"] = sorted({str(item).split("=", 1)[0] for item in _list(config.get("Env"))})
    if settings.get("show_command") is True:
        data["entrypoint"] = [str(item) for item in _list(config.get("Entrypoint"))]
        data["command"] = [str(item) for item in _list(config.get("Cmd"))]
    return data


def _state(details: Mapping[str, Any]) -> dict[str, JSONValue]:
    state = _map(details.get("State"))
    return {
        "status": _text(state.get("Status")),
        "exit_code": _int(state.get("ExitCode")),
        "oom_killed": state.get("OOMKilled") is True,
        "restart_count": _int(details.get("RestartCount")),
        "started_at": _text(state.get("StartedAt")),
        "finished_at": _text(state.get("FinishedAt")),
    }


def _health(raw: object) -> dict[str, JSONValue] | None:
    health = _map(raw)
    if not health:
        return None
    probes: list[JSONValue] = [
        {
            "start": _text(_map(probe).get("Start")),
            "end": _text(_map(probe).get("End")),
            "exit_code": _int(_map(probe).get("ExitCode")),
            "output": _text(_map(probe).get("Output"))[:MAX_PROBE_OUTPUT],
        }
        for probe in _list(health.get("Log"))
    ]
    return {
        "status": _text(health.get("Status")),
        "failing_streak": _int(health.get("FailingStreak")),
        "probes": probes,
    }


def _restart_policy(policy: Mapping[str, Any]) -> dict[str, JSONValue]:
    return {"name": _text(policy.get("Name")) or "no", "maximum_retry_count": _int(policy.get("MaximumRetryCount"))}


def _ports(ports: Mapping[str, Any]) -> list[JSONValue]:
    shown: list[JSONValue] = []
    for private, bindings in sorted(ports.items()):
        for binding in _list(bindings) or [None]:
            if binding is None:
                shown.append(str(private))
            else:
                address = _text(_map(binding).get("HostIp"))
                shown.append(f"{address}:{_text(_map(binding).get('HostPort'))}->{private}")
    return shown


def _mounts(raw: object, *, sources: bool) -> list[JSONValue]:
    mounts: list[JSONValue] = []
    for mount in (_map(item) for item in _list(raw)):
        shown: dict[str, JSONValue] = {
            "destination": _text(mount.get("Destination")),
            "type": _text(mount.get("Type")),
            "read_only": mount.get("RW") is False,
        }
        if sources:
            shown["source"] = _text(mount.get("Name") or mount.get("Source"))
        mounts.append(shown)
    return mounts


def _labels(labels: Mapping[str, Any], hidden: Sequence[str]) -> dict[str, JSONValue]:
    return {
        str(key): _text(value)
        for key, value in sorted(labels.items())
        if not any(fnmatch.fnmatchcase(str(key), pattern) for pattern in hidden)
    }


def _limits(host: Mapping[str, Any]) -> dict[str, JSONValue]:
    nano_cpus = _int(host.get("NanoCpus"))
    return {
        "memory_bytes": _int(host.get("Memory")) or None,
        "memory_swap_bytes": _int(host.get("MemorySwap")) or None,
        "cpus": nano_cpus / 1e9 if nano_cpus else None,
        "cpu_shares": _int(host.get("CpuShares")) or None,
        "cpuset_cpus": _text(host.get("CpusetCpus")) or None,
        "pids_limit": _int(host.get("PidsLimit")) or None,
    }


def inspect_lines(data: Mapping[str, Any]) -> list[str]:
    """How a human reads the document (the renderer sanitises every line)."""
    state, limits = _map(data.get("state")), _map(data.get("limits"))
    lines = [
        f"name:           {data['name']} ({data['id']})",
        f"image:          {data['image']} {data['digest'] or data['image_id']}",
        f"created:        {data['created']}",
        f"state:          {state.get('status')} exit {state.get('exit_code')}, restarts {state.get('restart_count')}"
        f"{', OOM-killed' if state.get('oom_killed') else ''}",
        f"started:        {state.get('started_at')}  finished: {state.get('finished_at')}",
        f"restart policy: {_map(data.get('restart_policy')).get('name')}",
        f"ports:          {', '.join(map(str, data['ports'])) or '-'}",
        f"networks:       {', '.join(map(str, data['networks'])) or '-'}",
    ]
    health = _map(data.get("health"))
    if health:
        lines.append(f"health:         {health.get('status')} (failing streak {health.get('failing_streak')})")
        for probe in (_map(item) for item in _list(health["probes"])):
            output = " / ".join(str(probe.get("output") or "").splitlines()) or "-"
            lines.append(f"  probe {probe.get('end')} exit {probe.get('exit_code')}: {output}")
    for mount in (_map(item) for item in _list(data.get("mounts"))):
        source = f" from {mount['source']}" if "source" in mount else ""
        read_only = ", ro" if mount["read_only"] else ""
        lines.append(f"mount:          {mount['destination']} ({mount['type']}{read_only}){source}")
    lines += [f"label:          {key}={value}" for key, value in _map(data.get("labels")).items()]
    lines.append("limits:         " + (", ".join(f"{k} {v}" for k, v in limits.items() if v is not None) or "none"))
    if "env_keys" in data:
        lines.append(f"env keys:       {', '.join(data['env_keys']) or '-'}")
    if "command" in data:
        lines.append(f"command:        {' '.join([*data['entrypoint'], *data['command']])}")
    return lines


def _patterns(value: object) -> list[str]:
    return [str(item) for item in _list(value)]


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
