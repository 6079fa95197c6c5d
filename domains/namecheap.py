"""A thin client for Namecheap's XML API: getList, getHosts, setHosts. Nothing else.

Why not an SDK: `namecheap-python` 4.x needs Python >= 3.12, sends setHosts
as GET and never sends EmailType; `dns-lexicon`'s provider merges by
re-reading and appending, with no EmailType either. Losing EmailType can
change a domain's mail settings, so this client sends it on every write,
always POSTs setHosts, and parses responses with defusedxml.

Errors are explained, not echoed: the whitelist (1011150), an unknown domain
(2019166), a domain on another account (2016166), a domain not on
Namecheap's DNS (2030288) and the rate limit (error 500000, or HTTP 405 as
Namecheap's own Go SDK treats it) each get their own one line. Rate-limited
calls are retried a bounded number of times with backoff (tenacity).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import requests
from defusedxml import ElementTree
from tenacity import (RetryError, Retrying, retry_if_exception_type, stop_after_attempt,
                      wait_exponential)

from domains.records import HostRecord, Zone
from errors import ApiError, ConfigError

PRODUCTION = "https://api.namecheap.com/xml.response"
SANDBOX = "https://api.sandbox.namecheap.com/xml.response"
NS = "{http://api.namecheap.com/xml.response}"
ENV_VARS = ("NAMECHEAP_API_USER", "NAMECHEAP_API_KEY", "NAMECHEAP_USERNAME",
            "NAMECHEAP_CLIENT_IP")


class NamecheapError(ApiError):
    def __init__(self, message: str, number: str = ""):
        super().__init__(message)
        self.number = number


class RateLimited(NamecheapError):
    pass


@dataclass(frozen=True)
class Credentials:
    api_user: str
    api_key: str = ""
    username: str = ""
    client_ip: str = ""
    endpoint: str = PRODUCTION

    def __repr__(self) -> str:   # never show the key
        return f"Credentials(api_user={self.api_user!r}, endpoint={self.endpoint!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 endpoint: str | None = None) -> "Credentials":
        env = os.environ if environ is None else environ
        missing = [v for v in ENV_VARS if not env.get(v, "").strip()]
        if missing:
            raise ConfigError(f"Namecheap credentials come from the environment only: set "
                              f"{', '.join(missing)}")
        return cls(env["NAMECHEAP_API_USER"].strip(), env["NAMECHEAP_API_KEY"].strip(),
                   env["NAMECHEAP_USERNAME"].strip(), env["NAMECHEAP_CLIENT_IP"].strip(),
                   endpoint or env.get("NAMECHEAP_ENDPOINT", "").strip() or PRODUCTION)


def split_domain(domain: str) -> tuple[str, str]:
    sld, _, tld = domain.partition(".")
    if not sld or not tld:
        raise ConfigError(f"dns: {domain!r} is not a registrable domain like example.com")
    return sld, tld


def _explain(number: str, text: str, creds: Credentials, domain: str) -> NamecheapError:
    if number == "1011150":
        return NamecheapError(
            f"Namecheap refused the request from {creds.client_ip}: add that IPv4 to the API "
            "whitelist (namecheap.com: Profile > Tools > Namecheap API Access > Whitelisted "
            "IPs), or set NAMECHEAP_CLIENT_IP to an address already on it", number)
    if number == "2019166":
        return NamecheapError(f"Namecheap has no domain {domain} (error 2019166): check "
                              "[project] domain in deploy.toml", number)
    if number == "2016166":
        return NamecheapError(f"{domain} is not on the Namecheap account {creds.username} "
                              "(error 2016166): use that account's API user", number)
    if number == "2030288":
        return NamecheapError(f"{domain} does not use Namecheap's DNS (error 2030288)", number)
    if number == "500000":
        return RateLimited("Namecheap's rate limit was reached (about 20 calls a minute, 700 an "
                           "hour): wait a minute and run again", number)
    return NamecheapError(f"Namecheap error {number or '?'}: {text.strip()}", number)


class NamecheapClient:
    def __init__(self, creds: Credentials, *, timeout: float = 20.0, attempts: int = 3,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.creds = creds
        self.timeout = timeout
        self.attempts = attempts
        self.session = session or requests.Session()
        self.sleep = sleep

    # -- transport ---------------------------------------------------------------------
    def _once(self, command: str, params: dict[str, str], domain: str, post: bool):
        fields = {"ApiUser": self.creds.api_user, "ApiKey": self.creds.api_key,
                  "UserName": self.creds.username, "ClientIp": self.creds.client_ip,
                  "Command": command, **params}
        try:
            if post:
                resp = self.session.post(self.creds.endpoint, data=fields, timeout=self.timeout)
            else:
                resp = self.session.get(self.creds.endpoint, params=fields, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NamecheapError(f"cannot reach the Namecheap API at {self.creds.endpoint}: "
                                 f"{type(exc).__name__}") from None
        if resp.status_code == 405:
            raise _explain("500000", "", self.creds, domain)
        if resp.status_code != 200:
            raise NamecheapError(f"Namecheap API answered HTTP {resp.status_code}")
        try:
            root = ElementTree.fromstring(resp.content)
        except Exception as exc:  # defusedxml raises its own and ParseError
            raise NamecheapError(f"Namecheap API answered something that is not its XML "
                                 f"({type(exc).__name__})") from None
        if root.get("Status") != "OK":
            error = root.find(f"{NS}Errors/{NS}Error")
            number = error.get("Number", "") if error is not None else ""
            raise _explain(number, error.text or "" if error is not None else "",
                           self.creds, domain)
        response = root.find(f"{NS}CommandResponse")
        if response is None:
            raise NamecheapError(f"Namecheap API answer to {command} has no CommandResponse")
        return response

    def _call(self, command: str, params: dict[str, str], domain: str, *, post: bool = False):
        retrying = Retrying(stop=stop_after_attempt(self.attempts),
                            wait=wait_exponential(multiplier=2, max=30),
                            retry=retry_if_exception_type(RateLimited), sleep=self.sleep,
                            reraise=True)
        try:
            return retrying(self._once, command, params, domain, post)
        except RetryError as exc:   # reraise=True makes this rare; keep one line anyway
            raise exc.last_attempt.exception() from None

    # -- commands ----------------------------------------------------------------------
    def get_hosts(self, domain: str) -> Zone:
        sld, tld = split_domain(domain)
        response = self._call("namecheap.domains.dns.getHosts", {"SLD": sld, "TLD": tld},
                              domain)
        result = response.find(f"{NS}DomainDNSGetHostsResult")
        if result is None:
            raise NamecheapError("Namecheap getHosts answer has no DomainDNSGetHostsResult")
        hosts = []
        for el in list(result):
            if el.tag not in (f"{NS}host", f"{NS}Host"):   # the docs say Host, the API host
                continue
            hosts.append(HostRecord(name=el.get("Name", ""), type=el.get("Type", ""),
                                    address=el.get("Address", ""),
                                    ttl=int(el.get("TTL") or 1800),
                                    mx_pref=int(el.get("MXPref") or 10)))
        return Zone(domain=result.get("Domain", domain),
                    email_type=result.get("EmailType", "") or "NONE",
                    using_our_dns=result.get("IsUsingOurDNS", "true").lower() == "true",
                    hosts=tuple(hosts))

    def set_hosts(self, domain: str, hosts: Sequence[HostRecord], email_type: str) -> None:
        """Replace the zone with exactly `hosts` (POST; EmailType always sent)."""
        sld, tld = split_domain(domain)
        params = {"SLD": sld, "TLD": tld, "EmailType": email_type}
        for i, h in enumerate(hosts, start=1):
            params.update({f"HostName{i}": h.name, f"RecordType{i}": h.type,
                           f"Address{i}": h.address, f"TTL{i}": str(h.ttl)})
            if h.type.upper() == "MX":
                params[f"MXPref{i}"] = str(h.mx_pref)
        response = self._call("namecheap.domains.dns.setHosts", params, domain, post=True)
        result = response.find(f"{NS}DomainDNSSetHostsResult")
        if result is None or result.get("IsSuccess", "").lower() != "true":
            raise NamecheapError(f"Namecheap did not confirm the write for {domain}")
