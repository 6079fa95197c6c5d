"""The s3 backend (use_lockfile) against a local S3-compatible server (moto)."""
import threading
import time

import pytest

from errors import TerraformError
from pipeline.stack import apply_saved, make_plan, open_session
from pipeline.target import Target
from runner.state import state_id
from tests.runner.conftest import SECRET, write_stack

pytestmark = pytest.mark.e2e

S3_KEY = "s3-secret-key-do-not-print"
SLOW = """
resource "terraform_data" "slow" {
  triggers_replace = [var.size]
  provisioner "local-exec" {
    command = "sleep 4"
  }
}
"""


def _backend(port: int) -> str:
    return f"""terraform {{
  backend "s3" {{
    bucket                      = "tfstate"
    key                         = "team/terraform.tfstate"
    region                      = "main"
    endpoints                   = {{ s3 = "http://127.0.0.1:{port}" }}
    use_lockfile                = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
    use_path_style              = true
  }}
}}
"""


@pytest.fixture(scope="module")
def s3_port():
    from moto.server import ThreadedMotoServer
    import boto3
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        port = server.get_host_and_port()[1]
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key=S3_KEY
                     ).create_bucket(Bucket="tfstate")
        yield port
    finally:
        server.stop()


def _session(tmp_path, name, port, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_KEY)
    stacks = tmp_path / name / "stacks"
    write_stack(stacks / "team")
    (stacks / "team" / "versions.tf").write_text(_backend(port))
    target = Target("sandbox", "http://127.0.0.1:9", SECRET, {"TF_VAR_hcloud_token": SECRET})
    return open_session(target, "team", stacks_dir=stacks, sandbox_dir=tmp_path / name / "sb",
                        lock_timeout="0s")


def test_state_in_bucket_and_lockfile_contention(tmp_path, s3_port, monkeypatch):
    alice = _session(tmp_path, "alice", s3_port, monkeypatch)
    make_plan(alice)
    apply_saved(alice)
    assert not (alice.ws.workdir / "terraform.tfstate").exists()
    first = state_id(alice.ws, alice.tf)
    assert first.serial >= 1

    bob = _session(tmp_path, "bob", s3_port, monkeypatch)
    write_stack(bob.ws.stack_dir, size="medium")
    assert make_plan(bob).state == first

    (alice.ws.stack_dir / "slow.tf").write_text(SLOW)
    write_stack(alice.ws.stack_dir, size="large")
    make_plan(alice)
    errors = []

    def slow_apply():
        try:
            apply_saved(alice)
        except Exception as exc:  # surfaced through the list below
            errors.append(exc)
    thread = threading.Thread(target=slow_apply)
    thread.start()
    time.sleep(2.0)
    with pytest.raises(TerraformError) as err:
        apply_saved(bob)
    thread.join(30)
    assert errors == []
    assert "Error acquiring the state lock" in str(err.value)
    assert S3_KEY not in str(err.value) + " ".join(err.value.diagnostics)
    after = state_id(alice.ws, alice.tf)
    assert after.lineage == first.lineage and after.serial > first.serial
