"""The ollama client against the documented API: answers, errors, caps, timeouts, no proxies."""

from __future__ import annotations

import socket
import time

import pytest

from rshell.ollama import (
    MalformedResponse,
    OllamaClient,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    StreamError,
)
from rshell.ollama import client as client_module
from tests.ollama_server import FakeModel, FakeOllama

OPTIONS = {"temperature": 0, "seed": 42, "num_predict": 4}


def test_metadata_endpoints_follow_the_documented_shapes() -> None:
    with FakeOllama([FakeModel("llama3.2:1b")], version="0.6.2") as server:
        client = OllamaClient(server.url)
        assert client.version() == "0.6.2"
        assert [model["name"] for model in client.tags()] == ["llama3.2:1b"]
        assert client.running() == []
        assert client.show("llama3.2:1b")["details"]["quantization_level"] == "Q8_0"


def test_generate_stream_yields_chunks_and_ends_with_the_final_one() -> None:
    with FakeOllama([FakeModel("llama3.2:1b")]) as server:
        chunks = list(OllamaClient(server.url).generate_stream("llama3.2:1b", "one two three", OPTIONS))
    assert [chunk["done"] for chunk in chunks] == [False] * 4 + [True]
    assert chunks[-1]["eval_count"] == 4
    assert chunks[-1]["prompt_eval_count"] == 4  # BOS and three words


def test_unknown_model_is_a_server_error_carrying_ollamas_text() -> None:
    with FakeOllama([]) as server, pytest.raises(ServerError) as caught:
        OllamaClient(server.url).show("nope:7b")
    assert caught.value.status == 404
    assert str(caught.value) == "HTTP 404: model 'nope:7b' not found"


def test_mid_stream_error_line_raises_stream_error() -> None:
    with FakeOllama([FakeModel("m:1b", error_on_call=0)]) as server, pytest.raises(StreamError, match="mid-stream"):
        list(OllamaClient(server.url).generate_stream("m:1b", "hello", OPTIONS))


def test_malformed_json_line_raises_malformed_response() -> None:
    with FakeOllama([FakeModel("m:1b", malformed_on_call=0)]) as server, pytest.raises(MalformedResponse):
        list(OllamaClient(server.url).generate_stream("m:1b", "hello", OPTIONS))


def test_a_refused_connection_says_the_server_is_down() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServerUnreachable, match="connection refused"):
        OllamaClient(f"http://127.0.0.1:{port}").version()


def test_a_slow_first_token_times_out_at_the_deadline() -> None:
    with FakeOllama([FakeModel("m:1b", first_token_delay=2.0)]) as server:
        client = OllamaClient(server.url, timeout=10.0)
        started = time.monotonic()
        with pytest.raises(ServerTimeout):
            list(client.generate_stream("m:1b", "hello", OPTIONS, deadline=time.monotonic() + 0.3))
    assert time.monotonic() - started < 1.5


def test_lines_longer_than_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_LINE_BYTES", 40)
    with FakeOllama([FakeModel("m:1b")]) as server, pytest.raises(MalformedResponse, match="larger than allowed"):
        list(OllamaClient(server.url).generate_stream("m:1b", "hello", OPTIONS))


def test_proxy_variables_in_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with FakeOllama([]) as server:
        assert OllamaClient(server.url).version() == "0.6.2"


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/pull"), ("DELETE", "/api/delete"), ("POST", "/api/copy")])
def test_endpoints_that_change_the_server_cannot_be_called(method: str, path: str) -> None:
    client = OllamaClient("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not an endpoint"):
        client._open(method, path, None, None)


@pytest.mark.parametrize("url", ["unix:///run/ollama.sock", "ftp://host/", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ServerUnreachable, match="not an http"):
        OllamaClient(url)


def test_error_text_from_the_server_loses_control_characters() -> None:
    assert client_module.clean_text("bad\x1b[31m model\x07") == "bad [31m model"
