"""A loopback OpenAI-style chat server for the tests of the HTTP backend and the code on it (judge, identify,
construct): scripted replies, or a real local backend answering."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """An OpenAI-style /v1/chat/completions server on loopback: scripted replies or the tiny model."""

    def __init__(self, replies=None, chat=None, fail_first: int = 0, bodies=None) -> None:
        self.replies, self.chat, self.fail_first = list(replies or []), chat, fail_first
        self.bodies = list(bodies or [])  # raw response bodies, sent as they are (malformed answers)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    payload | {"_path": self.path, "_auth": self.headers.get("Authorization")}
                )
                if len(server.requests) <= server.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                if server.bodies:
                    body = server.bodies.pop(0)
                else:
                    if server.chat is not None:
                        texts = server.chat.chat(
                            [payload["messages"]],
                            max_new_tokens=payload["max_tokens"],
                            temperature=payload["temperature"],
                            n=payload["n"],
                        )[0]
                    else:
                        texts = [server.replies.pop(0) for _ in range(payload["n"])]
                    body = {
                        "choices": [
                            {"index": i, "message": {"role": "assistant", "content": t}}
                            for i, t in enumerate(texts)
                        ]
                    }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
