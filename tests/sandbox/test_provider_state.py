"""The stand-in's planning and read shaping (pure functions over schemas)."""
from __future__ import annotations

from tf.types import Unknown

from sandbox.provider import schema as served
from sandbox.provider import state as st

SERVER = served.resource("hcloud_server")
SERVICE = served.resource("hcloud_load_balancer_service")
FIREWALL = served.resource("hcloud_firewall")


def test_complete_fills_every_attribute_and_block():
    done = st.complete(SERVER, {"name": "a"})
    assert set(done) == {a.name for a in SERVER.attributes} | {b.type_name for b in SERVER.block_types}
    assert done["network"] == [] and done["timeouts"] is None and done["labels"] is None
    assert st.complete(SERVER, None) is None


def test_create_plan_marks_computed_values_unknown_inside_blocks():
    planned = st.mark_computed_unknown(SERVER, st.complete(SERVER, {
        "name": "a", "server_type": "cx22", "image": "debian-12",
        "public_net": [{"ipv4_enabled": True, "ipv6_enabled": False}]}))
    assert planned["ipv4_address"] is Unknown and planned["status"] is Unknown
    assert planned["backups"] is None  # optional, not computed: stays null
    assert planned["image"] == "debian-12"
    (public,) = planned["public_net"]
    assert public["ipv4"] is Unknown and public["ipv6"] is Unknown
    assert public["ipv4_enabled"] is True


def test_settle_keeps_config_nulls_and_takes_computed_values():
    prior = st.complete(SERVER, {"name": "a", "labels": None, "backups": None,
                                 "ipv4_address": Unknown})
    fresh = dict(prior, labels={}, backups=False, ipv4_address="203.0.113.9")
    settled = st.settle(SERVER, prior, fresh)
    assert settled["labels"] is None and settled["backups"] is None
    assert settled["ipv4_address"] == "203.0.113.9"
    # A value the user did set is refreshed from the API: drift shows.
    prior["labels"] = {"a": "1"}
    assert st.settle(SERVER, prior, dict(fresh, labels={"a": "2"}))["labels"] == {"a": "2"}


def test_settle_pairs_set_elements_by_resemblance_not_order():
    rules = [{"direction": "in", "protocol": "icmp", "port": None, "source_ips": ["0.0.0.0/0"],
              "destination_ips": None, "description": None},
             {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["10.0.0.0/8"],
              "destination_ips": None, "description": "ssh"}]
    api = [dict(rules[1], destination_ips=[]), dict(rules[0], destination_ips=[])]
    settled = st.settle(FIREWALL, {"rule": rules}, {"rule": api})
    assert sorted(settled["rule"], key=lambda r: r["protocol"]) == rules


def test_settle_in_list_blocks_goes_by_position():
    prior = {"health_check": [{"protocol": "http", "port": 80, "interval": 10, "timeout": 5,
                               "retries": 3, "http": [{"path": "/", "domain": None,
                                                       "response": None, "status_codes": None,
                                                       "tls": None}]}]}
    fresh = {"health_check": [dict(prior["health_check"][0], http=[{
        "path": "/", "domain": None, "response": "", "status_codes": ["2??"], "tls": False}])]}
    http = st.settle(SERVICE, prior, fresh)["health_check"][0]["http"][0]
    assert http == {"path": "/", "domain": None, "response": None, "status_codes": None,
                    "tls": None}


def test_update_plan_carries_computed_values_of_set_elements():
    prior = {"network": [{"network_id": 7, "ip": "10.0.1.5", "alias_ips": [],
                          "mac_address": "86:00:00:00:00:01", "subnet_id": "7-10.0.1.0/24"}]}
    proposed = {"network": [{"network_id": 7, "ip": "10.0.1.5", "alias_ips": None,
                             "mac_address": None, "subnet_id": None}]}
    assert st.carry_computed(SERVER, prior, proposed) == prior
    # A different address is a different element: nothing to carry.
    moved = {"network": [dict(proposed["network"][0], ip="10.0.1.6")]}
    assert st.carry_computed(SERVER, prior, moved) == moved
    # Unknown values (a replaced network) are left for apply.
    pending = {"network": [dict(proposed["network"][0], network_id=Unknown)]}
    assert st.carry_computed(SERVER, prior, pending) == pending


def test_has_unknown_looks_inside():
    assert st.has_unknown({"a": [{"b": Unknown}]})
    assert not st.has_unknown({"a": [{"b": 1}]})


def test_import_reads_zero_values_of_arguments_as_unset():
    state = st.blank_zeroes(SERVER, {"name": "a", "delete_protection": False, "labels": {},
                                     "primary_disk_size": 0, "placement_group_id": 0,
                                     "status": "", "public_net": [{"ipv4_enabled": False,
                                                                   "ipv4": 5}]})
    assert state["delete_protection"] is None and state["labels"] is None
    assert state["placement_group_id"] == 0  # a number is never "unset"
    assert state["status"] == ""  # computed: the API's value stands
    assert state["public_net"] == [{"ipv4_enabled": None, "ipv4": 5}]


def test_defaults_fill_only_what_the_configuration_left_null():
    defaults = {"keep_disk": False, "backups": False,
                "public_net": {"ipv4_enabled": True, "ipv6_enabled": True}}
    planned = st.apply_defaults(SERVER, defaults, {
        "name": "a", "backups": True, "keep_disk": None,
        "public_net": [{"ipv4_enabled": False, "ipv6_enabled": None}]})
    assert planned["keep_disk"] is False and planned["backups"] is True
    assert planned["public_net"] == [{"ipv4_enabled": False, "ipv6_enabled": True}]
    # No block in the configuration: none is made up.
    assert st.apply_defaults(SERVER, defaults, {"public_net": []})["public_net"] == []
    assert st.apply_defaults(SERVER, defaults, None) is None


def test_import_keeps_read_values_of_arguments_with_defaults():
    state = st.blank_zeroes(SERVER, {"delete_protection": False, "labels": {}},
                            keep=frozenset({"delete_protection"}))
    assert state["delete_protection"] is False and state["labels"] is None


def test_strip_unknown_makes_a_plan_fit_for_state():
    assert st.strip_unknown({"a": Unknown, "b": [1, Unknown], "c": {"d": "x"}}) == \
        {"a": None, "b": [1, None], "c": {"d": "x"}}


def test_user_data_hash_is_base64_sha1_as_the_real_provider_stores_it():
    from sandbox.provider.resources.server import user_data_hash
    # The published SHA-1 test vectors of "" (da39a3ee...0709) and "abc"
    # (a9993e36...d89d), base64-encoded.
    assert user_data_hash("") == "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
    assert user_data_hash("abc") == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
