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
