"""inspect on the real engine: an allow-listed view that never shows env values, command or mount sources."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.checks import refusal, success
from tests.support.engine import IMAGE, EngineContainers
from tests.support.shell import run_rshell, write_policy

TOKEN = secrets.token_hex(4)
#: where a secret may sit in a container, and the secret placed there (each must never be shown)
PLACEMENTS = {
    "env value": f"envvalue{TOKEN}",
    "env key": f"ENVKEY{TOKEN}",
    "command": f"cmdarg{TOKEN}",
    "entrypoint": f"entry{TOKEN}",
    "hidden label key": f"com.example.secret{TOKEN}",
    "hidden label value": f"labelvalue{TOKEN}",
    "bind mount source": f"bindsrc{TOKEN}",
    "volume name": f"volname{TOKEN}",
    "healthcheck command": f"probecmd{TOKEN}",
}


@pytest.fixture(scope="module")
def secretive(containers: EngineContainers) -> Iterator[Any]:
    """A visible container with a secret in every place the engine's document can hold one."""
    source = tempfile.mkdtemp(prefix=f"{PLACEMENTS['bind mount source']}-")
    volume = PLACEMENTS["volume name"]
    container = containers.client.containers.create(
        IMAGE,
        ["-c", f"sleep 3600 # {PLACEMENTS['command']}"],
        entrypoint=["sh"],
        name=containers.name(f"secretive-{TOKEN}"),
        environment={"DB_PASSWORD": PLACEMENTS["env value"], PLACEMENTS["env key"]: "1"},
        labels={
            "rshell.visible": "true",
            "team": "infra",
            PLACEMENTS["hidden label key"]: PLACEMENTS["hidden label value"],
            "hostile": "\x1b]0;pwned\x07\x1b[2Jafter\u202e",
        },
        volumes={source: {"bind": "/data", "mode": "ro"}, volume: {"bind": "/cache", "mode": "rw"}},
        healthcheck={"test": ["CMD", "sh", "-c", f"echo probe-ok # {PLACEMENTS['healthcheck command']}"]},
        mem_limit="64m",
    )
    containers.made.append(container.id)
    container.start()
    yield container
    containers.client.api.remove_container(container.id, force=True)
    with contextlib.suppress(docker.errors.NotFound):
        containers.client.api.remove_volume(volume)
    Path(source).rmdir()


def inspect_policy(policy_dir: Path, containers: EngineContainers, settings: str = "") -> Path:
    body = f"""\
        principals:
          users:
            root: operator
        roles:
          operator:
            verbs: [inspect]
            containers:
              names: [{containers.name("app")}]
              labels:
                - rshell.visible: "true"
            settings:
              inspect: {{hide_labels: ["com.example.secret*"]{settings}}}
        """
    return write_policy(policy_dir, textwrap.dedent(body))


@pytest.fixture(scope="module")
def default_outputs(tmp_path_factory: pytest.TempPathFactory, containers: EngineContainers, secretive: Any) -> str:
    """What inspect prints for the secretive container, for a human and with --json, by default."""
    policy = inspect_policy(tmp_path_factory.mktemp("inspect") / "etc", containers)
    human = success(run_rshell(policy, "-c", f"inspect {secretive.name}")).stdout
    document = success(run_rshell(policy, "-c", f"inspect {secretive.name} --json")).stdout
    assert secretive.name in human
    assert secretive.name in document
    return human + document


@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
def test_no_secret_is_shown_by_default(placement: str, default_outputs: str) -> None:
    assert PLACEMENTS[placement] not in default_outputs


def test_label_values_are_sanitised(default_outputs: str) -> None:
    assert "after" in default_outputs
    assert "\x1b" not in default_outputs
    assert "\\u001b" not in default_outputs.lower()  # not even escaped in the JSON document
    assert "\u202e" not in default_outputs


def test_allow_listed_fields_are_shown(policy_dir: Path, containers: EngineContainers, secretive: Any) -> None:
    policy = inspect_policy(policy_dir, containers)
    document = success(run_rshell(policy, "-c", f"inspect {secretive.name} --json")).json()
    assert (document["name"], document["image"], document["state"]["status"]) == (secretive.name, IMAGE, "running")
    assert document["image_id"].startswith("sha256:")
    assert sorted(document["labels"]) == ["hostile", "rshell.visible", "team"]
    assert sorted((m["destination"], m["type"], m["read_only"]) for m in document["mounts"]) == [
        ("/cache", "volume", False),
        ("/data", "bind", True),
    ]
    assert document["limits"]["memory_bytes"] == 64 * 1024 * 1024
    assert document["networks"] == ["bridge"]
    assert {"env_keys", "command", "entrypoint"}.isdisjoint(document)
    assert document["untrusted"] == ["labels", "health.probes[].output"]  # an agent is told what not to obey


def test_policy_may_show_env_keys_command_and_sources_but_never_env_values(
    policy_dir: Path, containers: EngineContainers, secretive: Any
) -> None:
    allowing = ", show_env_keys: true, show_command: true, show_mount_sources: true"
    policy = inspect_policy(policy_dir, containers, allowing)
    document = success(run_rshell(policy, "-c", f"inspect {secretive.name} --json")).json()
    assert {"DB_PASSWORD", PLACEMENTS["env key"]} <= set(document["env_keys"])
    assert document["entrypoint"] == ["sh"]
    assert PLACEMENTS["command"] in " ".join(document["command"])
    assert {PLACEMENTS["volume name"]} < {m["source"] for m in document["mounts"]}
    assert PLACEMENTS["env value"] not in str(document)


@pytest.mark.parametrize(
    ("argument", "status", "fragment"),
    [
        ("hidden", 126, "is visible to you"),
        ("nosuchcontainer", 126, "is visible to you"),
        ("../etc", 126, "is visible to you"),
        ("", 2, "inspect"),
    ],
    ids=["hidden", "missing", "path", "no-argument"],
)
def test_bad_targets_are_refused_with_one_line(
    argument: str, status: int, fragment: str, policy_dir: Path, containers: EngineContainers
) -> None:
    policy = inspect_policy(policy_dir, containers)
    name = containers.name(argument) if argument == "hidden" else argument
    refusal(run_rshell(policy, "-c", f"inspect {name}".strip()), status, fragment)
