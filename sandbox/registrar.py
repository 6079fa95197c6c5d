"""The sandbox's registrar: the Namecheap API emulator and the DNS server that serves its zones.

Started inside the Hetzner emulator's process (`python -m sandbox.emulator
--registrar`), so `sandbox up`/`down` start and stop one process and one
probe finds everything. The zones are saved to `<state dir>/namecheap.json`
after every change (atomically, 0600), so a restarted sandbox has the same
zones: DNS is state a deploy must never lose, here as at Namecheap.

The sandbox's Namecheap account is `sandbox`, its API key is the sandbox
token, and 127.0.0.1 is the one whitelisted client address. A zone is added
for the deploy's domain the first time the sandbox pipeline needs it
(`ensure_zone`), pre-populated like a real team's zone (mail, SPF, DKIM,
verification, a CNAME, CAA and a URL redirect), so every run shows those
records being kept.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sandbox import dns_server, namecheap

ACCOUNT = "sandbox"
CLIENT_IP = "127.0.0.1"


def _load(path: Path, state: namecheap.NamecheapState) -> None:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return
    state.domains = doc.get("domains", {})
    state.next_host_id = int(doc.get("next_host_id", state.next_host_id))


def _saver(path: Path):
    def save(state: namecheap.NamecheapState) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"domains": state.domains, "next_host_id": state.next_host_id}, fh,
                      sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return save


@dataclass
class Registrar:
    api: namecheap.RunningNamecheap
    dns: dns_server.RunningDns

    def summary(self) -> dict:
        return {"namecheap_endpoint": self.api.url,
                "dns": f"{self.dns.address[0]}:{self.dns.address[1]}"}

    def close(self) -> None:
        self.dns.close()
        self.api.close()


def start(state_dir: str | os.PathLike, api_key: str, cloud_zones=None) -> Registrar:
    """`cloud_zones`, when given, returns the Hetzner emulator's DNS zones in
    the same shape (sandbox/emulator/zones.dns_zones): the DNS server answers
    for both. A domain in both is served from Hetzner's zone, as after its
    nameservers moved to Hetzner (README: moving DNS from Namecheap to Hetzner)."""
    path = Path(state_dir) / "namecheap.json"
    state = namecheap.NamecheapState(api_user=ACCOUNT, api_key=api_key, username=ACCOUNT,
                                     whitelist={CLIENT_IP})
    _load(path, state)
    state.on_change = _saver(path)
    api = namecheap.start(state)

    def zones() -> dict:
        with state.lock:
            merged = json.loads(json.dumps(state.domains))   # a copy, taken under the lock
        if cloud_zones is not None:
            merged.update(cloud_zones())
        return merged
    return Registrar(api, dns_server.start(zones))


def team_zone(domain: str) -> dict:
    """A zone as a small team's looks before the deploy: nothing of it may be lost."""
    return {"domain": domain, "email_type": "MX", "hosts": [
        {"name": "@", "type": "MX", "address": f"mx1.mail.{domain}.", "mx_pref": 10},
        {"name": "@", "type": "MX", "address": f"mx2.mail.{domain}.", "mx_pref": 20},
        {"name": "@", "type": "TXT", "address": "v=spf1 include:_spf.mail.example ~all"},
        {"name": "mail._domainkey", "type": "TXT",
         "address": "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsandbox"},
        {"name": "@", "type": "TXT", "address": "google-site-verification=sandbox-verification"},
        {"name": "www", "type": "CNAME", "address": f"{domain}."},
        {"name": "@", "type": "CAA", "address": '0 issue "letsencrypt.org"'},
        {"name": "old", "type": "URL301", "address": f"https://{domain}/"},
    ]}


def ensure_zone(namecheap_endpoint: str, domain: str, timeout: float = 10) -> bool:
    """Add the team-like zone for `domain` to the sandbox account unless it has one; True if added."""
    import http.client
    from urllib.parse import urlsplit
    url = urlsplit(namecheap_endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("GET", "/_sandbox/domains")
        if domain in json.loads(conn.getresponse().read()):
            return False
        conn.request("POST", "/_sandbox/domains", body=json.dumps(team_zone(domain)),
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        return True
    finally:
        conn.close()
