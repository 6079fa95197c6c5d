"""The data-loss guard: a plan that replaces or deletes the volume, or the server the
volume is attached to (all-in-one or db), is refused even with --allow-replace;
only --accept-data-loss lets it through. App servers are guarded as before.

Plans are `terraform show -json` documents in the shape Terraform writes them
(resource_changes with before/after, configuration with references)."""
from __future__ import annotations

import pytest

from errors import RefusedError
from pipeline.review import check_safety, decide
from runner.plan import summarize, summarize_events


def _rc(address, kind, actions, before=None, after=None, replace_paths=()):
    return {"address": address, "type": kind, "mode": "managed",
            "name": address.split(".")[1].split("[")[0],
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": {},
                       "replace_paths": [list(p) for p in replace_paths]}}


def _attachment_config(server_ref):
    return {"root_module": {"resources": [{
        "address": "hcloud_volume_attachment.data", "mode": "managed",
        "type": "hcloud_volume_attachment", "name": "data",
        "expressions": {"volume_id": {"references": ["hcloud_volume.data.id", "hcloud_volume.data"]},
                        "server_id": {"references": [f"{server_ref}.id", server_ref]}}}]}}


VOLUME = {"id": "70", "name": "p-data", "location": "nbg1", "size": 50}
SERVER = {"id": "11", "name": "p", "image": "ubuntu-22.04", "server_type": "ccx33",
          "labels": {"profile": "ccx33"}}


def _single(server_actions=("no-op",), volume_actions=("no-op",), *, config=True,
            server_paths=(), volume_paths=()):
    """A ccx33 stack's plan: server main, volume data, the attachment between them."""
    after_server = {**SERVER, "image": "debian-12"} if server_actions != ("no-op",) else SERVER
    show = {"resource_changes": [
        _rc("hcloud_server.main", "hcloud_server", list(server_actions), SERVER, after_server,
            server_paths),
        _rc("hcloud_volume.data", "hcloud_volume", list(volume_actions), VOLUME,
            {**VOLUME, "location": "fsn1"} if volume_actions != ("no-op",) else VOLUME,
            volume_paths),
        _rc("hcloud_volume_attachment.data", "hcloud_volume_attachment", ["no-op"],
            {"id": "70", "server_id": 11, "volume_id": 70},
            {"id": "70", "server_id": 11, "volume_id": 70}),
    ]}
    if config:
        show["configuration"] = _attachment_config("hcloud_server.main")
    return summarize(show)


def _three_tier(replaced: str):
    app = {"id": "21", "name": "p-app-1", "image": "ubuntu-22.04", "labels": {"role": "app"}}
    db = {"id": "31", "name": "p-db", "image": "ubuntu-22.04", "labels": {"role": "db"}}
    changes = []
    for address, values in (('hcloud_server.app["app-1"]', app), ("hcloud_server.db", db)):
        actions = ["delete", "create"] if address == replaced else ["no-op"]
        changes.append(_rc(address, "hcloud_server", actions, values,
                           {**values, "image": "debian-12"}, [["image"]] if actions != ["no-op"] else ()))
    changes.append(_rc("hcloud_volume.data", "hcloud_volume", ["no-op"], VOLUME, VOLUME))
    return summarize({"resource_changes": changes,
                      "configuration": _attachment_config("hcloud_server.db")})


def test_replacing_the_all_in_one_server_is_refused_even_with_allow_replace():
    summary = _single(("delete", "create"), server_paths=[["image"]])
    assert ("hcloud_server.main", "the data volume is attached to it") in summary.data_holders
    for allow in (False, True):
        with pytest.raises(RefusedError) as refused:
            check_safety(summary, allow_replace=allow)
        message = str(refused.value)
        assert "hcloud_server.main would be replaced because image changed" in message
        assert "the data volume is attached to it" in message and "--accept-data-loss" in message
        assert "\n" not in message
    check_safety(summary, allow_replace=False, accept_data_loss=True)


@pytest.mark.parametrize("actions,word", [(("delete", "create"), "replaced"), (("delete",), "deleted")])
def test_losing_the_volume_is_refused_even_with_allow_replace(actions, word):
    summary = _single(volume_actions=actions, volume_paths=[["location"]])
    with pytest.raises(RefusedError, match=rf"hcloud_volume.data would be {word}.*it is the data volume"):
        check_safety(summary, allow_replace=True)
    check_safety(summary, allow_replace=False, accept_data_loss=True)


def test_the_db_server_is_guarded_and_an_app_server_replace_is_allowed_as_today():
    db = _three_tier("hcloud_server.db")
    with pytest.raises(RefusedError, match=r"hcloud_server.db would be replaced because image "
                                           r"changed \(it is the database server"):
        check_safety(db, allow_replace=True)
    check_safety(db, allow_replace=False, accept_data_loss=True)

    app = _three_tier('hcloud_server.app["app-1"]')
    assert 'hcloud_server.app["app-1"]' not in dict(app.data_holders)
    check_safety(app, allow_replace=True)          # as before this guard
    with pytest.raises(RefusedError, match=r"--allow-replace") as refused:
        check_safety(app, allow_replace=False)
    assert "accept-data-loss" not in str(refused.value)
    # Naming the data risk does not stand in for --allow-replace on other servers.
    with pytest.raises(RefusedError, match=r"--allow-replace"):
        check_safety(app, allow_replace=False, accept_data_loss=True)


def test_the_holder_is_found_from_the_running_attachment_without_configuration():
    """An older plan document without `configuration`: the attachment's server_id
    before the change still names the server that holds the data."""
    summary = _single(("delete", "create"), server_paths=[["image"]], config=False)
    with pytest.raises(RefusedError, match="hcloud_server.main would be replaced"):
        check_safety(summary, allow_replace=True)


def test_an_in_place_rescale_of_the_data_server_is_not_a_loss():
    summary = summarize({"resource_changes": [
        _rc("hcloud_server.main", "hcloud_server", ["update"], SERVER, {**SERVER, "server_type": "ccx43"}),
        _rc("hcloud_volume.data", "hcloud_volume", ["no-op"], VOLUME, VOLUME)],
        "configuration": _attachment_config("hcloud_server.main")})
    check_safety(summary, allow_replace=False)
    assert decide(summary, target_kind="sandbox", auto_approve=False, interactive=False,
                  allow_replace=False).action == "apply"


def test_decide_refuses_before_any_approval_mode():
    summary = _single(("delete", "create"), server_paths=[["image"]])
    for auto, interactive in ((True, False), (False, True), (False, False)):
        with pytest.raises(RefusedError, match="can lose the data"):
            decide(summary, target_kind="hetzner", auto_approve=auto, interactive=interactive,
                   allow_replace=True)
    assert decide(summary, target_kind="hetzner", auto_approve=True, interactive=False,
                  allow_replace=False, accept_data_loss=True).action == "apply"


def test_a_summary_without_attributes_treats_every_lost_server_as_holding_data():
    from runner.events import Event
    event = Event(type="planned_change", level="info", message="", address="hcloud_server.main",
                  action="replace", resource_type="hcloud_server")
    summary = summarize_events([event])
    with pytest.raises(RefusedError, match="attributes were not read"):
        check_safety(summary, allow_replace=True)


def test_a_destroy_plan_is_left_to_destroy_s_own_confirmation():
    show = {"resource_changes": [_rc("hcloud_volume.data", "hcloud_volume", ["delete"], VOLUME, None)]}
    check_safety(summarize(show, destroy=True), allow_replace=False)
