"""hcloud_managed_certificate."""
from __future__ import annotations

from sandbox.provider.resources.base import HcloudResource, labels, wait


def _time(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class ManagedCertificate(HcloudResource):
    TYPE = "hcloud_managed_certificate"
    REPLACE = frozenset({"domain_names"})

    def create(self, ctx, planned):
        made = self.api.certificates.create_managed(
            name=planned["name"], domain_names=sorted(planned["domain_names"]),
            labels=labels(planned.get("labels")))
        self.created(planned, str(made.certificate.id))
        wait(made.action)
        return self.read(ctx, {**planned, "id": str(made.certificate.id)})

    def read(self, ctx, current):
        cert = self.fetch(self.api.certificates.get_by_id, current["id"])
        if cert is None:
            return None
        return {**current, "id": str(cert.id), "name": cert.name, "type": cert.type,
                "domain_names": sorted(cert.domain_names or []), "labels": cert.labels or {},
                "certificate": cert.certificate, "fingerprint": cert.fingerprint,
                "created": _time(cert.created), "not_valid_before": _time(cert.not_valid_before),
                "not_valid_after": _time(cert.not_valid_after)}

    def update(self, ctx, current, planned):
        self.api.certificates.update(self.api.certificates.get_by_id(int(current["id"])),
                                     name=planned["name"], labels=labels(planned.get("labels")))
        return self.read(ctx, planned)

    def delete(self, ctx, current):
        cert = self.fetch(self.api.certificates.get_by_id, current["id"])
        if cert is not None:
            self.api.certificates.delete(cert)
        return None
