"""The review step guards the DNS zone like the server and the volume."""
from __future__ import annotations

import pytest


def test_a_plan_that_replaces_the_zone_is_refused_without_allow_replace():
    from errors import RefusedError
    from pipeline.review import check_safety
    from runner.plan import summarize
    show = {"resource_changes": [{"address": "hcloud_zone.dns", "type": "hcloud_zone", "mode": "managed",
                                  "change": {"actions": ["delete", "create"], "before": {"name": "example.com"},
                                             "after": {"name": "example.org"}, "after_unknown": {},
                                             "replace_paths": [["name"]]}}]}
    summary = summarize(show)
    with pytest.raises(RefusedError, match="hcloud_zone.dns would be replaced"):
        check_safety(summary, allow_replace=False)
    check_safety(summary, allow_replace=True)
