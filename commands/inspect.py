"""``inspect``: a container's configuration and state, redacted: built field by field from an allow-list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rshell.containers.view import inspect_lines, redacted_view
from rshell.events import Event, MessageView, Result
from rshell.policy.schema import Field, Kind
from rshell.spec import ArgKind, Arguments, Positional, VerbSpec
from rshell.targets import Target
from rshell.verb import Context, Verb


class Inspect(Verb):
    name = "inspect"
    summary = (
        "a container's image, state, health, restart policy, ports, networks, mounts, labels and limits (redacted)"
    )
    description = (
        "Built from an allow-list of fields, never a copy of the engine's document: environment values are\n"
        "never shown; environment keys, the command line and mount sources only where the policy allows."
    )
    spec = VerbSpec(positionals=(Positional("container", ArgKind.CONTAINER, "container name or ID prefix"),))
    settings = (
        Field("show_env_keys", Kind.BOOLEAN, "show environment variable names (never values)", default=False),
        Field("show_command", Kind.BOOLEAN, "show entrypoint and command (may carry secrets)", default=False),
        Field("show_mount_sources", Kind.BOOLEAN, "show mount sources (host paths, volume names)", default=False),
        Field(
            "hide_labels",
            Kind.LIST,
            "label keys never shown (fnmatch patterns, e.g. 'com.example.secret*')",
            items=Field("pattern", Kind.STRING, max_length=255),
            default=[],
        ),
    )

    def run(self, ctx: Context, args: Arguments) -> Iterator[Event]:
        target = args.get("container")
        assert isinstance(target, Target)
        api = ctx.engine.client.api
        details: dict[str, Any] = api.inspect_container(target.id)
        digest = _repo_digest(api, str(details.get("Image") or ""))
        data = redacted_view(details, target.name, digest, ctx.settings)
        yield Result(data, MessageView("\n".join(inspect_lines(data))))


def _repo_digest(api: Any, image_id: str) -> str | None:
    """The image's first registry digest (None for an image built or imported here, which has none)."""
    from docker import errors as docker_errors  # noqa: PLC0415

    try:
        digests = api.inspect_image(image_id).get("RepoDigests") or [] if image_id else []
    except docker_errors.NotFound:  # the image was removed since the container was made
        return None
    return str(digests[0]) if digests else None
