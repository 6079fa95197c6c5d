"""Run the stand-in as a Terraform plugin process (go-plugin handshake).

Terraform starts the plugin, reads one handshake line from its stdout
(core protocol 1, plugin protocol 6, a unix socket and the server's TLS
certificate) and talks gRPC over that socket until it asks for shutdown.
The framework's own runner builds its servicer itself; this one installs
HcloudServicer instead.
"""
from __future__ import annotations

import base64
import os
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2_grpc as rpc
from tf.runner import _self_signed_cert

from sandbox.provider.servicer import HcloudServicer

_MAGIC_COOKIE = "TF_PLUGIN_MAGIC_COOKIE"


class _Controller(controller_rpc.GRPCControllerServicer):
    def __init__(self, stop: threading.Event):
        self._stop = stop

    def Shutdown(self, request, context):
        self._stop.set()
        return controller_pb.Empty()


class _Stdio(stdio_rpc.GRPCStdioServicer):
    def StreamStdio(self, request, context):
        return iter(())


def _ensure_cert_cache() -> None:
    """tf caches its TLS certificate under ~/.cache; without a writable HOME
    it would crash, so fall back to a private temporary HOME for this process."""
    try:
        cache = os.path.join(os.path.expanduser("~"), ".cache", "tf-python-provider")
        os.makedirs(cache, exist_ok=True)
        if os.access(cache, os.W_OK):
            return
    except OSError:
        pass
    os.environ["HOME"] = tempfile.mkdtemp(prefix="tf-hcloud-home-")


def serve(provider) -> int:
    if _MAGIC_COOKIE not in os.environ:
        print("This is a Terraform provider plugin: Terraform starts it, not you.",
              file=sys.stderr)
        return 1
    stop = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    rpc.add_ProviderServicer_to_server(_StoppingServicer(provider, stop), server)
    controller_rpc.add_GRPCControllerServicer_to_server(_Controller(stop), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(_Stdio(), server)
    _ensure_cert_cache()
    chain, credentials = _self_signed_cert()
    with tempfile.TemporaryDirectory(prefix="tf-hcloud-") as tmp:
        sock = os.path.join(tmp, "plugin.sock")
        server.add_secure_port(f"unix://{sock}", credentials)
        server.start()
        cert = base64.b64encode(chain).decode().rstrip("=")
        print(f"1|6|unix|{sock}|grpc|{cert}", flush=True)
        try:
            while not stop.wait(0.05):
                pass
        except KeyboardInterrupt:
            pass
        # In-flight calls (an apply terraform is waiting on after Ctrl-C) get
        # time to finish, so what they created reaches the state.
        server.stop(grace=30)
    return 0


class _StoppingServicer(HcloudServicer):
    def __init__(self, provider, stop: threading.Event):
        super().__init__(provider)
        self._stop_event = stop

    def StopProvider(self, request, context):
        # StopProvider asks to cancel in-flight work (terraform sends it on
        # Ctrl-C), not to exit: terraform still waits for those calls' replies
        # and ends the plugin later through GRPCController.Shutdown.
        return super().StopProvider(request, context)
