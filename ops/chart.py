"""Monthly cost against calls per month, per profile, as SVG and PNG (matplotlib).

What the picture shows (issue 14): each profile's monthly cost at current
prices over the call range it is sized for (generator.sizing thresholds),
the cost of the recommended profile as a step line over the whole range, the
current host as a horizontal line, the tier thresholds and today's volume as
vertical lines, and the point where the recommended cost first rises above
the current host's (the "crossing").

Deterministic output so a reviewer can diff it: Agg backend, a fixed
svg.hashsalt (stable element ids), no Date metadata, the DejaVu Sans font
that ships inside matplotlib, and text drawn as paths (no system fonts).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from errors import ConfigError
from generator.profiles import PROFILE_NAMES
from generator.sizing import recommend
from pricing.estimate import estimate

RC = {"svg.hashsalt": "hetzner-deploy", "svg.fonttype": "path", "font.family": "DejaVu Sans",
      "path.simplify": False}


@dataclass(frozen=True)
class ChartData:
    costs: dict[str, Decimal]          # profile -> monthly EUR (priced profiles only)
    unpriced: tuple[str, ...]          # profiles the price table has no row for
    ranges: dict[str, tuple[int, int]]  # profile -> (first, last) calls it is sized for
    current_host: str
    current_host_eur: Decimal
    thresholds: tuple[int, int]
    today_calls: int
    x_max: int
    crossing: int | None               # fewest calls whose recommended cost > current host


def chart_data(config, prices=None, today_calls: int | None = None, on=None) -> ChartData:
    """`on`: the day whose price rows apply (default today)."""
    low, high = config.thresholds.ccx33_max_calls, config.thresholds.ccx43_max_calls
    today = config.calls_per_month if today_calls is None else today_calls
    x_max = max(int(high * 1.5), int(today * 1.2), 1)
    costs, unpriced, host, host_eur = {}, [], "", Decimal(0)
    for name in PROFILE_NAMES:
        try:
            e = estimate(name, config, prices, on)
        except ConfigError:
            unpriced.append(name)
            continue
        costs[name] = e.total_monthly_eur
        host, host_eur = e.current_host, e.current_host_monthly_eur
    if not costs:
        raise ConfigError("the price table prices none of the profiles: nothing to chart")
    ranges = {"ccx33": (0, low), "ccx43": (low + 1, high), "3-tier": (high + 1, x_max)}
    crossing = None
    # The recommended cost only changes at a threshold: test the first call of each tier.
    for first in (0, low + 1, high + 1):
        cost = costs.get(recommend(first, config.thresholds).profile)
        if cost is not None and cost > host_eur:
            crossing = first
            break
    return ChartData(costs, tuple(unpriced), ranges, host, host_eur, (low, high), today,
                     x_max, crossing)


def figure(data: ChartData):
    """The matplotlib Figure; lines carry gids (profile-<name>, recommended, current-host,
    threshold-<n>, today) so tests and the SVG can find them."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 4.5), dpi=100)
        ax = fig.add_subplot()
        for name, cost in data.costs.items():
            first, last = data.ranges[name]
            ax.plot([first, last], [float(cost)] * 2, linewidth=6, alpha=0.35,
                    label=f"{name}: {cost:.2f} €", gid=f"profile-{name}")
        xs, ys = [], []
        for name, (first, last) in data.ranges.items():
            if name in data.costs:
                xs += [first, last]
                ys += [float(data.costs[name])] * 2
        ax.plot(xs, ys, color="black", linewidth=1.5, label="recommended profile", gid="recommended")
        ax.axhline(float(data.current_host_eur), color="tab:red", linestyle="--",
                   label=f"current host ({data.current_host}): {data.current_host_eur:.2f} €",
                   gid="current-host")
        for n, limit in enumerate(data.thresholds):
            ax.axvline(limit, color="grey", linestyle=":", gid=f"threshold-{n}")
        ax.axvline(data.today_calls, color="tab:green", label=f"today: {data.today_calls:,} calls",
                   gid="today")
        if data.crossing is not None:
            ax.plot([data.crossing], [float(data.current_host_eur)], "o", color="tab:red",
                    gid="crossing")
        ax.set_xlim(0, data.x_max)
        top = max([float(c) for c in data.costs.values()] + [float(data.current_host_eur)])
        ax.set_ylim(0, top * 1.3)   # room above the highest line for the legend
        ax.set_xlabel("calls per month")
        ax.set_ylabel("monthly cost, EUR")
        note = f" (no price for {', '.join(data.unpriced)})" if data.unpriced else ""
        ax.set_title(f"Monthly cost by profile at current prices{note}")
        ax.legend(loc="lower right", fontsize="small")
        fig.tight_layout()
    return fig


def write(data: ChartData, svg_path: Path) -> tuple[Path, Path]:
    """Write svg_path and the PNG beside it; returns both paths."""
    import matplotlib
    svg_path = Path(svg_path).with_suffix(".svg")
    png_path = svg_path.with_suffix(".png")
    fig = figure(data)
    with matplotlib.rc_context(RC):
        fig.savefig(svg_path, format="svg", metadata={"Date": None})
        fig.savefig(png_path, format="png", metadata={"Software": None})
    return svg_path, png_path
