"""What already exists in the Hetzner project, and which of it is in our way.

Inventory lists the nine resource families the team's hand-made check
listed. Conflicts are names the stack is about to create that are already
taken by a resource we do not own. Ownership is decided, in this order:
  1. Terraform state, when the caller can read it (`terraform show -json`):
     the ids in state are ours, whatever their labels say.
  2. Otherwise labels: the stack labels everything it creates
     `managed-by=hetzner-deploy`, `project=<p>`, `environment=<e>`.
State wins because labels can be copied by hand onto a foreign resource and
because a resource imported into state may predate our labels; labels are the
fallback because state may live in a remote backend verify cannot reach.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from hcloud import Client

from runner.tfstate import TfState, parse_state

FAMILY_LABELS = {
    "servers": "Servers",
    "volumes": "Volumes",
    "firewalls": "Firewalls",
    "ssh_keys": "SSH keys",
    "networks": "Networks",
    "placement_groups": "Placement groups",
    "load_balancers": "Load balancers",
    "floating_ips": "Floating IPs",
    "certificates": "Certificates",
}
FAMILIES = tuple(FAMILY_LABELS)

# Terraform resource type -> inventory family, for ids read from state.
STATE_TYPES = {
    "hcloud_server": "servers",
    "hcloud_volume": "volumes",
    "hcloud_firewall": "firewalls",
    "hcloud_ssh_key": "ssh_keys",
    "hcloud_network": "networks",
    "hcloud_placement_group": "placement_groups",
    "hcloud_load_balancer": "load_balancers",
    "hcloud_floating_ip": "floating_ips",
    "hcloud_managed_certificate": "certificates",
    "hcloud_uploaded_certificate": "certificates",
}
MANAGED_BY = ("managed-by", "hetzner-deploy")


@dataclass(frozen=True)
class Resource:
    id: int
    name: str
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class FamilyInventory:
    family: str
    title: str
    resources: tuple[Resource, ...]

    @property
    def count(self) -> int:
        return len(self.resources)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.resources)


@dataclass(frozen=True)
class Inventory:
    families: tuple[FamilyInventory, ...]

    def family(self, name: str) -> FamilyInventory:
        for fam in self.families:
            if fam.family == name:
                return fam
        raise KeyError(name)

    @property
    def total(self) -> int:
        return sum(f.count for f in self.families)


@dataclass(frozen=True)
class Conflict:
    family: str
    name: str
    resource_id: int
    reason: str


def _resource(obj: Any) -> Resource:
    labels = getattr(obj, "labels", None) or {}
    return Resource(int(obj.id), str(obj.name or ""), tuple(sorted(labels.items())))


def read_inventory(client: Client) -> Inventory:
    """List every family; the caller wraps this in hetzner_api.api_errors."""
    families = []
    for family, title in FAMILY_LABELS.items():
        items = getattr(client, family).get_all()
        resources = tuple(sorted((_resource(o) for o in items), key=lambda r: (r.name, r.id)))
        families.append(FamilyInventory(family, title, resources))
    return Inventory(tuple(families))


def state_ids(state: Mapping[str, Any] | TfState | None) -> dict[str, set[int]]:
    """Resource ids per family from a state (typed, show -json or raw state file)."""
    typed = state if isinstance(state, TfState) else parse_state(state or {})
    ids: dict[str, set[int]] = {f: set() for f in FAMILIES}
    for type_name, found in typed.ids_by_type().items():
        family = STATE_TYPES.get(type_name)
        if family is not None:
            ids[family] |= found
    return ids


def has_resources(state: Mapping[str, Any] | TfState | None) -> bool:
    return bool(state) and any(state_ids(state).values())


def labelled_ours(resource: Resource, project: str, environment: str) -> bool:
    return (resource.label(MANAGED_BY[0]) == MANAGED_BY[1]
            and resource.label("project") == project
            and resource.label("environment") == environment)


def find_conflicts(inventory: Inventory, planned: Mapping[str, Iterable[str]], *,
                   project: str, environment: str,
                   owned_ids: Mapping[str, set[int]] | None = None) -> tuple[Conflict, ...]:
    """Planned names already held by resources that are not ours.

    With `owned_ids` (from state) ownership is by id; without, by labels.
    """
    conflicts = []
    for family, names in planned.items():
        wanted = set(names)
        if not wanted or family not in FAMILY_LABELS:
            continue
        for res in inventory.family(family).resources:
            if res.name not in wanted:
                continue
            if owned_ids is not None:
                if res.id in owned_ids.get(family, set()):
                    continue
                reason = "exists but is not in this stack's Terraform state"
            else:
                if labelled_ours(res, project, environment):
                    continue
                reason = ("exists without the labels managed-by=hetzner-deploy, "
                          f"project={project}, environment={environment}")
            conflicts.append(Conflict(family, res.name, res.id, reason))
    return tuple(conflicts)
