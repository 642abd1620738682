"""One resource sample of a container, computed from the engine's stats document as the docker CLI does.

The formulas follow docker/cli ``cli/command/container/stats_helpers.go``: ``calculateCPUPercentUnix``
(container CPU delta over system CPU delta, times online CPUs, times 100, from ``cpu_stats`` and
``precpu_stats``), ``calculateMemUsageUnixNoCache`` (usage minus ``total_inactive_file`` on cgroup
v1, minus ``inactive_file`` on cgroup v2), ``calculateMemPercentUnixNoCache``, ``calculateNetwork``
(rx/tx summed over interfaces) and ``calculateBlockIO`` (``io_service_bytes_recursive`` entries
whose op starts with r/R or w/W).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rshell.events import JSONValue
from rshell.units import format_bytes


def sample(raw: Mapping[str, Any], name: str, container_id: str) -> dict[str, JSONValue]:
    """The numbers ``stats`` shows for one container, from one stats document of the engine."""
    memory = _map(raw.get("memory_stats"))
    used = memory_without_cache(memory)
    limit = _int(memory.get("limit"))
    rx, tx = network_bytes(_map(raw.get("networks")))
    read, written = block_bytes(_map(raw.get("blkio_stats")))
    return {
        "name": name,
        "id": container_id[:12],
        "cpu_percent": round(cpu_percent(_map(raw.get("precpu_stats")), _map(raw.get("cpu_stats"))), 2),
        "memory_bytes": used,
        "memory_limit_bytes": limit,
        "memory_percent": round(used / limit * 100.0, 2) if limit else 0.0,
        "net_rx_bytes": rx,
        "net_tx_bytes": tx,
        "block_read_bytes": read,
        "block_write_bytes": written,
        "pids": _int(_map(raw.get("pids_stats")).get("current")),
    }


def cpu_percent(previous: Mapping[str, Any], current: Mapping[str, Any]) -> float:
    usage, before = _map(current.get("cpu_usage")), _map(previous.get("cpu_usage"))
    cpu_delta = _int(usage.get("total_usage")) - _int(before.get("total_usage"))
    system_delta = _int(current.get("system_cpu_usage")) - _int(previous.get("system_cpu_usage"))
    online = _int(current.get("online_cpus")) or len(usage.get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_without_cache(memory: Mapping[str, Any]) -> int:
    usage, stats = _int(memory.get("usage")), _map(memory.get("stats"))
    if "total_inactive_file" in stats and _int(stats["total_inactive_file"]) < usage:  # cgroup v1
        return usage - _int(stats["total_inactive_file"])
    inactive = _int(stats.get("inactive_file"))  # cgroup v2 (0 when absent, as in the CLI)
    return usage - inactive if inactive < usage else usage


def network_bytes(networks: Mapping[str, Any]) -> tuple[int, int]:
    rx = sum(_int(_map(interface).get("rx_bytes")) for interface in networks.values())
    tx = sum(_int(_map(interface).get("tx_bytes")) for interface in networks.values())
    return rx, tx


def block_bytes(blkio: Mapping[str, Any]) -> tuple[int, int]:
    read = written = 0
    for entry in blkio.get("io_service_bytes_recursive") or []:
        op, value = str(_map(entry).get("op") or ""), _int(_map(entry).get("value"))
        if op[:1] in ("r", "R"):
            read += value
        elif op[:1] in ("w", "W"):
            written += value
    return read, written


def table_row(row: Mapping[str, Any]) -> dict[str, JSONValue]:
    """One sample as a human reads it in the table (the JSON document keeps raw numbers)."""
    return {
        "name": row["name"],
        "cpu": f"{row['cpu_percent']:.2f}%",
        "memory": f"{format_bytes(row['memory_bytes'])} / {format_bytes(row['memory_limit_bytes'])}",
        "memory_percent": f"{row['memory_percent']:.2f}%",
        "net": f"{format_bytes(row['net_rx_bytes'])} / {format_bytes(row['net_tx_bytes'])}",
        "block": f"{format_bytes(row['block_read_bytes'])} / {format_bytes(row['block_write_bytes'])}",
        "pids": row["pids"],
    }


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
