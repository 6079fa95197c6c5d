import pytest

from errors import TerraformError
from runner.outputs import Host, StackOutputs, parse_outputs

HOST = {"name": "a-production", "role": "all-in-one", "id": "101", "ipv4": "203.0.113.2",
        "ipv6": "2001:db8::1", "private_ip": "", "firewall_id": "103",
        "placement_group_id": 104, "volume_device": "/dev/disk/by-id/scsi-0HC_Volume_102"}


def _doc(**overrides):
    values = {"hosts": [HOST], "volume_id": 102, "ssh_key_id": "105"}
    values.update(overrides)
    return {k: {"value": v, "type": "string", "sensitive": False}
            for k, v in values.items() if v is not None}


def test_parse_types_ids_as_ints():
    out = parse_outputs(_doc())
    assert out.volume_id == 102 and out.ssh_key_id == 105
    assert out.hosts == (Host(name="a-production", role="all-in-one", ipv4="203.0.113.2",
                              ipv6="2001:db8::1", private_ip="",
                              volume_device="/dev/disk/by-id/scsi-0HC_Volume_102", id=101,
                              firewall_id=103, placement_group_id=104),)
    assert out.load_balancer_ipv4 is None and out.public_ipv4 == "203.0.113.2"
    assert out.volume_host.name == "a-production"


def test_missing_outputs_name_the_ones_present():
    with pytest.raises(TerraformError) as err:
        parse_outputs(_doc(hosts=None, volume_id=None))
    msg = str(err.value)
    assert "missing: hosts, volume_id" in msg
    assert "outputs present: ssh_key_id" in msg


def test_empty_state_says_so():
    with pytest.raises(TerraformError, match="none \\(has the stack been applied\\?\\)"):
        parse_outputs({})


def test_non_numeric_id_is_an_error():
    with pytest.raises(TerraformError, match="hosts\\[\\].id should be a numeric id"):
        parse_outputs(_doc(hosts=[{**HOST, "id": "abc"}]))
    with pytest.raises(TerraformError, match="volume_id should be a numeric id"):
        parse_outputs(_doc(volume_id="abc"))


def test_hosts_by_role_and_lb_and_round_trip():
    doc = _doc(hosts=[{"name": "x-app-1", "role": "app", "ipv4": "203.0.113.3",
                       "private_ip": "10.0.1.2", "id": "7"},
                      {"name": "x-app-2", "role": "app", "ipv4": "203.0.113.4",
                       "private_ip": "10.0.1.3", "id": "8"},
                      {"name": "x-db", "role": "db", "ipv4": "203.0.113.5",
                       "private_ip": "10.0.1.4", "volume_device": "/dev/sdb"}],
               load_balancer_ipv4="203.0.113.50")
    out = parse_outputs(doc)
    assert [h.name for h in out.by_role("app")] == ["x-app-1", "x-app-2"]
    assert out.by_role("app")[1].id == 8 and out.by_role("db")[0].private_ip == "10.0.1.4"
    assert out.volume_host.name == "x-db"
    assert out.public_ipv4 == "203.0.113.50"   # DNS points at the load balancer
    assert StackOutputs.from_dict(out.as_dict()) == out


def test_bad_hosts_shape():
    with pytest.raises(TerraformError, match="hosts should be a list"):
        parse_outputs(_doc(hosts="nope"))
    with pytest.raises(TerraformError, match="needs a name and a role"):
        parse_outputs(_doc(hosts=[{"ipv4": "1.2.3.4", "role": "app"}]))
    with pytest.raises(TerraformError, match="needs a name and a role"):
        parse_outputs(_doc(hosts=[{"name": "x"}]))
