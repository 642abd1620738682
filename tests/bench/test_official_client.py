"""The official ``ollama`` Python client (PyPI) parses every answer the test server sends, so the
server's shapes are ollama's, not ones only rshell's client accepts."""

from __future__ import annotations

import ollama
import pytest

from tests.ollama_server import BUSY, FakeModel, FakeOllama


def test_the_official_client_parses_tags_ps_show_and_version() -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        client = ollama.Client(host=server.url)
        listed = client.list()
        client.generate(model="llama3.2:1b", prompt="one two", options={"num_predict": 2})
        running = client.ps()
        shown = client.show("llama3.2:1b")
    (entry,) = listed.models
    assert (entry.model, entry.size, entry.digest) == ("llama3.2:1b", 1_300_000_000, FakeModel("llama3.2:1b").digest)
    assert entry.modified_at is not None
    assert entry.details is not None
    assert entry.details.quantization_level == "Q8_0"
    (loaded,) = running.models
    assert (loaded.model, loaded.size_vram, loaded.context_length) == ("llama3.2:1b", 1_300_000_000, 4096)
    assert loaded.expires_at is not None
    assert shown.modelinfo is not None
    assert shown.modelinfo["tokenizer.ggml.add_bos_token"] is True


def test_the_official_client_parses_a_stream_and_a_single_answer() -> None:
    with FakeOllama([FakeModel("llama3.2:1b")], version="0.30.1") as server:
        client = ollama.Client(host=server.url)
        chunks = list(
            client.generate(model="llama3.2:1b", prompt="one two three", stream=True, options={"num_predict": 4})
        )
        single = client.generate(model="llama3.2:1b", prompt="one two three", options={"num_predict": 4})
    assert [chunk.done for chunk in chunks] == [False] * 4 + [True]
    final = chunks[-1]
    assert (final.eval_count, final.prompt_eval_count, final.done_reason) == (4, 4, "length")
    assert final.eval_duration == round(3 / 64.0 * 1e9)  # three decode steps after the first token
    assert single.done is True
    assert single.eval_count == 4
    assert single.prompt_eval_count == 4  # v0.30+: the cached BOS is counted too


def test_the_official_client_reads_the_errors_as_ollama_sends_them() -> None:
    with FakeOllama([FakeModel("llama3.2:1b")], statuses={0: BUSY}) as server:
        client = ollama.Client(host=server.url)
        with pytest.raises(ollama.ResponseError) as busy:
            client.generate(model="llama3.2:1b", prompt="x", stream=False)
        with pytest.raises(ollama.ResponseError) as missing:
            client.generate(model="nope:1b", prompt="x", stream=False)
    assert (busy.value.status_code, busy.value.error) == (503, BUSY[1])
    assert (missing.value.status_code, missing.value.error) == (404, "model 'nope:1b' not found")
