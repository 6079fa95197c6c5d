"""`switch --to` on the sandbox (emulator + stand-in provider, real terraform):
ccx33 -> ccx43 -> ccx33 in place, the preview before it,
`deploy --profile` taking the same path, and a switch stopped by SIGINT mid-apply
that a rerun finishes."""
from __future__ import annotations

import json
import re
import signal
import threading
import time

import pytest

from tests.pipeline.test_interrupt_e2e import (assert_all_gone, descendants,
                                              kill_terraform_apply)

pytestmark = pytest.mark.e2e


def _ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _ids(sb):
    out = json.loads(_ok(sb.cli("outputs", "--json")).stdout)
    (host,) = out["hosts"]
    return int(host["id"]), int(out["volume_id"])


def _commands(client, server):
    return [a.command for a in sorted(client.servers.get_actions(server), key=lambda a: a.id)]


def _assert_rescaled(sb, server_id, volume_id, server_type, disk):
    client = sb.client()
    server = client.servers.get_by_id(server_id)
    assert server.server_type.name == server_type and server.status == "running"
    assert server.primary_disk_size == disk          # keep_disk: the disk never grew
    assert server.labels["profile"] == server_type
    volume = client.volumes.get_by_id(volume_id)
    assert volume.server.id == server_id             # the same volume, still attached
    commands = _commands(client, server)
    at = len(commands) - 1 - commands[::-1].index("change_server_type")
    assert commands[at - 1: at + 2] == ["stop_server", "change_server_type", "start_server"]
    assert [s.id for s in client.servers.get_all()] == [server_id]
    assert [v.id for v in client.volumes.get_all()] == [volume_id]
    assert json.loads(_ok(sb.cli("plan", "--json")).stdout)["has_changes"] is False


def _manifest_profile(sb):
    return json.loads((sb.stacks / "production" / "manifest.json").read_text())["profile"]


def test_switch_ccx33_to_ccx43_and_back_in_place(sb):
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, volume_id = _ids(sb)
    disk = sb.client().servers.get_by_id(server_id).primary_disk_size

    up = _ok(sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks),
                    "--config", str(sb.config), timeout=300))
    out = up.stdout
    # The preview, before the plan: recommendation, stack diff, cost with its rows, data path.
    assert out.index("switch ccx33 -> ccx43") < out.index("~ hcloud_server.main: update in place")
    assert "recommendation: ccx33 (3,000 calls a month is within ccx33's range" in out
    assert "note: ccx43 is not the recommended profile" in out
    assert "  update terraform.tfvars" in out
    diff = out[out.index("stack diff:"):out.index("cost:")]
    assert re.search(r'^    -server_type += "ccx33"$', diff, re.M), diff
    assert re.search(r'^    \+server_type += "ccx43"$', diff, re.M), diff
    assert "  update manifest.json" in diff
    # The other files differ only in the generate command of their header: said, not shown.
    assert "  update main.tf (only the generate command in its header differs)" in diff
    assert "+++ b/main.tf" not in diff
    # The running ccx33 keeps its April 2026 price; the rescaled ccx43 pays the June row.
    assert "now: 1 x server ccx33 (running, keeps its price: 2026-04-01 prices) at 62.49" in out
    assert "after: 1 x server ccx43 (rescaled: 2026-06-15 prices) at 275.99" in out
    assert "a rescaled server pays the 2026-06-15 row" in out
    assert ("data path: the volume autoscale-ai-production-data stays attached to "
            "autoscale-ai-production; the server is powered off, rescaled up to ccx43 "
            "with keep_disk") in out
    assert "Plan: 0 to create, 1 to update in place, 0 to replace, 0 to delete." in out
    assert "switched production to ccx43" in out
    assert _manifest_profile(sb) == "ccx43"
    _assert_rescaled(sb, server_id, volume_id, "ccx43", disk)

    down = _ok(sb.cli("switch", "--to", "ccx33", "--stacks-dir", str(sb.stacks),
                      "--config", str(sb.config), timeout=300))
    assert "rescaled down to ccx33" in down.stdout
    assert "after: 1 x server ccx33 (rescaled: 2026-06-15 prices) at 138.49" in down.stdout
    _assert_rescaled(sb, server_id, volume_id, "ccx33", disk)

    again = _ok(sb.cli("switch", "--to", "ccx33", "--stacks-dir", str(sb.stacks),
                       "--config", str(sb.config)))
    assert "production already runs ccx33" in again.stderr
    assert "switch ccx33" not in again.stdout


def test_switch_with_nothing_deployed_is_refused(sb):
    refused = sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks), "--config", str(sb.config))
    assert refused.returncode == 7
    assert "nothing is deployed in production" in refused.stderr and "Traceback" not in refused.stderr


def test_deploy_with_another_profile_is_a_switch(sb):
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, volume_id = _ids(sb)
    disk = sb.client().servers.get_by_id(server_id).primary_disk_size
    done = _ok(sb.cli("deploy", "--profile", "ccx43", timeout=300))
    assert "switch ccx33 -> ccx43" in done.stdout and "data path:" in done.stdout
    assert "deployed ccx43 to production" in done.stdout
    _assert_rescaled(sb, server_id, volume_id, "ccx43", disk)
    # --json: the preview goes to stderr, stdout stays one JSON document.
    back = _ok(sb.cli("deploy", "--profile", "ccx33", "--json", timeout=300))
    assert json.loads(back.stdout)["profile"] == "ccx33"
    assert "switch ccx43 -> ccx33" in back.stderr and "data path:" in back.stderr
    _assert_rescaled(sb, server_id, volume_id, "ccx33", disk)


def test_a_plan_that_replaces_the_data_server_is_refused_even_with_allow_replace(sb):
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, _ = _ids(sb)
    # Another image replaces the server the volume is attached to.
    sb.config.write_text(sb.config.read_text().replace('image = "ubuntu-22.04"', 'image = "debian-12"'))
    refused = sb.cli("deploy", "--profile", "ccx33", "--allow-replace")
    assert refused.returncode == 7, refused.stdout + refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert "hcloud_server.main would be replaced" in errors[0]
    assert "the data volume is attached to it" in errors[0] and "--accept-data-loss" in errors[0]
    assert [s.id for s in sb.client().servers.get_all()] == [server_id]


def test_a_switch_stopped_by_sigint_mid_apply_is_finished_by_a_rerun(sb):
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, volume_id = _ids(sb)
    disk = sb.client().servers.get_by_id(server_id).primary_disk_size
    # Slow the server's actions so the signal lands while terraform modifies it.
    sb.fault(count=4, latency_ms=1500, path_prefix=f"/servers/{server_id}/actions")
    interrupt_switch_mid_apply(sb, "ccx43", wait_s=120)
    sb.clear_faults()
    # The stack already says ccx43 (the apply had started): it is not rolled back.
    assert _manifest_profile(sb) == "ccx43"

    rerun = _ok(sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks),
                       "--config", str(sb.config), timeout=300))
    assert "[infra] done" in rerun.stdout
    _assert_rescaled(sb, server_id, volume_id, "ccx43", disk)


def _watch(proc, marker: str):
    lines: list[str] = []
    seen = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if marker in line:
                seen.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, seen, reader


def interrupt_switch_mid_apply(sb, to: str, *, wait_s: float) -> None:
    """`switch --to TO` stopped by SIGINT once terraform modifies the server: it exits 130
    with one error line naming the rerun, and leaves no process behind."""
    proc = sb.popen("switch", "--to", to)
    lines, modifying, reader = _watch(proc, "hcloud_server.main: Modifying")
    assert modifying.wait(wait_s), "the apply never started:\n" + "".join(lines)
    tree = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=180)
    reader.join(10)
    stderr = proc.stderr.read()
    assert proc.returncode == 130, "".join(lines) + stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "interrupted" in errors[0] and "Traceback" not in stderr
    assert f"to finish the switch, rerun `hetzner-deploy switch --to {to}`" in errors[0]
    assert_all_gone(tree)


def test_a_switch_killed_while_the_server_is_off_is_finished_by_a_rerun(sb):
    """kill -9 of terraform (its provider dies with it) between power off and power on:
    the server is left off and the state still says ccx33. The rerun shows the switch
    again (the stack already renders ccx43: no diff), powers the server on and converges."""
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, volume_id = _ids(sb)
    disk = sb.client().servers.get_by_id(server_id).primary_disk_size
    # change_type waits 3 s in the emulator: the kill lands while the server is off.
    sb.fault(count=1, latency_ms=3000, path_prefix=f"/servers/{server_id}/actions/change_type")
    proc = sb.popen("switch", "--to", "ccx43")
    lines, modifying, reader = _watch(proc, "hcloud_server.main: Modifying")
    assert modifying.wait(120), "the apply never started:\n" + "".join(lines)
    client = sb.client()
    end = time.monotonic() + 60
    while client.servers.get_by_id(server_id).status != "off" and time.monotonic() < end:
        time.sleep(0.05)
    assert client.servers.get_by_id(server_id).status == "off"
    tree, stderr, errors = kill_terraform_apply(proc, reader, timeout=120)
    assert proc.returncode != 0
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert_all_gone(tree)
    sb.clear_faults()
    assert client.servers.get_by_id(server_id).status != "running"

    rerun = _ok(sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks),
                       "--config", str(sb.config), timeout=300))
    if "switch ccx33 -> ccx43" in rerun.stdout:   # the state was not saved before the kill
        assert "stack diff: none (the stack already renders ccx43" in rerun.stdout
    _assert_rescaled(sb, server_id, volume_id, "ccx43", disk)
    again = _ok(sb.cli("switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks),
                       "--config", str(sb.config)))
    assert "powered on" not in again.stdout + again.stderr


def test_a_switch_asks_yes_at_a_terminal_and_a_no_leaves_stack_and_server_as_they_were(sb, monkeypatch):
    """The prompt a real target shows (here on the sandbox, with a terminal faked):
    after the preview and the plan; `no` puts the regenerated stack back."""
    from click.testing import CliRunner

    from cli import cli
    from commands import terraform as tf_commands
    _ok(sb.cli("deploy", "--profile", "ccx33"))
    server_id, volume_id = _ids(sb)
    disk = sb.client().servers.get_by_id(server_id).primary_disk_size
    stack = {p.name: p.read_bytes() for p in (sb.stacks / "production").iterdir() if p.is_file()}
    monkeypatch.setattr(tf_commands, "stdin_is_tty", lambda: True)
    args = ["switch", "--to", "ccx43", "--stacks-dir", str(sb.stacks), "--config", str(sb.config)]
    runner = CliRunner()
    declined = runner.invoke(cli, args, input="no\n", env=sb.env())
    assert declined.exit_code == 7, declined.output
    out = declined.output
    assert out.index("data path:") < out.index("Plan: 0 to create, 1 to update in place") \
        < out.index("Switch from ccx33 to ccx43 as shown? Type 'yes' to go on")
    assert "error: not applied: the plan was not confirmed" in out
    assert {p.name: p.read_bytes() for p in (sb.stacks / "production").iterdir() if p.is_file()} == stack
    assert sb.client().servers.get_by_id(server_id).server_type.name == "ccx33"

    confirmed = runner.invoke(cli, args, input="yes\n", env=sb.env())
    assert confirmed.exit_code == 0, confirmed.output
    assert "review: confirmed" in confirmed.output
    _assert_rescaled(sb, server_id, volume_id, "ccx43", disk)


def test_a_switch_reads_a_pg_backend_state_from_a_fresh_checkout(tmp_path, make_config, monkeypatch):
    """State in PostgreSQL ([state] backend = "pg"), and a work directory that was
    never initialised (another machine, CI): the switch still finds what runs."""
    import shutil

    from tests.conftest import BASE_TOML
    from tests.pipeline import sandbox_env
    from tests.pipeline.pg import LocalPostgres
    pg = LocalPostgres()
    try:
        monkeypatch.setenv("PG_CONN_STR", pg.start())
        box = sandbox_env.start(tmp_path, lambda: make_config(BASE_TOML + '\n[state]\nbackend = "pg"\n'))
        try:
            _ok(box.cli("generate", "--profile", "ccx33"))
            _ok(box.cli("deploy", "--profile", "ccx33"))
            server_id, volume_id = _ids(box)
            disk = box.client().servers.get_by_id(server_id).primary_disk_size
            assert not (box.workdir() / "terraform.tfstate").exists()    # the state is in pg
            shutil.rmtree(box.workdir())                                  # a fresh checkout
            done = _ok(box.cli("switch", "--to", "ccx43", "--stacks-dir", str(box.stacks),
                               "--config", str(box.config), timeout=300))
            assert "switch ccx33 -> ccx43" in done.stdout
            assert "Plan: 0 to create, 1 to update in place, 0 to replace, 0 to delete." in done.stdout
            _assert_rescaled(box, server_id, volume_id, "ccx43", disk)
        finally:
            sandbox_env.stop(box)
    finally:
        pg.stop()
