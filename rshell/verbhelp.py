"""Help derived from the verbs' specs, so it cannot drift from the code."""

from __future__ import annotations

from rshell.events import Column, LinesView, MessageView, Result, TableView
from rshell.spec import ArgKind
from rshell.verb import Verb


def help_lines(verb: Verb) -> list[str]:
    """Usage, summary, then one line per argument."""
    lines = [f"usage: {verb.spec.usage(verb.name)}", "", verb.summary]
    if verb.description:
        lines += ["", verb.description]
    if verb.spec.positionals:
        lines += ["", "arguments:"]
        lines += [f"  {p.metavar:<18} {p.help} ({p.kind.value})" for p in verb.spec.positionals]
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


def verb_table(verbs: list[Verb]) -> Result:
    """The verbs this principal may use, one line each."""
    rows = [{"verb": verb.name, "summary": verb.summary} for verb in verbs]
    columns = (Column("verb", "VERB"), Column("summary", "SUMMARY"))
    footer = "Type 'help VERB' for a verb's arguments; 'exit' leaves. rshell runs one verb per line, not a shell."
    return Result({"verbs": rows, "note": footer}, TableView("verbs", columns), (MessageView(footer),))
