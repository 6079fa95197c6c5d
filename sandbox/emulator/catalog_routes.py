"""Read-only catalogue endpoints: server types, images, locations, load
balancer types, pricing; /datacenters answers 410 Gone since 1 Oct 2026."""
from __future__ import annotations

from . import catalog
from .apierrors import gone, not_found
from .query import listing
from .routing import Call, Router


def _one(items: list[dict], rid: str, what: str) -> dict:
    match = next((o for o in items if str(o["id"]) == rid), None)
    if match is None:
        raise not_found(what)
    return match


def server_types(call: Call, listed_only: bool = True) -> list[dict]:
    names = catalog.server_type_names() if listed_only else list(catalog.SERVER_TYPES)
    return [catalog.server_type(n, call.store.unavailable()) for n in names]


def images() -> list[dict]:
    return [catalog.image(n) for n in catalog.IMAGES]


def locations() -> list[dict]:
    return [catalog.location(n) for n in catalog.LOCATIONS]


def lb_types() -> list[dict]:
    return [catalog.load_balancer_type(n) for n in catalog.LOAD_BALANCER_TYPES]


def _image_filters():
    return {
        "type": lambda o, vs: o["type"] in vs,
        "status": lambda o, vs: o["status"] in vs,
        "architecture": lambda o, vs: o["architecture"] in vs,
        "os_flavor": lambda o, vs: o["os_flavor"] in vs,
        "bound_to": lambda o, vs: str(o["bound_to"]) in vs,
    }


# Hetzner removed GET /datacenters and /datacenters/{id} after 1 Oct 2026 and
# answers them with 410 Gone (hcloud-python 2.22.0 / hcloud-go 2.44.0 / CLI 1.66.0
# release notes; error shape from the documented `deprecated_api_endpoint`).
DATACENTERS_ANNOUNCEMENT = "https://docs.hetzner.cloud/changelog#2026-06-02-datacenters-deprecated"


def _datacenters_gone(call: Call):
    raise gone("/datacenters (use server_types[].locations[] and /locations)", DATACENTERS_ANNOUNCEMENT)


def register(router: Router) -> None:
    router.add("GET", "/server_types", lambda c: listing(c.query, "server_types", server_types(c)))
    router.add("GET", "/server_types/{id}",
               lambda c: {"server_type": _one(server_types(c, listed_only=False), c.params["id"], "server type")})
    router.add("GET", "/images", lambda c: listing(c.query, "images", images(), filters=_image_filters()))
    router.add("GET", "/images/{id}", lambda c: {"image": _one(images(), c.params["id"], "image")})
    router.add("GET", "/locations", lambda c: listing(c.query, "locations", locations()))
    router.add("GET", "/locations/{id}", lambda c: {"location": _one(locations(), c.params["id"], "location")})
    router.add("GET", "/datacenters", _datacenters_gone)
    router.add("GET", "/datacenters/{id}", _datacenters_gone)
    router.add("GET", "/load_balancer_types", lambda c: listing(c.query, "load_balancer_types", lb_types()))
    router.add("GET", "/load_balancer_types/{id}",
               lambda c: {"load_balancer_type": _one(lb_types(), c.params["id"], "load balancer type")})
    router.add("GET", "/isos", lambda c: listing(c.query, "isos", []))
    router.add("GET", "/pricing", lambda c: {"pricing": catalog.pricing()})
