"""The official MCP clients from npm (TypeScript SDK, Inspector CLI), installed once into a cache.

``python -m tests.mcp.nodeclients`` (scripts/test runs it when node is present) runs ``npm ci`` for
tests/mcp/node into ``$RSHELL_MCP_NODE_CACHE`` (default ``~/.cache/rshell-test/mcp-node``) unless
the cache already holds that package-lock.json; the tests call the same function.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).parent / "node"
LOCK = NODE_DIR / "package-lock.json"


#: what the TypeScript SDK reports for a progress notification the server sent before it read the
#: client's cancel: a race inherent in cancelling (the client forgets the token at once), not a fault
CANCEL_RACE = "Received a progress notification for an unknown token"


def protocol_errors(report: dict[str, object]) -> list[str]:
    """The SDK's complaints about server messages, but for the cancel race."""
    errors = report.get("protocolErrors")
    assert isinstance(errors, list)
    return [str(error) for error in errors if not str(error).startswith(CANCEL_RACE)]


class NodeMissing(Exception):
    """No ``node`` or ``npm`` on this machine."""


def cache_dir() -> Path:
    configured = os.environ.get("RSHELL_MCP_NODE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "rshell-test" / "mcp-node"


def ensure_clients() -> Path:
    """The directory whose node_modules holds the pinned clients (installed now if it does not)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise NodeMissing("node and npm are not installed: the official MCP clients need Node.js 20 or later")
    target = cache_dir()
    stamp = target / ".package-lock.sha256"
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and (target / "node_modules").is_dir():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(NODE_DIR / name, target / name)
    command = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    subprocess.run(command, cwd=target, check=True, timeout=600)
    stamp.write_text(wanted)
    return target


def inspector_cli(clients: Path) -> list[str]:
    return [
        "node",
        str(clients / "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"),
        "--cli",
    ]


def versions(clients: Path) -> dict[str, str]:
    import json

    found = {}
    for package in ("sdk", "inspector"):
        manifest = clients / "node_modules/@modelcontextprotocol" / package / "package.json"
        found[f"@modelcontextprotocol/{package}"] = json.loads(manifest.read_text())["version"]
    return found


if __name__ == "__main__":
    try:
        print(f"MCP clients in {ensure_clients()}: {versions(ensure_clients())}")
    except NodeMissing as missing:
        print(f"skipping the MCP client install: {missing}")
