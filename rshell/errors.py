"""Exit statuses and the one handled-error type the shell turns into a line and an exit code."""

from __future__ import annotations


class ExitStatus:
    """The shell's exit codes (DESIGN.md, "Exit codes"), as plain ints: importing enum would cost
    the thin client's start-up, on every ssh command, as much as its own code."""

    OK = 0
    FAILED = 1
    USAGE = 2
    #: a request for approval expired, or the wait for a decision ended (EX_TEMPFAIL: try again later)
    APPROVAL_PENDING = 75
    DENIED = 126
    UNKNOWN_VERB = 127
    INTERRUPTED = 130
    ALL = frozenset({OK, FAILED, USAGE, APPROVAL_PENDING, DENIED, UNKNOWN_VERB, INTERRUPTED})


#: the machine-readable code printed in JSON errors for each status
ERROR_CODES: dict[int, str] = {
    ExitStatus.FAILED: "failed",
    ExitStatus.USAGE: "usage",
    ExitStatus.APPROVAL_PENDING: "approval_pending",
    ExitStatus.DENIED: "denied",
    ExitStatus.UNKNOWN_VERB: "unknown_verb",
    ExitStatus.INTERRUPTED: "interrupted",
}


class RshellError(Exception):
    """An error the user is told about in one line; it carries its exit status."""

    status: int = ExitStatus.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return ERROR_CODES[self.status]


class VerbFailed(RshellError):
    """The verb ran and failed: engine error, target down, timeout."""


class UsageError(RshellError):
    """Bad arguments, unknown flag, shell syntax, a line the lexer refuses."""

    status = ExitStatus.USAGE


class Denied(RshellError):
    """The policy does not allow this principal to do this."""

    status = ExitStatus.DENIED


class UnknownVerb(RshellError):
    """No verb of that name is registered."""

    status = ExitStatus.UNKNOWN_VERB


class Interrupted(RshellError):
    """Ctrl-C, or a cancel from the client."""

    status = ExitStatus.INTERRUPTED


class PolicyError(RshellError):
    """The policy file is missing, unsafe or invalid: the shell refuses to start."""
