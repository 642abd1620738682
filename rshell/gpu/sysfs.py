"""Read small sysfs attribute files; each bad file becomes one message, never an exception."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

#: sysfs attributes are at most a page; anything longer is not what we expect
MAX_ATTRIBUTE_BYTES = 4096
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_SHOWN_CHARACTERS = 40


class AttributeReader:
    """Reads the attribute files of one sysfs directory, adding a line to ``problems`` per bad file.

    A missing optional file is normal (not every card has every file) and is not a problem.
    """

    def __init__(self, directory: Path, label: str, problems: list[str]) -> None:
        self.directory = directory
        self.label = label
        self.problems = problems

    def text(self, name: str, *, required: bool = False) -> str | None:
        """The file's content without surrounding whitespace, or None."""
        try:
            raw = read_small_file(self.directory / name)
        except FileNotFoundError:
            if required:
                self.problem(name, "missing")
            return None
        except OSError as error:
            self.problem(name, f"cannot read ({error.strerror or error})")
            return None
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            self.problem(name, "not plain text")
            return None

    def integer(self, name: str, *, required: bool = False, signed: bool = False) -> int | None:
        """The file's whole number (decimal), or None; negative numbers only when ``signed``."""
        text = self.text(name, required=required)
        if text is None:
            return None
        if not text:
            self.problem(name, "empty")
            return None
        if not _WHOLE_NUMBER.fullmatch(text):
            self.problem(name, f"not a whole number: {text[:_SHOWN_CHARACTERS]!r}")
            return None
        value = int(text)
        if value < 0 and not signed:
            self.problem(name, f"negative value {value}")
            return None
        return value

    def problem(self, name: str, reason: str) -> None:
        self.problems.append(f"{self.label}: {name}: {reason}")


def read_small_file(path: Path) -> bytes:
    """At most MAX_ATTRIBUTE_BYTES of a file; non-blocking, so a FIFO cannot hang the reader."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        return os.read(descriptor, MAX_ATTRIBUTE_BYTES)
    finally:
        os.close(descriptor)


def list_directory(directory: Path, pattern: re.Pattern[str], label: str, problems: list[str]) -> Iterator[Path]:
    """Entries whose name matches ``pattern``, in natural order; a missing directory yields none."""
    try:
        names = [entry.name for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except FileNotFoundError:
        return
    except OSError as error:
        problems.append(f"{label}: cannot list ({error.strerror or error})")
        return
    for name in sorted(names, key=natural_key):
        yield directory / name


def natural_key(name: str) -> tuple[str, int]:
    """Sort ``card2`` before ``card10``."""
    match = re.fullmatch(r"(\D*)(\d+)\D*", name)
    return (match[1], int(match[2])) if match else (name, -1)


def key_value_lines(text: str) -> dict[str, str]:
    """``key value`` lines (KFD ``properties``) or ``KEY=value`` lines (``uevent``) as a mapping."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.replace("=", " ", 1).partition(" ")
        if key:
            pairs[key] = value.strip()
    return pairs
