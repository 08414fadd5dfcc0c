import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.signing import webhook_signer


class Receiver:
    """A webhook receiver on 127.0.0.1 that fails the first `fail_first` tries of each
    message, verifies signatures with `secret`, and processes each `webhook-id` once."""

    def __init__(self, fail_first: int = 2):
        self.fail_first = fail_first
        self.secret = ""
        self.tries = Counter()  # webhook-id -> requests received
        self.processed = []  # (webhook-id, type): what the deduping receiver acted on
        self.bodies = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message_id = self.headers["webhook-id"]
                valid = webhook_signer.verify(
                    secret=receiver.secret,
                    message_id=message_id,
                    timestamp=int(self.headers["webhook-timestamp"]),
                    body=body,
                    signature=self.headers["webhook-signature"],
                )
                with receiver.lock:
                    receiver.bodies.append(body)
                    receiver.tries[message_id] += 1
                    if not valid:
                        receiver.bad_signatures += 1
                    failing = receiver.tries[message_id] <= receiver.fail_first
                    if valid and not failing and message_id not in dict(receiver.processed):
                        receiver.processed.append((message_id, json.loads(body)["type"]))
                self.send_response(500 if failing or not valid else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def processed_types(self) -> list[str]:
        return sorted(kind for _, kind in self.processed)


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
