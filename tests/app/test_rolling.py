"""app/rolling.py, app/lb.py and the db server's Compose health gate, without machines.

The orchestration is driven with recording stand-ins for one server's release
steps (releases.deploy / probe / rollback: tested on machines elsewhere) and for
the load balancer gate, so the order of every step is asserted exactly; the db
gate runs against a scripted connection that checks each command's exact argv."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from app import health, lb, rolling
from app.releases import AppSpec, Outcome, ReleaseFailed, ServerState
from errors import ApiError, RemoteError
from remote import commands as c

P = "autoscale-ai"


@dataclass(frozen=True)
class Host:
    name: str
    id: int


def member(name: str, sid: int) -> rolling.Member:
    return rolling.Member(SimpleNamespace(name=name, label=f"{name} (x)"), Host(name, sid))


@dataclass
class World:
    """Each server's current release, and a log of every step taken, in order."""
    current: dict[str, str | None]
    fail: set[str] = field(default_factory=set)
    log: list[tuple] = field(default_factory=list)


class Gate:
    def __init__(self, world: World):
        self.world = world

    def remove(self, hosts):
        self.world.log.append(("lb-out", tuple(h.name for h in hosts)))

    def add(self, hosts):
        self.world.log.append(("lb-in", tuple(h.name for h in hosts)))

    def ensure_in(self, hosts):
        self.world.log.append(("lb-check", tuple(h.name for h in hosts)))


def install(monkeypatch, world: World):
    @contextlib.asynccontextmanager
    async def connect(target, wait_s=0):
        yield SimpleNamespace(target=target)

    async def probe(conn, project):
        cur = world.current[conn.target.name]
        return ServerState(booted=True, locked=False, current=cur, complete=True,
                           compose_sha=world.shas.get(cur, (None, None))[0],
                           env_sha=world.shas.get(cur, (None, None))[1],
                           running=("c1",) if cur else ())

    async def deploy(conn, spec, **_):
        name = conn.target.name
        previous = world.current[name]
        world.log.append(("deploy", name, spec.release))
        if name in world.fail:
            raise ReleaseFailed(f"{conn.target.label}: release {spec.release} failed: health "
                                f"check failed; rolled back to {previous}", ("web | boom",))
        world.current[name] = spec.release
        world.shas[spec.release] = (spec.compose_sha, spec.env_sha)
        return Outcome("deployed", spec.release, previous)

    async def rollback(conn, spec, to=None, **_):
        world.log.append(("rollback", conn.target.name, to))
        world.current[conn.target.name] = to
        return Outcome("rolled back", to, None)

    async def when_booted(conn, spec, **options):
        return await deploy(conn, spec, **options)

    monkeypatch.setattr(rolling, "probe", probe)
    monkeypatch.setattr(rolling, "deploy", deploy)
    monkeypatch.setattr(rolling, "rollback", rollback)
    import app.service
    monkeypatch.setattr(app.service, "_deploy_when_booted", when_booted)
    return connect


DB_SPEC = AppSpec(P, b"db-compose", b"A=1\n", health_services=("postgres", "redis"))
APP_SPEC = AppSpec(P, b"app-compose", b"A=1\nPOSTGRES_HOST=10.0.1.3\n")


def run(world, monkeypatch, apps, group=1, gate=True):
    connect = install(monkeypatch, world)
    return asyncio.run(rolling.roll(member("db", 9), DB_SPEC, apps, APP_SPEC,
                                    Gate(world) if gate else None, group=group,
                                    command="deploy", break_lock=False, connect=connect,
                                    wait_s=0))


def test_db_first_then_one_app_server_at_a_time_out_of_and_back_into_the_lb(monkeypatch):
    world = World({"db": "olddb", "app-1": "old", "app-2": "old", "app-3": None})
    world.shas = {}
    apps = [member("app-1", 1), member("app-2", 2), member("app-3", 3)]
    done = run(world, monkeypatch, apps)
    r = APP_SPEC.release
    assert world.log == [
        ("deploy", "db", DB_SPEC.release),
        # A fresh server serves nothing yet: first (capacity before serving ones leave),
        # not taken out; put in (it is) and waited for.
        ("deploy", "app-3", r), ("lb-in", ("app-3",)),
        ("lb-out", ("app-1",)), ("deploy", "app-1", r), ("lb-in", ("app-1",)),
        ("lb-out", ("app-2",)), ("deploy", "app-2", r), ("lb-in", ("app-2",))]
    assert [(m.target.name, o.status) for m, o in done] == [
        ("db", "deployed"), ("app-3", "deployed"), ("app-1", "deployed"), ("app-2", "deployed")]

    # The same release again: nothing is deployed, and the load balancer is only read
    # (a target an interrupted run left out would be put back).
    world.log.clear()
    again = run(world, monkeypatch, apps)
    assert [e for e in world.log if e[0] != "deploy" or e[1] != "db"] == [
        ("lb-check", ("app-1",)), ("lb-check", ("app-2",)), ("lb-check", ("app-3",))]
    assert [o.status for _, o in again[1:]] == ["unchanged"] * 3


def test_groups_of_two_go_out_and_in_together(monkeypatch):
    world = World({"db": None, "app-1": "old", "app-2": "old", "app-3": "old"})
    world.shas = {}
    run(world, monkeypatch, [member("app-1", 1), member("app-2", 2), member("app-3", 3)], group=2)
    outs = [e for e in world.log if e[0] in ("lb-out", "lb-in")]
    assert outs == [("lb-out", ("app-1", "app-2")), ("lb-in", ("app-1", "app-2")),
                    ("lb-out", ("app-3",)), ("lb-in", ("app-3",))]


def test_a_failing_server_stops_the_rollout_and_the_updated_ones_roll_back(monkeypatch):
    world = World({"db": "d", "app-1": "old1", "app-2": "old2", "app-3": "old3"},
                  fail={"app-2"})
    world.shas = {}
    with pytest.raises(ReleaseFailed) as caught:
        run(world, monkeypatch, [member("app-1", 1), member("app-2", 2), member("app-3", 3)])
    r = APP_SPEC.release
    assert world.log[1:] == [
        ("lb-out", ("app-1",)), ("deploy", "app-1", r), ("lb-in", ("app-1",)),
        ("lb-out", ("app-2",)), ("deploy", "app-2", r), ("lb-in", ("app-2",)),
        ("lb-out", ("app-1",)), ("rollback", "app-1", "old1"), ("lb-in", ("app-1",))]
    message = str(caught.value)
    assert message.startswith("app-2 (x): release")
    assert "rolled back app-1 to their previous release" in message
    assert message.endswith("not updated: app-3")
    assert caught.value.log_tail == ("web | boom",)
    assert world.current == {"db": DB_SPEC.release, "app-1": "old1", "app-2": "old2",
                             "app-3": "old3"}


def test_a_first_release_that_fails_says_what_it_could_not_roll_back(monkeypatch):
    world = World({"db": None, "app-1": None, "app-2": None}, fail={"app-2"})
    world.shas = {}
    with pytest.raises(ReleaseFailed, match=r"not rolled back: app-1 \(no earlier release\)"):
        run(world, monkeypatch, [member("app-1", 1), member("app-2", 2)])


def test_a_db_failure_touches_no_app_server(monkeypatch):
    world = World({"db": "d", "app-1": "old"}, fail={"db"})
    world.shas = {}
    with pytest.raises(ReleaseFailed, match=r"^db \(x\)"):
        run(world, monkeypatch, [member("app-1", 1)])
    assert world.log == [("deploy", "db", DB_SPEC.release)]


def test_groups():
    assert rolling.groups([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert rolling.groups([1, 2], 5) == [[1, 2]]


# --- the load balancer gate (app/lb.py) against a stand-in of the hcloud client -------------

class FakeLbs:
    def __init__(self, script):
        self.script = list(script)     # health words per read, last one repeats
        self.calls = []
        self.ids = {1, 2}

    def get_by_id(self, lid):
        words = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        status = [SimpleNamespace(listen_port=p, status=w) for p, w in zip((80, 443), words)]
        targets = [SimpleNamespace(type="server", server=SimpleNamespace(id=i),
                                   health_status=status) for i in sorted(self.ids)]
        return SimpleNamespace(id=lid, targets=targets)

    def remove_target(self, lb_, target):
        self.calls.append(("remove", target.server.id, target.use_private_ip))
        self.ids.discard(target.server.id)
        return SimpleNamespace(wait_until_finished=lambda: None)

    def add_target(self, lb_, target):
        self.calls.append(("add", target.server.id, target.use_private_ip, target.type))
        self.ids.add(target.server.id)
        return SimpleNamespace(wait_until_finished=lambda: None)


def gate_with(script, **kw):
    clock = {"t": 0.0}

    def sleep(s):
        clock["t"] += s
    lbs = FakeLbs(script)
    g = lb.LoadBalancerGate(SimpleNamespace(load_balancers=lbs), 7, "http://127.0.0.1:1/v1",
                            sleep=sleep, monotonic=lambda: clock["t"], **kw)
    return g, lbs, clock


def test_the_gate_removes_and_adds_the_server_target_over_the_private_ip():
    g, lbs, clock = gate_with([("healthy", "healthy")])
    assert g.remove([Host("app-1", 1), Host("app-9", 9)]) == ["app-1"]   # 9 was not in
    assert clock["t"] == lb.DRAIN_S
    g.add([Host("app-1", 1)])
    g.add([Host("app-1", 1)])                     # already in: not added twice
    assert lbs.calls == [("remove", 1, True), ("add", 1, True, "server")]


def test_ensure_in_puts_back_only_what_is_missing():
    g, lbs, _ = gate_with([("healthy", "healthy")])
    assert g.ensure_in([Host("app-1", 1), Host("app-2", 2)]) == []
    lbs.ids.discard(2)
    assert g.ensure_in([Host("app-1", 1), Host("app-2", 2)]) == ["app-2"]
    assert lbs.calls == [("add", 2, True, "server")] and "put app-2 back" in g.said[0]


def test_unknown_health_is_waited_for_a_short_bound_then_accepted():
    g, lbs, clock = gate_with([("unknown", "unknown")])
    g.wait_healthy([Host("app-1", 1)])
    assert lb.UNKNOWN_WAIT_S <= clock["t"] < lb.UNKNOWN_WAIT_S + 1
    assert "unknown for app-1" in g.said[0]


def test_unhealthy_then_healthy_goes_on_and_unhealthy_for_good_names_the_server():
    g, _, clock = gate_with([("unhealthy", "healthy"), ("healthy", "healthy")])
    g.wait_healthy([Host("app-1", 1)])
    assert clock["t"] == lb.POLL_S and not g.said
    g, _, _ = gate_with([("healthy", "unhealthy")], healthy_wait_s=5)
    with pytest.raises(RemoteError, match="still reports app-1 unhealthy, app-2 unhealthy after 5 s"):
        g.wait_healthy([Host("app-1", 1), Host("app-2", 2)])


def test_an_api_error_in_the_gate_is_one_api_error_line():
    from hcloud import APIException
    g, lbs, _ = gate_with([("healthy", "healthy")])

    def refuse(*a):
        raise APIException(code="locked", message="load balancer 7 is locked", details={})
    lbs.remove_target = refuse
    with pytest.raises(ApiError, match="taking servers out of the load balancer: .*locked"):
        g.remove([Host("app-1", 1)])


# --- the db server's gate: Compose healthchecks, read with exact commands --------------------

class ScriptedConn:
    def __init__(self, answers):
        self.answers = list(answers)
        self.argv = []

    async def run(self, argv, check=True, timeout=None):
        self.argv.append(argv)
        return SimpleNamespace(stdout=self.answers.pop(0), stderr="", exit_status=0)


def test_the_db_gate_waits_for_every_service_to_be_healthy():
    conn = ScriptedConn(["a\nb\n", "postgres running starting\nredis running healthy\n",
                         "a\nb\n", "postgres running healthy\nredis running healthy\n"])
    ok, said = asyncio.run(health.wait_services_healthy(conn, P, ("postgres", "redis"), 60))
    assert ok and "postgres, redis" in said
    ps = c.running_containers(P)
    inspect = ["docker", "inspect", "--format",
               '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} '
               '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}', "--", "a", "b"]
    assert conn.argv == [ps, inspect, ps, inspect]
    assert ps == ["docker", "ps", "--quiet", "--filter", "status=running",
                  "--filter", "label=com.docker.compose.project=autoscale-ai"]


def test_the_db_gate_gives_up_at_its_deadline_saying_what_it_saw():
    conn = ScriptedConn(["a\n", "postgres running unhealthy\n"] * 50)
    ok, said = asyncio.run(health.wait_services_healthy(conn, P, ("postgres", "redis"), 0.1))
    assert not ok and said == "postgres unhealthy, redis not running"


def test_parse_services():
    assert health.parse_services("pg running healthy\npg exited -\nweb running -\nbad\n") == {
        "pg": "exited", "web": "healthy"}


def test_an_interrupted_group_stops_at_once_without_rolling_back(monkeypatch):
    from errors import InterruptedRun
    world = World({"db": "d", "app-1": "old1", "app-2": "old2"})
    world.shas = {}
    connect = install(monkeypatch, world)

    async def interrupted(conn, spec, **_):
        world.log.append(("deploy", conn.target.name))
        raise InterruptedRun("interrupted by SIGINT")
    monkeypatch.setattr(rolling, "deploy", interrupted)
    with pytest.raises(InterruptedRun):
        asyncio.run(rolling.roll(member("db", 9), DB_SPEC, [member("app-1", 1), member("app-2", 2)],
                                 APP_SPEC, Gate(world), group=1, command="deploy",
                                 break_lock=False, connect=connect, wait_s=0))
    # app-1 stays out of the load balancer: the next deploy puts it back (ensure_in / add).
    assert world.log[-2:] == [("lb-out", ("app-1",)), ("deploy", "app-1")]


def test_fresh_servers_go_together_before_the_serving_ones_roll(monkeypatch):
    """A first deploy of many app servers is not N rounds: servers with no release serve
    nothing, so they are deployed together (FRESH_PARALLEL at most at once) and waited
    for in the load balancer once; serving ones still roll by group."""
    names = [f"app-{i}" for i in range(1, 14)]
    world = World({"db": None, **{n: None for n in names}, "app-14": "old"})
    world.shas = {}
    apps = [member(n, i) for i, n in enumerate([*names, "app-14"], start=1)]
    run(world, monkeypatch, apps)
    ins = [e for e in world.log if e[0] in ("lb-out", "lb-in")]
    assert ins == [("lb-in", tuple(names)), ("lb-out", ("app-14",)), ("lb-in", ("app-14",))]
    assert all(world.current[n] == APP_SPEC.release for n in [*names, "app-14"])


def test_fresh_servers_are_bounded_and_a_slow_boot_holds_up_nobody(monkeypatch):
    """At most FRESH_PARALLEL releases at once; a server still booting does not keep the
    booted ones waiting for it (no lockstep batches)."""
    names = [f"app-{i}" for i in range(1, 16)]
    world = World({"db": None, **{n: None for n in names}})
    world.shas = {}
    connect = install(monkeypatch, world)
    fast_deploy = rolling.deploy
    now = {"in": 0, "most": 0}

    async def deploy(conn, spec, **kw):
        now["in"] += 1
        now["most"] = max(now["most"], now["in"])
        await asyncio.sleep(0.01)
        try:
            return await fast_deploy(conn, spec, **kw)
        finally:
            now["in"] -= 1
    monkeypatch.setattr(rolling, "deploy", deploy)
    real_ready = rolling._ready

    async def ready(conn, spec):
        if conn.target.name == "app-1":       # booting for a while yet
            await asyncio.sleep(0.3)
        return await real_ready(conn, spec)
    monkeypatch.setattr(rolling, "_ready", ready)
    asyncio.run(rolling.roll(member("db", 99), DB_SPEC, [member(n, i) for i, n in
                                                          enumerate(names, start=1)],
                             APP_SPEC, Gate(world), group=1, command="deploy",
                             break_lock=False, connect=connect, wait_s=0))
    assert now["most"] == rolling.FRESH_PARALLEL
    deployed = [e[1] for e in world.log if e[0] == "deploy" and e[1] != "db"]
    assert sorted(deployed) == sorted(names) and deployed[-1] == "app-1"
