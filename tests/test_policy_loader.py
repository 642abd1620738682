"""The policy schema: every mistake refuses start-up (exit 1) with one line naming ``file:LINE:``.

In each row the offending line carries the comment ``# <-``; the test expects that line number.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.checks import refusal, success
from tests.support.shell import run_rshell

HEADER = """\
version: 1
audit_log: {dir}/audit.jsonl
state_dir: {dir}/state
"""
MARK = "# <-"

#: (body after HEADER, fragment of the error); the body's ``# <-`` line is where the error must point
BAD_POLICIES = {
    "unknown-top-key": ("colour: red  # <-\n", "unknown key 'colour'"),
    "unknown-role-key": (
        """\
        roles:
          op:
            verbs: [ps]
            sudo: true  # <-
        """,
        "unknown key 'sudo'",
    ),
    "unknown-principal-kind": ("principals:\n  robots: {root: op}  # <-\n", "unknown key 'robots'"),
    "unknown-engine-key": ("engine:\n  tls_verify: false  # <-\n", "unknown key 'tls_verify'"),
    "verbs-not-a-list": ("roles:\n  op:\n    verbs: ps  # <-\n", "verbs must be a list"),
    "count-not-integer": (
        "roles:\n  op:\n    limits:\n      restart: {count: three, per: 10m}  # <-\n",
        "count must be a whole number",
    ),
    "count-boolean": ("roles:\n  op:\n    limits:\n      restart: {count: yes, per: 10m}  # <-\n", "count must be"),
    "count-float": ("roles:\n  op:\n    limits:\n      restart: {count: 1.5, per: 10m}  # <-\n", "count must be"),
    "per-without-unit": (
        "roles:\n  op:\n    limits:\n      restart: {count: 3, per: 10}  # <-\n",
        "per must be a duration with a unit",
    ),
    "per-bad-unit": (
        "roles:\n  op:\n    limits:\n      restart: {count: 3, per: 10 minutes}  # <-\n",
        "not a duration",
    ),
    "per-negative": ("roles:\n  op:\n    limits:\n      restart: {count: 3, per: -1m}  # <-\n", "not a duration"),
    "timeout-without-unit": ("engine:\n  timeout: 30  # <-\n", "timeout must be a duration with a unit"),
    "max-lines-zero": (
        "roles:\n  op:\n    settings:\n      logs: {max_lines: 0}  # <-\n",
        "max_lines must be at least 1",
    ),
    "settings-unknown-key": ("roles:\n  op:\n    settings:\n      logs: {colour: 1}  # <-\n", "unknown key 'colour'"),
    "settings-unknown-verb": ("roles:\n  op:\n    settings:\n      shell: {}  # <-\n", "unknown key 'shell'"),
    "unregistered-verb": (
        "roles:\n  op:\n    verbs:\n      - ps\n      - exec  # <-\n",
        "'exec', which is not a registered verb",
    ),
    "unregistered-limit": (
        "roles:\n  op:\n    limits:\n      exec: {count: 1, per: 1m}  # <-\n",
        "'exec', which is not a registered verb",
    ),
    "user-names-missing-role": (
        "principals:\n  users:\n    root: admin  # <-\nroles:\n  op: {verbs: [ps]}\n",
        "names role 'admin', which is not defined",
    ),
    "group-names-missing-role": (
        "principals:\n  groups:\n    docker: admin  # <-\n",
        "names role 'admin', which is not defined",
    ),
    "duplicate-role": ("roles:\n  op: {verbs: [ps]}\n  op: {verbs: [restart]}  # <-\n", "roles.op is given twice"),
    "duplicate-user": (
        "principals:\n  users:\n    root: op\n    root: admin  # <-\nroles:\n  op: {}\n  admin: {}\n",
        "users.root is given twice",
    ),
    "duplicate-top-key": ("roles: {}\nroles: {}  # <-\n", "policy.roles is given twice"),
    "anchor": ("roles:\n  op: &op  # <-\n    verbs: [ps]\n", "anchors and aliases are not allowed"),
    "alias": ("x_roles:\n  - 1\nroles:\n  op:\n    verbs: *v  # <-\n", "not allowed"),
    "merge-key": ("roles:\n  op:\n    <<: {verbs: [ps]}  # <-\n", "keys must be strings"),
    "python-tag-key": ("!!python/name:os.system x: 1  # <-\n", "keys must be strings"),
    "python-tag-value": (
        "engine:\n  url: !!python/object/apply:os.system [id]  # <-\n",
        "url must be a URL",
    ),
    "custom-tag-key": ("!evil roles: {}  # <-\n", "keys must be strings"),
    "cyrillic-container-name": (
        "roles:\n  op:\n    containers:\n      names: [\u0430pp]  # <-\n",
        "is not a plain ASCII name",
    ),
    "container-name-with-slash": ("roles:\n  op:\n    containers:\n      names: [/app]  # <-\n", "plain ASCII name"),
    "container-name-with-space": (
        "roles:\n  op:\n    containers:\n      names: ['my app']  # <-\n",
        "plain ASCII name",
    ),
    "cyrillic-user": ("principals:\n  users:\n    r\u043eot: op  # <-\nroles:\n  op: {}\n", "not a plain ASCII name"),
    "cyrillic-role": ("roles:\n  \u043ep: {}  # <-\n", "not a plain ASCII name"),
    "label-value-escape": (
        'roles:\n  op:\n    containers:\n      labels:\n        - {a: "\\e[31m"}  # <-\n',
        "must not contain control characters",
    ),
    "label-key-with-space": (
        "roles:\n  op:\n    containers:\n      labels:\n        - {'a b': x}  # <-\n",
        "not a plain",
    ),
    "label-value-number": ("roles:\n  op:\n    containers:\n      labels:\n        - {a: 1}  # <-\n", "quote it"),
    "engine-tcp": ('engine:\n  url: "tcp://10.0.0.1:2375"  # <-\n', "is not an http://, https:// or unix:// URL"),
    "engine-ssh": ('engine:\n  url: "ssh://host"  # <-\n', "is not an http://"),
    "roles-is-a-list": ("roles:\n  - op  # <-\n", "roles must be a mapping"),
    "tab-indentation": ("roles:\n  op:\n\tverbs: [ps]  # <-\n", "not valid YAML"),
    "unbalanced-flow": ("roles: {op: [ps}  # <-\n", "not valid YAML"),
}


def _write(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / "policy.yaml"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o600)
    return path


def _expected_line(text: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if MARK in line)


@pytest.mark.parametrize(("body", "fragment"), list(BAD_POLICIES.values()), ids=list(BAD_POLICIES))
def test_bad_policy_refuses_start_with_its_line(policy_dir: Path, body: str, fragment: str) -> None:
    text = HEADER.format(dir=policy_dir) + textwrap.dedent(body)
    path = _write(policy_dir, text)
    outcome = run_rshell(path, "-c", "whoami")
    message = refusal(outcome, 1, fragment)
    assert message.startswith(f"invalid policy: {path}:{_expected_line(text)}: "), message
    assert message.endswith("refusing to start")
    assert outcome.stdout == ""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the policy is empty"),
        ("# only a comment\n", "the policy is empty"),
        ("---\n", "policy must be a mapping"),
        ("- version: 1\n", "policy must be a mapping"),
        ("version: 2\n", "version must be at most 1"),
        ('version: "1"\n', "version must be a whole number"),
        ("version: 1\naudit_log: var/log/audit.jsonl  # <-\n", "is not an absolute path"),
        ("engine: {}\n", "missing required key 'version'"),
    ],
    ids=[
        "empty",
        "comment-only",
        "document-marker",
        "list",
        "version-2",
        "version-string",
        "relative-path",
        "no-version",
    ],
)
def test_policy_without_content_refuses_start(policy_dir: Path, text: str, fragment: str) -> None:
    message = refusal(run_rshell(_write(policy_dir, text), "-c", "ps"), 1, fragment)
    line = f":{_expected_line(text)}: " if MARK in text else ""
    assert message.startswith(f"invalid policy: {policy_dir / 'policy.yaml'}{line}"), message


def test_not_utf8_policy_refuses_start(policy_dir: Path) -> None:
    path = _write(policy_dir, "")
    path.write_bytes(b"version: 1\nroles: {\xff: {}}\n")
    refusal(run_rshell(path, "-c", "ps"), 1, "cannot read policy file")


def test_many_problems_point_to_policy_check(policy_dir: Path) -> None:
    text = HEADER.format(dir=policy_dir) + "colour: red\nroles:\n  op: {verbs: [exec, shell]}\n"
    message = refusal(run_rshell(_write(policy_dir, text), "-c", "whoami"), 1, ":4: ")
    assert f"(and 2 more: run 'rshellctl policy check {policy_dir / 'policy.yaml'}')" in message


def test_a_good_policy_with_every_key_starts(policy_dir: Path) -> None:
    text = HEADER.format(dir=policy_dir) + textwrap.dedent(
        """\
        engine:
          url: unix:///var/run/docker.sock
          timeout: 1500ms
        principals:
          users: {root: op}
          groups: {nogroup: op}
        roles:
          op:
            verbs: [ps, logs, restart]
            containers:
              names: [app, db.1, web_2]
              labels: [{rshell.visible: "true", tier: web}]
            limits:
              restart: {count: 3, per: 1h30m}
            settings:
              logs: {max_lines: 10}
              restart: {max_timeout: 2m, stop_timeout: 5s}
        """
    )
    outcome = success(run_rshell(_write(policy_dir, text), "-c", "whoami --json"))
    assert outcome.json()["role"] == "op"
    assert outcome.json()["verbs"] == ["exit", "help", "logs", "ps", "quit", "restart", "whoami"]


def test_missing_policy_refuses_start(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "policy.yaml"
    refusal(run_rshell(path, "-c", "ps"), 1, f"policy file {path} does not exist")
