"""The probe failure kind in the index: written, read back, and derived for old indexes."""

from __future__ import annotations

import pytest

from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import (
    IndexFormatError,
    LibraryIndex,
    MediaFacts,
    ProbeOutcome,
    VideoEntry,
    apply_scan,
    dumps,
    loads,
)
from mediaserve.core.library.status import EntryStatus

OLD = """\
schema_version = 1
root = "/media"

[videos.{vid}]
path = "a.mp4"
size = 10
mtime_ns = 20
status = "error"
error = "{error}"
"""


@pytest.mark.parametrize(("error", "kind"), [
    ("cannot stat: No such file or directory", ProbeFailure.CANNOT_STAT),
    ("empty file", ProbeFailure.EMPTY),
    ("cannot read: Permission denied", ProbeFailure.UNREADABLE),
    ("cannot open container (InvalidData): junk", ProbeFailure.NOT_MEDIA),
    ("cannot open container: x", ProbeFailure.NOT_MEDIA),
    ("something a person typed", None),
])
def test_an_index_without_kinds_gets_them_from_the_messages(error: str, kind: ProbeFailure):
    """Indexes written before kinds existed still load; the kind comes from the message
    once, on load, and is written explicitly by the next save."""
    vid = video_id("a.mp4")
    entry = loads(OLD.format(vid=vid, error=error)).videos[vid]
    assert entry.error == error and entry.error_kind is kind
    saved = dumps(LibraryIndex(root="/media", videos={vid: entry}))
    assert (f'error_kind = "{kind}"' in saved) is (kind is not None)


def test_the_kind_round_trips_and_outranks_the_message():
    vid = video_id("a.mp4")
    entry = VideoEntry(vid, "a.mp4", 10, 20, EntryStatus.ERROR, MediaFacts(),
                       error="the words changed", error_kind=ProbeFailure.UNREADABLE)
    index = LibraryIndex(root="/media", videos={vid: entry})
    assert loads(dumps(index)) == index


@pytest.mark.parametrize("value", ['"gremlins"', "3", '"EMPTY"'])
def test_an_unknown_kind_is_a_format_error_with_its_line(value: str):
    text = OLD.format(vid=video_id("a.mp4"), error="x") + f"error_kind = {value}\n"
    with pytest.raises(IndexFormatError) as info:
        loads(text, source="idx.toml")
    assert info.value.line == 10
    assert "'error_kind' must be one of cannot-stat, empty, unreadable, not-media" in str(
        info.value)


def test_a_scan_records_the_kind_the_prober_gave():
    from mediaserve.core.library.index import FileState

    probed = {"a.mp4": ProbeOutcome(MediaFacts(), "empty file", ProbeFailure.EMPTY)}
    index, _ = apply_scan(None, "/media", [FileState("a.mp4", 0, 1)], probed)
    assert index.videos[video_id("a.mp4")].error_kind is ProbeFailure.EMPTY
