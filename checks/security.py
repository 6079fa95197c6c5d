"""Security warnings: who may SSH in, and how old the API token is.

The token's creation date is not something the API reveals about the token
in use, so it comes from HCLOUD_TOKEN_CREATED=YYYY-MM-DD when the team sets
it; without it verify only reminds about the 90-day rotation.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

from checks.base import NOT_CHECKED, OK, WARN, Check

SECTION = "security"
WORLD = ("0.0.0.0/0", "::/0")
TOKEN_MAX_AGE_DAYS = 90
TOKEN_CREATED_VAR = "HCLOUD_TOKEN_CREATED"


def check_ssh_allow(ssh_allow: tuple[str, ...]) -> Check:
    open_to = [c for c in ssh_allow if c in WORLD]
    if open_to:
        return Check(SECTION, "SSH restricted", WARN,
                     f"port 22 open to the world ({', '.join(open_to)})",
                     'restrict ssh.allow in deploy.toml to your address, '
                     'e.g. allow = ["203.0.113.7/32"]')
    return Check(SECTION, "SSH restricted", OK, ", ".join(ssh_allow))


def check_token_age(environ: Mapping[str, str], *, sandbox: bool,
                    today: date | None = None) -> Check:
    name = f"API token younger than {TOKEN_MAX_AGE_DAYS} days"
    if sandbox:
        return Check(SECTION, name, NOT_CHECKED, "sandbox token")
    raw = environ.get(TOKEN_CREATED_VAR, "").strip()
    if not raw:
        return Check(SECTION, name, NOT_CHECKED,
                     f"creation date unknown: rotate tokens every {TOKEN_MAX_AGE_DAYS} days "
                     f"and set {TOKEN_CREATED_VAR}=YYYY-MM-DD to have it checked")
    try:
        created = date.fromisoformat(raw)
    except ValueError:
        return Check(SECTION, name, WARN, f"{TOKEN_CREATED_VAR} is not a date (YYYY-MM-DD)",
                     f"set {TOKEN_CREATED_VAR} to the token's creation date, e.g. 2026-01-31")
    age = ((today or date.today()) - created).days
    if age > TOKEN_MAX_AGE_DAYS:
        return Check(SECTION, name, WARN, f"created {created} ({age} days ago)",
                     "create a new API token in the Hetzner console (Security > API tokens), "
                     f"revoke the old one, update HCLOUD_TOKEN and {TOKEN_CREATED_VAR}")
    return Check(SECTION, name, OK, f"created {created} ({age} days ago)")
