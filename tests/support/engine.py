"""Test containers on the real Docker engine, from an image made with ``docker import``."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker

ENGINE_URL = "unix:///var/run/docker.sock"
IMAGE = "rshell-test/busybox:1"
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "sleep", "cat", "true", "false", "printf", "seq", "yes", "head", "kill")


def engine_client() -> Any:
    client = docker.DockerClient(base_url=ENGINE_URL, version="1.41", timeout=60)
    client.ping()
    return client


def ensure_image(client: Any) -> str:
    """Import a one-binary busybox image (no registry here), once per machine."""
    if client.api.images(name=IMAGE):
        return IMAGE
    busybox = shutil.which("busybox") or BUSYBOX
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        archive.addfile(tmp)
    repository, tag = IMAGE.split(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)
    return IMAGE


@dataclass
class EngineContainers:
    """Containers made for one test session, named with a random prefix and removed at the end."""

    client: Any
    prefix: str = field(default_factory=lambda: f"rst{secrets.token_hex(3)}")
    made: list[str] = field(default_factory=list)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def run(
        self,
        suffix: str,
        script: str,
        *,
        labels: Mapping[str, str] | None = None,
        healthcheck: Sequence[str] | None = None,
        start: bool = True,
    ) -> Any:
        """Create (and start) a container running ``sh -c script``."""
        name = self.name(suffix)
        health = None
        if healthcheck is not None:
            health = {"test": list(healthcheck), "interval": 500_000_000, "timeout": 1_000_000_000, "retries": 3}
        container = self.client.containers.create(
            IMAGE, ["sh", "-c", script], name=name, labels=dict(labels or {}), healthcheck=health, init=False
        )
        self.made.append(container.id)
        if start:
            container.start()
        return container

    def remove_all(self) -> None:
        for container_id in self.made:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_container(container_id, force=True)


def running_as_root() -> bool:
    return os.geteuid() == 0
