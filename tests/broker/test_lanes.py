"""Each uid's own socket (its lane, rshell.broker.lanes), on a real broker with a real unprivileged
agent: made at the uid's first connection, reachable by that uid alone, used by the client first;
a uid that fills its lane delays nobody else; a user removed from the socket's group since is
refused through its lane; the lanes of a broker that died are replaced, and removed at its stop."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

from tests.broker.conftest import POLICY, Names, own_broker, policy_text
from tests.broker.harness import PYTHON, Agent, Broker, run_as, run_client, wait_for
from tests.broker.test_caps_socket import start_rshelld
from tests.support.checks import success
from tests.support.shell import write_policy

#: as the agent: connect to a path, print what happened (the error's class name, or "connected")
CONNECT = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(sys.argv[1])
    print("connected")
except OSError as error:
    print(type(error).__name__)
"""
#: as the agent: connects to its lane, each waiting up to 0.5 s for room in its queue, until one
#: times out (at most 500), then hold them all until stdin closes; prints how many it queued
FILL_LANE = """
import json, socket, struct, sys
held = []
for _ in range(500):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 500000))
    try:
        sock.connect(sys.argv[1])
    except BlockingIOError:
        break
    held.append(sock)
print(json.dumps(len(held)), flush=True)
sys.stdin.read()
"""


def lanes_of(broker: Broker) -> Path:
    return Path(f"{broker.socket}.lanes")


def test_a_users_first_connection_makes_a_lane_only_that_user_can_reach_and_the_client_uses_it(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    stale = socket_dir / "lanes.sock.lanes"
    stale.mkdir(exist_ok=True)
    (stale / str(agent.uid)).write_text("left by a broker that was killed")
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="lanes") as broker:
        lanes = lanes_of(broker)
        # root's lane only, made by the harness's status probe: the dead broker's entry is gone
        assert sorted(path.name for path in lanes.iterdir()) == ["0"]
        info = lanes.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o755)

        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
        success(run_client(None, broker.socket, "-c", "ps"))
        mine, roots = lanes / str(agent.uid), lanes / "0"
        info = mine.lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (agent.uid, 0o600)
        assert stat.S_IMODE(roots.lstat().st_mode) == 0o600

        assert run_as(agent, CONNECT, str(roots)).stdout.strip() == "PermissionError"
        squat = "open(__import__('sys').argv[1], 'w')"
        assert "PermissionError" in run_as(agent, squat, str(lanes / "4242")).stderr

        broker.socket.chmod(0o600)  # the shared socket now refuses the agent: only its lane is left
        try:
            assert run_as(agent, CONNECT, str(broker.socket)).stdout.strip() == "PermissionError"
            assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
        finally:
            broker.socket.chmod(0o660)
    assert not lanes.exists(), "the lanes outlived their broker"


def test_a_user_that_fills_its_lane_waits_in_it_and_delays_nobody_else(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    options = ("--connection-rate-per-uid", "1", "--max-connections-per-uid", "4")
    with own_broker(
        agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="fill-lane", options=options
    ) as broker:
        success(run_client(agent, broker.socket, "-c", "whoami"))  # the agent's lane is made
        success(run_client(None, broker.socket, "-c", "whoami"))  # and root's
        lane = lanes_of(broker) / str(agent.uid)
        command = [*agent.prefix(), *PYTHON, "-c", FILL_LANE, str(lane)]
        filler = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
        try:
            assert filler.stdout is not None
            queued = json.loads(filler.stdout.readline())
            # the broker took its burst (4) and then one a second: the rest waits in the lane's own
            # queue (64) until the kernel refuses more; a lane drained at any speed would take all 500
            assert 64 <= queued < 100, queued
            outcome = success(run_client(None, broker.socket, "-c", "ps", timeout=10))
            assert names.name("app") in outcome.stdout
        finally:
            filler.kill()
            filler.wait()
        assert broker.process.poll() is None


def test_a_user_removed_from_the_socket_group_is_refused_through_its_lane(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path, member_group: str
) -> None:
    policy = write_policy(tmp_path / "etc", policy_text(agent, names.prefix))
    broker = Broker(policy, socket_dir / "lane-group.sock", member_group, socket_dir / "lane-group.log")
    try:
        success(run_client(agent, broker.socket, "-c", "whoami"))
        assert (lanes_of(broker) / str(agent.uid)).exists()
        subprocess.run(["gpasswd", "-d", agent.user, member_group], check=True, capture_output=True)
        broker.reload()  # forgets the groups it knew (SIGHUP), as it does on its own within 5 s
        assert wait_for(lambda: "policy reloaded" in broker.stderr(), 10), broker.stderr()
        outcome = run_client(agent, broker.socket, "-c", "whoami")
        assert outcome.status == 126, outcome
        assert outcome.stdout == ""
        assert f"no longer in the group {member_group!r} that may use the broker" in outcome.stderr
        assert len(outcome.stderr.splitlines()) == 1, outcome.stderr
        assert "Traceback" not in broker.stderr()
    finally:
        broker.stop()
    assert not os.path.exists(f"{broker.socket}.lanes")


def test_a_second_broker_leaves_the_live_ones_lanes(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="lanes-second") as broker:
        success(run_client(agent, broker.socket, "-c", "whoami"))
        second = start_rshelld(broker.policy, broker.socket, agent.group)
        assert second.returncode == 1, second.stderr
        lane = lanes_of(broker) / str(agent.uid)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(lane))  # still the live broker's, still listening
        assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout


def test_a_lane_that_does_not_answer_sends_the_client_to_the_shared_socket(
    agent: Agent, names: Names, socket_dir: Path, tmp_path: Path
) -> None:
    with own_broker(agent, names, socket_dir, tmp_path / "etc", body=POLICY, name="lane-stale") as broker:
        success(run_client(agent, broker.socket, "-c", "whoami"))
        lane = lanes_of(broker) / str(agent.uid)
        lane.unlink()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
            stale.bind(str(lane))  # bound, never listened on: connecting is refused
            os.chown(lane, agent.uid, -1)
            assert run_as(agent, CONNECT, str(lane)).stdout.strip() == "ConnectionRefusedError"
            assert names.name("app") in success(run_client(agent, broker.socket, "-c", "ps")).stdout
