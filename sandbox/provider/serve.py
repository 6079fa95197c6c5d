"""Run the stand-in as a Terraform plugin process (go-plugin handshake).

Terraform starts the plugin, reads one handshake line from its stdout
(core protocol 1, plugin protocol 6, a unix socket and the server's TLS
certificate) and talks gRPC over that socket until it asks for shutdown.
The framework's own runner builds its servicer itself; this one installs
HcloudServicer instead.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2_grpc as rpc

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


_OWN_CACHE = "hcloud-standin-cert.json"


def _credentials():
    """(certificate chain, gRPC server credentials) for the handshake.

    tf caches its self-signed certificate, but checks the cache's expiry by
    importing cryptography, about 0.15 s of every plugin start. The stand-in
    keeps the same certificate beside it with its expiry as a number, and
    asks tf (and cryptography) only when that copy is missing or expiring.
    """
    import grpc
    cache_dir = Path(os.path.expanduser("~")) / ".cache" / "tf-python-provider"
    own = cache_dir / _OWN_CACHE
    try:
        data = json.loads(own.read_text())
        if float(data["not_after"]) > time.time() + 3600:
            return base64.b64decode(data["chain"]), grpc.ssl_server_credentials(
                [(data["key"].encode(), data["cert"].encode())], require_client_auth=False)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from tf.runner import _get_cert_cache_path, _self_signed_cert
    made = _self_signed_cert()
    try:
        from cryptography import x509
        cached = json.loads(_get_cert_cache_path().read_text())
        cert = x509.load_pem_x509_certificate(cached["cert_pem"].encode())
        text = json.dumps({"chain": cached["cert_chain"], "key": cached["key_pem"],
                           "cert": cached["cert_pem"],
                           "not_after": cert.not_valid_after_utc.timestamp()})
        tmp = own.with_name(f".{_OWN_CACHE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds a key
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, own)
    except (OSError, ValueError, KeyError):
        pass  # no copy this time: the next start asks tf again
    return made


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
    chain, credentials = _credentials()
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
