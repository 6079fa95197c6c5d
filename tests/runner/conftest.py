"""A tiny terraform_data stack: real terraform, no provider download needed."""
from __future__ import annotations

from pathlib import Path

import pytest

from runner.terraform import Terraform, terraform_env

SECRET = "tok-9f8e7d6c5b4a-secret"

STACK = """
variable "hcloud_token" {
  type      = string
  sensitive = true
}
variable "size" {
  type    = string
  default = "small"
}
variable "generation" {
  type    = string
  default = "1"
}
resource "terraform_data" "server" {
  input = var.size
}
resource "terraform_data" "volume" {
  input            = var.hcloud_token
  triggers_replace = [var.generation]
}
output "server_id" { value = terraform_data.server.id }
output "size" { value = terraform_data.server.output }
output "token_echo" {
  value     = var.hcloud_token
  sensitive = true
}
"""


def write_stack(directory: Path, size: str = "small", generation: str = "1") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(STACK)
    (directory / "terraform.tfvars").write_text(f'size = "{size}"\ngeneration = "{generation}"\n')
    return directory


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "stack")


@pytest.fixture
def tf(stack: Path) -> Terraform:
    return Terraform(stack, terraform_env(extra={"TF_VAR_hcloud_token": SECRET}))


OUTPUTS_STACK = """
output "hosts" {
  value = [{
    name = "demo-${var.size}", role = "all-in-one", id = 11, ipv4 = "203.0.113.9",
    ipv6 = "2001:db8::9", private_ip = "", firewall_id = 13, placement_group_id = "14",
    volume_device = "/dev/disk/by-id/scsi-0HC_Volume_12",
  }]
}
output "volume_id" { value = "12" }
output "ssh_key_id" { value = "15" }
"""


def write_full_stack(directory: Path, size: str = "small", generation: str = "1") -> Path:
    """The terraform_data stack plus every output a generated stack has."""
    write_stack(directory, size, generation)
    (directory / "outputs.tf").write_text(OUTPUTS_STACK)
    return directory
