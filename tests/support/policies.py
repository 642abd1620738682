"""The policy most tests share: one role for root over the session's visible containers."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.engine import EngineContainers
from tests.support.shell import write_policy

#: the session containers a role sees by name (``labelled`` is visible by its label instead)
VISIBLE_NAMES = ("app", "ansi", "healthy", "stopped", "lines")


def role_policy(
    policy_dir: Path, containers: EngineContainers, verbs: str, *, role: str = "operator", bench_url: str = ""
) -> Path:
    """root holds ``role``: the given verbs, the visible containers, restart 3 per 10m, logs capped at 2000."""
    names = ", ".join(containers.name(suffix) for suffix in VISIBLE_NAMES)
    bench = f"bench: {{targets: {{gpu1: {{url: '{bench_url}', models: [llama3.2:1b]}}}}}}" if bench_url else ""
    body = f"""\
        principals:
          users:
            root: {role}
        roles:
          {role}:
            verbs: [{verbs}]
            containers:
              names: [{names}]
              labels:
                - rshell.visible: "true"
            limits:
              restart: {{count: 3, per: 10m}}
            settings:
              logs: {{max_lines: 2000}}
              restart: {{stop_timeout: 1s, max_timeout: 30s}}
              {bench}
        """
    return write_policy(policy_dir, textwrap.dedent(body))
