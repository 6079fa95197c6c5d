"""[tls] in deploy.toml: HTTPS for the [dns] names, by a Caddy proxy the app phase adds to the stack.

Values only (the schema is generator/config_file.py's TlsSection). With [tls],
the release's Compose file is the app's own plus a `proxy` service (app/proxy.py):
Caddy gets and renews the certificates itself, redirects HTTP to HTTPS and
answers ACME's HTTP-01 challenge; the upstream service's published ports are
dropped because the proxy owns 80 and 443. On the sandbox, the ACME directory is
always the sandbox's pebble (Let's Encrypt cannot be reached from it).
"""
from __future__ import annotations

from dataclasses import dataclass

ACME_DIRECTORIES = {
    "production": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
ACME_URL = r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~-]+)*/?"
EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
UPSTREAM = r"[a-z0-9][a-z0-9_-]{0,62}:[0-9]{1,5}"       # Compose service:port
IMAGE = r"[a-z0-9][a-z0-9._/-]{0,199}(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[0-9a-f]{64})?"
WARN_DAYS = 21


@dataclass(frozen=True)
class TlsConfig:
    email: str | None = None
    acme: str = "production"          # production | staging | an ACME directory URL
    upstream: str = "backend:8000"
    image: str = "caddy:2"
    warn_days: int = WARN_DAYS
    timeout_s: int = 180              # how long the TLS phase waits for the certificates

    @property
    def directory(self) -> str:
        return ACME_DIRECTORIES.get(self.acme, self.acme)

    @property
    def upstream_service(self) -> str:
        return self.upstream.rsplit(":", 1)[0]
