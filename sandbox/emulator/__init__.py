"""A local stand-in for the Hetzner Cloud API (/v1), for the sandbox and tests.

    server = make_server(state_dir, port=0, token="t")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ... server.url ...   # http://127.0.0.1:PORT/v1
    server.close()
"""
from .httpserver import EmulatorServer, make_server

__all__ = ["EmulatorServer", "make_server"]
