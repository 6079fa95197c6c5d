"""The stand-in `hetznercloud/hcloud` provider: configuration and resource list."""
from __future__ import annotations

import os
from urllib.parse import urlparse

from tf.iface import Provider

from generator.provider_schema import PROVIDER_SOURCE
from sandbox.provider import schema
from sandbox.provider.resources import ALL

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The emulator finishes actions almost at once; a short poll keeps applies fast.
POLL_SECONDS = 0.02

class HcloudProvider(Provider):
    def __init__(self, environ=None):
        self._environ = os.environ if environ is None else environ
        self._client = None  # an hcloud.Client once configured

    def get_model_prefix(self) -> str:
        return ""

    def full_name(self) -> str:
        return PROVIDER_SOURCE

    def get_provider_schema(self, diags):
        return schema.provider()

    def validate_config(self, diags, config):
        pass

    def configure_provider(self, diags, config):
        endpoint = (config or {}).get("endpoint") or self._environ.get("HCLOUD_ENDPOINT")
        token = (config or {}).get("token") or self._environ.get("HCLOUD_TOKEN")
        if not endpoint:
            diags.add_error(
                "No sandbox endpoint",
                "This stand-in provider only talks to the local Hetzner Cloud API "
                "emulator: set HCLOUD_ENDPOINT (or `endpoint`) to its URL.")
            return
        host = urlparse(endpoint).hostname
        if host not in LOOPBACK:
            diags.add_error(
                "Endpoint is not local",
                f"The sandbox provider refuses to call {host!r}: only 127.0.0.1 is allowed.")
            return
        if not token:
            diags.add_error("No API token", "Set HCLOUD_TOKEN or the provider's `token`.")
            return
        from hcloud import Client  # costly import: only when the API is needed
        self._client = Client(token=token, api_endpoint=endpoint.rstrip("/"),
                              application_name="hetzner-deploy-sandbox",
                              poll_interval=POLL_SECONDS, poll_max_retries=1500)

    def client(self):
        if self._client is None:
            raise RuntimeError("provider used before configuration")
        return self._client

    def get_data_sources(self):
        return []

    def get_resources(self):
        return list(ALL)

