"""TLS certificates: uploaded ones are parsed for their names and validity;
managed ones are "issued" at once with a local self-signed certificate."""
from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .apierrors import invalid_input
from .query import listing
from .routing import Call, Router, add_action_routes, check_labels, check_name, require, update_common
from .store import Store, now


def _describe(pem: str) -> dict:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise invalid_input("invalid input in field 'certificate'", certificate="not a PEM certificate") from None
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    digest = cert.fingerprint(hashes.SHA256()).hex()
    return {"domain_names": list(names),
            "fingerprint": ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
            "not_valid_before": cert.not_valid_before_utc.isoformat(),
            "not_valid_after": cert.not_valid_after_utc.isoformat()}


def _self_signed(domains: list[str]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def render(store: Store, cert: dict) -> dict:
    used_by = [{"id": lb["id"], "type": "load_balancer"} for lb in store.all("load_balancers")
               if any(cert["id"] in (s.get("http") or {}).get("certificates", []) for s in lb["services"])]
    return dict(cert, labels=dict(cert["labels"]), domain_names=list(cert["domain_names"]),
                status=None if cert["status"] is None else dict(cert["status"]), used_by=used_by)


def create(call: Call):
    store, body = call.store, call.body
    require(body, "name")
    name = check_name(store, "certificates", body["name"])
    kind = body.get("type", "uploaded")
    cid = store.new_id()
    cert = {"id": cid, "name": name, "type": kind, "labels": check_labels(body), "created": now()}
    if kind == "uploaded":
        require(body, "certificate", "private_key")
        if "PRIVATE KEY" not in body["private_key"]:
            raise invalid_input("invalid input in field 'private_key'", private_key="not a PEM private key")
        cert.update(_describe(body["certificate"]), certificate=body["certificate"], status=None)
        store.put("certificates", cert)
        return 201, {"certificate": render(store, cert)}
    if kind != "managed":
        raise invalid_input("invalid input in field 'type'", type="must be uploaded or managed")
    domains = body.get("domain_names") or []
    if not domains or not all(isinstance(d, str) and d for d in domains):
        raise invalid_input("domain_names is required for managed certificates", domain_names="missing")
    pem = _self_signed(domains)
    cert.update(_describe(pem), certificate=pem,
                status={"issuance": "completed", "renewal": "unavailable", "error": None})
    store.put("certificates", cert)
    action = store.action("create_certificate", [(cid, "certificate")])
    shown = render(store, cert)
    shown["status"] = {"issuance": "pending", "renewal": "unavailable", "error": None}
    return 201, {"certificate": shown, "action": action}


def _cert(call: Call) -> dict:
    return call.store.get("certificates", call.params["id"], "certificate")


def update(call: Call):
    cert = _cert(call)
    update_common(call.store, "certificates", cert, call.body)
    return {"certificate": render(call.store, cert)}


def delete(call: Call):
    cert = _cert(call)
    call.store.delete("certificates", cert["id"])
    for lb in call.store.all("load_balancers"):
        for service in lb["services"]:
            if service.get("http") and cert["id"] in service["http"].get("certificates", []):
                service["http"]["certificates"].remove(cert["id"])
    return 204, None


def retry(call: Call):
    cert = _cert(call)
    return 201, {"action": call.store.action("issue_certificate", [(cert["id"], "certificate")])}


def register(router: Router) -> None:
    router.add("GET", "/certificates", lambda c: listing(
        c.query, "certificates", [render(c.store, x) for x in c.store.all("certificates")],
        filters={"type": lambda o, vs: o["type"] in vs}))
    router.add("POST", "/certificates", create)
    router.add("GET", "/certificates/{id}", lambda c: {"certificate": render(c.store, _cert(c))})
    router.add("PUT", "/certificates/{id}", update)
    router.add("DELETE", "/certificates/{id}", delete)
    router.add("POST", "/certificates/{id}/actions/retry", retry)
    add_action_routes(router, "certificates", "certificate")
