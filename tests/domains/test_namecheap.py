"""The thin client: POST with EmailType on writes, and each API error as its own one line."""
from __future__ import annotations

import dataclasses

import pytest

from domains.namecheap import Credentials, NamecheapClient, NamecheapError, RateLimited
from domains.records import HostRecord
from errors import ConfigError
from tests.domains.conftest import DOMAIN


def test_set_hosts_is_a_post_that_always_sends_email_type(client):
    sent = []
    client.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    client.set_hosts(DOMAIN, [HostRecord("@", "A", "198.51.100.7", 300)], "MX")
    (request,) = sent
    assert request.method == "POST" and "EmailType=MX" in request.body
    assert "ApiKey" not in request.url                 # the key travels in the body only


def test_whitelist_error_says_which_ip_and_where(nc, client):
    bad = NamecheapClient(dataclasses.replace(client.creds, client_ip="198.51.100.99"))
    with pytest.raises(NamecheapError) as err:
        bad.get_hosts(DOMAIN)
    assert err.value.number == "1011150"
    assert "198.51.100.99" in str(err.value) and "Whitelisted IPs" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("domain, number, words", [
    ("missing-domain.com", "2019166", "has no domain missing-domain.com"),
    ("someone-else.com", "2016166", "is not on the Namecheap account sandbox"),
])
def test_unknown_and_foreign_domains(nc, client, domain, number, words):
    from sandbox import namecheap as emulator
    emulator.seed(nc.state, {"domain": "someone-else.com", "account": "other", "hosts": []})
    with pytest.raises(NamecheapError) as err:
        client.get_hosts(domain)
    assert err.value.number == number and words in str(err.value)


def test_rate_limit_is_retried_a_bounded_number_of_times_then_one_line(nc, client):
    nc.state.rate_limit = 2
    naps = []
    client.sleep = naps.append
    client.get_hosts(DOMAIN)
    client.get_hosts(DOMAIN)
    with pytest.raises(RateLimited, match="rate limit was reached"):
        client.get_hosts(DOMAIN)
    assert len(naps) == client.attempts - 1            # bounded, with backoff between
    assert naps == sorted(naps) and naps[0] > 0


def test_credentials_come_from_the_environment_only():
    with pytest.raises(ConfigError, match="NAMECHEAP_API_KEY, NAMECHEAP_CLIENT_IP"):
        Credentials.from_env({"NAMECHEAP_API_USER": "u", "NAMECHEAP_USERNAME": "u"})
    creds = Credentials.from_env({"NAMECHEAP_API_USER": "u", "NAMECHEAP_API_KEY": "secret",
                                  "NAMECHEAP_USERNAME": "u", "NAMECHEAP_CLIENT_IP": "127.0.0.1"})
    assert "secret" not in repr(creds)
