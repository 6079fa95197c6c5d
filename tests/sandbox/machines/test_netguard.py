"""The range check against fake `ip -j` output and /etc/hosts text."""
from __future__ import annotations

import ipaddress

import pytest

from errors import SandboxError
from sandbox.machines import netguard

NET = ipaddress.ip_network("198.51.100.0/24")
ROUTES = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
          {"dst": "192.0.2.0/24", "dev": "eth0", "protocol": "kernel", "prefsrc": "192.0.2.2"}]
ADDRS = [{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
                                        {"family": "inet6", "local": "::1", "prefixlen": 128}]},
         {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.0.2.2", "prefixlen": 24}]}]
HOSTS = "127.0.0.1 localhost\n203.0.113.7 registry.example  # registries\n"


def test_a_free_range_passes():
    assert netguard.conflicts(NET, ROUTES, ADDRS, HOSTS) == []


def test_a_route_inside_or_around_the_range_refuses():
    routes = ROUTES + [{"dst": "198.51.0.0/16", "dev": "tun0"}]
    assert netguard.conflicts(NET, routes, ADDRS, HOSTS) == ["route 198.51.0.0/16 via tun0 overlaps it"]
    host_route = ROUTES + [{"dst": "198.51.100.77", "gateway": "192.0.2.9"}]
    assert netguard.conflicts(NET, host_route, ADDRS, HOSTS) == ["route 198.51.100.77 via 192.0.2.9 overlaps it"]


def test_the_default_route_alone_is_no_overlap():
    assert netguard.conflicts(NET, [{"dst": "default", "dev": "eth0"}], [], "") == []


def test_a_local_address_refuses():
    addrs = ADDRS + [{"ifname": "wg0", "addr_info": [{"family": "inet", "local": "198.51.100.9", "prefixlen": 32}]}]
    assert netguard.conflicts(NET, ROUTES, addrs, HOSTS) == ["address 198.51.100.9/32 on wg0 overlaps it"]


def test_an_etc_hosts_address_refuses():
    hosts = HOSTS + "# 198.51.100.3 commented out\n198.51.100.200 mirror.local\n"
    assert netguard.conflicts(NET, ROUTES, ADDRS, hosts) == ["/etc/hosts line 4 (198.51.100.200) is inside it"]


@pytest.mark.parametrize("taken", ["192.0.2.0/24", "203.0.113.0/24", "192.0.0.0/16"])
def test_the_hosts_own_and_the_registries_ranges_are_never_ours(taken):
    found = netguard.conflicts(ipaddress.ip_network(taken), [], [], "")
    assert found and "own network or the package registries" in found[0]


def test_our_own_bridge_left_by_a_crash_does_not_count():
    addrs = [{"ifname": "hdbr-abcd", "addr_info": [{"family": "inet", "local": "198.51.100.1", "prefixlen": 32}]}]
    routes = [{"dst": "198.51.100.2", "dev": "hdbr-abcd"}]
    assert netguard.conflicts(NET, routes, addrs, "", own={"hdbr-abcd"}) == []
    assert len(netguard.conflicts(NET, routes, addrs, "")) == 2


@pytest.mark.parametrize("text", ["nonsense", "2001:db8::/64", "198.51.100.0/30"])
def test_a_bad_range_is_one_line(text):
    with pytest.raises(SandboxError, match="machine address range"):
        netguard.parse_range(text)


def test_check_reads_the_live_host_and_refuses_its_own_network(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    with pytest.raises(SandboxError, match=r"^refusing to start sandbox machines on 192\.0\.2\.0/24: "):
        netguard.check(ipaddress.ip_network("192.0.2.0/24"), hosts_file=str(hosts))
    hosts.write_text("198.18.99.5 something\n")
    with pytest.raises(SandboxError, match=r"/etc/hosts line 1 \(198\.18\.99\.5\)"):
        netguard.check(ipaddress.ip_network("198.18.99.0/24"), hosts_file=str(hosts))
