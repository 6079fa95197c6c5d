"""haproxy.cfg from a load balancer record: HAProxy itself (`haproxy -c`) is the
oracle for validity, and hostile values are refused, never written."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.machines.haproxy_cfg import ConfigRefused, Target, render, scale_from_env
from sandbox.machines.lb import parse_stat

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _lb(**service) -> dict:
    svc = {"protocol": "http", "listen_port": 80, "destination_port": 8080, "proxyprotocol": False,
           "health_check": {"protocol": "http", "port": 8080, "interval": 15, "timeout": 10, "retries": 3,
                            "http": {"domain": "app.example.com", "path": "/health?full=1", "response": "status ok",
                                     "status_codes": ["2??", "301"], "tls": False}},
           "http": {"sticky_sessions": False}}
    svc.update(service)
    return {"id": 1001, "algorithm": {"type": "least_connections"}, "services": [
        svc, {"protocol": "tcp", "listen_port": 443, "destination_port": 443, "proxyprotocol": True,
              "health_check": {"protocol": "tcp", "port": 443, "interval": 3, "timeout": 2, "retries": 0}}]}


TARGETS = [Target("s1002", "10.0.1.2"), Target("s1003", "10.0.1.3"), Target("ip0", "198.18.82.9")]


def _check(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    return subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)


def test_a_full_record_renders_a_config_haproxy_accepts(tmp_path):
    text = render(_lb(), ["198.18.82.5", "10.0.1.5"], TARGETS, tmp_path / "stats.sock", scale=0.1)
    done = _check(tmp_path, text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "balance leastconn" in text and "mode http" in text and "mode tcp" in text
    assert "bind 198.18.82.5:80" in text and "bind 10.0.1.5:443" in text
    assert "server s1002 10.0.1.2:8080 check port 8080 inter 1500 fall 3 rise 1" in text
    assert "http-check send meth GET uri /health?full=1 ver HTTP/1.1 hdr Host app.example.com" in text
    assert "http-check expect rstatus ^(2[0-9][0-9]|301)$" in text
    assert 'http-check expect string "status ok"' in text
    # 3 s * 0.1 is under the 100 ms floor; 0 retries still marks down on the first failure.
    assert "server s1003 10.0.1.3:443 check port 443 inter 300 fall 1 rise 1 send-proxy" in text


def test_round_robin_no_targets_and_no_services_are_valid_too(tmp_path):
    lb = _lb()
    lb["algorithm"] = {"type": "round_robin"}
    text = render(lb, ["198.18.82.5"], [], tmp_path / "s.sock", scale=1)
    assert "balance roundrobin" in text and "timeout check 10000" in text and "    server " not in text
    assert _check(tmp_path, text).returncode == 0
    assert _check(tmp_path, render({"id": 7, "algorithm": {"type": "round_robin"}, "services": []},
                                   ["198.18.82.5"], [], tmp_path / "s.sock", scale=1)).returncode == 0


def test_the_3tier_shape_tcp_passthrough_with_an_http_check_is_valid(tmp_path):
    # terraform/templates/main_3tier.tf.j2: tcp 80 and 443, both checked by HTTP on port 80.
    hc = {"protocol": "http", "port": 80, "interval": 10, "timeout": 5, "retries": 3,
          "http": {"domain": None, "path": "/healthz", "response": "", "status_codes": ["2??", "3??"], "tls": False}}
    lb = {"id": 9, "algorithm": {"type": "round_robin"},
          "services": [{"protocol": "tcp", "listen_port": p, "destination_port": p, "proxyprotocol": False,
                        "health_check": hc} for p in (80, 443)]}
    text = render(lb, ["198.18.82.5", "10.0.1.5"], TARGETS[:2], tmp_path / "s.sock", scale=0.1)
    done = _check(tmp_path, text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert text.count("option httpchk") == 2 and "server s1002 10.0.1.2:443 check port 80 inter 1000" in text
    assert "hdr Host" not in text and "expect string" not in text


HOSTILE_HC = [
    {"http": {"path": "/h\n    server evil 127.0.0.1:22", "status_codes": ["2??"]}},
    {"http": {"path": "/ok", "domain": "a.com hdr X-Evil 1", "status_codes": ["2??"]}},
    {"http": {"path": "/ok", "status_codes": ["2??|.*"]}},
    {"http": {"path": "/ok", "status_codes": "2??"}},
    {"http": {"path": "/ok", "status_codes": ["2??"], "response": "ok\nglobal"}},
    {"http": {"path": "no-slash", "status_codes": ["2??"]}},
    {"http": {"path": "/'quoted'", "status_codes": ["2??"]}},
    {"http": {"path": "/${HOME}", "status_codes": ["2??"]}},
    {"http": {"path": "/a b", "status_codes": ["2??"]}},
    {"http": {"path": "/ok", "status_codes": ["2??"], "response": 'ok" hdr x'}},
    {"interval": "15s"},
    {"retries": True},
    {"port": 0},
    {"protocol": "udp"},
]


@pytest.mark.parametrize("change", HOSTILE_HC)
def test_hostile_health_check_values_are_refused(tmp_path, change):
    lb = _lb()
    hc = lb["services"][0]["health_check"]
    hc.update(change)
    with pytest.raises(ConfigRefused):
        render(lb, ["198.18.82.5"], TARGETS, tmp_path / "s.sock", scale=0.1)


@pytest.mark.parametrize("where,value", [
    ("listen_port", 70000), ("listen_port", "80 \n bind 0.0.0.0:22"), ("destination_port", -1),
    ("protocol", "udp"), ("algorithm", "source"), ("bind", "0.0.0.0/0"), ("bind", "10.0.1.5:22"),
    ("target", "10.0.1.2 check\n"), ("target_name", "s1 backup"), ("socket", "/tmp/a b.sock"),
])
def test_hostile_record_values_are_refused(tmp_path, where, value):
    lb, binds, targets, sock = _lb(), ["198.18.82.5"], list(TARGETS), tmp_path / "s.sock"
    if where in ("listen_port", "destination_port", "protocol"):
        lb["services"][0][where] = value
    elif where == "algorithm":
        lb["algorithm"] = {"type": value}
    elif where == "bind":
        binds = [value]
    elif where == "target":
        targets = [Target("s1", value)]
    elif where == "target_name":
        targets = [Target(value, "10.0.1.2")]
    else:
        sock = Path(value)
    with pytest.raises(ConfigRefused):
        render(lb, binds, targets, sock, scale=0.1)


def test_the_check_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("HCLOUD_SANDBOX_LB_CHECK_SCALE", "0.5")
    assert scale_from_env() == 0.5
    for bad in ("fast", "0", "-1", "nan", "inf"):
        monkeypatch.setenv("HCLOUD_SANDBOX_LB_CHECK_SCALE", bad)
        with pytest.raises(ConfigRefused):
            scale_from_env()


def test_show_stat_rows_map_to_the_api_health_states():
    head = "# pxname,svname,status,check_status,extra\n"
    rows = ["svc_80,FRONTEND,OPEN,,", "svc_80,s1,UP,L7OK,", "svc_80,s2,DOWN,L4CON,", "svc_80,s3,UP,INI,",
            "svc_80,s4,UP 1/3,L7STS,", "svc_80,s5,DOWN 1/2,L7OK,", "svc_80,s6,MAINT,L7OK,",
            "svc_80,BACKEND,UP,,", "stats,x,UP,L7OK,"]
    found = parse_stat(head + "\n".join(rows) + "\n")
    assert found == {(80, "s1"): "healthy", (80, "s2"): "unhealthy", (80, "s3"): "unknown",
                     (80, "s4"): "healthy", (80, "s5"): "unhealthy", (80, "s6"): "unknown"}



def test_a_deep_sandbox_folder_gets_a_short_stats_socket(tmp_path):
    """HAProxy refuses a stats socket path that does not fit a Unix socket (107 bytes);
    pytest's tmp_path and deep checkouts are longer than that."""
    from sandbox.machines.lb import SOCKET_PATH_MAX, stats_socket_for
    shallow = tmp_path / "lb"
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "lb-1"
    if len(str(shallow / "stats.sock")) <= SOCKET_PATH_MAX:
        assert stats_socket_for(shallow) == shallow / "stats.sock"      # in its own folder
    short = stats_socket_for(deep)
    assert len(str(short)) <= SOCKET_PATH_MAX and short.name == "stats.sock"
    assert short == stats_socket_for(deep)                           # stable per folder
    assert short != stats_socket_for(tmp_path / ("d" * 60) / ("e" * 60) / "lb-2")


# --- a reload starts a target haproxy has never checked as down (new_servers_down) ----------

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _served_states(cfg: Path, sock: Path) -> dict[str, str]:
    """srv_name -> srv_op_state, from a haproxy started on `cfg` (0 stopped, 2 running)."""
    text = _servers_state(cfg, sock)
    return {f[3]: f[5] for f in (line.split() for line in text.splitlines())
            if len(f) > 5 and f[0].isdigit()}


def _servers_state(cfg: Path, sock: Path) -> str:
    """`show servers state` from a haproxy started on `cfg`, its stats socket at `sock`."""
    import socket
    import time
    proc = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(b"show servers state\n")
            text = b"".join(iter(lambda: s.recv(65536), b"")).decode()
    finally:
        proc.kill()
        proc.wait()
    return text


def test_a_target_new_to_a_reload_starts_down_until_checked():
    import tempfile
    from sandbox.machines.haproxy_cfg import new_servers_down
    folder = Path(tempfile.mkdtemp(prefix="hx-"))     # a short stats socket path
    try:
        lb = {"id": 7, "algorithm": {"type": "round_robin"}, "services": [
            {"protocol": "tcp", "listen_port": _free_port(), "destination_port": _free_port(),
             "health_check": {"protocol": "http", "port": 9, "interval": 600, "timeout": 10,
                              "retries": 3, "http": {"path": "/health"}}}]}
        sock, state = folder / "s.sock", folder / "servers.state"
        cfg = folder / "h.cfg"
        # Before: one target, as the running load balancer reports it (checked, up).
        cfg.write_text(render(lb, ["127.0.0.1"], [Target("s1", "127.0.0.1")], sock, scale=1.0))
        before = "1\n# be_id be_name srv_id srv_name …\n" \
                 f"2 svc_{lb['services'][0]['listen_port']} 1 s1 127.0.0.1 2 0 1 1 5 15 3 3 6 0 0 0 - " \
                 f"{lb['services'][0]['destination_port']} - 0 0 - - 0\n"
        after = render(lb, ["127.0.0.1"], [Target("s1", "127.0.0.1"), Target("s2", "127.0.0.2")],
                       sock, scale=1.0)
        cfg.write_text(after)
        # haproxy alone: the new target starts up, unchecked (what the sandbox did before).
        state.write_text(before)
        assert _served_states(cfg, sock) == {"s1": "2", "s2": "2"}
        sock.unlink()
        # With the added line: down until its first check passes; the known one keeps its state.
        state.write_text(new_servers_down(before, after))
        assert _served_states(cfg, sock) == {"s1": "2", "s2": "0"}
        # Nothing saved at all (haproxy answered nothing): every target starts down.
        assert [line.split()[3] for line in new_servers_down("", after).splitlines()[2:]] == \
            ["s1", "s2"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_servers_a_config_names_are_those_haproxy_then_reports():
    """What the reload check compares (lb.LoadBalancerHost._reload): the config's servers,
    and the servers a worker started on it reports (real haproxy as the oracle)."""
    import tempfile
    from sandbox.machines.haproxy_cfg import server_names, server_names_in_state
    folder = Path(tempfile.mkdtemp(prefix="hx-"))
    try:
        lb = {"id": 8, "algorithm": {"type": "round_robin"}, "services": [
            {"protocol": "tcp", "listen_port": port, "destination_port": 80,
             "health_check": {"protocol": "tcp", "port": 80, "interval": 600, "timeout": 10,
                              "retries": 3}} for port in (_free_port(), _free_port())]}
        sock, cfg = folder / "s.sock", folder / "h.cfg"
        config = render(lb, ["127.0.0.1"], [Target("s5", "127.0.0.5"), Target("ip0", "127.0.0.6")],
                        sock, scale=1.0)
        cfg.write_text(config)
        (folder / "servers.state").write_text("1\n")
        text = _servers_state(cfg, sock)
        names = {(f"svc_{svc['listen_port']}", n) for svc in lb["services"] for n in ("s5", "ip0")}
        assert server_names(config) == names
        assert server_names_in_state(text) == names, text
        assert server_names_in_state("1\n# be_id be_name srv_id srv_name\n") == set()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
