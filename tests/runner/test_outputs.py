import pytest

from errors import TerraformError
from runner.outputs import REQUIRED, StackOutputs, parse_outputs


def _doc(**overrides):
    values = {"server_id": "101", "server_name": "a-production", "server_ipv4": "203.0.113.2",
              "server_ipv6": "2001:db8::1", "volume_id": 102,
              "volume_linux_device": "/dev/disk/by-id/scsi-0HC_Volume_102",
              "firewall_id": "103", "placement_group_id": "104", "ssh_key_id": "105"}
    values.update(overrides)
    return {k: {"value": v, "type": "string", "sensitive": False}
            for k, v in values.items() if v is not None}


def test_parse_types_ids_as_ints():
    out = parse_outputs(_doc())
    assert out.server_id == 101 and out.volume_id == 102 and out.ssh_key_id == 105
    assert out.server_ipv4 == "203.0.113.2" and out.servers == () and out.load_balancer_ipv4 is None


def test_missing_outputs_name_the_ones_present():
    with pytest.raises(TerraformError) as err:
        parse_outputs(_doc(server_ipv4=None, volume_id=None))
    msg = str(err.value)
    assert "missing: server_ipv4, volume_id" in msg
    assert "outputs present: firewall_id, placement_group_id, server_id" in msg


def test_empty_state_says_so():
    with pytest.raises(TerraformError, match="none \\(has the stack been applied\\?\\)"):
        parse_outputs({})


def test_non_numeric_id_is_an_error():
    with pytest.raises(TerraformError, match="server_id should be a numeric id"):
        parse_outputs(_doc(server_id="abc"))


def test_three_tier_servers_and_lb_and_round_trip():
    doc = _doc(servers=[{"name": "app-1", "ipv4": "10.0.0.2", "id": "7", "role": "app"},
                        {"name": "db", "ipv4": "10.0.0.3"}],
               load_balancer_ipv4="203.0.113.50")
    out = parse_outputs(doc)
    assert [s.name for s in out.servers] == ["app-1", "db"] and out.servers[0].id == 7
    assert out.load_balancer_ipv4 == "203.0.113.50"
    assert StackOutputs.from_dict(out.as_dict()) == out
    assert set(REQUIRED) <= set(out.as_dict())


def test_bad_servers_shape():
    with pytest.raises(TerraformError, match="servers should be a list"):
        parse_outputs(_doc(servers="nope"))
    with pytest.raises(TerraformError, match="needs at least a name"):
        parse_outputs(_doc(servers=[{"ipv4": "1.2.3.4"}]))
