"""`hetzner-deploy diagram`: an SVG of the deployed topology (state + [dns])."""
from __future__ import annotations

from pathlib import Path

import click

from commands.common import config_option, env_option, load, stacks_dir_option
from commands.terraform import session_for


def dns_names(config) -> list[str]:
    names = getattr(getattr(config, "dns", None), "names", ()) or ()
    return [config.domain if n == "@" else f"{n}.{config.domain}" for n in names]


@click.command("diagram")
@env_option
@config_option
@stacks_dir_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("topology.svg"), show_default=True, help="Where to write the SVG.")
def diagram(env, config_path, stacks_dir, out_path):
    """Draw the deployed topology from Terraform state as SVG (graphviz)."""
    from errors import RefusedError
    from ops.diagram import build, render_svg
    from runner.state import load_state
    config = load(config_path, env)
    session = session_for(config, stacks_dir)
    state = load_state(session.ws, session.tf)
    if state.is_empty:
        raise RefusedError(f"nothing deployed in {config.environment}: the state is empty")
    svg = render_svg(build(state, dns_names(config)))
    out_path.write_text(svg)
    click.echo(f"diagram: {out_path} ({len(state.managed)} resources)")
