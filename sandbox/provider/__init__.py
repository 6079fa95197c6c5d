"""Offline stand-in for the hetznercloud/hcloud Terraform provider.

Serves generator.provider_schema and performs CRUD against the local
Hetzner Cloud API emulator with the official hcloud client.
"""
