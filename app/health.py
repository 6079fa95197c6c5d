"""The health check: HTTP through the server's public address, with a deadline and backoff."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

FIRST_WAIT_S = 0.2
MAX_WAIT_S = 3.0
REQUEST_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Health:
    ok: bool
    url: str
    detail: str        # "200" or why not
    attempts: int


def url_for(address: str, port: int, path: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}{'' if port == 80 else f':{port}'}{path}"


def _probe(url: str) -> tuple[bool, str]:
    # Imported here: a no-op deploy never checks health, and requests costs ~0.1 s to import.
    import requests
    try:
        with requests.get(url, timeout=REQUEST_TIMEOUT_S, allow_redirects=False, stream=True) as r:
            return 200 <= r.status_code < 300, f"HTTP {r.status_code}"
    except requests.RequestException as exc:
        return False, type(exc).__name__


async def wait_healthy(address: str, port: int, path: str, deadline_s: float) -> Health:
    """Probe until a 2xx or the deadline; waits double from FIRST_WAIT_S up to MAX_WAIT_S."""
    url = url_for(address, port, path)
    end = time.monotonic() + deadline_s
    wait, attempts, detail = FIRST_WAIT_S, 0, "no answer"
    while True:
        attempts += 1
        ok, detail = await asyncio.to_thread(_probe, url)
        if ok:
            return Health(True, url, detail, attempts)
        left = end - time.monotonic()
        if left <= 0:
            return Health(False, url, detail, attempts)
        await asyncio.sleep(min(wait, left))
        wait = min(wait * 2, MAX_WAIT_S)


def parse_services(stdout: str) -> dict[str, str]:
    """remote.commands.inspect_services lines "<service> <status> <health or ->" ->
    {service: "healthy" | what it is instead}. Running without a healthcheck counts as
    healthy; of several containers of one service the worst one speaks."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        service, status, health = parts
        if status != "running":
            word = status
        else:
            word = "healthy" if health == "-" else health
        if out.get(service, "healthy") == "healthy":
            out[service] = word
    return out


async def wait_services_healthy(conn, project: str, services: tuple[str, ...],
                                timeout_s: float) -> tuple[bool, str]:
    """Until every one of `services` (the project's running containers, read from Docker)
    is healthy by its Compose healthcheck, or the deadline: (ok, what was seen)."""
    import asyncio

    from remote import commands as c
    loop = asyncio.get_running_loop()
    end, pause, seen = loop.time() + timeout_s, 0.5, {}
    while True:
        ids = (await conn.run(c.running_containers(project), check=False, timeout=30)).stdout.split()
        if ids:
            done = await conn.run(c.inspect_services(ids), check=False, timeout=30)
            seen = parse_services(done.stdout)
        states = ", ".join(f"{s} {seen.get(s, 'not running')}" for s in services)
        if all(seen.get(s) == "healthy" for s in services):
            return True, f"healthy by their Compose healthchecks: {', '.join(services)}"
        if loop.time() + pause >= end:
            return False, states
        await asyncio.sleep(pause)
        pause = min(pause * 2, 3.0)
