"""The app's Compose project split across the 3-tier roles (issue 12 item 3).

The db server runs only [tier] db_services (PostgreSQL and Redis by default);
the app servers run everything else and reach the databases over the private
network at the db server's private IP, which their .env gets as
[tier] db_host_env (POSTGRES_HOST, REDIS_HOST).

Both Compose files are the app's own, parsed and re-emitted with PyYAML as
app/proxy.py does (no aliases, order kept), never pasted text. The split is
pure: tests pin its output, and since both files and the app servers' .env are
release files, a change in any of them is a new release id on that role.
"""
from __future__ import annotations

import copy
import ipaddress
import re

from errors import ConfigError

PUBLISH_NET = "hd-db-published"    # see _published
_LINE_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _load(compose: bytes) -> dict:
    import yaml
    try:
        doc = yaml.safe_load(compose)
    except yaml.YAMLError as exc:
        raise ConfigError(f"app.compose: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        raise ConfigError("app.compose: no services: mapping")
    return doc


def _dump(doc: dict, header: str) -> bytes:
    import yaml

    from app.proxy import _plain_dumper
    return (f"# {header}\n").encode() + yaml.dump(doc, Dumper=_plain_dumper(), sort_keys=False,
                                                  default_flow_style=False).encode()


def _networks_of(service: dict) -> list[str]:
    nets = service.get("networks")
    if isinstance(nets, dict):
        return [str(n) for n in nets]
    if isinstance(nets, list):
        return [str(n) for n in nets]
    return ["default"]


def _without(depends_on, gone: set[str]):
    """depends_on (list or mapping form) without the services in `gone`; None when empty."""
    if isinstance(depends_on, dict):
        kept = {k: v for k, v in depends_on.items() if k not in gone}
    elif isinstance(depends_on, list):
        kept = [k for k in depends_on if k not in gone]
    else:
        return depends_on
    return kept or None


def _not_internal(doc: dict, names: set[str]) -> None:
    declared = doc.get("networks")
    if not isinstance(declared, dict):
        return
    for name in names:
        net = declared.get(name)
        if isinstance(net, dict) and net.get("internal"):
            net.pop("internal")
            if not net:
                declared[name] = {}


def _published(doc: dict, service: dict, port: int, ip) -> dict:
    """A db service published on the db server's private IP, the same in the db part and in
    the switch's transitional file, so that going from one to the other restarts nothing.

    Only on the private IP: never 0.0.0.0, and Docker's published ports bypass UFW, so the
    host firewall would not stop a public one. Docker publishes no port of a container whose
    networks are all internal (no gateway, no NAT): such a service also joins PUBLISH_NET, a
    plain network of its own, and its internal networks stay internal (flipping one would
    make Compose recreate it, and every container on it, on a server already running them).
    """
    svc = copy.deepcopy(service)
    svc["ports"] = [f"{ip}:{port}:{port}"]
    declared = doc.get("networks") if isinstance(doc.get("networks"), dict) else {}
    nets = _networks_of(svc)
    if all(isinstance(declared.get(n), dict) and declared[n].get("internal") for n in nets):
        if isinstance(svc.get("networks"), dict):
            svc["networks"][PUBLISH_NET] = None
        else:
            svc["networks"] = [*nets, PUBLISH_NET]
        doc.setdefault("networks", {})[PUBLISH_NET] = {}
    return svc


def _private_ip(db_private_ip: str):
    try:
        ip = ipaddress.ip_address(db_private_ip)
    except ValueError:
        raise ConfigError(f"the db server's private IP {db_private_ip!r} is not an address") from None
    if not ip.is_private:
        # Publishing the databases on a public address is exactly what the split must never do.
        raise ConfigError(f"the db server's address {ip} is not private: refusing to publish "
                          f"the databases on it")
    return ip


def transitional(compose: bytes, db_services: tuple[tuple[str, int], ...],
                 db_private_ip: str) -> bytes:
    """The one server's whole app with its db services published as the db part publishes
    them: what the server runs during a switch to 3-tier, while the old app still serves
    and the app servers already reach the databases (pipeline/tier_switch.py)."""
    ip = _private_ip(db_private_ip)
    doc = _load(compose)
    for name, port in db_services:
        if not isinstance(doc["services"].get(name), dict):
            raise ConfigError(f"tier.db_services: no service {name!r} in the Compose file")
        doc["services"][name] = _published(doc, doc["services"][name], port, ip)
    return _dump(doc, "The app's Compose file during a switch to 3-tier (the old app, its "
                      "databases also on the private IP), written by hetzner-deploy.")


def split(compose: bytes, db_services: tuple[tuple[str, int], ...],
          db_private_ip: str) -> tuple[bytes, bytes]:
    """(db server's Compose file, app servers' Compose file)."""
    ip = _private_ip(db_private_ip)
    doc = _load(compose)
    services = doc["services"]
    wanted = [name for name, _ in db_services]
    missing = [name for name in wanted if not isinstance(services.get(name), dict)]
    if missing:
        raise ConfigError(f"tier.db_services: no service {missing[0]!r} in the Compose file "
                          f"(services: {', '.join(map(str, services))})")
    rest = [name for name in services if name not in wanted]
    if not rest:
        raise ConfigError("tier.db_services names every Compose service: nothing is left to "
                          "run on the app servers")

    db_doc = copy.deepcopy(doc)
    db_doc["services"] = {}
    db_nets: set[str] = set()
    for name, port in db_services:
        svc = _published(db_doc, services[name], port, ip)
        deps = _without(svc.get("depends_on"), set(rest))
        svc.pop("depends_on", None)
        if deps:
            svc["depends_on"] = deps
        db_nets.update(_networks_of(svc))
        db_doc["services"][name] = svc
    if isinstance(db_doc.get("networks"), dict):
        db_doc["networks"] = {k: v for k, v in db_doc["networks"].items() if k in db_nets}
        if not db_doc["networks"]:
            del db_doc["networks"]

    app_doc = copy.deepcopy(doc)
    gone = set(wanted)
    shared: set[str] = set()     # networks by which an app service reached a db service
    for name, port in db_services:
        shared.update(_networks_of(services[name]))
    reach: set[str] = set()
    for name in rest:
        svc = app_doc["services"][name]
        deps = _without(svc.get("depends_on"), gone)
        svc.pop("depends_on", None)
        if deps:
            svc["depends_on"] = deps
        reach.update(n for n in _networks_of(svc) if n in shared)
    for name in wanted:
        del app_doc["services"][name]
    # The databases are now on another server: a service that reached them through an
    # internal network (no gateway) must get out of the host to the db's private IP, so
    # that network cannot stay internal on the app servers.
    _not_internal(app_doc, reach)
    return (_dump(db_doc, "The app's Compose file, db server part ([tier] db_services), "
                          "written by hetzner-deploy."),
            _dump(app_doc, "The app's Compose file, app server part (without [tier] "
                           "db_services), written by hetzner-deploy."))


def db_reads_files(compose: bytes, db_services: tuple[tuple[str, int], ...]) -> bool:
    """Whether a db service reads one of the app's own files from the release folder (a
    relative bind mount, an env_file other than .env, a build context). Only then do the
    app's files go to the db server: otherwise a change of the app's code is no new
    release there, and the databases are not touched by it."""
    services = _load(compose)["services"]
    for name, _ in db_services:
        svc = services.get(name) or {}
        if "build" in svc:
            return True
        for v in svc.get("volumes") or []:
            source = v.get("source", "") if isinstance(v, dict) else str(v).split(":", 1)[0]
            if str(source).startswith((".", "~")):
                return True
        env_files = svc.get("env_file") or []
        for f in [env_files] if isinstance(env_files, str) else env_files:
            path = f.get("path", "") if isinstance(f, dict) else str(f)
            if path not in (".env", "./.env"):
                return True
    return False


def app_env(env: bytes, keys: tuple[str, ...], db_private_ip: str) -> bytes:
    """The user's .env with each of `keys` set to the db server's private IP: a line
    assigning it is replaced, a key not assigned is appended. Other lines stay byte for
    byte. Never logged (it holds the app's secrets)."""
    ip = str(ipaddress.ip_address(db_private_ip))
    lines = env.split(b"\n")
    seen: set[str] = set()
    out = []
    for raw in lines:
        m = _LINE_KEY.match(raw.decode("utf-8", "replace"))
        if m and m.group(1) in keys:
            out.append(f"{m.group(1)}={ip}".encode())
            seen.add(m.group(1))
        else:
            out.append(raw)
    text = b"\n".join(out)
    added = [f"{k}={ip}".encode() for k in keys if k not in seen]
    if added:
        if text and not text.endswith(b"\n"):
            text += b"\n"
        text += b"\n".join(added) + b"\n"
    return text

