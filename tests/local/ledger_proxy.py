"""A logging reverse proxy on 127.0.0.1: one JSON line per request that passed through it.

The `local` tests put it between dspy-tui and the llama.cpp server dspy-tui starts
(DSPY_TUI_LOCAL_PORT pins the server's port, DSPY_TUI_LOCAL_BASE_URL points the calls here),
so the ledger is the server's own account: what was asked, and the usage it answered with.

    python -m local.ledger_proxy LISTEN_PORT UPSTREAM_URL LEDGER_PATH     (run in tests/)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web


def make_app(upstream: str, ledger: Path) -> web.Application:
    out = ledger.open("a", buffering=1)
    state: dict[str, Any] = {"in_flight": 0}

    async def forward(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        entry: dict[str, Any] = {
            "t": time.time(),
            "path": request.path,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "in_flight": state["in_flight"] + 1,
        }
        if raw:
            entry["request"] = json.loads(raw)
        state["in_flight"] += 1
        started = time.perf_counter()
        try:
            session: aiohttp.ClientSession = request.app["client"]
            async with session.request(
                request.method,
                upstream + request.path_qs,
                data=raw or None,
                headers={"Content-Type": "application/json"},
            ) as up:
                body = await up.read()
                entry["status"] = up.status
            if up.status == 200 and body:
                entry["usage"] = json.loads(body).get("usage")
            return web.Response(body=body, status=up.status, content_type="application/json")
        except asyncio.CancelledError:
            entry["status"] = "client_gone"
            raise
        finally:
            state["in_flight"] -= 1
            entry["seconds"] = time.perf_counter() - started
            out.write(json.dumps(entry) + "\n")

    async def client(app: web.Application) -> Any:
        app["client"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600))
        yield
        await app["client"].close()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.cleanup_ctx.append(client)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    port, upstream, ledger = int(sys.argv[1]), sys.argv[2].rstrip("/"), Path(sys.argv[3])
    web.run_app(make_app(upstream, ledger), host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
