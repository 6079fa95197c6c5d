"""The `network` blocks of hcloud_server: private networks attached to it."""
from __future__ import annotations

import ipaddress


from sandbox.provider.resources import hc
from sandbox.provider.resources.base import known, wait


def subnet_id_for(api, network_id: int, ip: str | None) -> str | None:
    """The provider's subnet id (`<network>-<cidr>`) of the subnet holding ip."""
    if not ip:
        return None
    network = api.networks.get_by_id(int(network_id))
    for subnet in network.subnets or []:
        if ipaddress.ip_address(ip) in ipaddress.ip_network(subnet.ip_range, strict=False):
            return f"{network.id}-{subnet.ip_range}"
    return None


def _network_of(block: dict) -> int | None:
    network_id = known(block.get("network_id"))
    if network_id is None and known(block.get("subnet_id")):
        network_id = int(str(block["subnet_id"]).split("-", 1)[0])
    return int(network_id) if network_id is not None else None


def networks_state(api, server, blocks: list[dict]) -> list[dict]:
    """One element per configured block still attached; the API's values filled in."""
    attached = {p.network.id: p for p in server.private_net or []}
    out = []
    for block in blocks:
        network_id = _network_of(block)
        private = attached.get(network_id)
        if private is None:
            continue
        subnet = known(block.get("subnet_id")) or subnet_id_for(api, network_id, private.ip)
        out.append({"network_id": network_id, "ip": private.ip,
                    "alias_ips": sorted(private.alias_ips or []),
                    "mac_address": private.mac_address, "subnet_id": subnet})
    return out


def sync_networks(api, server, have: list[dict], want: list[dict]) -> None:
    have_by = {_network_of(b): b for b in have}
    want_by = {_network_of(b): b for b in want}
    for network_id in set(have_by) - set(want_by):
        wait(server.detach_from_network(hc.Network(id=network_id)))
    for network_id, block in want_by.items():
        aliases = sorted(known(block.get("alias_ips")) or [])
        if network_id not in have_by:
            wait(server.attach_to_network(hc.Network(id=network_id), ip=known(block.get("ip")),
                                          alias_ips=aliases or None))
        elif aliases != sorted(have_by[network_id].get("alias_ips") or []):
            wait(server.change_alias_ips(hc.Network(id=network_id), aliases))
