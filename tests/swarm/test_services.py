"""Swarm services through rshell on a real single-node swarm: scope, ps, logs, restart, limits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # the MCP SDK's dependency, without stubs
import pytest

from rshell.completion import Candidates, SpecCompleter
from rshell.mcp.limits import McpLimits
from rshell.mcp.outputs import output_schema
from rshell.mcp.tools import Tools
from rshell.session import local_session
from rshell.spec import ArgKind
from tests.repl.test_completion import offered
from tests.support.shell import RSHELL, run_rshell
from tests.swarm.conftest import BROKEN_FLAG, Swarm

SERVICE_HIDDEN = "no single service {text!r} is visible to you (none or several match, or the policy hides it)"
CONTAINER_HIDDEN = "no single container {text!r} is visible to you (none or several match, or the policy hides it)"


def _force_count(swarm: Swarm, suffix: str) -> int:
    spec = swarm.services.client.api.inspect_service(swarm.ids[suffix])["Spec"]
    return int(spec["TaskTemplate"].get("ForceUpdate") or 0)


def test_ps_lists_the_visible_services_and_never_the_hidden_one(swarm_policy: Path, swarm: Swarm) -> None:
    outcome = run_rshell(swarm_policy, "-c", "ps --json")
    assert outcome.status == 0, outcome.stderr
    services = {row["name"]: row for row in outcome.json()["services"]}
    jsonschema.validate(outcome.json(), output_schema("ps"))
    assert set(services) == {swarm.services.name(s) for s in ("web", "labelled", "fragile")}
    assert services[swarm.services.name("web")]["replicas"] == "2/2"
    assert services[swarm.services.name("web")]["mode"] == "replicated"
    human = run_rshell(swarm_policy, "-c", "ps")
    assert human.status == 0
    assert "REPLICAS" in human.stdout
    assert swarm.services.name("hidden") not in human.stdout + outcome.stdout


def test_ps_service_lists_its_tasks_with_slot_node_and_states(swarm_policy: Path, swarm: Swarm) -> None:
    outcome = run_rshell(swarm_policy, "-c", f"ps --json {swarm.services.name('web')}")
    assert outcome.status == 0, outcome.stderr
    running = [task for task in outcome.json()["tasks"] if task["desired_state"] == "running"]
    assert sorted(task["slot"] for task in running) == [1, 2]
    hostname = swarm.services.client.info()["Name"]
    assert {task["node"] for task in running} == {hostname}
    assert {task["current_state"] for task in running} == {"running"}
    jsonschema.validate(outcome.json(), output_schema("ps"))  # what the MCP tool's structuredContent must match


HIDDEN_REFERENCES = [  # (how the hidden service is named, which command line), each refused alike
    ("name", "ps {ref}"),
    ("name", "logs --service {ref}"),
    ("name", "restart --service {ref}"),
    ("id", "ps {ref}"),
    ("id", "logs --service {ref}"),
    ("prefix", "restart --service {ref}"),
    ("prefix", "logs --service {ref}"),
    ("missing", "ps {ref}"),
    ("slash", "logs --service {ref}"),
]


@pytest.mark.parametrize(("form", "line"), HIDDEN_REFERENCES)
def test_a_hidden_service_is_refused_as_if_it_did_not_exist(
    swarm_policy: Path, swarm: Swarm, form: str, line: str
) -> None:
    service_id = swarm.ids["hidden"]
    ref = {
        "name": swarm.services.name("hidden"),
        "id": service_id,
        "prefix": service_id[:6],
        "missing": swarm.services.name("nothing"),
        "slash": f"../{swarm.services.name('hidden')}",
    }[form]
    before = _force_count(swarm, "hidden")
    outcome = run_rshell(swarm_policy, "-c", line.format(ref=ref))
    assert (outcome.status, outcome.stderr.strip()) == (126, f"rshell: {SERVICE_HIDDEN.format(text=ref)}")
    assert "secret-hidden-output" not in outcome.stdout
    assert _force_count(swarm, "hidden") == before


def test_without_service_a_hidden_service_gets_the_container_answer(swarm_policy: Path, swarm: Swarm) -> None:
    name = swarm.services.name("hidden")
    outcome = run_rshell(swarm_policy, "-c", f"logs {name}")
    assert (outcome.status, outcome.stderr.strip()) == (126, f"rshell: {CONTAINER_HIDDEN.format(text=name)}")


def test_service_logs_carry_task_and_node_prefixes_sanitised(swarm_policy: Path, swarm: Swarm) -> None:
    web = swarm.services.name("web")
    outcome = run_rshell(swarm_policy, "-c", f"logs --service {web} --tail 5")
    assert outcome.status == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    hostname = swarm.services.client.info()["Name"]
    assert len(lines) == 2  # one line from each of the two tasks
    for line in lines:
        prefix, _, message = line.partition(" | ")
        assert prefix.startswith(f"{web}.")
        assert prefix.endswith(f"@{hostname}")
        assert message.startswith("web-line")
        assert "\x1b" not in line
        assert "\x07" not in line


def test_service_logs_tail_is_capped_by_the_policy(swarm_policy: Path, swarm: Swarm) -> None:
    outcome = run_rshell(swarm_policy, "-c", f"logs --service {swarm.services.name('web')} --tail 51")
    assert outcome.status == 126
    assert "50 lines" in outcome.stderr


def test_a_labelled_service_resolves_by_id_prefix_without_the_switch(swarm_policy: Path, swarm: Swarm) -> None:
    outcome = run_rshell(swarm_policy, "-c", f"logs --json {swarm.ids['labelled'][:8]}")
    assert outcome.status == 0, outcome.stderr
    documents = outcome.ndjson()
    assert documents[-1]["service"] == swarm.services.name("labelled")
    assert any("labelled-line" in json.dumps(document) for document in documents)


def test_a_name_both_container_and_service_means_the_container_unless_service(swarm_policy: Path, swarm: Swarm) -> None:
    web = swarm.services.name("web")
    as_container = run_rshell(swarm_policy, "-c", f"logs {web}")
    as_service = run_rshell(swarm_policy, "-c", f"logs --service {web}")
    assert (as_container.status, as_service.status) == (0, 0)
    assert "container-web-output" in as_container.stdout
    assert "web-line" not in as_container.stdout
    assert "web-line" in as_service.stdout


def test_completion_and_mcp_tools_offer_visible_services_only(swarm_policy: Path, swarm: Swarm) -> None:
    visible = {swarm.services.name(s) for s in ("web", "labelled", "fragile")}
    hidden = swarm.services.name("hidden")
    candidates = Candidates(local_session(swarm_policy, "repl"))
    assert set(candidates.target_names(ArgKind.SERVICE)) == visible
    completer = SpecCompleter(candidates)
    assert set(offered(completer, f"logs --service {swarm.services.prefix}")) == visible
    assert set(offered(completer, f"restart {swarm.services.prefix}")) == visible
    tools = {tool.name: tool.input_schema for tool in Tools(local_session(swarm_policy, "mcp"), McpLimits()).listing()}
    assert set(tools["ps"]["properties"]["service"]["enum"]) >= visible
    for verb in ("logs", "restart"):
        assert visible <= set(tools[verb]["properties"]["container"]["enum"])
        assert tools[verb]["properties"]["service"]["type"] == "boolean"
    assert hidden not in json.dumps(tools)


def _audit(policy: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (policy.parent / "audit.jsonl").read_text().splitlines()]


def test_restart_service_converges_and_is_rate_limited_across_processes(swarm_policy: Path, swarm: Swarm) -> None:
    web = swarm.services.name("web")
    before = _force_count(swarm, "web")
    first = run_rshell(swarm_policy, "-c", f"restart --service {web} --json", timeout=120)
    assert first.status == 0, first.stderr
    assert (first.json()["state"], first.json()["running"]) == ("completed", 2)
    jsonschema.validate(first.json(), output_schema("restart"))
    assert _force_count(swarm, "web") == before + 1
    records = [record for record in _audit(swarm_policy) if record["verb"] == "restart"]
    assert [record["phase"] for record in records] == ["intent", "done"]
    assert records[0]["targets"] == [{"id": swarm.ids["web"], "name": web, "kind": "service"}]
    second = run_rshell(swarm_policy, "-c", f"restart --service {web}")  # a new process, the same budget
    assert second.status == 126
    assert second.stderr.startswith(f"rshell: rate limit: restart {web} is allowed 1 times per")
    assert _force_count(swarm, "web") == before + 1


def test_restart_reports_a_paused_update_with_the_task_errors(swarm_policy: Path, swarm: Swarm) -> None:
    (swarm.state_dir / BROKEN_FLAG).write_text("")
    outcome = run_rshell(swarm_policy, "-c", f"restart {swarm.services.name('fragile')}", timeout=120)
    assert outcome.status == 1
    assert "update paused" in outcome.stderr
    assert "non-zero exit (1)" in outcome.stderr


def _set_labels(swarm: Swarm, suffix: str, labels: dict[str, str]) -> None:
    api = swarm.services.client.api
    details = api.inspect_service(swarm.ids[suffix])
    api.update_service(swarm.ids[suffix], details["Version"]["Index"], labels=labels, fetch_current_spec=True)


def test_a_followed_service_stream_ends_when_the_service_leaves_the_view(swarm_policy: Path, swarm: Swarm) -> None:
    command = [
        *RSHELL,
        "--policy",
        str(swarm_policy),
        "-c",
        f"logs --service {swarm.services.name('labelled')} --follow",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        assert process.stdout is not None
        assert "labelled-line" in process.stdout.readline().decode()
        _set_labels(swarm, "labelled", {})  # relabelled out of the policy while the stream runs
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        _set_labels(swarm, "labelled", {"rshell.visible": "true"})
    assert process.returncode == 126
    assert "no longer visible" in stderr.decode()
