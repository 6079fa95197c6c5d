"""The "ai" service: a stub of the team's AI layer. It answers POST /answer
with a deterministic summary of the text (word count, first words) so the
backend -> ai call over the Compose network is real, without a model."""
from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(text: str) -> dict:
    words = text.split()
    return {"model": "stub", "words": len(words), "summary": " ".join(words[:8])}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        if self.path != "/answer" or not 0 < size <= 64 * 1024:
            self.send_error(404 if self.path != "/answer" else 400)
            return
        data = json.dumps(answer(self.rfile.read(size).decode("utf-8", "replace"))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = lambda self: self.send_error(404 if self.path != "/health" else 204)  # noqa: E731 - health probe

    def log_message(self, fmt, *args) -> None:
        sys.stderr.write(f"{self.client_address[0]} {fmt % args}\n")


if __name__ == "__main__":
    port = int(os.environ.get("AI_PORT", "8100"))
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
