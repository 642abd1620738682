"""Help derived from the verbs' specs, so it cannot drift from the code."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from rshell.events import Column, LinesView, MessageView, Result, TableView
from rshell.spec import HELP_OPTION, ArgKind
from rshell.verb import Verb

if TYPE_CHECKING:
    from rshell.policy.view import PolicyView
    from rshell.registry import Registry

#: ``VERB --help``; for a verb outside the role it is answered as an unknown verb is
HELP_FLAG = HELP_OPTION.flag


def help_lines(verb: Verb) -> list[str]:
    """Usage, summary, then one line per argument."""
    lines = [f"usage: {verb.spec.usage(verb.name)}", "", verb.summary]
    if verb.description:
        lines += ["", verb.description]
    if verb.spec.positionals:
        lines += ["", "arguments:"]
        lines += [f"  {p.shown:<18} {p.help} ({p.kind.value})" for p in verb.spec.positionals]
    lines += ["", "options:"]
    for option in verb.spec.all_options:
        shown = option.flag if option.kind is ArgKind.SWITCH else f"{option.flag} {option.metavar}"
        lines.append(f"  {shown:<18} {option.help}")
    if verb.changes_state:
        lines += ["", "This verb changes state: it is audited before it acts and may be rate-limited."]
    return lines


def help_result(verb: Verb) -> Result:
    return Result(
        {
            "verb": verb.name,
            "summary": verb.summary,
            "usage": verb.spec.usage(verb.name),
            "changes_state": verb.changes_state,
            "help": help_lines(verb),
        },
        LinesView("help"),
    )


def verb_table(verbs: list[Verb], no_role: str | None = None) -> Result:
    """The verbs this principal may use, one line each; ``no_role`` says why there are no others."""
    rows = [{"verb": verb.name, "summary": verb.summary} for verb in verbs]
    columns = (Column("verb", "VERB"), Column("summary", "SUMMARY"))
    footer = "Type 'help VERB' for a verb's arguments; 'exit' leaves. rshell runs one verb per line, not a shell."
    if no_role is not None:
        footer = f"You have no role: {no_role}; only help and exit are available. {footer}"
    return Result({"verbs": rows, "note": footer}, TableView("verbs", columns), (MessageView(footer),))


def unknown_verb_message(view: PolicyView, registry: Registry, name: str) -> str:
    """The one answer for a verb that does not exist and for one outside the caller's role, whether it
    is run, asked for with ``help VERB`` or with ``VERB --help``: nothing tells them apart. The hint
    only ever names a verb the caller may use."""
    allowed = view.allowed_verbs(set(registry.names()))
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown verb {name!r}{hint} (type 'help' for the verbs you may use)"
