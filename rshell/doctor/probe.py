"""Run as the checked account, with the launcher's own Python: what that account can actually do.

``rshellctl doctor`` starts ``PYTHON -I -m rshell.doctor.probe REQUEST`` under the account's uid and
groups. Asking the kernel as that user (open, connect, access) is exact where reasoning about
mode bits is not (ACLs, supplementary groups, sticky directories).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def probe(request: dict[str, Any]) -> dict[str, Any]:
    from rshell.codeguard import running_paths, unsafe_for_me  # noqa: PLC0415

    home = [Path(path) for path in request["home_paths"]]
    with_parents = {p: None for path in home for p in (path, *path.parents)}
    return {
        "uid": os.getuid(),
        "launcher": unsafe_for_me(running_paths(str(request["launcher"]))),
        "home": unsafe_for_me(with_parents),
        "docker": _connects(request["docker_socket"]),
        "broker": _broker_status(request["socket"]),
        "socket_access": socket_access(Path(request["socket"])),
    }


def socket_access(path: Path) -> list[dict[str, Any]]:
    """Each directory on the way to the socket (may this user pass it?) and the socket (read and write?)."""
    steps: list[dict[str, Any]] = [
        {"path": str(parent), "kind": "directory", "ok": os.access(parent, os.X_OK)}
        for parent in reversed(path.parents)
    ]
    return [*steps, {"path": str(path), "kind": "socket", "ok": os.access(path, os.R_OK | os.W_OK)}]


def _connects(path: str) -> str | None:
    """None when this user cannot connect to the unix socket at ``path``, else what happened."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError:
            return None
    return "connected"


def _broker_status(path: str) -> dict[str, Any]:
    from rshell.client import BrokerBackend  # noqa: PLC0415
    from rshell.errors import RshellError  # noqa: PLC0415
    from rshell.protocol import ProtocolError  # noqa: PLC0415
    from rshell.render.streams import Streams  # noqa: PLC0415

    try:
        return {"answer": BrokerBackend(path, "c", Streams()).status()}
    except RshellError as error:
        return {"error": error.message}
    except (ProtocolError, OSError) as error:
        return {"error": str(error)}


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(json.dumps(probe(json.loads(words[0]))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
