"""The fake ollama's model management: load and unload through /api/generate, and /api/pull.

Each follows ollama's own code path. server/routes.go GenerateHandler: after the model is found,
an empty prompt with ``keep_alive`` 0 expires the runner and answers one JSON object with
``done_reason: "unload"`` (``s.sched.expireRunner(m)``; not a stream, even when one was asked for);
otherwise the runner is scheduled (loaded) and an empty prompt answers ``done_reason: "load"``.
``keep_alive`` is a number of seconds or a duration string (api/types.go ``Duration.UnmarshalJSON``).
server/routes.go PullHandler streams api.ProgressResponse objects from server/images.go PullModel:
"pulling manifest", "pulling <digest[7:19]>" with digest/total/completed per layer, "verifying sha256
digest", "writing manifest", "success"; a failure is an ``{"error": ...}`` line (status 200, the
stream had started); a model the registry does not have fails with "file does not exist".
PullModel runs in the request's context, so a client that leaves cancels the pull: nothing is
installed.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.ollama_server import FakeModel, _OllamaHandler

#: progress objects per layer, and the pause between them (so a client can leave mid-pull)
PROGRESS_STEPS = 4
STEP_SECONDS = 0.01
_ZERO_DURATIONS = {"0", "0s", "0m", "0h", "0ms"}


def keep_alive_is_zero(value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and value.strip() in _ZERO_DURATIONS


def serve_load_or_unload(handler: _OllamaHandler, model: FakeModel, body: dict[str, Any]) -> bool:
    """Answer an empty-prompt generate (load, or unload with keep_alive 0); False for a real prompt."""
    if body.get("prompt"):
        return False
    fake = handler.fake
    unload = "keep_alive" in body and keep_alive_is_zero(body["keep_alive"])
    with fake.lock:
        if unload:
            fake.loaded.discard(model.name)
            fake.loaded_ctx.pop(model.name, None)
            fake.loaded_options.pop(model.name, None)
            if fake.on_load is not None:
                fake.on_load(model.name, False)
        else:
            fake.loaded.add(model.name)
            fake.loaded_ctx.setdefault(model.name, model.context_length)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reason = "unload" if unload else "load"
    handler._send_json(
        200, {"model": model.name, "created_at": created, "response": "", "done": True, "done_reason": reason}
    )
    return True


def serve_pull(handler: _OllamaHandler, body: dict[str, Any]) -> None:
    """Stream a pull of ``body["model"]`` from ``fake.pullable`` (name -> layer sizes)."""
    from tests.ollama_server import FakeModel  # imported here: that module imports this one

    fake = handler.fake
    name = str(body.get("model") or body.get("name") or "")
    wanted = name if ":" in name.rpartition("/")[2] else f"{name}:latest"
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-ndjson")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    layers = fake.pullable.get(wanted)
    if layers is None:
        _send_all(handler, [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}])
        return
    if not _send_all(handler, _progress(wanted, layers)):
        with fake.lock:
            fake.pulls_cancelled += 1
        return
    with fake.lock:
        if fake.model(wanted) is None:
            fake.models.append(FakeModel(wanted, size=sum(layers)))


def _progress(name: str, layers: list[int]) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = [{"status": "pulling manifest"}]
    for index, size in enumerate(layers):
        digest = "sha256:" + hashlib.sha256(f"{name}/{index}".encode()).hexdigest()
        for step in range(1, PROGRESS_STEPS + 1):
            done = size * step // PROGRESS_STEPS
            updates.append({"status": f"pulling {digest[7:19]}", "digest": digest, "total": size, "completed": done})
    updates += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
    return updates


def _send_all(handler: _OllamaHandler, documents: list[dict[str, Any]]) -> bool:
    """Each document as one NDJSON line in its own chunk; False when the client left."""
    try:
        for document in documents:
            if handler.fake.stopping.wait(STEP_SECONDS):
                return False
            line = json.dumps(document).encode() + b"\n"
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:
        return False
    return True
