"""Whether the broker's interpreter can import what each verb a role lists needs (``Verb.requires``).

Asked of that interpreter itself, in a child process (``PYTHON -I -c``): the venv rshelld runs from
may not be the one rshellctl runs from, and only a real import shows a missing transitive dependency
(the MCP SDK without ``anyio``, say).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rshell.policy.model import Policy
from rshell.registry import Registry

#: run by the checked interpreter: import each module named in argv[1], report each failure
IMPORT_PROBE = """
import importlib, json, sys
failures = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as error:
        failures[name] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""
PROBE_TIMEOUT = 60


def needed_modules(policy: Policy, registry: Registry) -> dict[tuple[str, str], tuple[str, ...]]:
    """(role, verb) -> the modules that verb needs with that role's settings, for every listed verb that needs any."""
    needed: dict[tuple[str, str], tuple[str, ...]] = {}
    for role in policy.roles.values():
        for name in sorted(role.verbs):
            verb = registry.get(name)
            modules = verb.required_modules(role.settings.get(name, {})) if verb is not None else ()
            if modules:
                needed[role.name, name] = modules
    return needed


def import_failures(python: Path, modules: list[str]) -> dict[str, str]:
    """module -> why ``python`` cannot import it (every module, when ``python`` cannot be run at all)."""
    if not modules:
        return {}
    command = [str(python), "-I", "-c", IMPORT_PROBE, json.dumps(modules)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
            cwd="/",
            env={"LANG": "C.UTF-8"},
        )
        answer = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        reason = f"cannot run {python}: {getattr(error, 'strerror', None) or error}"
        return dict.fromkeys(modules, reason)
    if not isinstance(answer, dict):
        return dict.fromkeys(modules, f"{python} gave no answer")
    return {str(name): str(reason) for name, reason in answer.items()}


def dependency_problems(policy: Policy, registry: Registry, python: Path) -> list[tuple[str, str]]:
    """(what is missing, the fix) per role and verb whose dependency ``python`` cannot import."""
    needed = needed_modules(policy, registry)
    failures = import_failures(python, sorted({module for modules in needed.values() for module in modules}))
    return [
        _problem(role, verb, module, failures[module], python=python, registry=registry)
        for (role, verb), modules in needed.items()
        for module in modules
        if module in failures
    ]


def _problem(role: str, verb: str, module: str, reason: str, *, python: Path, registry: Registry) -> tuple[str, str]:
    found = registry.get(verb)
    extra = found.requires_extra if found is not None else ""
    pip = python.parent / "pip"
    fix = f"scripts/install (it installs the {extra} extra), or {pip} install '.[{extra}]' in the rshell checkout"
    return f"role {role}: verb {verb} needs {module}, which {python} cannot import ({reason})", (
        fix if extra else f"install {module} into {python}'s environment"
    )


def interpreter_of(pid: int) -> Path | None:
    """The interpreter a running process was started with: its argv[0] when that is an absolute path
    (a venv's ``bin/python``, which /proc/PID/exe would resolve to the base interpreter, outside the
    venv), else /proc/PID/exe; None when neither can be read."""
    try:
        first = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
        if first.startswith("/") and Path(first).exists():
            return Path(first)
        return Path(f"/proc/{pid}/exe").readlink()
    except (OSError, UnicodeDecodeError):
        return None


__all__ = ["dependency_problems", "import_failures", "interpreter_of", "needed_modules"]
