"""Shared helpers for the bench tests: a policy validated by the real schema, a context, a driver."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from commands.bench import Bench
from rshell.binding import bind
from rshell.errors import RshellError
from rshell.events import Event, FieldsView, JSONValue, LinesView, Notice, Progress, Result, TableView, View
from rshell.policy.model import ContainerRule, Role
from rshell.policy.schema import Field, Kind, Problems, validate
from rshell.policy.view import PolicyView, Principal
from rshell.verb import Context


def bench_settings(url: str, **target: object) -> dict[str, Any]:
    """The bench settings for one target ``gpu1`` at ``url``, validated by the policy schema."""
    document = {"targets": {"gpu1": {"url": url, "models": ["llama3.2:1b"], **target}}}
    return validated_settings(document)


def validated_settings(document: Mapping[str, object]) -> dict[str, Any]:
    problems = Problems("policy.yaml")
    node = yaml.compose(yaml.safe_dump(dict(document)), Loader=yaml.SafeLoader)
    assert node is not None
    value = validate(node, Field("bench", Kind.OBJECT, fields=Bench.settings), "bench", problems)
    assert not problems.messages, problems.messages
    assert isinstance(value, dict)
    return value


def make_context(settings: Mapping[str, object], state_dir: Path) -> Context:
    role = Role("bencher", frozenset({"bench"}), ContainerRule(), settings={"bench": settings, "vram": {}})
    view = PolicyView(Principal(1000, "agent", frozenset()), role, "user 'agent'", "unix:///var/run/docker.sock")
    return Context(engine=None, view=view, settings=settings, state_dir=state_dir)  # type: ignore[arg-type]


@dataclass
class Outcome:
    """Everything one verb invocation produced: its events and the error it ended with."""

    events: list[Event] = field(default_factory=list)
    error: RshellError | None = None

    @property
    def result(self) -> Result:
        results = [event for event in self.events if isinstance(event, Result)]
        assert len(results) == 1, f"expected one Result, got {self.events}"
        return results[0]

    @property
    def data(self) -> dict[str, Any]:
        """The JSON document, loosely typed so tests can index into it."""
        return dict(self.result.data)

    @property
    def progress(self) -> list[Progress]:
        return [event for event in self.events if isinstance(event, Progress)]

    @property
    def notices(self) -> list[str]:
        return [event.text for event in self.events if isinstance(event, Notice)]


def run_verb(ctx: Context, argv: list[str]) -> Outcome:
    return drive(events_of(ctx, argv), lambda event: None)


def events_of(ctx: Context, argv: list[str]) -> Generator[Event, None, None]:
    events = Bench().run(ctx, bind("bench", Bench.spec, argv))
    assert isinstance(events, Generator)
    return events


def drive(events: Generator[Event, None, None], react: Callable[[Event], Event | None]) -> Outcome:
    """Iterate the verb like the core does; ``react`` sees each event and may return one more."""
    outcome = Outcome()
    try:
        for event in events:
            outcome.events.append(event)
            extra = react(event)
            if extra is not None:
                outcome.events.append(extra)
    except RshellError as error:
        outcome.error = error
    return outcome


def human_text(result: Result) -> str:
    """What a human sees of a Result: every view's cells and lines, as plain text."""
    return "\n".join(_view_text(view, result.data) for view in (result.view, *result.extra_views))


def _view_text(view: View, data: Mapping[str, JSONValue]) -> str:
    if isinstance(view, TableView):
        rows = data.get(view.rows_key) or []
        assert isinstance(rows, list)
        header = "  ".join(column.title for column in view.columns)
        lines = ["  ".join(str(row[column.key]) for column in view.columns) for row in rows if isinstance(row, dict)]
        return "\n".join([header, *lines]) if lines else view.empty
    if isinstance(view, FieldsView):
        return "\n".join(f"{column.title}: {data.get(column.key)}" for column in view.fields)
    if isinstance(view, LinesView):
        texts = data.get(view.lines_key) or []
        assert isinstance(texts, list)
        return "\n".join(str(text) for text in texts)
    return view.text


def results_by_test(data: Mapping[str, Any], model: str = "llama3.2:1b") -> dict[str, dict[str, Any]]:
    """The per-test statistics of one model in a bench document, by test name."""
    entry = next(item for item in data["models"] if item["name"] == model)
    return {str(test["test"]): test for test in entry["tests"]}
