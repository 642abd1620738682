"""StrictModes for the policy: refuse a file, or any directory above it, that others could change; say how to fix."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rshell.errors import PolicyError
from rshell.policy.filecheck import read_checked, read_policy_file
from tests.support.checks import refusal, success
from tests.support.shell import as_user, run_rshell, write_policy

BODY = "principals:\n  users: {root: viewer, nobody: viewer}\nroles:\n  viewer: {verbs: [ps]}\n"
NOBODY = as_user("nobody", "nogroup")
NOBODY_UID = 65534
OTHER_UID = 12345  # a uid that is neither root nor the caller


def _mode_id(value: object) -> str | None:
    return oct(value) if isinstance(value, int) else None


@pytest.mark.parametrize(
    ("mode", "who"),
    [(0o620, "group"), (0o602, "others"), (0o666, "group and others"), (0o622, "group and others"), (0o660, "group")],
    ids=_mode_id,
)
def test_policy_writable_by_group_or_others_refuses_start(policy_dir: Path, mode: int, who: str) -> None:
    path = write_policy(policy_dir, BODY, mode=mode)
    message = refusal(run_rshell(path, "-c", "ps"), 1, f"policy file {path} is writable by {who}")
    assert f"fix with 'chmod go-w {path}'" in message
    assert message.endswith("refusing to start")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o400, 0o444], ids=_mode_id)
def test_policy_not_writable_by_others_starts(policy_dir: Path, mode: int) -> None:
    success(run_rshell(write_policy(policy_dir, BODY, mode=mode), "-c", "whoami"))


@pytest.mark.parametrize("uid", [NOBODY_UID, OTHER_UID])
def test_policy_owned_by_a_non_root_user_refuses_start(policy_dir: Path, uid: int) -> None:
    path = write_policy(policy_dir, BODY)
    os.chown(path, uid, 0)
    message = refusal(run_rshell(path, "-c", "ps"), 1, f"policy file {path} is owned by uid {uid}, not root")
    assert f"fix with 'chown root:root {path}'" in message


def test_allow_user_owned_policy_does_not_admit_another_users_file(policy_dir: Path) -> None:
    path = write_policy(policy_dir, BODY)
    os.chown(path, NOBODY_UID, 0)
    refusal(run_rshell(path, "--allow-user-owned-policy", "-c", "ps"), 1, f"owned by uid {NOBODY_UID}")


@pytest.mark.parametrize(
    ("mode", "who"), [(0o770, "group"), (0o707, "others"), (0o777, "group and others"), (0o730, "group")], ids=_mode_id
)
def test_policy_in_a_writable_directory_refuses_start(policy_dir: Path, mode: int, who: str) -> None:
    path = write_policy(policy_dir, BODY)
    policy_dir.chmod(mode)
    message = refusal(
        run_rshell(path, "-c", "ps"), 1, f"directory of the policy file {policy_dir} is writable by {who}"
    )
    assert f"chmod go-w {policy_dir}" in message


def test_policy_in_a_directory_owned_by_a_user_refuses_start(policy_dir: Path) -> None:
    path = write_policy(policy_dir, BODY)
    os.chown(policy_dir, NOBODY_UID, 0)
    refusal(run_rshell(path, "-c", "ps"), 1, f"directory of the policy file {policy_dir} is owned by uid {NOBODY_UID}")


def test_policy_below_a_writable_directory_refuses_start(tmp_path: Path) -> None:
    """Whoever can rename a directory anywhere above the file can swap the whole policy."""
    upper = tmp_path / "upper"
    path = write_policy(upper / "etc", BODY)
    upper.chmod(0o777)
    refusal(run_rshell(path, "-c", "ps"), 1, f"directory above the policy file {upper} is writable by group and others")


def test_policy_in_a_sticky_directory_starts(tmp_path: Path) -> None:
    """Like /tmp: others may create files there but cannot replace root's."""
    path = write_policy(tmp_path / "sticky", BODY)
    path.parent.chmod(0o1777)
    success(run_rshell(path, "-c", "whoami"))


def test_symlink_to_a_writable_policy_refuses_start(policy_dir: Path, tmp_path: Path) -> None:
    real = write_policy(policy_dir, BODY, mode=0o666)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    refusal(run_rshell(link, "-c", "ps"), 1, "is writable by group and others")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda path: os.mkfifo(path, 0o600), "is not a regular file"),
        (lambda path: path.mkdir(mode=0o700), "is not a regular file"),
        (lambda path: path.write_bytes(b"#" * (1 << 20) + b"\n"), "is larger than 1048576 bytes"),
    ],
    ids=["fifo", "directory", "too-large"],
)
def test_policy_that_is_not_a_small_file_refuses_start(
    policy_dir: Path, make: Callable[[Path], object], fragment: str
) -> None:
    policy_dir.mkdir(mode=0o700)
    path = policy_dir / "policy.yaml"
    make(path)
    refusal(run_rshell(path, "-c", "ps", timeout=10), 1, f"policy file {path} {fragment}")


# --- a non-root admin in local mode: --allow-user-owned-policy -----------------------------------


def _nobody_policy(public_dir: Path, owner: int) -> Path:
    home = public_dir / "nobody"
    path = write_policy(home, BODY)
    home.chmod(0o755)
    for item in (home, path):
        os.chown(item, owner, 65534)
    return path


def test_allow_user_owned_policy_admits_the_callers_own_file(public_dir: Path) -> None:
    path = _nobody_policy(public_dir, NOBODY_UID)
    outcome = success(run_rshell(path, "--allow-user-owned-policy", "-c", "whoami --json", prefix=NOBODY))
    assert outcome.json()["user"] == "nobody"


def test_callers_own_file_is_refused_without_the_flag(public_dir: Path) -> None:
    path = _nobody_policy(public_dir, NOBODY_UID)
    refusal(run_rshell(path, "-c", "whoami", prefix=NOBODY), 1, f"is owned by uid {NOBODY_UID}, not root")


def test_allow_user_owned_policy_refuses_a_third_users_file(public_dir: Path) -> None:
    path = _nobody_policy(public_dir, OTHER_UID)
    refusal(
        run_rshell(path, "--allow-user-owned-policy", "-c", "whoami", prefix=NOBODY),
        1,
        f"is owned by uid {OTHER_UID}, not root",
    )


def test_allow_user_owned_policy_still_refuses_a_writable_file(public_dir: Path) -> None:
    path = _nobody_policy(public_dir, NOBODY_UID)
    path.chmod(0o646)
    refusal(run_rshell(path, "--allow-user-owned-policy", "-c", "whoami", prefix=NOBODY), 1, "writable by others")


# --- symlinks: the link's own directories count as much as the target's ---------------------------


def _good(tmp_path: Path) -> Path:
    """A policy root may trust: root's, 0600, in root's 0700 directory."""
    return write_policy(tmp_path / "real", BODY)


def _dir(tmp_path: Path, name: str, mode: int) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    directory.chmod(mode)
    return directory


def _link_in_writable_dir(tmp_path: Path) -> Path:
    link = _dir(tmp_path, "open", 0o777) / "policy.yaml"
    link.symlink_to(_good(tmp_path))
    return link


def _link_in_root_dir(tmp_path: Path) -> Path:
    link = _dir(tmp_path, "etc-rshell", 0o755) / "policy.yaml"
    link.symlink_to(_good(tmp_path))
    return link


def _relative_link(tmp_path: Path) -> Path:
    _good(tmp_path)
    link = _dir(tmp_path, "etc-rshell", 0o755) / "policy.yaml"
    link.symlink_to("../real/policy.yaml")
    return link


def _users_link_in_sticky_dir(tmp_path: Path) -> Path:
    """Sticky protects root's entries, not a link its owner can point anywhere."""
    link = _dir(tmp_path, "sticky", 0o1777) / "policy.yaml"
    link.symlink_to(_good(tmp_path))
    os.chown(link, NOBODY_UID, 0, follow_symlinks=False)
    return link


def _chain_through_writable_dir(tmp_path: Path) -> Path:
    middle = _dir(tmp_path, "open", 0o777) / "middle.yaml"
    middle.symlink_to(_good(tmp_path))
    first = _dir(tmp_path, "etc-rshell", 0o755) / "policy.yaml"
    first.symlink_to(middle)
    return first


def _directory_link_into_writable_dir(tmp_path: Path) -> Path:
    target = _dir(tmp_path, "open", 0o777)
    write_policy(target, BODY)
    target.chmod(0o777)
    link = _dir(tmp_path, "etc", 0o755) / "rshell"
    link.symlink_to(target, target_is_directory=True)
    return link / "policy.yaml"


def _dotdot_after_directory_link(tmp_path: Path) -> Path:
    """``link/..`` is the link target's parent, as the kernel resolves it, not the link's directory."""
    sub = _good(tmp_path).parent / "sub"
    sub.mkdir(mode=0o755)
    link = _dir(tmp_path, "etc-rshell", 0o755) / "sub"
    link.symlink_to(sub, target_is_directory=True)
    return link / ".." / "policy.yaml"


def _loop(tmp_path: Path) -> Path:
    directory = _dir(tmp_path, "etc-rshell", 0o755)
    (directory / "a.yaml").symlink_to(directory / "policy.yaml")
    (directory / "policy.yaml").symlink_to(directory / "a.yaml")
    return directory / "policy.yaml"


#: (how the path is made, what the refusal says; None: the shell starts)
SYMLINKS: dict[str, tuple[Callable[[Path], Path], str | None]] = {
    "link-in-writable-dir": (_link_in_writable_dir, "directory of a symlink to the policy file"),
    "link-in-root-dir": (_link_in_root_dir, None),
    "relative-link": (_relative_link, None),
    "users-link-in-sticky-dir": (_users_link_in_sticky_dir, f"is owned by uid {NOBODY_UID}, not root"),
    "chain-through-writable-dir": (_chain_through_writable_dir, "directory of a symlink to the policy file"),
    "directory-link-into-writable-dir": (_directory_link_into_writable_dir, "directory of the policy file"),
    "dotdot-after-directory-link": (_dotdot_after_directory_link, None),
    "loop": (_loop, "symbolic links"),
}


@pytest.mark.parametrize(("make", "fragment"), list(SYMLINKS.values()), ids=list(SYMLINKS))
def test_symlinked_policy_is_checked_along_every_directory(
    tmp_path: Path, make: Callable[[Path], Path], fragment: str | None
) -> None:
    path = make(tmp_path)
    if fragment is None:
        success(run_rshell(path, "-c", "whoami"))
    else:
        message = refusal(run_rshell(path, "-c", "ps"), 1, fragment)
        assert message.endswith("refusing to start")


# --- the checked descriptor is the one read: replacing the path after the open changes nothing -----


def test_a_file_swapped_in_after_the_open_is_not_read(tmp_path: Path) -> None:
    path = _good(tmp_path)
    swapped = path.with_name("swapped.yaml")
    swapped.write_text("version: 1\nprincipals: {users: {root: admin}}\n")
    swapped.chmod(0o600)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.replace(swapped, path)  # between the open and the read, as a race would
        with pytest.raises(PolicyError, match="was replaced while it was being read"):
            read_checked(fd, path)
    finally:
        os.close(fd)


def test_the_mode_checked_is_the_opened_files_not_the_paths(tmp_path: Path) -> None:
    """The opened file was writable by others; a good file put at the path afterwards does not excuse it."""
    path = _good(tmp_path)
    path.chmod(0o666)
    good = path.with_name("good.yaml")
    good.write_text(BODY)
    good.chmod(0o600)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.replace(good, path)
        with pytest.raises(PolicyError, match="is writable by group and others"):
            read_checked(fd, path)
    finally:
        os.close(fd)


def test_the_bytes_returned_are_the_opened_files(tmp_path: Path) -> None:
    path = _good(tmp_path)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_checked(fd, path) == path.read_bytes()
        assert read_policy_file(path) == path.read_bytes()
    finally:
        os.close(fd)
