"""The facts the playback decision needs, in the index: TOML form, validation, and the
probe version that makes the next scan re-probe entries written before these facts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.library.facts import (
    PROBE_VERSION,
    AudioTrack,
    MediaFacts,
    display_size,
    facts_json,
    probe_is_stale,
    quarter_turn,
)
from mediaserve.core.library.index import (
    FileState,
    IndexFormatError,
    LibraryIndex,
    VideoEntry,
    dumps,
    files_to_probe,
    loads,
)

OLD_ENTRY = """\
schema_version = 1
root = "/media"

[videos.0123456789ab]
path = "a.mkv"
size = 10
mtime_ns = 20
status = "ok"
video_codec = "h264"
audio_codec = "ac3"
"""


def test_an_index_written_before_probe_versions_loads_and_is_reprobed():
    index = loads(OLD_ENTRY)
    entry = index.videos["0123456789ab"]
    assert entry.probe_version == 1
    assert entry.facts.audio_tracks == () and entry.facts.rotation is None
    same = FileState("a.mkv", 10, 20)
    assert files_to_probe(index, [same]) == [same]  # unchanged file, older probe


def test_a_current_entry_is_not_reprobed():
    entry = VideoEntry("0123456789ab", "a.mkv", 10, 20)
    index = LibraryIndex("/media", {entry.id: entry})
    assert loads(dumps(index)).videos[entry.id].probe_version == PROBE_VERSION
    assert files_to_probe(index, [FileState("a.mkv", 10, 20)]) == []


def test_new_facts_round_trip_and_read_like_toml():
    facts = MediaFacts(video_codec="hevc", video_profile="Main 10", pixel_format="yuv420p10le",
                       bit_depth=10, rotation=90, audio_codec="eac3",
                       audio_tracks=(AudioTrack("eac3", 6, "eng"), AudioTrack("aac", 2, None)))
    entry = VideoEntry("0123456789ab", "a.mkv", 10, 20, facts=facts)
    text = dumps(LibraryIndex("/media", {entry.id: entry}))
    assert '{ codec = "eac3", channels = 6, language = "eng" }' in text
    assert f"probe_version = {PROBE_VERSION}" in text
    assert loads(text).videos[entry.id] == entry


@pytest.mark.parametrize("value", [
    '"aac"', "[1]", '[{ codec = 1 }]', '[{ channels = true }]', '[{ codec = "a", x = 1 }]',
    "[" + ", ".join(['{ codec = "aac" }'] * 33) + "]",
])
def test_bad_audio_tracks_are_refused_with_their_line(value: str):
    with pytest.raises(IndexFormatError) as caught:
        loads(OLD_ENTRY + f"audio_tracks = {value}\n")
    assert "audio_tracks" in str(caught.value) and caught.value.line == 11


@pytest.mark.parametrize("value", ["0", "true", '"2"', "1001"])
def test_bad_probe_version_is_refused(value: str):
    with pytest.raises(IndexFormatError, match="probe_version"):
        loads(OLD_ENTRY + f"probe_version = {value}\n")


_text = st.none() | st.text(min_size=1, max_size=8)
_tracks = st.lists(st.builds(AudioTrack, _text, st.none() | st.integers(0, 64), _text),
                   max_size=4).map(tuple)


@settings(max_examples=50)
@given(tracks=_tracks, rotation=st.none() | st.sampled_from([0, 90, 180, 270]),
       depth=st.none() | st.integers(1, 16), version=st.integers(1, 1000))
def test_round_trip_property(tracks, rotation, depth, version):
    facts = MediaFacts(audio_tracks=tracks, rotation=rotation, bit_depth=depth,
                       video_profile="High", pixel_format="yuv420p")
    entry = VideoEntry("0123456789ab", "x.mp4", 1, 2, facts=facts, probe_version=version)
    assert loads(dumps(LibraryIndex("/m", {entry.id: entry}))).videos[entry.id] == entry


@pytest.mark.parametrize(("rotation", "turn"), [
    (None, 0), (0, 0), (90, 90), (180, 180), (270, 270), (-90, 270), (360, 0), (44, 0),
    (46, 90), (360 * 10**400 + 90, 90)], ids=str)
def test_quarter_turn_of_any_whole_number(rotation, turn):
    assert quarter_turn(rotation) == turn


def test_the_displayed_size_of_a_phone_video_is_portrait():
    phone = MediaFacts(width=640, height=360, rotation=90)
    assert display_size(phone) == (360, 640)
    assert display_size(MediaFacts(width=640, height=360, rotation=180)) == (640, 360)
    assert display_size(MediaFacts(width=640, height=360)) == (640, 360)  # unknown: as stored
    doc = facts_json(phone)
    assert (doc["width"], doc["height"], doc["coded_width"], doc["coded_height"]) == (
        360, 640, 640, 360)
    assert doc["rotation"] == 90


@pytest.mark.parametrize(("version", "container", "stale"), [
    (1, "mp4", True), (2, "mp4", False), (2, None, False), (2, "matroska", True),
    (2, "webm", True), (3, "matroska", False), (PROBE_VERSION, "webm", False)])
def test_only_matroska_entries_of_version_2_are_probed_again(version, container, stale):
    """Version 3 added Matroska's rotation: other entries of version 2 are current."""
    assert probe_is_stale(version, container) is stale
    entry = VideoEntry("0123456789ab", "a.x", 10, 20, facts=MediaFacts(container=container),
                       probe_version=version)
    index = LibraryIndex("/media", {entry.id: entry})
    assert bool(files_to_probe(index, [FileState("a.x", 10, 20)])) is stale
