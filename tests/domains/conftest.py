"""A Namecheap emulator on loopback, and a client for it."""
from __future__ import annotations

import pytest

from domains.namecheap import Credentials, NamecheapClient
from sandbox import namecheap as emulator

DOMAIN = "example-voice.com"
# What a real team's zone holds besides the app's records.
FOREIGN = [
    {"name": "@", "type": "MX", "address": "mx1.mail.example.net.", "mx_pref": 10, "ttl": 3600},
    {"name": "@", "type": "MX", "address": "mx2.mail.example.net.", "mx_pref": 20, "ttl": 3600},
    {"name": "@", "type": "TXT", "address": "v=spf1 include:_spf.example.net ~all"},
    {"name": "mail._domainkey", "type": "TXT",
     "address": "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv+/=="},
    {"name": "@", "type": "TXT", "address": "google-site-verification=abc123_-XYZ"},
    {"name": "www", "type": "CNAME", "address": "example-voice.com."},
    {"name": "@", "type": "CAA", "address": '0 issue "letsencrypt.org"'},
    {"name": "old", "type": "URL301", "address": "https://example-voice.com/new?a=1&b=<2>"},
    {"name": "@", "type": "A", "address": "198.51.100.200", "ttl": 1800},   # Railway today
]


@pytest.fixture(scope="session")
def _server():
    running = emulator.start()
    yield running
    running.close()


@pytest.fixture
def nc(_server):
    """The session's emulator with fresh state: one zone, seeded as a team's would be."""
    _server.state.__init__()
    emulator.seed(_server.state, {"domain": DOMAIN, "email_type": "MX", "hosts": FOREIGN})
    return _server


@pytest.fixture
def client(nc):
    state = nc.state
    creds = Credentials(state.api_user, state.api_key, state.username, "127.0.0.1", nc.url)
    return NamecheapClient(creds, sleep=lambda s: None)
