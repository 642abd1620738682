"""``rshellctl audit ...``: which file to read (FILE, else the policy's audit_log) and which subcommand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rshell.auditlog.actions import audit_program
from rshell.auditlog.verify import verify_program
from rshell.defaults import DEFAULT_POLICY_PATH


def policy_audit_log(policy: str | None) -> Path:
    """The audit_log of the policy at ``policy`` (default /etc/rshell/policy.yaml); PolicyError if invalid."""
    from rshell.policy.loader import load_policy  # noqa: PLC0415 - only when no FILE is given
    from rshell.registry import Registry  # noqa: PLC0415

    return load_policy(Path(policy or DEFAULT_POLICY_PATH), Registry.discover().settings_schemas()).audit_log


def audit_command(argv: Sequence[str], write: Callable[[str], object] = print) -> int:
    if argv[:1] == ["verify"]:
        return verify_program(argv[1:], policy_audit_log, write)
    return audit_program(argv, policy_audit_log, write)
