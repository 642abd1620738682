"""``rshellctl``: the administrator's tool. ``policy check FILE`` validates and explains a policy."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rshell import __version__
from rshell.doctor.dependencies import dependency_problems
from rshell.errors import ExitStatus, PolicyError, RshellError, UsageError
from rshell.policy.filecheck import check_policy_file
from rshell.policy.imagelabels import image_label_warnings
from rshell.policy.loader import parse_policy, read_policy_text
from rshell.policy.model import ALWAYS_ALLOWED, Policy
from rshell.policy.schema import Problems
from rshell.registry import Registry
from rshell.render.sanitize import sanitize

USAGE = (
    "usage: rshellctl policy check FILE [--python PATH]\n       rshellctl install-user NAME [OPTIONS]\n"
    "       rshellctl doctor [--user NAME] [--json] [OPTIONS]\n       rshellctl status [--socket PATH] [--json]\n"
    "       rshellctl audit [FILE] [--user U] [--verb V] [--since DURATION] [--until TIME | --follow] [--json]\n"
    "       rshellctl audit verify [FILE] [--last] [--expect HASH]\n"
    "       rshellctl requests [--json] | approve ID [--reason TEXT] | deny ID --reason TEXT\n"
    "       rshellctl --version"
)


def policy_check(path: Path, out: list[str], python: Path | None = None) -> int:
    """Every problem with its line; for a valid policy, what each principal may do. ``python``: the
    broker's interpreter, which must import what the listed verbs need (default: this one)."""
    registry = Registry.discover()
    problems = Problems(str(path))
    try:
        check_policy_file(path)
    except PolicyError as error:
        problems.messages.append(f"{path}: {error.message}")
    try:
        text = read_policy_text(path)  # bounded: a FIFO or /dev/zero is a one-line problem, not a hang
    except (OSError, UnicodeDecodeError) as error:
        out.append(f"{path}: cannot read: {error}")
        return ExitStatus.FAILED
    policy = parse_policy(text, path, registry.settings_schemas(), problems)
    if problems.messages:
        out.extend(problems.messages)
        out.append(f"{len(problems.messages)} problem(s): the shell will refuse to start with this policy")
        return ExitStatus.FAILED
    assert policy is not None
    missing = dependency_problems(policy, registry, python or Path(sys.executable))
    if missing:
        out.extend(f"{problem}; fix: {fix}" for problem, fix in missing)
        out.append(f"{len(missing)} problem(s): those verbs fail in the broker until their packages are installed")
        return ExitStatus.FAILED
    lines = explain(policy)
    out.extend([*lines[:-1], *image_label_warnings(policy), lines[-1]])  # the verdict stays the last line
    return ExitStatus.OK


def explain(policy: Policy) -> list[str]:
    lines = [f"{policy.path}: valid", f"engine: {policy.engine_url} (timeout {policy.engine_timeout:g}s)"]
    volume = policy.audit_volume
    lines.append(f"audit log: {policy.audit_log}; state: {policy.state_dir}")
    lines.append(
        f"audit volume: at most {volume.max_bytes} bytes per {volume.per_seconds:g}s per user; records past it are"
        " counted in one summary record (a state change's records are always written)"
    )
    for kind, mapping in (("user", policy.users), ("group", policy.groups)):
        lines += [f"{kind} {name} -> role {role}" for name, role in sorted(mapping.items())]
    for role in policy.roles.values():
        verbs = ", ".join(sorted(role.verbs)) or "(none)"
        lines.append(f"role {role.name}: verbs {verbs} (always: {', '.join(sorted(ALWAYS_ALLOWED))})")
        names = ", ".join(sorted(role.containers.names)) or "(none)"
        selectors = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in role.containers.label_selectors)
        source = f" (label_source: {role.containers.label_source})" if selectors else ""
        lines.append(f"  containers: names {names}; labels {selectors or '(none)'}{source}")
        if role.services.names or role.services.label_selectors:  # Swarm services (rshell.swarm), by their own labels
            shown = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in role.services.label_selectors)
            service_names = ", ".join(sorted(role.services.names)) or "(none)"
            lines.append(f"  services: names {service_names}; labels {shown or '(none)'}")
        for verb, limit in sorted(role.limits.items()):
            lines.append(
                f"  limit: {verb} at most {limit.count} per {limit.per_seconds:g}s per target (each container by ID,"
                f" each bench target; a call without one counts against {verb} as a whole; shared by all callers)"
            )
        if role.approval is not None:
            rule = role.approval
            who = ", ".join([*(f"group {g}" for g in sorted(rule.approver_groups)), *sorted(rule.approver_users)])
            lines.append(
                f"  approval: {', '.join(sorted(rule.verbs))} run only once approved by {who} (never the requester);"
                f" a request lives {rule.ttl:g}s, the caller waits {rule.wait:g}s (then exit 75);"
                f" at most {rule.max_pending} pending per requester, who lists them with the requests verb"
            )
    lines.append("everything not listed is denied")
    return lines


def program(argv: Sequence[str]) -> int:
    words = list(argv)
    if words == ["--version"]:
        print(f"rshellctl {__version__}")
        return ExitStatus.OK
    if len(words) in (3, 5) and words[:2] == ["policy", "check"] and words[3:4] in ([], ["--python"]):
        out: list[str] = []
        status = policy_check(Path(words[2]), out, Path(words[4]) if len(words) == 5 else None)
        print("\n".join(sanitize(line) for line in out))
        return status
    if words[:1] == ["install-user"]:
        from rshell.installuser import install_user, parse_install_options  # noqa: PLC0415

        return install_user(parse_install_options(words[1:]), lambda line: print(f"install-user: {sanitize(line)}"))
    if words[:1] == ["status"]:
        from rshell.ctlstatus import status_program  # noqa: PLC0415

        return status_program(words[1:])
    if words[:1] in (["audit"], ["requests"], ["approve"], ["deny"]):
        return _review(words)
    if words[:1] == ["doctor"]:
        from rshell.doctor.command import doctor_program  # noqa: PLC0415

        return doctor_program(words[1:])
    raise UsageError(USAGE)


def _review(words: list[str]) -> int:
    """``audit`` reads the log; ``requests``, ``approve`` and ``deny`` ask the broker."""
    if words[0] == "audit":
        from rshell.auditlog.command import audit_command  # noqa: PLC0415

        return audit_command(words[1:])
    from rshell.approvals.command import approvals_program  # noqa: PLC0415

    return approvals_program(words)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return program(sys.argv[1:] if argv is None else argv)
    except RshellError as error:
        print(f"rshellctl: {sanitize(error.message)}", file=sys.stderr)
        return error.status
    except Exception as error:  # one line, never a traceback
        print(f"rshellctl: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return ExitStatus.FAILED


if __name__ == "__main__":
    sys.exit(main())
