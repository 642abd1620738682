"""``rshellctl``: the administrator's tool. ``policy check FILE`` validates and explains a policy."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rshell import __version__
from rshell.errors import ExitStatus, PolicyError, RshellError, UsageError
from rshell.policy.filecheck import check_policy_file
from rshell.policy.loader import parse_policy
from rshell.policy.model import ALWAYS_ALLOWED, Policy
from rshell.policy.schema import Problems
from rshell.registry import Registry
from rshell.render.sanitize import sanitize

USAGE = (
    "usage: rshellctl policy check FILE\n       rshellctl install-user NAME [OPTIONS]\n"
    "       rshellctl doctor [--user NAME] [--json] [OPTIONS]\n       rshellctl status [--socket PATH] [--json]\n"
    "       rshellctl --version"
)


def policy_check(path: Path, out: list[str]) -> int:
    """Every problem with its line; for a valid policy, what each principal may do."""
    registry = Registry.discover()
    problems = Problems(str(path))
    try:
        check_policy_file(path)
    except PolicyError as error:
        problems.messages.append(f"{path}: {error.message}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        out.append(f"{path}: cannot read: {error}")
        return ExitStatus.FAILED
    policy = parse_policy(text, path, registry.settings_schemas(), problems)
    if problems.messages:
        out.extend(problems.messages)
        out.append(f"{len(problems.messages)} problem(s): the shell will refuse to start with this policy")
        return ExitStatus.FAILED
    assert policy is not None
    out.extend(explain(policy))
    return ExitStatus.OK


def explain(policy: Policy) -> list[str]:
    lines = [f"{policy.path}: valid", f"engine: {policy.engine_url} (timeout {policy.engine_timeout:g}s)"]
    lines.append(f"audit log: {policy.audit_log}; state: {policy.state_dir}")
    for kind, mapping in (("user", policy.users), ("group", policy.groups)):
        lines += [f"{kind} {name} -> role {role}" for name, role in sorted(mapping.items())]
    for role in policy.roles.values():
        verbs = ", ".join(sorted(role.verbs)) or "(none)"
        lines.append(f"role {role.name}: verbs {verbs} (always: {', '.join(sorted(ALWAYS_ALLOWED))})")
        names = ", ".join(sorted(role.containers.names)) or "(none)"
        selectors = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in role.containers.label_selectors)
        lines.append(f"  containers: names {names}; labels {selectors or '(none)'}")
        for verb, limit in sorted(role.limits.items()):
            lines.append(f"  limit: {verb} at most {limit.count} per {limit.per_seconds:g}s per target")
    lines.append("everything not listed is denied")
    return lines


def program(argv: Sequence[str]) -> int:
    words = list(argv)
    if words == ["--version"]:
        print(f"rshellctl {__version__}")
        return ExitStatus.OK
    if len(words) == 3 and words[:2] == ["policy", "check"]:
        out: list[str] = []
        status = policy_check(Path(words[2]), out)
        print("\n".join(sanitize(line) for line in out))
        return status
    if words[:1] == ["install-user"]:
        from rshell.installuser import install_user, parse_install_options  # noqa: PLC0415

        return install_user(parse_install_options(words[1:]), lambda line: print(f"install-user: {sanitize(line)}"))
    if words[:1] == ["status"]:
        from rshell.ctlstatus import status_program  # noqa: PLC0415

        return status_program(words[1:])
    if words[:1] == ["doctor"]:
        from rshell.doctor.command import doctor_program  # noqa: PLC0415

        return doctor_program(words[1:])
    raise UsageError(USAGE)


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
