"""What the emulated cloud sells: locations, datacenters, server, load balancer
and image catalogues, and the price list.

Figures are sandbox data, dated 2025-11-18 like the team's plan: ccx33 at
37.00, volumes at 0.058 per GB, backups at 20 %. The other prices only keep a
believable order between types; nothing bills from them. Real prices come
from the real API's /pricing.
"""
from __future__ import annotations

from decimal import Decimal

VAT_RATE = Decimal("19.00")
CATALOG_DATE = "2025-11-18T00:00:00+00:00"

# name: (id, description, country, city, latitude, longitude, network_zone, datacenter)
LOCATIONS = {
    "fsn1": (1, "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central", "fsn1-dc14"),
    "nbg1": (2, "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central", "nbg1-dc3"),
    "hel1": (3, "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central", "hel1-dc2"),
    "ash": (4, "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east", "ash-dc1"),
    "hil": (5, "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.951924, "us-west", "hil-dc1"),
    "sin": (6, "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast", "sin-dc1"),
}
EU = ("fsn1", "nbg1", "hel1")
EVERYWHERE = tuple(LOCATIONS)

# name: (id, cores, memory GB, disk GB, cpu_type, monthly net EUR, locations)
SERVER_TYPES = {
    "cx22": (104, 2, 4.0, 40, "shared", "3.79", EU),
    "cx32": (105, 4, 8.0, 80, "shared", "6.80", EU),
    "cx42": (106, 8, 16.0, 160, "shared", "16.40", EU),
    "cpx11": (22, 2, 2.0, 40, "shared", "4.35", EVERYWHERE),
    "cpx21": (23, 3, 4.0, 80, "shared", "7.55", EVERYWHERE),
    "cpx31": (24, 4, 8.0, 160, "shared", "13.60", EVERYWHERE),
    "cpx41": (25, 8, 16.0, 240, "shared", "25.20", EVERYWHERE),
    "ccx13": (96, 2, 8.0, 80, "dedicated", "12.49", EVERYWHERE),
    "ccx23": (97, 4, 16.0, 160, "dedicated", "24.49", EVERYWHERE),
    "ccx33": (98, 8, 32.0, 240, "dedicated", "37.00", EVERYWHERE),
    "ccx43": (99, 16, 64.0, 360, "dedicated", "75.00", EVERYWHERE),
    "ccx53": (100, 32, 128.0, 600, "dedicated", "150.00", EVERYWHERE),
}

# name: (id, os_flavor, os_version, description)
IMAGES = {
    "ubuntu-22.04": (67794396, "ubuntu", "22.04", "Ubuntu 22.04"),
    "ubuntu-24.04": (161547269, "ubuntu", "24.04", "Ubuntu 24.04"),
    "debian-12": (114690387, "debian", "12", "Debian 12"),
}

# name: (id, max_services, max_targets, max_connections, max_certificates, monthly net)
LOAD_BALANCER_TYPES = {
    "lb11": (1, 5, 25, 10000, 10, "5.39"),
    "lb21": (2, 15, 75, 20000, 25, "16.40"),
    "lb31": (3, 30, 150, 40000, 50, "32.90"),
}

VOLUME_PER_GB = "0.0580"
BACKUP_PERCENT = "20.0000"
PRIMARY_IP_MONTHLY = {"ipv4": "0.50", "ipv6": "0.00"}
FLOATING_IP_MONTHLY = {"ipv4": "3.00", "ipv6": "3.00"}
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
    lid, desc, country, city, lat, lon, zone, _dc = LOCATIONS[name]
    return {"id": lid, "name": name, "description": desc, "country": country, "city": city,
            "latitude": lat, "longitude": lon, "network_zone": zone}


def location_name_by_id(lid: int) -> str | None:
    return next((n for n, row in LOCATIONS.items() if row[0] == lid), None)


def datacenter_name(location_name: str) -> str:
    return LOCATIONS[location_name][7]


def datacenter(location_name: str, unavailable: set[tuple[str, str]]) -> dict:
    supported = [row[0] for name, row in SERVER_TYPES.items() if location_name in row[6]]
    available = [row[0] for name, row in SERVER_TYPES.items()
                 if location_name in row[6] and (name, location_name) not in unavailable]
    dc_id = LOCATIONS[location_name][0] + 10
    return {"id": dc_id, "name": datacenter_name(location_name),
            "description": f"{LOCATIONS[location_name][3]} virtual DC",
            "location": location(location_name),
            "server_types": {"supported": supported, "available": available,
                             "available_for_migration": available}}


def datacenter_location(dc_name_or_id) -> str | None:
    for name, row in LOCATIONS.items():
        if dc_name_or_id in (row[7], row[0] + 10, str(row[0] + 10)):
            return name
    return None


def _price_rows(monthly: str, locations) -> list[dict]:
    return [{"location": loc, "price_monthly": _money(monthly), "price_hourly": _money(_hourly(monthly)),
             "included_traffic": INCLUDED_TRAFFIC[LOCATIONS[loc][6]],
             "price_per_tb_traffic": _money("1.00")} for loc in locations]


def server_type(name: str, unavailable: set[tuple[str, str]] = frozenset()) -> dict:
    """`locations` carries per-location availability, as the current API does."""
    sid, cores, memory, disk, cpu, monthly, locs = SERVER_TYPES[name]
    family = name.rstrip("0123456789").upper()
    return {"id": sid, "name": name, "description": f"{family} {name[len(family):]}".strip(),
            "category": "dedicated" if cpu == "dedicated" else "shared",
            "cores": cores, "memory": memory, "disk": disk, "cpu_type": cpu,
            "storage_type": "local", "architecture": "x86", "deprecated": False, "deprecation": None,
            "locations": [{"id": LOCATIONS[loc][0], "name": loc, "deprecation": None,
                           "available": (name, loc) not in unavailable,
                           "recommended": (name, loc) not in unavailable} for loc in locs],
            "prices": _price_rows(monthly, locs)}


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
        "image": {"price_per_gb_month": _money("0.0119")},
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
        "server_types": [{"id": row[0], "name": n, "prices": _price_rows(row[5], row[6])}
                         for n, row in SERVER_TYPES.items()],
        "load_balancer_types": [{"id": row[0], "name": n, "prices": _price_rows(row[5], EVERYWHERE)}
                                for n, row in LOAD_BALANCER_TYPES.items()],
    }
