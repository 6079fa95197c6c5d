"""The merge: only what we manage changes; a CNAME at a name we point elsewhere goes."""
from domains.records import HostRecord, diff, merge

ZONE = (
    HostRecord("@", "MX", "mx1.example.net.", 1800, 10),
    HostRecord("app", "CNAME", "voice-app.up.railway.app.", 1800),
    HostRecord("app", "TXT", "railway-verify=abc", 1800),
    HostRecord("api.app", "CNAME", "voice-api.up.railway.app.", 1800),
    HostRecord("www", "CNAME", "app.example.com.", 1800),
)
WANT = (HostRecord("app", "A", "198.51.100.7", 300), HostRecord("api.app", "A", "198.51.100.7", 300))


def test_pointing_a_name_replaces_its_cname_and_keeps_everything_else():
    merged = merge(ZONE, WANT)
    assert merged == (ZONE[0], ZONE[2], ZONE[4], *WANT)
    change = diff(ZONE, merged)
    assert set(change.removed) == {ZONE[1], ZONE[3]}
    assert set(change.added) == set(WANT) and set(change.kept) == {ZONE[0], ZONE[2], ZONE[4]}


def test_a_cname_at_a_name_we_do_not_point_is_kept():
    merged = merge(ZONE, (HostRecord("app", "TXT", "x", 300),))
    assert ZONE[1] in merged and ZONE[3] in merged
