"""SIGINT during apply: forwarded to terraform once, clean report, the next deploy converges."""
import json
import signal
import threading

import pytest


pytestmark = pytest.mark.e2e


def test_sigint_during_apply_then_converge(sb):
    # Slow down server creation so there is an apply to interrupt.
    sb.fault(count=3, latency_ms=3000, path_prefix="/servers")
    proc = sb.popen("deploy", "--profile", "ccx33")
    lines: list[str] = []
    started = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if "hcloud_server.main: Creating..." in line:
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(60), "apply never started:\n" + "".join(lines)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)   # a guard against a hang, not a timing assert
    reader.join(10)
    stderr = proc.stderr.read()
    out = "".join(lines)
    assert proc.returncode == 130, out + stderr
    error_lines = [l for l in stderr.splitlines() if l.startswith("error:")]
    assert len(error_lines) == 1 and "interrupted: terraform stopped cleanly" in error_lines[0]
    assert "Traceback" not in stderr
    assert "[infra] interrupted: apply interrupted" in out
    # terraform finished its in-flight work (the slowed create) before exiting.
    state = json.loads((sb.workdir() / "terraform.tfstate").read_text())
    assert state["resources"], "terraform saved what it had created"

    # The next deploy plans what is left and converges; nothing is created twice.
    again = sb.cli("deploy", "--profile", "ccx33")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[infra] done" in again.stdout
    client = sb.client()
    assert len(client.servers.get_all()) == 1 and len(client.volumes.get_all()) == 1
    assert len(client.firewalls.get_all()) == 1
    final = sb.cli("plan", "--json")
    assert json.loads(final.stdout)["has_changes"] is False
