"""A long body is sent in chunks with the event loop's turn in between (nginx's
``sendfile_max_chunk``): one stream filling a big socket buffer must not hold every other
connection back for the whole fill."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from mediaserve.adapters.server.stream.sendfile import SENDFILE_CHUNK, Meter, send_span


async def test_a_long_span_lets_the_loop_run_between_chunks(tmp_path: Path) -> None:
    size = 8 * SENDFILE_CHUNK
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    # room for the whole body, so no chunk ever waits for the socket
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * size)
    right.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * size)
    left.setblocking(False)
    transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, left)
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = right.recv(1 << 20)
            except BlockingIOError:
                return
            received.extend(chunk)

    right.setblocking(False)
    loop.add_reader(right.fileno(), drain)
    turns = 0
    done = False

    async def other_connection() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_connection())
    await asyncio.sleep(0)
    fd = os.open(path, os.O_RDONLY)
    try:
        meter = Meter()
        turns = 0
        sent = await send_span(loop, transport, fd, 0, size, meter)
        done = True
    finally:
        os.close(fd)
        await other
    assert sent == size == meter.sent
    assert turns >= size // SENDFILE_CHUNK - 2  # a turn for the others after each chunk
    for _ in range(200):
        if len(received) == size:
            break
        await asyncio.sleep(0.01)
    loop.remove_reader(right.fileno())
    transport.close()
    right.close()
    assert received == path.read_bytes()
