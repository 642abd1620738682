"""The output environment (httpie's idea): streams and whether they are terminals, injectable in tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Streams:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_is_tty: bool = False
    stderr_is_tty: bool = False

    @classmethod
    def system(cls) -> Streams:
        return cls(sys.stdout, sys.stderr, sys.stdout.isatty(), sys.stderr.isatty())
