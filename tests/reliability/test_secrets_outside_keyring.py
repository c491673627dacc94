"""Secrets outside the keyring: a credential in a base URL's query string or userinfo, a token inside
a hook command, and a key value echoed inside a successful answer never reach the database, the
reports or `--json` output; a resumed session keeps working without the redacted hook."""

from __future__ import annotations

from pathlib import Path

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import (
    GROQ_KEY,
    GROQ_MODEL,
    cli,
    cli_env,
    cli_in_process,
    only_session_id,
    write_config,
)

URL_SECRET = "qs-secret-0f3a9c1d7e"
USERINFO_SECRET = "pw-secret-77c2b1e4aa"
HOOK_TOKEN = "hook-token-5d8e2f9b31"


def _everything(home: Path, outputs: list[str]) -> str:
    blobs = [p.read_bytes().decode("latin-1") for p in home.rglob("*") if p.is_file()]
    return "\n".join(blobs + outputs)


def test_credentials_in_urls_hooks_and_echoed_answers_are_never_stored(tmp_path: Path) -> None:
    base = offline_brain("base")

    def echoing(system: str | None, turns: list[tuple[str, str]]) -> str:
        return base(system, turns) + f"\n(served for key {GROQ_KEY})"

    provider = FakeProvider(brain=echoing).start()
    try:
        home = tmp_path / "home"
        env = cli_env(home, provider)
        config = write_config(
            tmp_path / "s.toml",
            rounds=1,
            models=(GROQ_MODEL,),
            hook_timeout_s=5,
        )
        text = config.read_text().replace(
            "[task]\n",
            f'[base_urls]\nopenai = "https://api.example.invalid/v1?api_key={URL_SECRET}&region=eu"\n'
            f'together = "https://user:{USERINFO_SECRET}@api.example.invalid/v1"\n'
            f'[hooks]\nsession_started = "true --token {HOOK_TOKEN}"\n[task]\n',
        )
        config.write_text(text)
        out = cli("run", str(config), "--headless", env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        sid = only_session_id(env)
        outputs = [out.stdout, out.stderr]
        for args in (
            ("sessions", "show", sid, "--json"),
            ("sessions", "list", "--json"),
            ("report", sid),
            ("report", sid, "--format", "json"),
            ("report", sid, "--format", "html"),
        ):
            shown = cli_in_process(*args, env=env)
            assert shown.returncode == 0, shown.stderr
            outputs += [shown.stdout, shown.stderr]
        everything = _everything(home, outputs)
        for secret in (URL_SECRET, USERINFO_SECRET, HOOK_TOKEN, GROQ_KEY):
            assert secret not in everything, f"{secret} was stored or shown"
        assert "region=eu" in everything  # the rest of the URL is kept
    finally:
        provider.stop()


def test_a_base_url_whose_credential_was_withheld_resumes_only_from_the_environment(tmp_path: Path) -> None:
    """The stored config keeps `user:<redacted>@host`; resume says where the credential must come
    from (one sentence, exit 2, no request sent with `<redacted>` as a password) and goes on once
    DSPY_TUI_VLLM_BASE_URL gives the full URL back (vLLM: no key, so the URL's credential is its
    only authorization)."""
    import signal
    import time

    from reliability.support import cli_popen

    provider = FakeProvider(latency_s=0.05, brain=offline_brain("base")).start()
    try:
        full_url = f"http://user:{USERINFO_SECRET}@{provider.url.split('://', 1)[1]}/v1"
        env = cli_env(tmp_path / "home")
        config = write_config(tmp_path / "s.toml", rounds=2, models=("vllm/llama-3-8b",))
        text = config.read_text().replace("[task]\n", f'[base_urls]\nvllm = "{full_url}"\n[task]\n')
        config.write_text(text)
        runner = cli_popen("run", str(config), "--headless", env=env)
        deadline = time.monotonic() + 120
        while len(provider.answered()) < 5 and runner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) != 0
        sid = only_session_id(env)
        sent = len(provider.received)

        refused = cli("resume", sid, "--headless", env=env)
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert "DSPY_TUI_VLLM_BASE_URL" in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert USERINFO_SECRET not in refused.stderr
        assert len(provider.received) == sent  # nothing went out with a redacted password

        resumed = cli("resume", sid, "--headless", env={**env, "DSPY_TUI_VLLM_BASE_URL": full_url})
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert len(provider.received) > sent
    finally:
        provider.stop()
