"""``compare_bytes`` reads the reference block by block (so ``--verify`` against a 64 MiB
answer does not read 64 MiB more first); the finding must not depend on the block size."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.probe import bytecheck
from mediaserve.core.probe.bytecheck import ByteCheck, compare_bytes
from mediaserve.core.probe.verdicts import Level, ReadBytes

# no time limit per example: a loaded 2-core machine must not fail a test by timing
NO_DEADLINE = settings(deadline=None)

REFERENCE = bytes(range(256)) * 40  # 10,240 bytes, every offset's byte known


def _reader(source: bytes) -> ReadBytes:
    return lambda offset, length: source[offset:offset + length]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:] if at < len(data) else data


@NO_DEADLINE
@given(offset=st.integers(0, 11_000), length=st.integers(1, 3000),
       flip=st.one_of(st.none(), st.integers(0, 2999)), tail=st.binary(max_size=50),
       block=st.integers(1, 700))
def test_the_finding_does_not_depend_on_the_block_size(offset: int, length: int,
                                                      flip: int | None, tail: bytes,
                                                      block: int) -> None:
    # what a server might send for bytes offset..: right, one byte wrong, or running past
    # the reference's end with extra bytes
    data = REFERENCE[offset:offset + length]
    if flip is not None:
        data = _flip(data, flip)
    data += tail
    if not data:
        return
    whole = compare_bytes(data, offset, _reader(REFERENCE))  # one block: the whole content
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bytecheck, "COMPARE_BLOCK", block)
        assert compare_bytes(data, offset, _reader(REFERENCE)) == whole


@NO_DEADLINE
@given(offset=st.integers(0, 11_000), length=st.integers(1, 3000),
       flip=st.one_of(st.none(), st.integers(0, 2999)), tail=st.binary(max_size=50),
       cuts=st.lists(st.integers(0, 3050), max_size=8))
def test_a_stream_in_any_chunks_finds_what_the_whole_content_finds(
        offset: int, length: int, flip: int | None, tail: bytes, cuts: list[int]) -> None:
    # the client compares chunk by chunk as they arrive and keeps none of them
    data = REFERENCE[offset:offset + length]
    if flip is not None:
        data = _flip(data, flip)
    data += tail
    stream = ByteCheck(offset, _reader(REFERENCE))
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    for a, b in itertools.pairwise(bounds):
        stream.feed(data[a:b])
    assert stream.received == len(data)
    assert stream.finding() == compare_bytes(data, offset, _reader(REFERENCE))


def test_blocks_find_the_first_wrong_byte_and_the_end_of_the_reference(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bytecheck, "COMPARE_BLOCK", 100)
    asked: list[tuple[int, int]] = []

    def reference(offset: int, length: int) -> bytes:
        asked.append((offset, length))
        return REFERENCE[offset:offset + length]

    wrong = compare_bytes(_flip(REFERENCE[1000:1500], 250), 1000, reference)
    assert wrong is not None and wrong.level is Level.FAIL
    assert "byte 1250 is" in wrong.message
    assert asked == [(1000, 100), (1100, 100), (1200, 100)]  # no block after the first miss
    longer = compare_bytes(REFERENCE[10_000:] + b"extra", 10_000, reference)
    assert longer is not None
    assert longer.message == "content: reference ends at byte 10240, the server sent 5 bytes more"
    same = compare_bytes(REFERENCE, 0, reference)
    assert same is not None and same.level is Level.INFO and same.quiet
    assert max(length for _, length in asked) == 100
