"""Can the profile be ordered where the config says: server types and image.

Per-location availability follows the API's own rules for a server type's
`locations[]`: a type is supported only in the locations listed; it is
deprecated there when `deprecation` is set, and no longer orderable once
`deprecation.unavailable_after` has passed. Newer API versions also send an
explicit `available` flag per location; when present and false it wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from hcloud import APIException, Client

AVAILABLE, DEPRECATED, UNAVAILABLE, NOT_OFFERED, UNKNOWN = (
    "available", "deprecated", "unavailable", "not offered here", "unknown type")


@dataclass(frozen=True)
class TypeAvailability:
    kind: str            # "server type" | "load balancer type"
    name: str
    location: str
    status: str
    detail: str = ""
    architecture: str | None = None

    @property
    def orderable(self) -> bool:
        return self.status in (AVAILABLE, DEPRECATED)


@dataclass(frozen=True)
class ImageAvailability:
    name: str
    found: bool
    detail: str = ""


@dataclass(frozen=True)
class Availability:
    types: tuple[TypeAvailability, ...]
    image: ImageAvailability

    @property
    def ok(self) -> bool:
        return self.image.found and all(t.orderable for t in self.types)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# How the API says an endpoint no longer exists: since 1 Oct 2026 /datacenters
# answers 410 `deprecated_api_endpoint` (Hetzner's documented error table);
# a plain 404/410 without a JSON body arrives as the bare status.
ENDPOINT_GONE = (404, 410, "not_found", "deprecated_api_endpoint")


def datacenter_available_ids(client: Client, location: str) -> set[int] | None:
    """Server type ids orderable in `location` per /datacenters, None if it is gone.

    /datacenters was deprecated in June 2026 and removed on 1 Oct 2026; while
    an API still serves it, it states "available now" per location. Once it
    is gone, server_types[].locations[] (`available`, `deprecation`) is the
    only source, which server_type_availability reads anyway. It is read raw
    to avoid the library's deprecation warning.
    """
    try:
        answer = client.request("GET", "/datacenters")
    except APIException as exc:
        if exc.code in ENDPOINT_GONE:
            return None
        raise
    ids: set[int] | None = None
    for dc in answer.get("datacenters") or ():
        if (dc.get("location") or {}).get("name") != location:
            continue
        ids = (ids or set()) | set((dc.get("server_types") or {}).get("available") or ())
    return ids


def server_type_availability(client: Client, name: str, location: str,
                             now: datetime | None = None,
                             available_ids: set[int] | None = None) -> TypeAvailability:
    now = now or _now()
    st = client.server_types.get_by_name(name)
    if st is None:
        return TypeAvailability("server type", name, location, UNKNOWN,
                                "the API does not know this server type")
    arch = getattr(st, "architecture", None)
    offered = [loc for loc in (st.locations or []) if loc.location.name == location]
    if not offered:
        where = ", ".join(sorted(loc.location.name for loc in st.locations or [])) or "nowhere"
        return TypeAvailability("server type", name, location, NOT_OFFERED,
                                f"offered in: {where}", arch)
    here = offered[0]
    if getattr(here, "available", None) is False:
        return TypeAvailability("server type", name, location, UNAVAILABLE,
                                "the API reports it unavailable in this location now", arch)
    if available_ids is not None and st.id not in available_ids:
        return TypeAvailability("server type", name, location, UNAVAILABLE,
                                "supported here but no datacenter has it available now", arch)
    dep = here.deprecation
    if dep is not None:
        until = dep.unavailable_after
        if until is not None and until <= now:
            return TypeAvailability("server type", name, location, UNAVAILABLE,
                                    f"deprecated; unavailable since {until:%Y-%m-%d}", arch)
        when = f" (orderable until {until:%Y-%m-%d})" if until else ""
        return TypeAvailability("server type", name, location, DEPRECATED,
                                f"deprecated in this location{when}", arch)
    return TypeAvailability("server type", name, location, AVAILABLE, "", arch)


def load_balancer_type_availability(client: Client, name: str,
                                    location: str) -> TypeAvailability:
    lbt = client.load_balancer_types.get_by_name(name)
    if lbt is None:
        return TypeAvailability("load balancer type", name, location, UNKNOWN,
                                "the API does not know this load balancer type")
    priced = {p.get("location") for p in (lbt.prices or []) if isinstance(p, dict)}
    if priced and location not in priced:
        return TypeAvailability("load balancer type", name, location, NOT_OFFERED,
                                f"priced only in: {', '.join(sorted(priced))}")
    return TypeAvailability("load balancer type", name, location, AVAILABLE)


def image_availability(client: Client, name: str, architecture: str | None) -> ImageAvailability:
    images = client.images.get_all(name=name)
    if architecture:
        images = [i for i in images if getattr(i, "architecture", architecture) == architecture]
    if not images:
        arch = f" for {architecture}" if architecture else ""
        return ImageAvailability(name, False, f"no image named {name}{arch}")
    image = images[0]
    dep = getattr(image, "deprecation", None)
    if dep is not None:
        until = f"; unavailable after {dep.unavailable_after:%Y-%m-%d}" \
            if dep.unavailable_after else ""
        return ImageAvailability(name, True, f"deprecated{until}")
    return ImageAvailability(name, True, getattr(image, "description", "") or "")


def check_availability(client: Client, *, server_types: tuple[str, ...],
                       load_balancer_types: tuple[str, ...] = (), location: str,
                       image: str, now: datetime | None = None) -> Availability:
    available_ids = datacenter_available_ids(client, location)
    types = [server_type_availability(client, st, location, now, available_ids)
             for st in server_types]
    types += [load_balancer_type_availability(client, lbt, location)
              for lbt in load_balancer_types]
    arch = next((t.architecture for t in types if t.architecture), None)
    return Availability(tuple(types), image_availability(client, image, arch))
