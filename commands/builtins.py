"""Built-in verbs, registered through the same entry-point group as every other verb."""

from __future__ import annotations

from collections.abc import Iterator

from rshell.engine import engine_errors
from rshell.errors import UnknownVerb
from rshell.events import Column, Event, FieldsView, JSONValue, Result
from rshell.spec import ArgKind, Arguments, Positional, VerbSpec
from rshell.targets import container_name, visible_containers
from rshell.verb import Context, Verb
from rshell.verbhelp import help_result, unknown_verb_message, verb_table


class Help(Verb):
    name = "help"
    summary = "list the verbs you may use, or show one verb's arguments"
    spec = VerbSpec(positionals=(Positional("verb", ArgKind.VERB, "the verb to explain", optional=True),))

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        assert ctx.registry is not None
        verbs = ctx.registry.all()
        allowed = [verbs[name] for name in ctx.view.allowed_verbs(set(verbs))]
        wanted = args.optional_text("verb")
        if wanted is None:
            yield verb_table(allowed, None if ctx.view.role else ctx.view.role_reason)
            return
        match = next((verb for verb in allowed if verb.name == wanted), None)
        if match is None:  # the same answer as running an unknown verb, or VERB --help outside the role
            raise UnknownVerb(unknown_verb_message(ctx.view, ctx.registry, wanted))
        yield help_result(match)


class Whoami(Verb):
    name = "whoami"
    summary = "show who you are to rshell: user, role, allowed verbs, visible containers"

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        assert ctx.registry is not None
        view = ctx.view
        data: dict[str, JSONValue] = {
            "user": view.principal.user,
            "uid": view.principal.uid,
            "role": view.role_name,
            "role_reason": view.role_reason,
            "verbs": view.allowed_verbs(set(ctx.registry.names())),
            "engine": view.engine_url,
        }
        try:
            with engine_errors(view.engine_url):
                rows = visible_containers(ctx.engine, view, include_stopped=True)
            data["containers"] = sorted(container_name(row) for row in rows)
        except Exception as error:  # whoami must answer even when the engine is down
            data["containers"] = []
            data["containers_error"] = getattr(error, "message", str(error))
        fields = ("user", "uid", "role", "verbs", "containers", "engine")
        yield Result(data, FieldsView(tuple(Column(key, key) for key in fields)))


class Exit(Verb):
    name = "exit"
    summary = "leave the shell"

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        return iter(())


class Quit(Exit):
    name = "quit"
