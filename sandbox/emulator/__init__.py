"""A local stand-in for the Hetzner Cloud API (/v1), for the sandbox and tests.

    server = make_server(state_dir, port=0, token="t")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ... server.url ...   # http://127.0.0.1:PORT/v1
    server.close()

or in the foreground: python -m sandbox.emulator --state-dir DIR --token T
[--port N] [--port-file F] [--ip-range CIDR] (the token may come from
$HCLOUD_SANDBOX_TOKEN instead, which keeps it out of `ps`).

Behaviour worth knowing:
- Actions are `running` in the response that starts them and `success` from
  the first time anything reads them, so `wait_until_finished` returns on its
  first poll. Servers show `initializing` only in their create response.
- Public IPv4s come from 203.0.113.0/24 (or --ip-range), IPv6 /64s from
  2001:db8::/32: documentation ranges, stored and never contacted.
- A server type not sold in a location is `invalid_input` (400); one switched
  off with /_sandbox/availability is `resource_unavailable` (412, "error
  during placement", as users report it from the live API).
- Deleting an attached volume is refused with `locked` (423); deleting a
  protected resource is `protected` (423); a firewall still applied is
  `resource_in_use` (409). The status codes of those three are not verified
  against the live API.

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
