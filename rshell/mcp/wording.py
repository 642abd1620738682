"""Text for an MCP client in its own words: argument names, not ``--flags`` or a command-line usage."""

from __future__ import annotations

import re

from rshell.verb import Verb

_FLAG = re.compile(r"--([a-z][a-z0-9-]*)")
#: "(usage: logs CONTAINER [--tail TAIL] ...)" and a line that is such a usage; not "usage: logs: ..." (an error)
_USAGE = re.compile(r"\s*\(usage: [^)]*\)|^usage: [a-z_-]+(?!:)\b.*$", re.MULTILINE)


def in_mcp_words(verb: Verb | None, text: str) -> str:
    """``--tail`` becomes ``tail``, ``--prompt-set`` ``prompt_set``; usage lines are dropped."""
    keys = {option.flag: option.key for option in verb.spec.options} if verb is not None else {}
    text = _USAGE.sub("", text)
    return _FLAG.sub(lambda match: keys.get(match.group(0), match.group(1).replace("-", "_")), text)
