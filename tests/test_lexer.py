"""The lexer: one verb per line, split with no expansion; shell syntax and hostile bytes refused (exit 2).

Each row is one attack. The unit tables pin what the lexer decides; the process tables check what
a user of ``rshell -c`` (sshd's path) and of batch stdin sees: the exit code and one line on stderr.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rshell.errors import UsageError
from rshell.lexer import MAX_LINE_BYTES, NOT_A_SHELL, Request, split_line
from tests.support.checks import refusal, success
from tests.support.shell import audit_records, run_rshell

#: (line, the construct the error names); every one must exit 2 with NOT_A_SHELL
SHELL_SYNTAX = [
    ("ps; id", ";"),
    ("ps ;id", ";"),
    ("; id", ";"),
    ("ps;", ";"),
    ("ps|id", "|"),
    ("ps | sh", "|"),
    ("ps &", "&"),
    ("ps&id", "&"),
    ("ps && id", "&&"),
    ("ps || id", "||"),
    ("ps |& id", "|"),
    ("ps > /tmp/out", ">"),
    ("ps>/tmp/out", ">"),
    ("ps >> /tmp/out", ">>"),
    ("ps 2>&1", ">"),
    ("ps &>/dev/null", "&"),
    ("ps < /etc/shadow", "<"),
    ("ps << EOF", "<<"),
    ("ps <(id)", "<"),
    ("ps $(id)", "$("),
    ("$(id)", "$("),
    ("ps `id`", "`"),
    ("`id`", "`"),
    ("ps ${HOME}", "${"),
    ("ps $HOME", "$"),
    ("ps $", "$"),
    ("ps (id)", "("),
    ("(ps)", "("),
    ("ps )", ")"),
    ("f() { id; }", "("),
    ('logs "$(id)"', "$("),
    ('logs "`id`"', "`"),
    ('logs "${IFS}"', "${"),
    ('logs "a$HOME"', "$"),
    ("logs app --tail $(echo 5)", "$("),
    ("logs app --tail=`echo 5`", "`"),
    ("logs --since=${X} app", "${"),
    ("logs app'x'; id", ";"),
    ('logs "app" ; id', ";"),
    # the quote model: a backslash inside double quotes keeps the quote open, so what follows is bare
    ('logs a "\\"" && reboot || true > f', "&&"),
    ('logs "\\"" ; id', ";"),
    ('logs "\\"\\"" | sh', "|"),
    ('logs "a\\"b" > f', ">"),
    ('logs "\\\\" ; id', ";"),
    ('logs "\\\\\\"" & id', "&"),
    ('logs \\"a ; id', ";"),
    ("logs \\'a ; id", ";"),
    ("logs 'a\\' ; id", ";"),
    ('logs "it\'s" ; id', ";"),
    ("logs 'say \"hi' ; id", ";"),
    ('logs "\\$HOME"', "$"),
    ('logs "\\`id\\`"', "`"),
    ('logs "\\"$(id)"', "$("),
    ('logs \\\\"a" ; id', ";"),
]

#: lines the lexer accepts: quotes and escapes make literal words, nothing is expanded
LITERAL = [
    ("logs 'a;b'", ("logs", "a;b")),
    ('logs "a;b"', ("logs", "a;b")),
    ("logs a\\;b", ("logs", "a;b")),
    ("logs 'a$(id)b'", ("logs", "a$(id)b")),
    ("logs '`id`'", ("logs", "`id`")),
    ('logs "my app"', ("logs", "my app")),
    ("logs 'a|b&&c>d'", ("logs", "a|b&&c>d")),
    ("logs ~root", ("logs", "~root")),
    ("logs *", ("logs", "*")),
    ("logs app#x", ("logs", "app#x")),
    ("ps\t--all", ("ps", "--all")),
    ('logs "\\""', ("logs", '"')),
    ('logs "a\\"b;c && d"', ("logs", 'a"b;c && d')),
    ('logs "\\\\"', ("logs", "\\")),
    ('logs "a\\b"', ("logs", "a\\b")),
    ("logs 'a\\'", ("logs", "a\\")),
    ('logs "it\'s;ok"', ("logs", "it's;ok")),
    ("logs 'say \"hi;'", ("logs", 'say "hi;')),
    ('logs \\"', ("logs", '"')),
    ('logs \\\\"a;b"', ("logs", "\\a;b")),
    ("logs a\\|b\\&c\\>d", ("logs", "a|b&c>d")),
    ("logs \\$HOME", ("logs", "$HOME")),
]

#: (line, fragment): control characters, bidi overrides and other invisible format characters
CONTROL = [
    ("ps\x07", "U+0007"),
    ("ps \x1b[2J", "U+001B"),
    ("ps\x08\x08id", "U+0008"),
    ("ps\r", "U+000D"),
    ("ps\x0b", "U+000B"),
    ("ps\x0c", "U+000C"),
    ("ps\x7f", "U+007F"),
    ("ps\x85", "U+0085"),
    ("ps\x9b31m", "U+009B"),
    ("ps \u202e", "U+202E"),
    ("logs \u2066app\u2069", "U+2066"),
    ("ps\u200f", "U+200F"),
    ("ps\ufeff", "U+FEFF"),
    ("p\u200bs", "U+200B"),
    ("ps \ue000", "U+E000"),
]


@pytest.mark.parametrize(("line", "construct"), SHELL_SYNTAX)
def test_lexer_refuses_shell_syntax(line: str, construct: str) -> None:
    with pytest.raises(UsageError) as refused:
        split_line(line)
    assert refused.value.status == 2
    assert f"{construct!r} is shell syntax" in refused.value.message
    assert NOT_A_SHELL in refused.value.message


@pytest.mark.parametrize(("line", "words"), LITERAL)
def test_lexer_keeps_quoted_text_literal(line: str, words: tuple[str, ...]) -> None:
    assert split_line(line) == Request(words[0], words[1:])


@pytest.mark.parametrize(("line", "fragment"), CONTROL)
def test_lexer_refuses_control_characters(line: str, fragment: str) -> None:
    with pytest.raises(UsageError) as refused:
        split_line(line)
    assert refused.value.message == f"control character {fragment} is not allowed in a line"


@pytest.mark.parametrize("line", ["", "   ", "\t"])
def test_blank_line_is_no_request(line: str) -> None:
    assert split_line(line) is None


def test_line_cap_is_exact() -> None:
    assert split_line("ps" + " " * (MAX_LINE_BYTES - 2)) == Request("ps", ())
    with pytest.raises(UsageError, match=f"longer than {MAX_LINE_BYTES} bytes"):
        split_line("ps" + " " * (MAX_LINE_BYTES - 1))


def test_line_cap_counts_utf8_bytes_not_characters() -> None:
    with pytest.raises(UsageError, match="longer than"):
        split_line("logs " + "é" * (MAX_LINE_BYTES // 2))


# --- the same attacks through the real process ------------------------------------------------


@pytest.mark.parametrize(("line", "construct"), SHELL_SYNTAX)
def test_dash_c_refuses_shell_syntax(policy: Path, line: str, construct: str) -> None:
    outcome = run_rshell(policy, "-c", line)
    refusal(outcome, 2, f"{construct!r} is shell syntax: {NOT_A_SHELL}")
    assert outcome.stdout == ""


def test_batch_refuses_shell_syntax_on_every_line(policy: Path, policy_dir: Path) -> None:
    """The whole table in one batch session with --keep-going: each line refused on its own, each audited."""
    stdin = "".join(f"{line}\n" for line, _ in SHELL_SYNTAX)
    outcome = run_rshell(policy, "--keep-going", stdin=stdin)
    assert outcome.status == 2
    assert outcome.stdout == ""
    errors = outcome.stderr.splitlines()
    assert len(errors) == len(SHELL_SYNTAX)
    for error, (_, construct) in zip(errors, SHELL_SYNTAX, strict=True):
        assert error == f"rshell: {construct!r} is shell syntax: {NOT_A_SHELL}"
    records = audit_records(policy_dir)
    assert [record["line"] for record in records] == [line for line, _ in SHELL_SYNTAX]
    assert {(record["decision"], record["exit_code"], record["mode"]) for record in records} == {
        ("refused", 2, "batch")
    }


def test_batch_stops_at_the_first_shell_syntax(policy: Path, policy_dir: Path) -> None:
    outcome = run_rshell(policy, stdin="ps; id\nps --json\n")
    refusal(outcome, 2, NOT_A_SHELL)
    assert outcome.stdout == ""
    assert [record["decision"] for record in audit_records(policy_dir)] == ["refused"]


@pytest.mark.parametrize(
    "line",
    ["ps\nid", "ps\n", "\nps", "logs app\n--tail 5", "ps\r\nid"],
    ids=["newline-between", "trailing-newline", "leading-newline", "newline-in-args", "crlf"],
)
def test_dash_c_refuses_newlines(policy: Path, line: str) -> None:
    outcome = run_rshell(policy, "-c", line)
    status_message = refusal(outcome, 2)
    assert NOT_A_SHELL in status_message or "U+000D" in status_message


@pytest.mark.parametrize(("line", "fragment"), CONTROL)
def test_dash_c_refuses_control_characters(policy: Path, line: str, fragment: str) -> None:
    outcome = run_rshell(policy, "-c", line)
    message = refusal(outcome, 2, fragment)
    assert "\x1b" not in outcome.stderr
    assert "\u202e" not in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"ps\x00\n", "U+0000"),
        (b"ps \x00; id\n", "U+0000"),
        (b"ps\x1b]0;title\x07\n", "U+001B"),
        (b"ps \xff\n", "not valid UTF-8"),
        (b"ps \xc0\xaf\n", "not valid UTF-8"),
        (b"ps \xed\xa0\x80\n", "not valid UTF-8"),
        (b"logs \xe2\x80\xae\n", "U+202E"),
        (b"ps \x9b\n", "not valid UTF-8"),
    ],
    ids=["nul", "nul-then-syntax", "osc", "xff", "overlong-slash", "utf8-surrogate", "bidi", "lone-c1-byte"],
)
def test_batch_refuses_bad_bytes(policy: Path, data: bytes, fragment: str) -> None:
    outcome = run_rshell(policy, stdin=data)
    refusal(outcome, 2, fragment)


def test_dash_c_refuses_invalid_utf8_argument(policy: Path) -> None:
    outcome = run_rshell(policy, "-c", os.fsdecode(b"ps \xff\xfe"))
    refusal(outcome, 2, "not valid UTF-8")


def test_dash_c_line_cap(policy: Path) -> None:
    success(run_rshell(policy, "-c", "ps" + " " * (MAX_LINE_BYTES - 2)))
    refusal(run_rshell(policy, "-c", "ps" + " " * (MAX_LINE_BYTES - 1)), 2, f"longer than {MAX_LINE_BYTES} bytes")


@pytest.mark.parametrize("size", [MAX_LINE_BYTES + 1, MAX_LINE_BYTES + 2, 200_000])
def test_batch_overlong_line_is_refused_once_and_keep_going_recovers(policy: Path, policy_dir: Path, size: int) -> None:
    stdin = b"ps" + b" " * (size - 2) + b"\nps --json\n"
    outcome = run_rshell(policy, "--keep-going", stdin=stdin)
    refusal(outcome, 2, f"longer than {MAX_LINE_BYTES} bytes")
    assert "containers" in outcome.json()
    assert [record["decision"] for record in audit_records(policy_dir)] == ["refused", "allowed"]


def test_batch_overlong_line_stops_without_keep_going(policy: Path, policy_dir: Path) -> None:
    outcome = run_rshell(policy, stdin=b"x" * 10_000 + b"\nps\n")
    refusal(outcome, 2, "longer than")
    assert outcome.stdout == ""
    assert [record["verb"] for record in audit_records(policy_dir)] == [None]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("ps --json ; id", "usage"),
        ("ps --json | id", "usage"),
        ("ps --json $(id)", "usage"),
        ("pss --json", "unknown_verb"),
    ],
)
def test_errors_are_json_when_the_line_asks_for_json(policy: Path, line: str, code: str) -> None:
    outcome = run_rshell(policy, "-c", line)
    refusal(outcome, 2 if code == "usage" else 127, json_error=True)
    assert outcome.error()["error"]["code"] == code
    assert outcome.stdout == ""


@pytest.mark.parametrize(
    "line",
    [
        "/bin/sh",
        "/bin/sh -i",
        "sh -c id",
        "bash",
        "exec ps",
        "/usr/lib/openssh/sftp-server",
        "/usr/lib/sftp-server",
        "internal-sftp",
        "scp -t /tmp",
        "scp -f /etc/shadow",
        "docker ps",
        "python3",
        "rsync --server .",
        "git-upload-pack repo",
        "PS",
        "ps\u00a0--all",
        "ps\u2028id",
        "ps\uff1bid",
        "./ps",
    ],
)
def test_unknown_verbs_exit_127(policy: Path, line: str) -> None:
    refusal(run_rshell(policy, "-c", line), 127, "unknown verb")


@pytest.mark.parametrize(
    ("typed", "meant"), [("pss", "ps"), ("log", "logs"), ("restrat", "restart"), ("whomai", "whoami")]
)
def test_unknown_verb_suggests_the_closest_allowed_verb(policy: Path, typed: str, meant: str) -> None:
    refusal(run_rshell(policy, "-c", typed), 127, f"did you mean {meant!r}?")


#: (line, exit code, what the one error line says): backslashes and quotes, as sshd's ``-c`` path sees them
QUOTE_MODEL = [
    ('logs a "\\"" && reboot || true > f', 2, f"'&&' is shell syntax: {NOT_A_SHELL}"),
    ("logs 'a\\' ; id", 2, f"';' is shell syntax: {NOT_A_SHELL}"),
    ('logs "\\$(id)"', 2, f"'$(' is shell syntax: {NOT_A_SHELL}"),
    ('logs "a\\"b', 2, "cannot split the line: No closing quotation"),
    ("logs a\\", 2, "cannot split the line: No escaped character"),
    ('logs "\\""', 126, "no single container '\"' is visible"),
    ('logs "a\\"b;c && d"', 126, "no single container 'a\"b;c && d' is visible"),
]


@pytest.mark.parametrize(("line", "status", "fragment"), QUOTE_MODEL)
def test_dash_c_quote_model(policy: Path, line: str, status: int, fragment: str) -> None:
    outcome = run_rshell(policy, "-c", line)
    refusal(outcome, status, fragment)
    assert outcome.stdout == ""


def test_single_quoted_semicolon_reaches_target_resolution_not_the_lexer(policy: Path) -> None:
    refusal(run_rshell(policy, "-c", "logs 'app;id'"), 126, "no single container 'app;id' is visible")
