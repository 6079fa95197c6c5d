from pathlib import Path

from pipeline.checkpoint import Checkpoint, key_of
from pipeline.destroy import override_text, protected_resources, refusal

REPO = Path(__file__).resolve().parents[2]


def test_checkpoint_round_trip_and_forget(tmp_path):
    path = tmp_path / "cp.json"
    cp = Checkpoint(path)
    k = key_of("infra", "abc", 3)
    assert cp.done("infra", k) is None
    cp.record("infra", k, {"n": 1})
    again = Checkpoint(path)
    assert again.done("infra", k) == {"n": 1}
    assert again.done("infra", key_of("infra", "abc", 4)) is None   # inputs changed
    again.forget("infra")
    assert Checkpoint(path).done("infra", k) is None
    path.write_text("{not json")
    assert Checkpoint(path).done("infra", k) is None                 # corrupt = start over


def test_committed_stack_protects_its_volume():
    assert ("hcloud_volume", "data") in protected_resources(REPO / "terraform" / "stacks" / "production")


def test_override_lifts_only_named_resources(tmp_path):
    text = override_text([("hcloud_volume", "data")])
    assert 'resource "hcloud_volume" "data"' in text and "prevent_destroy = false" in text
    (tmp_path / "main.tf").write_text(
        'resource "hcloud_volume" "data" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n')
    (tmp_path / "zz_destroy_volume_override.tf").write_text(text)
    assert protected_resources(tmp_path) == [("hcloud_volume", "data")]  # overrides ignored


def test_refusal_names_the_exact_command():
    assert refusal("staging", ["hcloud_volume.data"]).endswith(
        "run: hetzner-deploy destroy --env staging --confirm staging --destroy-volume")
