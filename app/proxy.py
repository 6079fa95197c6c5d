"""The TLS proxy the app phase adds to the app's stack when deploy.toml has [tls].

Why Caddy in the Compose stack and not certbot on the host: Caddy gets and
renews the certificates inside the process that serves them (no host timer to
install or to forget; sandbox machines have no systemd to run one), redirects
HTTP to HTTPS while answering ACME's HTTP-01 challenge itself, and takes its
ACME directory (Let's Encrypt production, staging, or the sandbox's pebble)
and that directory's CA from its config. Certificates live on the data volume
(/mnt/data/caddy), so a new release or a rollback never asks for new ones.

The release's Compose file is the app's own with a `proxy` service added and
the upstream service's published ports removed (the proxy owns 80 and 443; the
upstream is reached over the Compose network). It is emitted by PyYAML from the
parsed file, never pasted. Every value that reaches the Caddyfile matched a
whole-string pattern first (config_file.TlsSection, HOSTNAME below); the
Caddyfile is built from those values only.
"""
from __future__ import annotations

import re

from errors import ConfigError

PROXY_SERVICE = "proxy"
CADDYFILE = "proxy/Caddyfile"            # release files, beside the Compose file
ACME_CA = "proxy/acme-ca.pem"
CERT_DIR = "/mnt/data/caddy"
# 3-tier (app/certs.py): hetzner-deploy is the ACME client and every app server's
# Caddy serves the one certificate from SHARED_CERTS and the HTTP-01 answers from
# SHARED_ACME; in the container they are read-only.
SHARED_CERTS, SHARED_ACME = f"{CERT_DIR}/certs", f"{CERT_DIR}/acme"
CERTS_IN_PROXY, ACME_IN_PROXY = "/etc/caddy/certs", "/srv/acme"
# Caddy's admin endpoint on a Unix socket in a root-only folder shared with the host:
# the tool reaches it over SSH (remote/ssh.py unix_exchange), nothing else can.
SHARED_ADMIN, ADMIN_IN_PROXY = f"{CERT_DIR}/admin", "/run/caddy-admin"
ADMIN_SOCKET = f"{SHARED_ADMIN}/admin.sock"
HOSTNAME = r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
HEALTH = r"/[A-Za-z0-9._~/-]{0,200}"


def names_for(config) -> tuple[str, ...]:
    """The fully qualified names [dns] points at this deploy: the certificate's names."""
    domain = config.domain
    out = []
    for name in config.dns.names:
        fqdn = domain if name == "@" else f"{name}.{domain}"
        if not re.fullmatch(HOSTNAME, fqdn):
            raise ConfigError(f"tls: {fqdn!r} is not a host name a certificate can name")
        out.append(fqdn)
    return tuple(dict.fromkeys(out))


def caddyfile(tls, names: tuple[str, ...], directory: str, *, ca_root: bool,
              health_path: str, shared: bool = False) -> bytes:
    """shared: the 3-tier variant (see shared_caddyfile)."""
    health = health_path.split("?", 1)[0]
    if not re.fullmatch(HEALTH, health):
        raise ConfigError(f"app.health_path: {health!r} cannot be served by the proxy")
    if shared:
        return shared_caddyfile(tls, names, health)
    lines = ["# Written by hetzner-deploy from [tls] in deploy.toml; part of the release.", "{"]
    if tls.email:
        lines.append(f"\temail {tls.email}")
    lines.append(f"\tacme_ca {directory}")
    if ca_root:
        lines.append(f"\tacme_ca_root /etc/caddy/{ACME_CA.rsplit('/', 1)[1]}")
    lines += ["\tadmin off", "}", "",
              f"{', '.join(names)} {{", f"\treverse_proxy {tls.upstream}", "}", ""]
    return "\n".join(lines + _health_site(tls, health)).encode()


def _health_site(tls, health: str) -> list[str]:
    return ["# By address, over plain HTTP, only the health path answers: the release's health",
            "# gate runs before DNS points the names here, so before any certificate exists.",
            ":80 {", f"\thandle {health} {{", f"\t\treverse_proxy {tls.upstream}", "\t}",
            "\trespond 404", "}", ""]


def shared_caddyfile(tls, names: tuple[str, ...], health: str) -> bytes:
    """3-tier: Caddy on each app server serves the certificate hetzner-deploy put in
    SHARED_CERTS, and gets none itself. An HTTP-01 challenge reaches whichever app
    server the load balancer picks, so a Caddy that asked for its own certificate
    would fail most of its challenges; the tool puts each answer on every server
    instead (app/certs.py). The admin endpoint is a Unix socket only root reaches,
    for a reload when the certificate changes: a reload keeps connections, a
    restart would drop them."""
    joined = ", ".join(names)
    lines = ["# Written by hetzner-deploy from [tls] in deploy.toml (3-tier: the certificate",
             "# comes from hetzner-deploy, see app/certs.py); part of the release.", "{",
             "\tauto_https disable_certs", f"\tadmin unix/{ADMIN_IN_PROXY}/admin.sock", "}", "",
             ", ".join(f"http://{n}" for n in names) + " {",
             "\thandle /.well-known/acme-challenge/* {", f"\t\troot * {ACME_IN_PROXY}",
             "\t\tfile_server", "\t}", "\thandle {", "\t\tredir https://{host}{uri} 308", "\t}",
             "}", "", f"{joined} {{", "\ttls {", f"\t\tload {CERTS_IN_PROXY}", "\t}",
             f"\treverse_proxy {tls.upstream}", "}", ""]
    return "\n".join(lines + _health_site(tls, health)).encode()


def reload_request(caddyfile: bytes) -> bytes:
    """The admin API request that makes Caddy load `caddyfile` again, certificates included,
    even when it is the config it runs (must-revalidate). HTTP/1.0 with an empty Host: on a
    Unix socket Caddy accepts no other Host."""
    head = ("POST /load HTTP/1.0\r\nHost: \r\nContent-Type: text/caddyfile\r\n"
            f"Cache-Control: must-revalidate\r\nContent-Length: {len(caddyfile)}\r\n\r\n")
    return head.encode() + caddyfile


def with_proxy(compose: bytes, tls, image: str, *, ca_root: bool, shared: bool = False) -> bytes:
    """The app's Compose file with the proxy added and the upstream's published ports removed."""
    import yaml
    try:
        doc = yaml.safe_load(compose)
    except yaml.YAMLError as exc:
        raise ConfigError(f"app.compose: not valid YAML ({str(exc).splitlines()[0]})") from None
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict):
        raise ConfigError("app.compose: no services: mapping")
    upstream = services.get(tls.upstream_service)
    if not isinstance(upstream, dict):
        raise ConfigError(f"tls.upstream: no service {tls.upstream_service!r} in the Compose file")
    if PROXY_SERVICE in services:
        raise ConfigError(f"app.compose: a service named {PROXY_SERVICE!r} already exists; "
                          f"[tls] adds its own")
    upstream.pop("ports", None)
    networks = upstream.get("networks")
    volumes = [f"./{CADDYFILE}:/etc/caddy/Caddyfile:ro", f"{CERT_DIR}/data:/data",
               f"{CERT_DIR}/config:/config"]
    if ca_root and not shared:
        volumes.append(f"./{ACME_CA}:/etc/caddy/{ACME_CA.rsplit('/', 1)[1]}:ro")
    if shared:
        volumes += [f"{SHARED_CERTS}:{CERTS_IN_PROXY}:ro", f"{SHARED_ACME}:{ACME_IN_PROXY}:ro",
                    f"{SHARED_ADMIN}:{ADMIN_IN_PROXY}"]
    proxy = {"image": image,
             "command": ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
             # Where Caddy keeps certificates and its ACME account: the data volume. The
             # official image sets these too; set here, any image behaves the same.
             "environment": {"XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "/config"},
             "init": True, "restart": "unless-stopped",
             "ports": ["80:80", "443:443"], "volumes": volumes,
             "depends_on": [tls.upstream_service]}
    if isinstance(networks, (list, dict)):
        # The upstream's networks that reach out (the proxy talks to the ACME server too);
        # an internal network has no gateway.
        declared = doc.get("networks") if isinstance(doc.get("networks"), dict) else {}
        outward = [n for n in networks if not (isinstance(declared.get(n), dict)
                                              and declared[n].get("internal"))]
        proxy["networks"] = outward or list(networks)
    services[PROXY_SERVICE] = proxy
    header = b"# The app's Compose file with the TLS proxy added by hetzner-deploy ([tls]).\n"
    return header + yaml.dump(doc, Dumper=_plain_dumper(), sort_keys=False,
                              default_flow_style=False).encode()


def _plain_dumper():
    import yaml

    class PlainDumper(yaml.SafeDumper):
        """Writes shared values (the app's YAML anchors) out in full: no generated &id001."""
        def ignore_aliases(self, data):
            return True
    return PlainDumper
