"""Firewall rules -> nftables, checked by nft itself (`nft -c` parses and
validates against the kernel without changing anything)."""
from __future__ import annotations

import subprocess

import pytest

from sandbox.machines import firewall

RULES = [{"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["0.0.0.0/0", "::/0"]},
         {"direction": "in", "protocol": "tcp", "port": "8000-8100", "source_ips": ["10.0.0.0/8", "2001:db8::/32"]},
         {"direction": "in", "protocol": "icmp", "port": None, "source_ips": ["0.0.0.0/0"]},
         {"direction": "in", "protocol": "udp", "port": "any", "source_ips": ["192.168.1.5/32"]},
         {"direction": "out", "protocol": "tcp", "port": "25", "destination_ips": ["0.0.0.0/0"]}]


def _nft_check(script: str) -> subprocess.CompletedProcess:
    # In a throwaway network namespace: nothing on the host is touched, even by a bug.
    return subprocess.run(["unshare", "--net", "nft", "-c", "-f", "-"], input=script, text=True,
                          capture_output=True, timeout=20)


def test_rules_become_a_valid_prerouting_chain():
    script = firewall.ruleset([{"rules": RULES}])
    assert "    meta nfproto ipv4 tcp dport 22 accept" in script
    assert "    meta nfproto ipv6 tcp dport 22 accept" in script
    assert "    meta nfproto ipv4 ip saddr { 10.0.0.0/8 } tcp dport 8000-8100 accept" in script
    assert "    meta nfproto ipv6 ip6 saddr { 2001:db8::/32 } tcp dport 8000-8100 accept" in script
    assert "    meta nfproto ipv4 ip saddr { 192.168.1.5/32 } meta l4proto udp accept" in script
    assert "dport 25" not in script   # outbound rules are not inbound ones
    assert script.rstrip().endswith('iifname "eth0" drop\n  }\n}'.rstrip())
    done = _nft_check(script)
    assert done.returncode == 0, done.stderr


def test_a_firewall_without_inbound_rules_drops_everything_inbound():
    script = firewall.ruleset([{"rules": []}])
    body = script.split("ct state established,related accept\n", 1)[1]
    assert body.startswith('    iifname "eth0" drop')
    assert _nft_check(script).returncode == 0


@pytest.mark.parametrize("applied", [None, []])
def test_no_firewall_only_removes_ours(applied):
    assert firewall.ruleset(applied) == "table inet hcloud_firewall {}\ndelete table inet hcloud_firewall\n"
