"""python -m sandbox.emulator --port N --state-dir DIR --token T [--ip-range CIDR] [--port-file F]
    [--action-seconds S] [--rate-limit N]
    [--machines DIR [--machine-range CIDR] [--machine-images DIR]] [--registrar]

With both --machines and --registrar it also runs pebble (sandbox/acme.py).

--action-seconds and --rate-limit default to $HCLOUD_SANDBOX_ACTION_SECONDS
(0: actions finish when first read) and $HCLOUD_SANDBOX_RATE_LIMIT (3600 an
hour, Hetzner's default), so `sandbox up` picks them up from the environment.

Runs in the foreground until SIGTERM/SIGINT. Prints one "listening" line with
the URL (never the token) once the socket accepts connections.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .httpserver import make_server
from .timing import action_seconds_from_env, rate_limit_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.emulator",
                                     description="Local Hetzner Cloud API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--token", default=os.environ.get("HCLOUD_SANDBOX_TOKEN"),
                        help="bearer token (or env HCLOUD_SANDBOX_TOKEN, which keeps it out of `ps`)")
    parser.add_argument("--ip-range", default=None, help="IPv4 range for public addresses (default 203.0.113.0/24)")
    parser.add_argument("--port-file", default=None,
                        help="write the bound port here once listening (for --port 0)")
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    parser.add_argument("--action-seconds", type=float, default=None,
                        help="how long every action runs (default $HCLOUD_SANDBOX_ACTION_SECONDS or 0)")
    parser.add_argument("--rate-limit", type=int, default=None,
                        help="requests per hour per token (default $HCLOUD_SANDBOX_RATE_LIMIT or 3600)")
    parser.add_argument("--machines", default=None, metavar="DIR",
                        help="boot a real sandbox machine per running server, kept in DIR (root only); "
                             "server addresses then come from --machine-range")
    parser.add_argument("--machine-range", default=None, help="machine address range (default 198.51.100.0/24)")
    parser.add_argument("--machine-images", default=None, metavar="DIR",
                        help="image tarballs (scripts/sandbox-images.sh) every machine's Docker imports")
    parser.add_argument("--registrar", action="store_true",
                        help="also serve the Namecheap API emulator and the DNS server for its "
                             "zones (sandbox/registrar.py), zones kept in the state dir")
    args = parser.parse_args(argv)
    try:
        action_seconds = action_seconds_from_env() if args.action_seconds is None else args.action_seconds
        rate_limit = rate_limit_from_env() if args.rate_limit is None else args.rate_limit
    except ValueError as exc:
        parser.error(str(exc))
    if not args.token:
        parser.error("--token (or HCLOUD_SANDBOX_TOKEN) is required")
    if args.machines:
        from sandbox.machines.netguard import DEFAULT_RANGE
        args.machine_range = args.machine_range or args.ip_range or DEFAULT_RANGE
        args.ip_range = args.machine_range   # servers get addresses a machine can really hold
    try:
        server = make_server(args.state_dir, host=args.host, port=args.port, token=args.token,
                             ip_range=args.ip_range, action_seconds=action_seconds, rate_limit=rate_limit)
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the emulator: {exc}", file=sys.stderr)
        return 2
    machines = None
    if args.machines:
        from errors import DeployError
        from sandbox.machines.controller import from_args
        try:
            machines = from_args(server.store, args.machines, args.machine_range, args.machine_images)
        except DeployError as exc:
            server.server_close()
            print(f"error: {exc}", file=sys.stderr)
            return 2
    server.verbose = args.verbose
    registrar = None
    if args.registrar:
        from sandbox import registrar as registrar_mod
        try:
            from .zones import dns_zones
            registrar = registrar_mod.start(args.state_dir, args.token,
                                            cloud_zones=lambda: dns_zones(server.store))
        except OSError as exc:
            server.server_close()
            print(f"error: cannot start the sandbox registrar: {exc}", file=sys.stderr)
            return 2
        server.extra_summary = registrar.summary()
    acme = None
    if registrar is not None and machines is not None:
        # Let's Encrypt's stand-in: reachable from the machines, resolving through the registrar.
        from sandbox import acme as acme_mod
        try:
            dns = registrar.summary()["dns"]
            acme = acme_mod.start(args.state_dir, machines.hostnet.host_ip, dns)
        except OSError as exc:
            registrar.close()
            machines.close()
            server.server_close()
            print(f"error: cannot start the sandbox ACME server: {exc}", file=sys.stderr)
            return 2
        server.extra_summary = {**server.extra_summary, **acme.summary()}

    def stop(signum, frame):
        # shutdown() blocks until serve_forever returns, so call it off the main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as handle:
            handle.write(f"{server.port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening on {server.url} (state in {args.state_dir})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        with server.store.lock:
            server.store.save_if_dirty()
        if machines is not None:
            machines.close()
        if acme is not None:
            acme.close()
        if registrar is not None:
            registrar.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
