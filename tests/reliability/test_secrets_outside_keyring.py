"""Secrets outside the keyring: a credential in a base URL's query string or userinfo, a token inside
a hook command, and a key value echoed inside a successful answer never reach the database, the
reports or `--json` output; a resumed session keeps working without the redacted hook."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.offline_brain import offline_brain
from tests.fakes.provider_server import FakeProvider
from tests.reliability.support import GROQ_KEY, GROQ_MODEL, cli, cli_env, only_session_id, write_config

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
            shown = cli(*args, env=env)
            assert shown.returncode == 0, shown.stderr
            outputs += [shown.stdout, shown.stderr]
        everything = _everything(home, outputs)
        for secret in (URL_SECRET, USERINFO_SECRET, HOOK_TOKEN, GROQ_KEY):
            assert secret not in everything, f"{secret} was stored or shown"
        assert "region=eu" in everything  # the rest of the URL is kept
    finally:
        provider.stop()
