"""Our own description of the hetznercloud/hcloud provider v1.68.0 interface.

The generator's `check` validates HCL against it and the sandbox's stand-in
provider serves it, so HCL that passes here passes with the real provider.
Only the resources the project uses are described. The shape returned is the
one `terraform providers schema -json` prints (`{"version", "block"}`).

Each schema is written in a small indented text notation:

    <attr> <type> <flags>            type: string number bool list(T) set(T) map(T)
    +<block> <nesting> [min=N] [max=N] [depr]   children indented below it
    *<attr> <nesting> <flags>        a nested attribute (objects); children indented below it

flags: req (required), opt (optional), comp (computed), sens (sensitive),
depr (deprecated).
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache

PROVIDER_VERSION = "1.68.0"
PROVIDER_SOURCE = "registry.terraform.io/hetznercloud/hcloud"

_PROVIDER = """
endpoint          string opt
endpoint_hetzner  string opt
poll_function     string opt
poll_interval     string opt
token             string opt sens
"""

# The SDKv2 resources all expose `id` as optional+computed; the
# plugin-framework ones (ssh_key, server_network, lb network, primary_ip, rdns)
# as computed only.
_SDK_ID = "id string opt comp\n"

_RESOURCES: dict[str, tuple[int, str]] = {
    "hcloud_server": (0, _SDK_ID + """
allow_deprecated_images     bool opt depr
backup_window               string comp depr
backups                     bool opt
datacenter                  string opt comp depr
delete_protection           bool opt
firewall_ids                set(number) opt comp
ignore_remote_firewall_ids  bool opt
image                       string opt comp
ipv4_address                string comp
ipv6_address                string comp
ipv6_network                string comp
iso                         string opt
keep_disk                   bool opt
labels                      map(string) opt
location                    string opt comp
name                        string req
placement_group_id          number opt
primary_disk_size           number comp
rebuild_protection          bool opt
rescue                      string opt
server_type                 string req
shutdown_before_deletion    bool opt
ssh_keys                    list(string) opt
status                      string comp
user_data                   string opt
+network set
  alias_ips    set(string) opt comp
  ip           string opt comp
  mac_address  string comp
  network_id   number opt comp
  subnet_id    string opt comp
+public_net set
  ipv4          number opt comp
  ipv4_enabled  bool opt
  ipv6          number opt comp
  ipv6_enabled  bool opt
+timeouts single
  create  string opt
"""),
    "hcloud_volume": (0, _SDK_ID + """
automount          bool opt
delete_protection  bool opt
format             string opt
labels             map(string) opt
linux_device       string comp
location           string opt comp
name               string req
server_id          number opt comp
size               number req
"""),
    "hcloud_volume_attachment": (0, _SDK_ID + """
automount  bool opt comp
server_id  number req
volume_id  number req
"""),
    "hcloud_firewall": (0, _SDK_ID + """
labels  map(string) opt comp
name    string req
+apply_to set
  label_selector  string opt comp
  server          number opt comp
+rule set
  description      string opt
  destination_ips  set(string) opt
  direction        string req
  port             string opt
  protocol         string req
  source_ips       set(string) opt
"""),
    "hcloud_firewall_attachment": (0, _SDK_ID + """
firewall_id      number req
label_selectors  set(string) opt
server_ids       set(number) opt
"""),
    "hcloud_placement_group": (0, _SDK_ID + """
labels   map(string) opt
name     string req
servers  set(number) comp
type     string req
"""),
    "hcloud_ssh_key": (0, """
id           string comp
fingerprint  string comp
labels       map(string) opt comp
name         string req
public_key   string req
"""),
    "hcloud_network": (0, _SDK_ID + """
delete_protection         bool opt
expose_routes_to_vswitch  bool opt
ip_range                  string req
labels                    map(string) opt
name                      string req
"""),
    "hcloud_network_subnet": (0, _SDK_ID + """
gateway       string comp
ip_range      string req
network_id    number req
network_zone  string req
type          string req
vswitch_id    number opt
"""),
    "hcloud_network_route": (0, _SDK_ID + """
destination  string req
gateway      string req
network_id   number req
"""),
    "hcloud_server_network": (0, """
id           string comp
alias_ips    set(string) opt comp
ip           string opt comp
mac_address  string comp
network_id   number opt comp
server_id    number req
subnet_id    string opt
"""),
    "hcloud_load_balancer": (0, _SDK_ID + """
delete_protection   bool opt
ipv4                string comp
ipv6                string comp
labels              map(string) opt comp
load_balancer_type  string req
location            string opt comp
name                string req
network_id          number comp
network_ip          string comp
network_zone        string opt comp
+algorithm list max=1
  type  string opt comp
+target set depr
  server_id       number opt
  type            string req
  use_private_ip  bool opt depr
"""),
    "hcloud_load_balancer_service": (0, _SDK_ID + """
destination_port  number opt comp
listen_port       number opt comp
load_balancer_id  string req
protocol          string req
proxyprotocol     bool opt comp
+health_check list max=1
  interval  number req
  port      number req
  protocol  string req
  retries   number req
  timeout   number req
  +http list max=1
    domain        string opt
    path          string opt
    response      string opt
    status_codes  list(string) opt
    tls           bool opt
+http list max=1
  certificates     set(number) opt comp
  cookie_lifetime  number opt comp
  cookie_name      string opt comp
  redirect_http    bool opt comp
  sticky_sessions  bool opt comp
  timeout_idle     number opt comp
"""),
    "hcloud_load_balancer_target": (0, _SDK_ID + """
ip                string opt
label_selector    string opt
load_balancer_id  number req
server_id         number opt
type              string req
use_private_ip    bool opt comp
"""),
    "hcloud_load_balancer_network": (0, """
id                       string comp
enable_public_interface  bool opt comp
ip                       string opt comp
load_balancer_id         number req
network_id               number opt comp
subnet_id                string opt
"""),
    "hcloud_primary_ip": (0, """
id                 number comp
assignee_id        number opt comp
assignee_type      string opt comp
auto_delete        bool opt comp
datacenter         string opt comp depr
delete_protection  bool opt comp
ip_address         string comp
ip_network         string comp
labels             map(string) opt comp
location           string opt comp
name               string req
type               string req
"""),
    "hcloud_floating_ip": (0, _SDK_ID + """
delete_protection  bool opt
description        string opt
home_location      string opt comp
ip_address         string comp
ip_network         string comp
labels             map(string) opt
name               string opt comp
server_id          number opt comp
type               string req
"""),
    "hcloud_floating_ip_assignment": (0, _SDK_ID + """
floating_ip_id  number req
server_id       number req
"""),
    "hcloud_managed_certificate": (1, _SDK_ID + """
certificate       string comp
created           string comp
domain_names      set(string) req
fingerprint       string comp
labels            map(string) opt
name              string req
not_valid_after   string comp
not_valid_before  string comp
type              string comp
"""),
    "hcloud_rdns": (0, """
id                string comp
dns_ptr           string req
floating_ip_id    number opt
ip_address        string req
load_balancer_id  number opt
primary_ip_id     number opt
server_id         number opt
"""),
    # Plugin-framework resources with nested attributes (`*name nesting`: an
    # attribute holding objects, written `records = [{ value = ... }]`, not a block).
    "hcloud_zone": (0, """
*authoritative_nameservers  single comp
  assigned                  list(string) comp
delete_protection           bool opt comp
id                          number comp
labels                      map(string) opt comp
mode                        string req
name                        string req
*primary_nameservers        list opt comp
  address                   string req
  port                      number opt comp
  tsig_algorithm            string opt
  tsig_key                  string opt
registrar                   string comp
ttl                         number opt comp
"""),
    "hcloud_zone_rrset": (0, """
change_protection  bool opt comp
id                 string comp
labels             map(string) opt comp
name               string req
*records           set req
  comment          string opt
  value            string req
ttl                number opt
type               string req
zone               string req
"""),
}

RESOURCE_TYPES: tuple[str, ...] = tuple(sorted(_RESOURCES))

_FLAGS = {"req": "required", "opt": "optional", "comp": "computed",
          "sens": "sensitive", "depr": "deprecated"}
_COLLECTION = re.compile(r"^(list|set|map)\((\w+)\)$")
_SCALARS = {"string", "number", "bool"}
_NESTING = {"single", "list", "set", "map", "group"}


def _type(text: str):
    if text in _SCALARS:
        return text
    match = _COLLECTION.match(text)
    if not match or match.group(2) not in _SCALARS:
        raise ValueError(f"unknown attribute type {text!r}")
    return [match.group(1), match.group(2)]


def _parse(text: str) -> dict:
    """Turn the indented notation into a `block` dict (attributes, block_types)."""
    root: dict = {"attributes": {}}
    # Stack of (indent, block dict) so that dedenting closes nested blocks.
    stack: list[tuple[int, dict]] = [(-1, root)]
    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        words = raw.split()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if words[0].startswith("*"):
            name, nesting, flags = words[0][1:], words[1], words[2:]
            if nesting not in _NESTING:
                raise ValueError(f"unknown nesting mode {nesting!r} for {name}")
            inner = {"attributes": {}, "nesting_mode": nesting}
            attr = {"nested_type": inner}
            for flag in flags:
                attr[_FLAGS[flag]] = True
            parent["attributes"][name] = attr
            stack.append((indent, inner))
        elif words[0].startswith("+"):
            name, nesting, extras = words[0][1:], words[1], words[2:]
            if nesting not in _NESTING:
                raise ValueError(f"unknown nesting mode {nesting!r} for {name}")
            inner: dict = {"attributes": {}}
            entry: dict = {"nesting_mode": nesting, "block": inner}
            for extra in extras:
                if extra == "depr":
                    inner["deprecated"] = True
                else:
                    key, _, value = extra.partition("=")
                    entry[{"min": "min_items", "max": "max_items"}[key]] = int(value)
            parent.setdefault("block_types", {})[name] = entry
            stack.append((indent, inner))
        else:
            name, type_text, flags = words[0], words[1], words[2:]
            attr: dict = {"type": _type(type_text)}
            for flag in flags:
                attr[_FLAGS[flag]] = True
            parent["attributes"][name] = attr
    _prune(root)
    return root


def _prune(block: dict) -> None:
    # `terraform providers schema -json` omits empty attribute maps.
    if not block["attributes"]:
        del block["attributes"]
    for entry in block.get("block_types", {}).values():
        _prune(entry["block"])


@lru_cache(maxsize=None)
def _built(type_name: str) -> dict:
    version, text = _RESOURCES[type_name]
    return {"version": version, "block": _parse(text)}


def provider_block() -> dict:
    """The provider configuration schema (`provider "hcloud" { ... }`)."""
    return {"version": 0, "block": _parse(_PROVIDER)}


def resource_schema(type_name: str) -> dict:
    """Schema of one resource type; KeyError for types the project does not know."""
    if type_name not in _RESOURCES:
        raise KeyError(type_name)
    return copy.deepcopy(_built(type_name))
