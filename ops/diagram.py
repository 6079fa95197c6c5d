"""The deployed topology as an SVG, drawn from Terraform state (and [dns]).

Nodes: every managed resource in the state (load balancer, servers grouped by
role, private network, volume, firewall with its rules, SSH key, placement
group, ...) and the DNS names from deploy.toml's [dns]; edges: DNS -> the
public entry point (load balancer, else the web server), load balancer ->
its targets, server -> volume, firewall -> servers, servers -> network.

The graph is built with the graphviz Python binding (DOT source, escaped by
the library) and rendered by Debian's `dot` through runner.process, like every
program this tool starts. Same state, same SVG: resources and edges are
sorted, and nothing time- or run-dependent goes into the graph.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from errors import DeployError
from runner import process
from runner.tfstate import StateResource, TfState

_SHAPES = {"hcloud_load_balancer": "hexagon", "hcloud_server": "box3d", "hcloud_volume": "cylinder",
           "hcloud_network": "ellipse", "hcloud_firewall": "octagon"}


class DiagramError(DeployError):
    exit_code = 5


def _rules(rules: Iterable[Mapping[str, Any]] | None) -> list[str]:
    out = []
    for r in rules or []:
        sources = ", ".join(sorted(r.get("source_ips") or [])) or "-"
        out.append(f"{r.get('direction')} {r.get('protocol')}/{r.get('port') or 'any'} from {sources}")
    return sorted(out)


def _label(res: StateResource) -> str:
    a = res.attributes
    lines = [res.address]
    name = a.get("name")
    if name:
        lines.append(str(name))
    if res.type == "hcloud_server":
        role = (a.get("labels") or {}).get("role")
        lines.append(" ".join(str(x) for x in (a.get("server_type"), a.get("image"),
                                                 f"role {role}" if role else None) if x))
        if a.get("ipv4_address"):
            lines.append(str(a["ipv4_address"]))
    elif res.type == "hcloud_volume":
        lines.append(f"{a.get('size')} GB")
    elif res.type == "hcloud_firewall":
        lines += _rules(a.get("rule"))
    elif res.type == "hcloud_network":
        lines.append(str(a.get("ip_range", "")))
    return "\n".join(lines)


def _node_id(res: StateResource) -> str:
    return res.address


def build(state: TfState, dns_names: Iterable[str] = ()):
    """The graphviz.Digraph; pure (no program started)."""
    import graphviz
    g = graphviz.Digraph("topology", graph_attr={"rankdir": "LR", "fontname": "DejaVu Sans"},
                         node_attr={"fontname": "DejaVu Sans", "fontsize": "10"})
    resources = sorted(state.managed, key=lambda r: r.address)
    by_id: dict[tuple[str, str], StateResource] = {(r.type, r.id or ""): r for r in resources}
    servers = [r for r in resources if r.type == "hcloud_server"]
    roles: dict[str, list[StateResource]] = {}
    for s in servers:
        roles.setdefault(str((s.attributes.get("labels") or {}).get("role", "server")), []).append(s)
    for role in sorted(roles):
        with g.subgraph(name=f"cluster_{role}") as sub:
            sub.attr(label=f"role: {role}", style="rounded")
            for s in roles[role]:
                sub.node(_node_id(s), _label(s), shape=_SHAPES["hcloud_server"])
    for r in resources:
        if r.type != "hcloud_server":
            g.node(_node_id(r), _label(r), shape=_SHAPES.get(r.type, "note"))
    lbs = [r for r in resources if r.type == "hcloud_load_balancer"]
    entry = lbs or [s for s in servers if not roles.get("db") or s not in roles["db"]][:1]
    for name in sorted(set(dns_names)):
        g.node(f"dns:{name}", name, shape="plaintext")
        for e in entry:
            g.edge(f"dns:{name}", _node_id(e))
    edges: set[tuple[str, str]] = set()
    for r in resources:
        a = r.attributes
        def ref(type_: str, value: Any) -> StateResource | None:
            return by_id.get((type_, str(value))) if value not in (None, "") else None
        if r.type == "hcloud_volume_attachment":
            for t, key in (("hcloud_server", "server_id"), ("hcloud_volume", "volume_id")):
                if (other := ref(t, a.get(key))):
                    edges.add((_node_id(r), _node_id(other)))
        elif r.type == "hcloud_server":
            for fw in a.get("firewall_ids") or []:
                if (other := ref("hcloud_firewall", fw)):
                    edges.add((_node_id(other), _node_id(r)))
            if (pg := ref("hcloud_placement_group", a.get("placement_group_id"))):
                edges.add((_node_id(r), _node_id(pg)))
            for net in a.get("network") or []:
                if (other := ref("hcloud_network", (net or {}).get("network_id"))):
                    edges.add((_node_id(r), _node_id(other)))
        elif r.type in ("hcloud_server_network", "hcloud_load_balancer_network",
                        "hcloud_load_balancer_target", "hcloud_network_subnet"):
            for t, key in (("hcloud_server", "server_id"), ("hcloud_network", "network_id"),
                           ("hcloud_load_balancer", "load_balancer_id")):
                if (other := ref(t, a.get(key))):
                    edges.add((_node_id(r), _node_id(other)))
        elif r.type == "hcloud_volume" and (other := ref("hcloud_server", a.get("server_id"))):
            edges.add((_node_id(other), _node_id(r)))
    for tail, head in sorted(edges):
        g.edge(tail, head)
    return g


def render_svg(graph, *, dot: str = "dot") -> str:
    if process.which(dot) is None:
        raise DiagramError("graphviz's `dot` is not installed (Debian package graphviz; "
                           "scripts/system-deps.sh installs it)")
    done = process.run([dot, "-Tsvg"], input=graph.source, check=False, timeout=60)
    if done.returncode != 0:
        raise DiagramError(f"dot failed: {process.tail(done.stderr)}")
    return done.stdout
