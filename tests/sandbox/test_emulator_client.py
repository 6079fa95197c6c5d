"""Conformance with the official hcloud Python client: create, get, list,
update and delete for every family, waiting on the actions it returns."""
from __future__ import annotations

from pathlib import Path

import pytest
from hcloud import APIException
from hcloud.certificates import Certificate
from hcloud.firewalls import FirewallResource, FirewallRule
from hcloud.floating_ips import FloatingIP
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import (LoadBalancerAlgorithm, LoadBalancerHealthCheck, LoadBalancerService,
                                   LoadBalancerServiceHttp, LoadBalancerTarget,
                                   LoadBalancerTargetIP, LoadBalancerTargetLabelSelector)
from hcloud.locations import Location
from hcloud.networks import Network, NetworkRoute, NetworkSubnet
from hcloud.placement_groups import PlacementGroup
from hcloud.primary_ips import PrimaryIP
from hcloud.server_types import ServerType
from hcloud.servers import Server
from hcloud.ssh_keys import SSHKey
from hcloud.volumes import Volume

PUBKEY = (Path(__file__).resolve().parents[2] / "examples" / "example_ed25519.pub").read_text()


def wait(*actions):
    for action in actions:
        if action is not None:
            action.wait_until_finished(max_retries=5)
            assert action.status == "success"


def make_server(client, name="web", **kwargs):
    result = client.servers.create(name=name, server_type=ServerType(name="ccx33"),
                                   image=Image(name="ubuntu-22.04"), location=Location(name="nbg1"), **kwargs)
    wait(result.action, *result.next_actions)
    return client.servers.get_by_id(result.server.id)


def test_actions_finish_on_first_poll(hcloud_client):
    result = hcloud_client.servers.create(name="fast", server_type=ServerType(name="cpx12"),
                                          image=Image(name="debian-12"))
    assert result.action.status == "running"
    for action in (result.action, *result.next_actions):
        # max_retries=1: one reload; an action still running then raises ActionTimeoutException.
        action.wait_until_finished(max_retries=1)
        assert action.status == "success"
    assert hcloud_client.actions.get_by_id(result.action.id).status == "success"


def test_ssh_keys_crud(hcloud_client):
    key = hcloud_client.ssh_keys.create(name="deploy", public_key=PUBKEY, labels={"team": "a"})
    assert key.fingerprint.count(":") == 15
    assert hcloud_client.ssh_keys.get_by_fingerprint(key.fingerprint).id == key.id
    assert hcloud_client.ssh_keys.get_by_name("deploy").id == key.id
    hcloud_client.ssh_keys.update(SSHKey(id=key.id), name="deploy2")
    assert [k.name for k in hcloud_client.ssh_keys.get_all()] == ["deploy2"]
    hcloud_client.ssh_keys.delete(SSHKey(id=key.id))
    assert hcloud_client.ssh_keys.get_all() == []


def test_servers_crud_and_actions(hcloud_client):
    key = hcloud_client.ssh_keys.create(name="k", public_key=PUBKEY)
    server = make_server(hcloud_client, ssh_keys=[key], labels={"role": "web"})
    assert server.status == "running"
    assert server.public_net.ipv4.ip.startswith("203.0.113.")
    assert server.public_net.ipv6.ip.startswith("2001:db8:")
    assert server.server_type.name == "ccx33" and server.location.name == "nbg1"
    assert server.image.name == "ubuntu-22.04"

    wait(server.power_off())
    assert hcloud_client.servers.get_by_id(server.id).status == "off"
    wait(server.change_type(ServerType(name="ccx43"), upgrade_disk=False))
    wait(server.enable_backup())
    wait(server.power_on())
    wait(server.reboot(), server.reset(), server.shutdown())
    wait(server.change_protection(delete=True, rebuild=True))
    wait(server.change_dns_ptr(server.public_net.ipv4.ip, "web.example.com"))
    fresh = hcloud_client.servers.get_by_id(server.id)
    assert fresh.server_type.name == "ccx43" and fresh.backup_window and fresh.protection["delete"]
    assert fresh.public_net.ipv4.dns_ptr == "web.example.com"
    assert fresh.primary_disk_size == 240  # disk kept small: a later downgrade stays possible

    with pytest.raises(APIException) as err:
        hcloud_client.servers.delete(fresh)
    assert err.value.code == "protected"
    wait(fresh.change_protection(delete=False, rebuild=False))
    hcloud_client.servers.update(fresh, name="web2", labels={"role": "api"})
    assert hcloud_client.servers.get_by_name("web2").labels == {"role": "api"}
    commands = {a.command for a in hcloud_client.servers.get_actions_list(Server(id=server.id)).actions}
    assert {"create_server", "stop_server", "change_server_type", "enable_backup"} <= commands
    wait(hcloud_client.servers.delete(fresh))
    assert hcloud_client.servers.get_all() == []
    assert hcloud_client.primary_ips.get_all() == []  # auto_delete primary IPs go with the server


def test_volumes_crud_attach_resize(hcloud_client):
    server = make_server(hcloud_client)
    created = hcloud_client.volumes.create(size=50, name="data", location=Location(name="nbg1"), format="ext4")
    wait(created.action, *created.next_actions)
    volume = created.volume
    assert volume.linux_device == f"/dev/disk/by-id/scsi-0HC_Volume_{volume.id}"
    wait(volume.attach(server, automount=True))
    assert hcloud_client.servers.get_by_id(server.id).volumes[0].id == volume.id
    wait(volume.resize(60), volume.change_protection(delete=True))
    with pytest.raises(APIException) as err:
        hcloud_client.volumes.delete(volume)
    assert err.value.code == "protected"
    wait(volume.change_protection(delete=False))
    with pytest.raises(APIException):  # still attached
        hcloud_client.volumes.delete(volume)
    wait(volume.detach())
    hcloud_client.volumes.update(Volume(id=volume.id), labels={"keep": "yes"})
    assert hcloud_client.volumes.get_by_id(volume.id).size == 60
    assert hcloud_client.volumes.delete(Volume(id=volume.id))
    assert hcloud_client.volumes.get_all() == []


def test_firewalls_crud_and_server_view(hcloud_client):
    server = make_server(hcloud_client, labels={"role": "web"})
    rule = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["198.51.100.0/24"])
    created = hcloud_client.firewalls.create(name="fw", rules=[rule])
    wait(*created.actions)
    fw = created.firewall
    wait(*fw.apply_to_resources([FirewallResource(type="server", server=Server(id=server.id))]))
    assert [f.firewall.id for f in hcloud_client.servers.get_by_id(server.id).public_net.firewalls] == [fw.id]
    wait(*fw.set_rules([rule, FirewallRule(direction="in", protocol="icmp", source_ips=["0.0.0.0/0", "::/0"])]))
    assert len(hcloud_client.firewalls.get_by_id(fw.id).rules) == 2
    with pytest.raises(APIException) as err:  # in use
        hcloud_client.firewalls.delete(fw)
    assert err.value.code == "resource_in_use"
    wait(*fw.remove_from_resources([FirewallResource(type="server", server=Server(id=server.id))]))
    hcloud_client.firewalls.update(fw, name="fw2")
    assert hcloud_client.firewalls.get_by_name("fw2").id == fw.id
    assert hcloud_client.firewalls.delete(fw)


def test_placement_groups_follow_servers(hcloud_client):
    pg = hcloud_client.placement_groups.create(name="spread", type="spread").placement_group
    server = make_server(hcloud_client, placement_group=pg)
    assert hcloud_client.placement_groups.get_by_id(pg.id).servers == [server.id]
    with pytest.raises(APIException) as err:  # running servers cannot move
        server.add_to_placement_group(pg)
    assert err.value.code == "server_not_stopped"
    wait(server.remove_from_placement_group())
    assert hcloud_client.placement_groups.get_by_id(pg.id).servers == []
    wait(server.power_off(), server.add_to_placement_group(pg))
    hcloud_client.placement_groups.update(PlacementGroup(id=pg.id), labels={"x": "y"})
    hcloud_client.placement_groups.delete(PlacementGroup(id=pg.id))
    assert hcloud_client.servers.get_by_id(server.id).placement_group is None


def test_networks_subnets_routes_and_servers(hcloud_client):
    net = hcloud_client.networks.create(name="net", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", network_zone="eu-central", ip_range="10.0.1.0/24")])
    server = make_server(hcloud_client)
    wait(server.attach_to_network(net))
    private = hcloud_client.servers.get_by_id(server.id).private_net[0]
    assert private.network.id == net.id and private.ip == "10.0.1.1"
    wait(net.add_subnet(NetworkSubnet(type="cloud", network_zone="eu-central", ip_range="10.0.2.0/24")),
         net.add_route(NetworkRoute(destination="10.100.1.0/24", gateway="10.0.1.1")),
         net.change_ip_range("10.0.0.0/15"), net.change_protection(delete=True))
    got = hcloud_client.networks.get_by_id(net.id)
    assert [s.ip_range for s in got.subnets] == ["10.0.1.0/24", "10.0.2.0/24"]
    assert got.routes[0].destination == "10.100.1.0/24" and got.ip_range == "10.0.0.0/15"
    assert [s.id for s in got.servers] == [server.id]
    wait(net.delete_route(NetworkRoute(destination="10.100.1.0/24", gateway="10.0.1.1")),
         net.delete_subnet(NetworkSubnet(ip_range="10.0.2.0/24", type="cloud", network_zone="eu-central")),
         server.detach_from_network(net), net.change_protection(delete=False))
    hcloud_client.networks.update(Network(id=net.id), name="net2")
    assert hcloud_client.networks.delete(Network(id=net.id))


def test_floating_and_primary_ips(hcloud_client):
    server = make_server(hcloud_client)
    fip = hcloud_client.floating_ips.create(type="ipv4", home_location=Location(name="nbg1"), name="fip")
    wait(fip.action)
    floating = fip.floating_ip
    wait(floating.assign(server), floating.change_dns_ptr(floating.ip, "fip.example.com"),
         floating.change_protection(delete=True))
    assert [f.id for f in hcloud_client.servers.get_by_id(server.id).public_net.floating_ips] == [floating.id]
    wait(floating.unassign(), floating.change_protection(delete=False))
    hcloud_client.floating_ips.update(FloatingIP(id=floating.id), description="spare")
    assert hcloud_client.floating_ips.delete(FloatingIP(id=floating.id))

    primary = hcloud_client.primary_ips.create(type="ipv4", name="pip", location=Location(name="nbg1"))
    pip = primary.primary_ip
    assert pip.assignee_id is None and pip.ip.startswith("203.0.113.")
    with pytest.raises(APIException) as err:  # assigning needs a stopped server
        pip.assign(server.id, "server")
    assert err.value.code == "server_not_stopped"
    old = hcloud_client.primary_ips.get_by_id(server.public_net.primary_ipv4.id)
    wait(server.power_off(), old.unassign(), pip.assign(server.id, "server"))
    assert hcloud_client.servers.get_by_id(server.id).public_net.ipv4.ip == pip.ip
    wait(pip.change_dns_ptr(pip.ip, "p.example.com"), pip.change_protection(delete=False))
    hcloud_client.primary_ips.update(PrimaryIP(id=pip.id), auto_delete=True)
    wait(hcloud_client.servers.delete(server))
    assert [p.id for p in hcloud_client.primary_ips.get_all()] == [old.id]
    assert hcloud_client.primary_ips.delete(PrimaryIP(id=old.id))


def test_certificates_uploaded_and_managed(hcloud_client):
    managed = hcloud_client.certificates.create_managed(name="m", domain_names=["app.example.com"])
    wait(managed.action)
    cert = hcloud_client.certificates.get_by_id(managed.certificate.id)
    assert cert.type == "managed" and cert.status.issuance == "completed"
    assert cert.domain_names == ["app.example.com"] and "BEGIN CERTIFICATE" in cert.certificate
    uploaded = hcloud_client.certificates.create(name="u", certificate=cert.certificate,
                                                 private_key="-----BEGIN PRIVATE KEY-----\nx\n")
    assert uploaded.type == "uploaded" and uploaded.fingerprint == cert.fingerprint
    hcloud_client.certificates.update(Certificate(id=uploaded.id), name="u2")
    assert {c.name for c in hcloud_client.certificates.get_all()} == {"m", "u2"}
    assert hcloud_client.certificates.delete(Certificate(id=uploaded.id))


def test_load_balancers(hcloud_client):
    net = hcloud_client.networks.create(name="net", ip_range="10.0.0.0/16", subnets=[
        NetworkSubnet(type="cloud", network_zone="eu-central", ip_range="10.0.1.0/24")])
    server = make_server(hcloud_client, networks=[net], labels={"role": "app"})
    created = hcloud_client.load_balancers.create(name="lb", load_balancer_type=LoadBalancerType(name="lb11"),
                                                  location=Location(name="nbg1"))
    wait(created.action)
    lb = created.load_balancer
    service = LoadBalancerService(protocol="http", listen_port=80, destination_port=8080, proxyprotocol=False,
                                  health_check=LoadBalancerHealthCheck(protocol="http", port=8080, interval=15,
                                                                       timeout=10, retries=3),
                                  http=LoadBalancerServiceHttp(sticky_sessions=False, redirect_http=False))
    wait(lb.attach_to_network(net), lb.add_service(service),
         lb.add_target(LoadBalancerTarget(type="server", server=Server(id=server.id), use_private_ip=True)),
         lb.add_target(LoadBalancerTarget(type="label_selector",
                                          label_selector=LoadBalancerTargetLabelSelector(selector="role=app"))),
         lb.add_target(LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="198.51.100.9"))),
         lb.change_algorithm(LoadBalancerAlgorithm(type="least_connections")),
         lb.change_type(LoadBalancerType(name="lb21")), lb.change_protection(delete=True))
    got = hcloud_client.load_balancers.get_by_id(lb.id)
    assert got.load_balancer_type.name == "lb21" and got.algorithm.type == "least_connections"
    assert got.services[0].listen_port == 80 and got.targets[0].server.id == server.id
    assert [t.server.id for t in got.targets[1].targets] == [server.id]  # the label selector's match
    with pytest.raises(APIException) as err:
        lb.add_target(LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="198.51.100.9")))
    assert err.value.code == "target_already_defined"
    assert got.private_net[0].ip.startswith("10.0.1.")
    assert hcloud_client.request("GET", f"/servers/{server.id}")["server"]["load_balancers"] == [lb.id]
    service.destination_port = 9090
    wait(lb.update_service(service))
    assert hcloud_client.load_balancers.get_by_id(lb.id).services[0].destination_port == 9090
    with pytest.raises(APIException) as err:
        hcloud_client.load_balancers.delete(lb)
    assert err.value.code == "protected"
    wait(lb.change_protection(delete=False), lb.delete_service(service),
         lb.remove_target(LoadBalancerTarget(type="server", server=Server(id=server.id))),
         lb.remove_target(LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="198.51.100.9"))),
         lb.detach_from_network(net))
    hcloud_client.load_balancers.update(lb, name="lb2")
    wait(hcloud_client.load_balancers.delete(lb).action)
    assert hcloud_client.load_balancers.get_all() == []


def test_catalogue_through_the_client(hcloud_client):
    listed = {t.name for t in hcloud_client.server_types.get_all()}
    assert listed >= {"cpx12", "cpx62", "cx23", "cax11", "ccx33", "ccx43", "ccx53"}
    assert not listed & {"cx22", "cx32", "cpx11"}  # removed at the end of 2025: no longer listed
    assert {lbt.name for lbt in hcloud_client.load_balancer_types.get_all()} == {"lb11", "lb21", "lb31"}
    assert {loc.name for loc in hcloud_client.locations.get_all()} == {"nbg1", "fsn1", "hel1", "ash", "hil", "sin"}
    assert hcloud_client.images.get_by_name_and_architecture("ubuntu-24.04", "x86").type == "system"
    ccx33 = hcloud_client.server_types.get_by_name("ccx33")
    assert ccx33.cores == 8 and ccx33.memory == 32
    # New orders from 15 June 2026 (../shared/README.md): 138.49 net, x 1.19 gross.
    assert {(p["location"], p["price_monthly"]["net"], p["price_monthly"]["gross"]) for p in ccx33.prices
            if p["location"] == "nbg1"} == {("nbg1", "138.4900", "164.8031")}
    pricing = hcloud_client.request("GET", "/pricing")["pricing"]
    assert pricing["volume"]["price_per_gb_month"] == {"net": "0.0572", "gross": "0.0681"}
    assert pricing["server_backup"]["percentage"] == "20.0000"


def test_server_on_an_existing_primary_ip(hcloud_client):
    from hcloud.servers import ServerCreatePublicNetwork
    pip = hcloud_client.primary_ips.create(type="ipv4", name="fixed", location=Location(name="nbg1"),
                                           assignee_type="server").primary_ip
    server = make_server(hcloud_client, public_net=ServerCreatePublicNetwork(ipv4=pip, enable_ipv6=False))
    assert server.public_net.ipv4.ip == pip.ip and server.public_net.ipv6 is None
    assert hcloud_client.primary_ips.get_by_id(pip.id).assignee_id == server.id
    with pytest.raises(APIException) as err:  # already taken
        make_server(hcloud_client, name="second", public_net=ServerCreatePublicNetwork(ipv4=pip))
    assert err.value.code == "primary_ip_assigned"
    assert [s.name for s in hcloud_client.servers.get_all()] == ["web"]
    wait(hcloud_client.servers.delete(server))
    assert hcloud_client.primary_ips.get_by_id(pip.id).assignee_id is None  # auto_delete was off: kept


def test_load_balancer_refuses_targets_past_its_type_limit(hcloud_client):
    # OpenAPI: load_balancer_type.max_targets, 25 for lb11 (read from the catalog answer).
    lb11 = hcloud_client.load_balancer_types.get_by_name("lb11")
    created = hcloud_client.load_balancers.create(name="lb", load_balancer_type=lb11,
                                                  location=Location(name="nbg1"))
    wait(created.action)
    lb = created.load_balancer
    for i in range(lb11.max_targets):
        wait(lb.add_target(LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip=f"198.51.100.{i + 1}"))))
    with pytest.raises(APIException) as err:
        lb.add_target(LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="198.51.100.200")))
    assert err.value.code == "resource_limit_exceeded"
    assert len(hcloud_client.load_balancers.get_by_id(lb.id).targets) == 25
