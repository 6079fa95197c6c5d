"""Checks before a deploy (verify, preflight) and after it (verify --after)."""
