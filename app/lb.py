"""Taking app servers out of the load balancer and back during a rolling release.

Through the Hetzner API (the hcloud client checks/hetzner_api.open_client makes,
with its retry and deadline policy), the same calls Terraform's
hcloud_load_balancer_target makes: a server target over the private IP
(`use_private_ip = true`, as the stack declares it), so a target removed and
added again is the resource Terraform has in its state and a plan after the
deploy shows no change. A run cut off between the two leaves at most its group
out of the load balancer. The next deploy puts it back: its app phase checks
every unchanged group's targets (ensure_in: one GET), because the infra phase
is skipped when neither the stack nor the state changed (a `plan` does show
the missing target as a create, and an apply would create it again).

Healthy means the API's targets[].health_status says "healthy" on every service
port. "unknown" (a load balancer that has not checked yet, or a stand-in that
does not check) is waited for up to UNKNOWN_WAIT_S and then accepted: the
release's own health gate has already passed on that server, so the API only
confirms what we know. "unhealthy" is waited for up to HEALTHY_WAIT_S and is
then an error naming the server.

Calls are blocking (hcloud): the rolling release runs them in a thread.

Scaling in (fewer app servers, or a server replaced): Terraform would delete a
server's target and, right after, the server, with no pause between them, so
requests the load balancer is still sending it would fail. The infra phase
therefore drains first (doomed_targets + drain): the targets the plan deletes
leave through the API, DRAIN_S passes, and only then is the plan applied. The
provider's delete of a target already gone is a no-op (it looks the target up
first), so the saved plan still applies as reviewed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from errors import ApiError, RemoteError

# After a server leaves the load balancer: time for requests it is serving to finish
# before its containers are replaced (Hetzner's load balancer has no drain call).
DRAIN_S = 2.0
UNKNOWN_WAIT_S = 10.0
HEALTHY_WAIT_S = 120.0
POLL_S = 0.5


@dataclass
class LoadBalancerGate:
    client: object
    lb_id: int
    endpoint: str = ""
    drain_s: float = DRAIN_S
    unknown_wait_s: float = UNKNOWN_WAIT_S
    healthy_wait_s: float = HEALTHY_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    said: list[str] = field(default_factory=list)     # what happened, for the phase's summary

    def guarded(self, what: str):
        """Every API failure inside is one ApiError line naming `what`."""
        from checks import hetzner_api
        return hetzner_api.api_errors(self.endpoint, hetzner_api.timeout_of(self.client), what=what)

    def _lb(self):
        return self.client.load_balancers.get_by_id(self.lb_id)

    def _ids(self, lb) -> set[int]:
        return {t.server.id for t in lb.targets or [] if t.type == "server" and t.server}

    def _target(self, server_id: int):
        from hcloud.load_balancers.domain import LoadBalancerTarget
        from hcloud.servers.domain import Server
        return LoadBalancerTarget(type="server", server=Server(id=server_id), use_private_ip=True)

    def remove(self, hosts) -> list[str]:
        """Take `hosts` out (those still in), then wait DRAIN_S; the names taken out."""
        out = []
        with self.guarded("taking servers out of the load balancer"):
            lb = self._lb()
            present = self._ids(lb)
            for h in hosts:
                if h.id in present:
                    self.client.load_balancers.remove_target(
                        lb, self._target(h.id)).wait_until_finished()
                    out.append(h.name)
        if out:
            self.sleep(self.drain_s)
        return out

    def add(self, hosts) -> None:
        """Put `hosts` back (those not in) and wait until the API reports them healthy."""
        with self.guarded("putting servers back in the load balancer"):
            lb = self._lb()
            present = self._ids(lb)
            for h in hosts:
                if h.id not in present:
                    self.client.load_balancers.add_target(
                        lb, self._target(h.id)).wait_until_finished()
            self.wait_healthy(hosts)

    def ensure_in(self, hosts) -> list[str]:
        """Put back any of `hosts` a run cut off left out (one GET when none is); the names."""
        with self.guarded("checking the load balancer's targets"):
            present = self._ids(self._lb())
        missing = [h for h in hosts if h.id not in present]
        if missing:
            self.add(missing)
            self.said.append(f"put {', '.join(h.name for h in missing)} back in the load "
                             f"balancer (left out by an interrupted run)")
        return [h.name for h in missing]

    def wait_healthy(self, hosts) -> None:
        start = self.monotonic()
        while True:
            states = self.states(self._lb(), hosts)
            if all(s == "healthy" for s in states.values()):
                return
            waited = self.monotonic() - start
            if all(s in ("healthy", "unknown") for s in states.values()) \
                    and waited >= self.unknown_wait_s:
                unknown = sorted(n for n, s in states.items() if s == "unknown")
                self.said.append(f"load balancer health unknown for {', '.join(unknown)} "
                                 f"after {self.unknown_wait_s:g} s: went on")
                return
            if waited >= self.healthy_wait_s:
                bad = ", ".join(f"{n} {s}" for n, s in sorted(states.items()) if s != "healthy")
                raise RemoteError(f"the load balancer still reports {bad} after "
                                  f"{self.healthy_wait_s:g} s")
            self.sleep(POLL_S)

    def states(self, lb, hosts) -> dict[str, str]:
        """name -> "healthy" | "unhealthy" | "unknown" | "missing", over every service port."""
        by_id = {t.server.id: t for t in lb.targets or [] if t.type == "server" and t.server}
        out = {}
        for h in hosts:
            t = by_id.get(h.id)
            if t is None:
                out[h.name] = "missing"
                continue
            words = {s.status for s in t.health_status or []} or {"unknown"}
            out[h.name] = ("unhealthy" if "unhealthy" in words else
                           "unknown" if words - {"healthy"} else "healthy")
        return out


@dataclass(frozen=True)
class Doomed:
    """A server target the plan deletes (or replaces): its load balancer and server."""
    lb_id: int
    id: int            # the server's id (named like runner.outputs.Host for the gate)
    name: str          # the server's name, for what the phase says


def doomed_targets(summary, state) -> list[Doomed]:
    """The server targets `summary` deletes or replaces, with their ids from `state`
    (a plan's delete carries no attributes of its own); in plan order."""
    names = {r.numeric_id: r.attributes.get("name") for r in state.of_type("hcloud_server")}
    out = []
    for change in summary.changes:
        if change.type != "hcloud_load_balancer_target" or change.action not in ("delete", "replace"):
            continue
        found = state.get(change.address)
        attrs = found.attributes if found is not None else {}
        try:
            lb_id, server_id = int(attrs.get("load_balancer_id")), int(attrs.get("server_id"))
        except (TypeError, ValueError):
            continue     # not a server target, or not in the state: nothing serving to drain
        if attrs.get("type") == "server":
            out.append(Doomed(lb_id, server_id, names.get(server_id) or change.address))
    return out


def drain(client, doomed: list[Doomed], endpoint: str = "", *, drain_s: float = DRAIN_S,
          sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Take `doomed` out of their load balancers (those still in), then wait `drain_s`
    once for the requests they are serving; the names taken out."""
    out = []
    for lb_id in dict.fromkeys(d.lb_id for d in doomed):
        # One wait for all of them below, not one per load balancer.
        gate = LoadBalancerGate(client, lb_id, endpoint, drain_s=0, sleep=lambda s: None)
        out += gate.remove([d for d in doomed if d.lb_id == lb_id])
    if out:
        sleep(drain_s)
    return out


def open_gate(endpoint: str, token: str, outputs) -> LoadBalancerGate:
    """The gate for the stack's load balancer (the one at outputs.load_balancer_ipv4)."""
    from checks import hetzner_api
    # One client for the whole rolling release: its deadline bounds every retry in it.
    client = hetzner_api.open_client(endpoint, token, deadline_s=3600)
    with hetzner_api.api_errors(endpoint, hetzner_api.timeout_of(client),
                                what="finding the load balancer"):
        for lb in client.load_balancers.get_all():
            if lb.public_net and lb.public_net.ipv4 and \
                    lb.public_net.ipv4.ip == outputs.load_balancer_ipv4:
                return LoadBalancerGate(client, lb.id, endpoint)
    raise ApiError(f"no load balancer at {outputs.load_balancer_ipv4} in the project: run "
                   f"`hetzner-deploy deploy` so the infra phase creates it")
