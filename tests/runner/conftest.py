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
output "server_name" { value = "demo-${var.size}" }
output "server_ipv4" { value = "203.0.113.9" }
output "server_ipv6" { value = "2001:db8::9" }
output "volume_id" { value = "12" }
output "volume_linux_device" { value = "/dev/disk/by-id/scsi-0HC_Volume_12" }
output "firewall_id" { value = 13 }
output "placement_group_id" { value = "14" }
output "ssh_key_id" { value = "15" }
"""


def write_full_stack(directory: Path, size: str = "small", generation: str = "1") -> Path:
    """The terraform_data stack plus every output a generated stack has (server_id is
    in STACK already as terraform_data.server.id; it is not numeric, so it is overridden)."""
    write_stack(directory, size, generation)
    text = (directory / "main.tf").read_text().replace(
        'output "server_id" { value = terraform_data.server.id }',
        'output "server_id" { value = length(terraform_data.server.id) }')
    (directory / "main.tf").write_text(text)
    (directory / "outputs.tf").write_text(OUTPUTS_STACK)
    return directory
