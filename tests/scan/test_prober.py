"""The PyAV prober against files generated for the test: every MediaFacts field is compared
with what was encoded, and no file, however broken, makes it raise."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import av
import pytest

from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.media.prober import count_video_packets, probe
from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.index import FACT_FIELDS, MediaFacts, ProbeOutcome
from tests.conftest import (
    ALL_NAMES,
    BIT_RATE_TOLERANCE,
    CLIPS,
    DURATION_TOLERANCE,
    EMPTY,
    RANDOM,
    TRUNCATED,
    Corpus,
)

APPROXIMATE = {"duration": DURATION_TOLERANCE, "bit_rate": BIT_RATE_TOLERANCE}


def need(*encoders: str) -> None:
    missing = [e for e in encoders if e not in av.codecs_available]
    if missing:
        pytest.skip(f"encoder {', '.join(missing)} not in this PyAV build")


def assert_facts(facts: MediaFacts, expected: dict, name: str) -> None:
    assert set(expected) == set(FACT_FIELDS), "the corpus must describe every field"
    for field in FACT_FIELDS:
        got, want = getattr(facts, field), expected[field]
        if want is not None and field in APPROXIMATE:
            assert got == pytest.approx(want, rel=APPROXIMATE[field]), f"{name}: {field}"
        else:
            assert got == want, f"{name}: {field} is {got!r}, expected {want!r}"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_field_matches_what_was_generated(corpus: Corpus, name: str):
    item = corpus.require(name)
    outcome = probe(corpus.path(name))
    if item.probe_error is None:
        assert outcome.error is None, f"{name}: {outcome.error}"
    else:
        assert outcome.error is not None and item.probe_error in outcome.error
    assert_facts(outcome.facts, item.expected, name)


def test_facts_have_the_documented_types(corpus: Corpus):
    facts = probe(corpus.path(corpus.require("h264_aac_faststart.mp4").name)).facts
    assert isinstance(facts.duration, float) and isinstance(facts.frame_rate, float)
    assert all(isinstance(v, int) for v in (facts.width, facts.height, facts.frames,
                                            facts.bit_rate))
    assert isinstance(facts.faststart, bool) and isinstance(facts.truncated, bool)


def test_probe_accepts_str_and_path(corpus: Corpus):
    name = corpus.require("vp9_opus.webm").name
    assert probe(str(corpus.path(name))) == probe(corpus.path(name))


def test_empty_and_random_files_give_no_facts(corpus: Corpus):
    assert probe(corpus.path(EMPTY)) == ProbeOutcome(MediaFacts(), "empty file",
                                                     ProbeFailure.EMPTY)
    random_outcome = probe(corpus.path(RANDOM))
    assert random_outcome.facts == MediaFacts()
    assert random_outcome.kind is ProbeFailure.NOT_MEDIA
    assert random_outcome.error.startswith("cannot open container (InvalidData)")
    assert "\n" not in random_outcome.error


def test_missing_file_and_folder(tmp_path: Path):
    gone = probe(tmp_path / "nope.mp4")
    assert gone.facts == MediaFacts() and gone.error.startswith("cannot stat")
    assert gone.kind is ProbeFailure.CANNOT_STAT
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    outcome = probe(folder)
    assert outcome.facts == MediaFacts() and outcome.error.startswith("cannot read")
    assert outcome.kind is ProbeFailure.UNREADABLE


def test_moov_at_end_cut_in_half_is_an_error_flagged_truncated(corpus: Corpus, tmp_path: Path):
    data = corpus.path(corpus.require("h264_aac_moov_at_end.mp4").name).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    outcome = probe(cut)
    assert outcome.error is not None and outcome.error.startswith("cannot open container")
    assert outcome.kind is ProbeFailure.NOT_MEDIA
    assert outcome.facts == MediaFacts(truncated=True)


def test_truncated_webm_counts_the_packets_left(corpus: Corpus, tmp_path: Path):
    item = corpus.require("vp9_opus.webm")
    data = corpus.path(item.name).read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])
    facts = probe(cut).facts
    assert facts.truncated is True and facts.container == "webm"
    assert 0 < facts.frames < item.expected["frames"]  # no metadata count: packets counted


@pytest.mark.parametrize("name", list(CLIPS))
def test_no_prefix_of_a_clip_makes_probe_raise(corpus: Corpus, tmp_path: Path, name: str):
    data = corpus.path(corpus.require(name).name).read_bytes()
    target = tmp_path / name
    for cut in sorted({*range(0, 64, 7), *range(0, len(data), max(1, len(data) // 12))}):
        target.write_bytes(data[:cut])
        outcome = probe(target)  # must not raise
        assert outcome.error is None or "\n" not in outcome.error
        assert (outcome.error is None) is (outcome.kind is None)  # a failure always has a kind
        if outcome.error is None:
            assert outcome.facts.container is not None


def test_random_files_never_raise(tmp_path: Path):
    rng = random.Random(7)
    for i, ext in enumerate(["mp4", "webm", "mkv", "avi", "mov", "ts"] * 3):
        target = tmp_path / f"r{i}.{ext}"
        header = rng.choice([b"", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x18ftypisom"])
        target.write_bytes(header + rng.randbytes(rng.randrange(1, 4096)))
        outcome = probe(target)
        assert outcome.error is not None or outcome.facts.container is not None


def test_container_comes_from_the_header_not_the_extension(corpus: Corpus, tmp_path: Path):
    webm = corpus.path(corpus.require("vp9_opus.webm").name)
    mkv = corpus.path(corpus.require("h264_aac.mkv").name)
    mp4 = corpus.path(corpus.require("h264_aac_moov_at_end.mp4").name)
    shutil.copy(webm, tmp_path / "really_webm.mkv")
    shutil.copy(mkv, tmp_path / "really_mkv.webm")
    shutil.copy(mp4, tmp_path / "really_mp4.mkv")
    assert probe(tmp_path / "really_webm.mkv").facts.container == "webm"
    assert probe(tmp_path / "really_mkv.webm").facts.container == "matroska"
    facts = probe(tmp_path / "really_mp4.mkv").facts
    assert (facts.container, facts.faststart) == ("mp4", False)


@pytest.mark.parametrize("faststart", [True, False])
def test_mov_is_recorded_as_mov_with_faststart(tmp_path: Path, faststart: bool):
    need("libx264", "aac")
    path = encode_clip(tmp_path, ClipSpec("clip.mov", faststart=faststart))
    facts = probe(path).facts
    assert (facts.container, facts.video_codec, facts.faststart) == ("mov", "h264", faststart)


def test_audio_only_file_has_no_video_facts(tmp_path: Path):
    need("aac")
    path = encode_clip(tmp_path, ClipSpec("voice.mp4", video_codec=None))
    outcome = probe(path)
    assert outcome.error is None
    facts = outcome.facts
    assert (facts.container, facts.audio_codec) == ("mp4", "aac")
    assert (facts.video_codec, facts.width, facts.height, facts.frame_rate, facts.frames) == (
        None, None, None, None, None)
    assert facts.duration == pytest.approx(2.0, rel=DURATION_TOLERANCE)


def test_avi_frame_count_ignores_the_padding_packet(tmp_path: Path):
    # FFmpeg's AVI muxer with an audio stream writes one empty video packet, which the
    # header counts as a frame; the prober must count the 20 coded ones
    need("mpeg4", "libmp3lame")
    path = encode_clip(tmp_path, ClipSpec("old.avi", video_codec="mpeg4",
                                          audio_codec="libmp3lame"))
    facts = probe(path).facts
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("avi", "mpeg4", "mp3")
    assert facts.frames == 20


def test_count_video_packets_stops_at_the_limit(corpus: Corpus):
    path = corpus.path(corpus.require("h264_aac.mkv").name)
    with av.open(str(path)) as container:
        assert count_video_packets(container, container.streams.video[0], limit=5) == 5
    with av.open(str(path)) as container:
        assert count_video_packets(container, container.streams.video[0]) == 20


def test_truncated_is_flagged_only_for_the_cut_file(corpus: Corpus):
    corpus.require(TRUNCATED)
    flagged = {name for name in corpus.files if probe(corpus.path(name)).facts.truncated}
    assert flagged == {TRUNCATED}


def test_a_pixel_bomb_is_probed_without_decoding_its_frames(tmp_path: Path) -> None:
    """Three 16000 x 16000 PNG frames in 3 MB (issue 17): FFmpeg decodes a frame while it
    reads the parameters, 768 MB for this one, in `scan` and in `serve --watch`'s child.
    The decoder's pixel cap refuses it first; the size is recorded as unknown. In a child,
    so the peak (VmHWM) is the probe's own."""
    import json
    import subprocess
    import sys

    from benchmarks.frame_memory import png_bomb

    bomb = png_bomb(tmp_path / "bomb.mov")
    code = (f"from mediaserve.adapters.media.prober import probe\nimport av, json\n"
            f"def hwm():\n    with open('/proc/self/status') as status:\n"
            f"        return next(int(l.split()[1]) for l in status if l.startswith('VmHWM'))\n"
            f"before = hwm()\noutcome = probe({str(bomb)!r})\n"
            f"print(json.dumps([outcome.facts.video_codec, outcome.facts.width, "
            f"outcome.error, (hwm() - before) * 1024]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    codec, width, error, growth = json.loads(done.stdout.strip().splitlines()[-1])
    assert (codec, width, error) == ("png", None, None)
    assert growth < 100 * 1024 * 1024, f"grew {growth / 2**20:.0f} MiB"
