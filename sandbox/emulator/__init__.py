"""A local stand-in for the Hetzner Cloud API (/v1), for the sandbox and tests.

    server = make_server(state_dir, port=0, token="t")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ... server.url ...   # http://127.0.0.1:PORT/v1
    server.close()

or in the foreground: python -m sandbox.emulator --state-dir DIR --token T
[--port N] [--port-file F] [--ip-range CIDR] [--action-seconds S]
[--rate-limit N] (the token may come from
$HCLOUD_SANDBOX_TOKEN instead, which keeps it out of `ps`).

Behaviour worth knowing (details and sources in each module):
- Errors: statuses from Hetzner's documented error table (apierrors.py):
  invalid_input and every operation-specific code (server_not_stopped,
  resource_in_use, must_be_unassigned, ...) are 422; locked/protected 423;
  unknown paths 404 `not_found`, unsupported methods 405 `method_not_allowed`,
  always as JSON.
- Time (timing.py): actions run `action_seconds` (default 0: `running` in the
  response that starts them, `success` from the first read). A new server is
  `initializing` until its create action is done (likewise `starting`,
  `stopping`, `migrating`, `rebuilding`); a resource with an action
  still running answers `locked` to the next one. RateLimit-* headers count
  down per token (3600/hour by default) and `rate_limit_exceeded` (429)
  follows at zero. Settings: make_server(action_seconds=, rate_limit=,
  clock=) or $HCLOUD_SANDBOX_ACTION_SECONDS / $HCLOUD_SANDBOX_RATE_LIMIT.
- Catalogue (catalog.py): Hetzner's autumn-2026 server types and prices, with
  sources. Types removed at the end of 2025 (cx22, cpx11, ...) are not listed
  or orderable; shared CX/CAX types are `available: false` (412
  `resource_unavailable` on create); `/_sandbox/availability` switches more off.
- Removed surface: no `datacenter` in servers or primary IPs (requests with
  it are invalid_input), and /datacenters answers 410 `deprecated_api_endpoint`.
- Public IPv4s come from 203.0.113.0/24 (or --ip-range), IPv6 /64s from
  2001:db8::/32: documentation ranges, stored and never contacted.
- Deleting an attached volume is refused with `locked` (423); deleting a
  protected resource is `protected` (423).
- DNS (zones.py): primary zones under /zones with RRSets keyed `name/TYPE`,
  Hetzner's three nameservers, SOA serial moving on every change; the
  sandbox DNS server (sandbox/registrar.py) answers their records.

Admin endpoints (outside /v1, same bearer token):
    GET  /_sandbox/state            counts per family, unavailable pairs, IP range
    POST /_sandbox/faults           {"count": N, "status": 429|500|502|503|504,
                                     "retry_after": S, "latency_ms": M, "path_prefix": "/servers"}
    GET|DELETE /_sandbox/faults     show / clear the fault plan
    POST /_sandbox/availability     {"server_type": "ccx33", "location": "nbg1", "available": false}
    POST /_sandbox/action_failures  {"count": N, "code": "...", "message": "..."}: the next N
                                     actions finish with status "error"
"""
from .httpserver import EmulatorServer, make_server

__all__ = ["EmulatorServer", "make_server"]
