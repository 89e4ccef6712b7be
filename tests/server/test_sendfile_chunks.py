"""A long body is sent in chunks with the event loop's turn in between (nginx's
``sendfile_max_chunk``): one stream filling a big socket buffer must not hold every other
connection back for the whole fill."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import types
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


def _pair(sndbuf: int) -> tuple[socket.socket, socket.socket]:
    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    right.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sndbuf)
    left.setblocking(False)
    right.setblocking(False)
    return left, right


async def test_a_span_on_a_full_socket_is_sent_from_one_writer_registration(
        tmp_path: Path) -> None:
    """A slow reader: the socket fills again and again. The span goes on from the writer
    callback, registered once; parking per wake-up cost a future, a task step and ~6
    ``epoll_ctl`` every time (W5: 1,000 slow streams, ~13,000 wake-ups a second)."""
    size = 4 * 1024 * 1024
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    loop = asyncio.get_running_loop()
    left, right = _pair(64 * 1024)
    transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, left)
    registrations = 0
    real_add_writer = loop.add_writer

    def counting_add_writer(fd: int, callback: object, *args: object) -> None:
        nonlocal registrations
        registrations += 1
        real_add_writer(fd, callback, *args)  # type: ignore[arg-type]

    loop.add_writer = counting_add_writer  # type: ignore[method-assign]
    received = bytearray()

    async def slow_reader() -> None:
        while len(received) < size:
            with contextlib.suppress(BlockingIOError):
                received.extend(right.recv(256 * 1024))
            await asyncio.sleep(0.002)

    reader = asyncio.create_task(slow_reader())
    fd = os.open(path, os.O_RDONLY)
    try:
        meter = Meter()
        sent = await asyncio.wait_for(send_span(loop, transport, fd, 0, size, meter), 60)
        await asyncio.wait_for(reader, 60)
    finally:
        del loop.add_writer
        os.close(fd)
        transport.close()
        right.close()
    assert sent == size == meter.sent
    assert received == path.read_bytes()
    assert registrations == 1  # one for the span, however many times the socket filled


async def test_a_transport_closed_while_its_socket_is_full_ends_the_span(
        tmp_path: Path) -> None:
    """The transport closes (shutdown) while nobody reads: the watched duplicate never
    turns writable, so the span must notice on its own, within about a second."""
    size = 8 * 1024 * 1024
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    loop = asyncio.get_running_loop()
    left, right = _pair(64 * 1024)
    transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, left)
    fd = os.open(path, os.O_RDONLY)
    meter = Meter()
    ended: list[str] = []

    async def answer() -> None:  # as the fast path's tail: the error is handled, not kept
        try:
            await send_span(loop, transport, fd, 0, size, meter)
        except ConnectionResetError as exc:
            ended.append(type(exc).__name__)

    gc.collect()
    try:
        task = asyncio.create_task(answer())
        while meter.sent == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # full by now: nobody reads
        transport.close()
        started = loop.time()
        await asyncio.wait_for(task, 10)
        assert ended == ["ConnectionResetError"]
        assert loop.time() - started < 3.0
        del task
        # and nothing of the stream is left in a reference cycle: with 1,000 slow streams
        # the full collection that freed ~33 objects per stream paused the loop 35-69 ms
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            frames = sorted({obj.f_code.co_name for obj in gc.garbage
                             if isinstance(obj, types.FrameType)})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert frames == []
    finally:
        os.close(fd)
        right.close()
    assert 0 < meter.sent < size
