"""The tier switch's record: stages, what terraform gets, the host key that moves with the
server's new name, and what `verify --after` says while a switch is under way."""
from __future__ import annotations

import datetime as dt
import stat

import pytest

from errors import ConfigError
from pipeline import tier_switch as ts


def test_a_switch_to_3_tier_is_recorded_privately_and_opens_the_db_web_firewall(tmp_path):
    assert ts.load(tmp_path) is None and ts.terraform_vars(tmp_path) == {}
    record = ts.begin(tmp_path, "ccx33", "3-tier")
    assert record == ts.Record("ccx33", "3-tier", "serving")
    path = tmp_path / ".work" / "tier-switch.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ts.terraform_vars(tmp_path) == {"TF_VAR_db_serves_web": "true"}
    assert ts.keeps_old_app(tmp_path)
    # A second begin (a rerun) keeps the stage the first one reached.
    ts.save(tmp_path, ts.Record("ccx33", "3-tier", "retiring", "2026-11-29T01:00:00+00:00"))
    assert ts.begin(tmp_path, "ccx33", "3-tier").stage == "retiring"
    assert ts.terraform_vars(tmp_path) == {} and not ts.keeps_old_app(tmp_path)
    ts.clear(tmp_path)
    assert ts.load(tmp_path) is None


def test_only_one_server_to_3_tier_and_back_are_staged_switches(tmp_path):
    assert ts.begin(tmp_path, "ccx33", "ccx43") is None
    assert ts.begin(tmp_path, "ccx43", "ccx33") is None
    assert not (tmp_path / ".work" / "tier-switch.json").exists()


def test_the_way_down_opens_the_db_web_firewall_then_detaches_then_drops_both(tmp_path):
    record = ts.begin(tmp_path, "3-tier", "ccx43")
    assert record == ts.Record("3-tier", "ccx43", "serving") and record.down
    assert ts.terraform_vars(tmp_path) == {"TF_VAR_db_serves_web": "true"}
    assert ts.keeps_old_app(tmp_path)            # the db server runs the whole app
    ts.save(tmp_path, ts.Record("3-tier", "ccx43", "detaching", "2026-11-29T01:00:00+00:00"))
    assert ts.terraform_vars(tmp_path) == {"TF_VAR_db_serves_web": "true",
                                           "TF_VAR_db_private_network": "false"}
    assert not ts.keeps_old_app(tmp_path)
    ts.save(tmp_path, ts.Record("3-tier", "ccx43", "single", "2026-11-29T01:00:00+00:00"))
    assert ts.terraform_vars(tmp_path) == {}
    assert ts.begin(tmp_path, "3-tier", "ccx43").stage == "single"   # a rerun keeps it


def test_the_session_forgets_the_variables_of_stages_past(tmp_path):
    class Session:
        class tf:
            env = {"TF_VAR_db_serves_web": "true", "TF_VAR_db_private_network": "false",
                   "HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"}

        class ws:
            workdir = tmp_path
    ts.refresh_terraform_env(Session)
    assert Session.tf.env == {"HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"}
    ts.save(tmp_path, ts.Record("3-tier", "ccx33", "detaching", "2026-11-29T01:00:00+00:00"))
    ts.refresh_terraform_env(Session)
    assert Session.tf.env["TF_VAR_db_private_network"] == "false"


def test_the_old_app_stops_only_a_ttl_after_the_names_moved():
    record = ts.Record("ccx33", "3-tier", "serving", "2026-11-29T01:00:00+00:00")
    assert ts.retire_from(record, 300) == dt.datetime(2026, 11, 29, 1, 5, tzinfo=dt.timezone.utc)
    assert ts.retire_from(ts.Record("ccx33", "3-tier", "serving"), 300) is None


def test_a_damaged_record_is_one_line(tmp_path):
    (tmp_path / ".work").mkdir()
    (tmp_path / ".work" / "tier-switch.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not a switch record"):
        ts.load(tmp_path)


def test_the_host_key_follows_the_server_to_its_db_name(tmp_path, monkeypatch):
    from remote import hostkeys
    monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(tmp_path / "keys"))
    assert ts.carry_host_key("production", "autoscale-ai-production") is False
    old, _ = hostkeys.ensure("production", "autoscale-ai-production")
    hostkeys.ensure("production", "autoscale-ai-production-db")     # a preview made one
    assert ts.carry_host_key("production", "autoscale-ai-production") is True
    moved = hostkeys.load("production", "autoscale-ai-production-db")
    assert (moved.public, moved.private_openssh) == (old.public, old.private_openssh)


def test_verify_after_names_a_switch_under_way(tmp_path, make_config):
    from checks.preflight import _switch_checks
    from generator.config import load_config
    from pipeline.target import Target
    config = load_config(make_config())
    target = Target(kind="sandbox", endpoint="http://127.0.0.1:1/v1", token="t")
    assert _switch_checks(target, config, tmp_path, None) == []
    ts.begin(tmp_path, "ccx33", "3-tier")
    (row,) = _switch_checks(target, config, tmp_path, None)
    assert row.status == "warn" and "ccx33 -> 3-tier under way" in row.detail
    assert row.action == "hetzner-deploy switch --to 3-tier"


def test_the_host_key_goes_back_with_the_db_server_to_its_old_name(tmp_path, monkeypatch):
    from remote import hostkeys
    monkeypatch.setenv("HETZNER_DEPLOY_KEYS_DIR", str(tmp_path / "keys"))
    assert ts.carry_host_key_back("production", "autoscale-ai-production") is False
    db, _ = hostkeys.ensure("production", "autoscale-ai-production-db")
    hostkeys.ensure("production", "autoscale-ai-production")     # a generate made one
    assert ts.carry_host_key_back("production", "autoscale-ai-production") is True
    back = hostkeys.load("production", "autoscale-ai-production")
    assert (back.public, back.private_openssh) == (db.public, db.private_openssh)
