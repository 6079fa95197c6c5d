"""Entry point of the plugin process: `python -m sandbox.provider`."""
import sys

from sandbox.provider.provider import HcloudProvider
from sandbox.provider.serve import serve

sys.exit(serve(HcloudProvider()))
