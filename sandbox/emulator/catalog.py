"""What the emulated cloud sells, dated: locations, server, load balancer and
image catalogues, and the price list, as Hetzner showed them in autumn 2026.

Every price is net of VAT, EUR per month; gross is net x 1.19 (Germany's
VAT, which the API applies to a German account). Where a figure comes from
is written next to it; "placeholder" marks a figure with no source, kept
only so that types stay in a believable order. Sources, as summarised in
../shared/README.md ("Prices"):
  [A] from 1 April 2026, every server: mixxor/eu-cloud-prices prices/hetzner.json
      (data of 2026-02-23, stored with 19 % VAT, divided by 1.19).
  [J] from 15 June 2026, new orders and rescales: Hetzner's price-adjustment
      table quoted in robhunter/agentdeals PR #1324 (CCX13 42.99, CCX53 533.49),
      and mixxor/eu-cloud-prices commit 40e3af6 (data of 2026-08-17) less the
      0.50 primary IPv4 it includes (CCX23 85.99, CCX33 138.49, CCX43 275.99,
      CPX22 19.49, CPX42 69.49).
  [S] availability in 2026-09: every shared-vCPU CX and CAX plan "not
      available", CPX12-62 orderable (robhunter/agentdeals PR #1286).
  [D] CX Gen2 (cx22-cx52) and CPX Gen1 (cpx11-cpx51) deprecated on 2025-10-16
      and removed at the end of 2025 (Hetzner changelog 2025-10-16 "server
      types deprecated", as quoted in hetznercloud/packer-plugin-hcloud PR #317
      and apricote/hcloud-upload-image PR #129).
The API shows the price a new order pays, so server types carry [J] prices;
servers ordered before 15 June 2026 keep their [A] price until rescaled
(CCX13 15.99, CCX23 31.49, CCX33 62.49, CCX43 124.99), which the API does not
show per server.
"""
from __future__ import annotations

from decimal import Decimal

VAT_RATE = Decimal("19.00")
CATALOG_DATE = "2026-10-01T00:00:00+00:00"

# name: (id, description, country, city, latitude, longitude, network_zone)
LOCATIONS = {
    "fsn1": (1, "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central"),
    "nbg1": (2, "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central"),
    "hel1": (3, "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central"),
    "ash": (4, "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east"),
    "hil": (5, "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.951924, "us-west"),
    "sin": (6, "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast"),
}
EU = ("fsn1", "nbg1", "hel1")
EVERYWHERE = tuple(LOCATIONS)

# Deprecation [D]: listed no more, not orderable; servers that have them keep them.
GEN1_DEPRECATION = {"announced": "2025-10-16T00:00:00+00:00", "unavailable_after": "2026-01-01T00:00:00+00:00"}

# name: (id, cores, memory GB, disk GB, cpu_type, architecture, monthly net EUR, locations,
#        available now [S], deprecation)
SERVER_TYPES = {
    # Shared vCPU, AMD, Gen2: orderable [S]; CPX22 and CPX42 prices [J], the rest placeholders.
    "cpx12": (120, 1, 2.0, 40, "shared", "x86", "9.99", EVERYWHERE, True, None),      # placeholder
    "cpx22": (121, 2, 4.0, 80, "shared", "x86", "19.49", EVERYWHERE, True, None),     # [J]
    "cpx32": (122, 4, 8.0, 160, "shared", "x86", "36.99", EVERYWHERE, True, None),    # placeholder
    "cpx42": (123, 8, 16.0, 320, "shared", "x86", "69.49", EVERYWHERE, True, None),   # [J]
    "cpx52": (124, 12, 24.0, 480, "shared", "x86", "99.99", EVERYWHERE, True, None),  # placeholder
    "cpx62": (125, 16, 32.0, 640, "shared", "x86", "134.99", EVERYWHERE, True, None),  # placeholder
    # Shared vCPU, cost-optimised and Arm: "not available" everywhere in 2026-09 [S]; prices placeholders.
    "cx23": (130, 2, 4.0, 40, "shared", "x86", "4.99", EU, False, None),
    "cx33": (131, 4, 8.0, 80, "shared", "x86", "7.99", EU, False, None),
    "cx43": (132, 8, 16.0, 160, "shared", "x86", "13.99", EU, False, None),
    "cx53": (133, 16, 32.0, 320, "shared", "x86", "24.99", EU, False, None),
    "cax11": (45, 2, 4.0, 40, "shared", "arm", "5.49", EU, False, None),
    "cax21": (93, 4, 8.0, 80, "shared", "arm", "8.99", EU, False, None),
    "cax31": (94, 8, 16.0, 160, "shared", "arm", "16.99", EU, False, None),
    "cax41": (95, 16, 32.0, 320, "shared", "arm", "32.99", EU, False, None),
    # Dedicated vCPU: new-order prices from 15 June 2026 [J]; CCX63 placeholder.
    "ccx13": (96, 2, 8.0, 80, "dedicated", "x86", "42.99", EVERYWHERE, True, None),    # [J] (was 15.99 [A])
    "ccx23": (97, 4, 16.0, 160, "dedicated", "x86", "85.99", EVERYWHERE, True, None),  # [J] (was 31.49 [A])
    "ccx33": (98, 8, 32.0, 240, "dedicated", "x86", "138.49", EVERYWHERE, True, None),  # [J] (was 62.49 [A])
    "ccx43": (99, 16, 64.0, 360, "dedicated", "x86", "275.99", EVERYWHERE, True, None),  # [J] (was 124.99 [A])
    "ccx53": (100, 32, 128.0, 600, "dedicated", "x86", "533.49", EVERYWHERE, True, None),  # [J]
    "ccx63": (101, 48, 192.0, 960, "dedicated", "x86", "799.99", EVERYWHERE, True, None),  # placeholder
    # Deprecated on 2025-10-16, gone for new orders since 2026-01-01 [D]; prices placeholders.
    "cx22": (104, 2, 4.0, 40, "shared", "x86", "3.79", EU, False, GEN1_DEPRECATION),
    "cx32": (105, 4, 8.0, 80, "shared", "x86", "6.80", EU, False, GEN1_DEPRECATION),
    "cpx11": (22, 2, 2.0, 40, "shared", "x86", "4.35", EVERYWHERE, False, GEN1_DEPRECATION),
    "cpx21": (23, 3, 4.0, 80, "shared", "x86", "7.55", EVERYWHERE, False, GEN1_DEPRECATION),
    "cpx31": (24, 4, 8.0, 160, "shared", "x86", "13.60", EVERYWHERE, False, GEN1_DEPRECATION),
}

# name: (id, os_flavor, os_version, description)
IMAGES = {
    "ubuntu-22.04": (67794396, "ubuntu", "22.04", "Ubuntu 22.04"),
    "ubuntu-24.04": (161547269, "ubuntu", "24.04", "Ubuntu 24.04"),
    "debian-12": (114690387, "debian", "12", "Debian 12"),
}

# name: (id, max_services, max_targets, max_connections, max_certificates, monthly net)
# Load balancers kept their price on 15 June 2026 (README): LB11 7.49 [A]; LB21, LB31 placeholders.
LOAD_BALANCER_TYPES = {
    "lb11": (1, 5, 25, 10000, 10, "7.49"),
    "lb21": (2, 15, 75, 20000, 25, "19.99"),
    "lb31": (3, 30, 150, 40000, 50, "39.99"),
}

VOLUME_PER_GB = "0.0572"          # [A], also read from the pricing API on 2026-05-27 (README)
BACKUP_PERCENT = "20.0000"        # +20 % of the server (README; not re-checked for 2026)
PRIMARY_IP_MONTHLY = {"ipv4": "0.50", "ipv6": "0.00"}   # 0.50 per README (VAT unclear there)
FLOATING_IP_MONTHLY = {"ipv4": "3.00", "ipv6": "3.00"}  # placeholder
IMAGE_PER_GB = "0.0119"           # placeholder
INCLUDED_TRAFFIC = {"eu-central": 20 * 1024 ** 4, "us-east": 1024 ** 4,
                    "us-west": 1024 ** 4, "ap-southeast": 1024 ** 4}


def _money(net: str, digits: int = 4) -> dict:
    amount = Decimal(net)
    quant = Decimal(1).scaleb(-digits)
    gross = (amount * (1 + VAT_RATE / 100)).quantize(quant)
    return {"net": str(amount.quantize(quant)), "gross": str(gross)}


def _hourly(monthly: str) -> str:
    # Hetzner caps a month at the monthly price; ~730 h per month.
    return str((Decimal(monthly) / 730).quantize(Decimal("0.0001")))


def location(name: str) -> dict:
    lid, desc, country, city, lat, lon, zone = LOCATIONS[name]
    return {"id": lid, "name": name, "description": desc, "country": country, "city": city,
            "latitude": lat, "longitude": lon, "network_zone": zone}


def location_name_by_id(lid: int) -> str | None:
    return next((n for n, row in LOCATIONS.items() if row[0] == lid), None)


def _price_rows(monthly: str, locations) -> list[dict]:
    return [{"location": loc, "price_monthly": _money(monthly), "price_hourly": _money(_hourly(monthly)),
             "included_traffic": INCLUDED_TRAFFIC[LOCATIONS[loc][6]],
             "price_per_tb_traffic": _money("1.00")} for loc in locations]


def retired(name: str) -> bool:
    """Deprecated and past `unavailable_after`: hidden from lists, not orderable."""
    dep = SERVER_TYPES[name][9]
    return dep is not None and dep["unavailable_after"] <= CATALOG_DATE


def orderable(name: str, loc: str, unavailable: set[tuple[str, str]] = frozenset()) -> bool:
    row = SERVER_TYPES[name]
    return loc in row[7] and row[8] and not retired(name) and (name, loc) not in unavailable


def server_type(name: str, unavailable: set[tuple[str, str]] = frozenset()) -> dict:
    """`locations[]` carries per-location availability and deprecation, as the
    2026 API does; the top-level `deprecated`/`deprecation` mirror them (the
    API marks those fields deprecated in favour of `locations[].deprecation`)."""
    sid, cores, memory, disk, cpu, arch, monthly, locs, _available, dep = SERVER_TYPES[name]
    family = name.rstrip("0123456789").upper()
    return {"id": sid, "name": name, "description": f"{family} {name[len(family):]}".strip(),
            # The API's example value is "Shared vCPU".
            "category": "Dedicated vCPU" if cpu == "dedicated" else "Shared vCPU",
            "cores": cores, "memory": memory, "disk": disk, "cpu_type": cpu,
            "storage_type": "local", "architecture": arch, "deprecated": dep is not None,
            "deprecation": dict(dep) if dep else None,
            "locations": [{"id": LOCATIONS[loc][0], "name": loc, "deprecation": dict(dep) if dep else None,
                           "available": orderable(name, loc, unavailable),
                           "recommended": orderable(name, loc, unavailable)} for loc in locs],
            "prices": _price_rows(monthly, locs)}


def server_type_names() -> list[str]:
    """What GET /server_types lists: retired types are left out."""
    return [n for n in SERVER_TYPES if not retired(n)]


def server_type_by(key) -> str | None:
    """Name of the server type given by name or id (int or numeric string)."""
    if isinstance(key, str) and key in SERVER_TYPES:
        return key
    return next((n for n, row in SERVER_TYPES.items() if str(row[0]) == str(key)), None)


def image(name: str) -> dict:
    iid, flavor, version, desc = IMAGES[name]
    return {"id": iid, "name": name, "description": desc, "type": "system", "status": "available",
            "image_size": None, "disk_size": 5, "created": CATALOG_DATE, "created_from": None,
            "bound_to": None, "os_flavor": flavor, "os_version": version, "rapid_deploy": True,
            "protection": {"delete": False}, "deprecated": None, "deleted": None, "labels": {},
            "architecture": "x86"}


def image_by(key) -> str | None:
    if isinstance(key, str) and key in IMAGES:
        return key
    return next((n for n, row in IMAGES.items() if str(row[0]) == str(key)), None)


def load_balancer_type(name: str) -> dict:
    lid, services, targets, conns, certs, monthly = LOAD_BALANCER_TYPES[name]
    return {"id": lid, "name": name, "description": name.upper(), "max_services": services,
            "max_targets": targets, "max_connections": conns, "max_assigned_certificates": certs,
            "deprecated": None, "prices": _price_rows(monthly, EVERYWHERE)}


def load_balancer_type_by(key) -> str | None:
    if isinstance(key, str) and key in LOAD_BALANCER_TYPES:
        return key
    return next((n for n, row in LOAD_BALANCER_TYPES.items() if str(row[0]) == str(key)), None)


def pricing() -> dict:
    return {
        "currency": "EUR", "vat_rate": str(VAT_RATE),
        "image": {"price_per_gb_month": _money(IMAGE_PER_GB)},
        "volume": {"price_per_gb_month": _money(VOLUME_PER_GB)},
        "server_backup": {"percentage": BACKUP_PERCENT},
        "floating_ip": {"price_monthly": _money(FLOATING_IP_MONTHLY["ipv4"])},
        "floating_ips": [{"type": t, "prices": [{"location": loc, "price_monthly": _money(p)}
                                                for loc in EVERYWHERE]}
                         for t, p in FLOATING_IP_MONTHLY.items()],
        "primary_ips": [{"type": t, "prices": [{"location": loc, "price_monthly": _money(p),
                                                "price_hourly": _money(_hourly(p))}
                                               for loc in EVERYWHERE]}
                        for t, p in PRIMARY_IP_MONTHLY.items()],
        "server_types": [{"id": SERVER_TYPES[n][0], "name": n,
                          "prices": _price_rows(SERVER_TYPES[n][6], SERVER_TYPES[n][7])}
                         for n in server_type_names()],
        "load_balancer_types": [{"id": row[0], "name": n, "prices": _price_rows(row[5], EVERYWHERE)}
                                for n, row in LOAD_BALANCER_TYPES.items()],
    }
