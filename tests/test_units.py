"""Durations and sizes: ASCII digits with a unit, nothing else (other scripts' digits are refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rshell.policy.loader import parse_policy
from rshell.policy.schema import Problems
from rshell.units import parse_duration, parse_size
from tests.support.checks import refusal
from tests.support.shell import run_rshell, write_policy


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("10m", 600.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5s", 1.5), ("2d", 172800.0)],
)
def test_durations_with_ascii_digits(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "\u0661\u0662s",  # Arabic-Indic one two (str.isdigit and \\d accept them)
        "\u06f1\u06f2m",  # extended Arabic-Indic
        "\u0967\u0968h",  # Devanagari
        "\uff11\uff12s",  # fullwidth
        "1\u0662s",  # mixed
        "1.\u0665s",  # non-ASCII after the point
        "\U0001d7d9s",  # mathematical bold digit one
        "30",  # no unit
        "s",
        "",
        "-5s",
        "1e3s",
        "10 m",
    ],
)
def test_durations_refuse_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["\u0661\u0662MiB", "\uff11GiB", "1\u0660KiB", "12", "MiB", "1.5MiB"])
def test_sizes_refuse_non_ascii_digits_and_missing_units(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


def test_sizes_with_ascii_digits() -> None:
    assert (parse_size("64KiB"), parse_size("2GB"), parse_size("512B")) == (65536, 2 * 10**9, 512)


def test_policy_refuses_a_limit_window_in_arabic_indic_digits() -> None:
    text = "version: 1\nroles:\n  r:\n    verbs: [ps]\n    limits:\n      ps: {count: 1, per: \u0661\u0660m}\n"
    problems = Problems("p.yaml")
    assert parse_policy(text, Path("p.yaml"), {"ps": ()}, problems) is None
    assert problems.messages == [
        "p.yaml:6: policy.roles.r.limits.ps.per: '\u0661\u0660m' is not a duration "
        "(use a number with a unit: 500ms, 30s, 10m, 2h, 1d)"
    ]


def test_a_duration_argument_in_arabic_indic_digits_is_a_usage_error(tmp_path: Path) -> None:
    body = "principals: {users: {root: r}}\nroles:\n  r: {verbs: [logs], containers: {names: [x]}}\n"
    policy = write_policy(tmp_path / "etc", body)
    refusal(run_rshell(policy, "-c", "logs x --since \u0661\u0662m"), 2, "is not a duration")
