"""The answer a connection gives itself to a request it cannot frame (then it closes).

These are the only answers not written by the stream job or by aiohttp: a request that
cannot be framed without doubt never reaches either (``connection.py``), and a 503 when
aiohttp's side of the server could not be built (``delegate.py``).
"""

from __future__ import annotations

import json

SERVER_NAME = "mediaserve"
_REASONS = {400: "Bad Request", 413: "Content Too Large", 414: "URI Too Long",
            417: "Expectation Failed", 431: "Request Header Fields Too Large",
            501: "Not Implemented", 503: "Service Unavailable",
            505: "HTTP Version Not Supported"}


def error_bytes(status: int, message: str) -> bytes:
    """A JSON error answer that closes the connection, in the server's own framing."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nServer: {SERVER_NAME}\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body
