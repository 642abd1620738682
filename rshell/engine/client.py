"""The Docker Engine connection: an explicit URL from the policy, never the user's Docker config."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rshell.errors import RshellError, VerbFailed

if TYPE_CHECKING:
    from rshell.engine.pool import StreamSlots

#: the API version rshell speaks; fixing it saves the version round trip at start-up
API_VERSION = "1.41"
#: how long one container list serves every caller in the broker (its concurrent ``ps``); state-changing
#: verbs drop it, so a restart is never followed by a stale list. A local session always asks afresh.
BROKER_LIST_TTL_SECONDS = 0.5


#: how many images' labels are kept (per process, every Engine shares them: an image ID names its content)
IMAGE_LABELS_CACHE_SIZE = 4096
_IMAGE_LABELS: dict[tuple[str, str], dict[str, str]] = {}
_IMAGE_LABELS_LOCK = threading.Lock()


class Engine:
    """A lazily built docker-py client for one engine URL."""

    def __init__(
        self,
        url: str,
        timeout: float,
        *,
        pool_size: int = 10,
        list_ttl: float = 0.0,
        streams: StreamSlots | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.pool_size = pool_size
        self.list_ttl = list_ttl
        #: the broker's caps on long streams; with them the pool is bounded and blocking (rshell.engine.pool)
        self.streams = streams
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._lists: dict[bool, tuple[float, list[dict[str, Any]]]] = {}
        self._list_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The docker.DockerClient, built on first use (once, however many threads ask)."""
        with self._client_lock:
            if self._client is None:
                self._client = _build_client(self.url, self.timeout, self.pool_size)
                if self.streams is not None:
                    from rshell.engine.pool import bound_unix_client  # noqa: PLC0415 - imports docker-py

                    bound_unix_client(self._client, self.url, self.timeout, self.pool_size, self.streams)
            return self._client

    def containers(self, *, include_stopped: bool, fresh: bool = False) -> list[dict[str, Any]]:
        """The engine's container list (treat it as read-only); callers within ``list_ttl`` of a fetch
        share it, and concurrent callers wait for one fetch instead of each making their own.
        ``fresh`` asks the engine now (the shared list may predate a container made a moment ago)."""
        with self._list_lock:
            cached = self._lists.get(include_stopped)
            if not fresh and cached is not None and time.monotonic() - cached[0] < self.list_ttl:
                return cached[1]
            rows: list[dict[str, Any]] = self.client.api.containers(all=include_stopped)
            self._lists[include_stopped] = (time.monotonic(), rows)
            return rows

    def forget_containers(self) -> None:
        """Drop the shared list: something may have changed a container."""
        with self._list_lock:
            self._lists.clear()

    def image_labels(self, image_id: str) -> dict[str, str] | None:
        """The labels of image ``image_id`` (a content hash, so they never change: cached for good);
        None when the engine no longer has the image."""
        from docker import errors as docker_errors  # noqa: PLC0415

        key = (self.url, image_id)
        with _IMAGE_LABELS_LOCK:
            cached = _IMAGE_LABELS.get(key)
        if cached is not None:
            return cached
        try:
            details = self.client.api.inspect_image(image_id)
        except docker_errors.NotFound:
            return None
        labels = {str(k): str(v) for k, v in ((details.get("Config") or {}).get("Labels") or {}).items()}
        with _IMAGE_LABELS_LOCK:
            if len(_IMAGE_LABELS) >= IMAGE_LABELS_CACHE_SIZE:
                _IMAGE_LABELS.clear()
            _IMAGE_LABELS[key] = labels
        return labels

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _build_client(url: str, timeout: float, pool_size: int) -> Any:
    """Build the client so that neither DOCKER_* variables nor ~/.docker/config.json are read.

    docker-py's APIClient reads the general config (HttpHeaders, proxies, credential helpers)
    from DOCKER_CONFIG or the home directory in its constructor; both go through
    ``find_config_file``, which we make find nothing while the client is built.
    """
    import docker  # noqa: PLC0415 - docker-py is heavy; only verbs that talk to the engine pay for it
    from docker.utils import config as docker_config  # noqa: PLC0415

    original = docker_config.find_config_file
    docker_config.find_config_file = _no_config_file
    try:
        client = docker.DockerClient(
            base_url=url, version=API_VERSION, timeout=max(1, round(timeout)), max_pool_size=pool_size
        )
    finally:
        docker_config.find_config_file = original
    client.api.trust_env = False  # no proxies or .netrc from the environment
    client.api._general_configs = {}
    return client


def _no_config_file(config_path: str | None = None) -> None:
    return None


@contextlib.contextmanager
def engine_errors(url: str) -> Iterator[None]:
    """Turn docker-py and transport exceptions into one clear line (exit 1)."""
    try:
        yield
    except RshellError:
        raise
    except Exception as error:
        translated = translate_engine_error(error, url)
        if translated is None:
            raise
        raise translated from None


def translate_engine_error(error: Exception, url: str) -> RshellError | None:
    """A one-line VerbFailed for errors that come from the engine or the way to it."""
    import requests  # noqa: PLC0415 - imported with docker-py anyway
    import urllib3  # noqa: PLC0415 - imported with docker-py anyway
    from docker import errors as docker_errors  # noqa: PLC0415

    if isinstance(error, docker_errors.NotFound):
        return VerbFailed(f"the engine no longer has that object: {_explanation(error)}")
    if isinstance(error, docker_errors.APIError):
        return VerbFailed(f"the engine refused: {_explanation(error)}")
    if isinstance(error, (requests.exceptions.Timeout, urllib3.exceptions.EmptyPoolError)):
        return VerbFailed(_slow_message(error, url))
    if isinstance(error, PermissionError) or "Permission denied" in str(error):
        return VerbFailed(f"permission denied on the Docker engine socket {url}")
    if isinstance(error, (requests.exceptions.ConnectionError, docker_errors.DockerException, ConnectionError)):
        return VerbFailed(f"cannot reach the Docker engine at {url}")
    return None


def _slow_message(error: Exception, url: str) -> str:
    import urllib3  # noqa: PLC0415 - imported with docker-py anyway

    if isinstance(error, urllib3.exceptions.EmptyPoolError):  # rshell.engine.pool's bounded pool, after its wait
        return f"all of the broker's connections to the Docker engine at {url} stayed busy; try again"
    return f"the Docker engine at {url} did not answer in time"


def _explanation(error: Any) -> str:
    explanation = getattr(error, "explanation", None) or str(error)
    return str(explanation).splitlines()[0][:300]
