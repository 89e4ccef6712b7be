"""Shows, seasons and episodes from a catalog's paths: grouping, order, previous/next."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.naming import parse_path
from mediaserve.core.shows import Item, Shows, build_shows, show_id

SECRET = "ab" * 32

LIBRARY = [
    "TV/Show/Season 1/Show S01E01 - Pilot.mkv",
    "TV/Show/Season 1/Show S01E02 - Second.mkv",
    "TV/Show/Season 1/Show S01E02 - Second (1).mkv",  # a copy
    "TV/Show/Season 1/Show S01E03-E04 - Double.mkv",
    "TV/Show/Season 2/02 - Two Two.mkv",
    "TV/Show/Season 2/01 - Two One.mkv",
    "TV/Show/Season 2/Bonus.mkv",  # unnumbered: after the numbered ones
    "TV/Show/Specials/Show S00E01 - Christmas.mkv",
    "TV/Show.S03E01.720p.x264.mkv",  # a loose file of the same show, same scope
    "Kids/Show/Season 1/Show S01E01.mkv",  # another show of the same name
    "[Grp] Anime - 02 [1080p].mkv",
    "[Grp] Anime - 01 [1080p].mkv",
    "Daily/Daily 2023-01-06.mkv",
    "Daily/Daily 2023-01-05.mkv",
    "Films/Film (2017).mkv",
    "Home/IMG_0001.mp4",
]


def build(paths: list[str], secret: str | None = SECRET) -> tuple[Shows, dict[str, str]]:
    ids = {path: f"{n:012x}" for n, path in enumerate(paths)}
    items = [Item(ids[p], p, parse_path(p, 2025)) for p in paths]
    return build_shows(items, secret), ids


def outline(shows: Shows) -> list[tuple[str, str, list[tuple[int, list[str]]]]]:
    return [(show.name, show.scope,
             [(season.number, [item.parsed.title for item in season.episodes])
              for season in show.seasons])
            for show in shows.shows.values()]


def test_grouping_and_order() -> None:
    shows, _ids = build(LIBRARY)
    assert outline(shows) == [
        ("Anime", "", [(1, ["Anime - 01", "Anime - 02"])]),
        ("Daily", "", [(2023, ["Daily 2023-01-05", "Daily 2023-01-06"])]),
        ("Show", "Kids", [(1, ["Show S01E01"])]),
        ("Show", "TV", [
            (1, ["Show S01E01 - Pilot", "Show S01E02 - Second", "Show S01E02 - Second (1)",
                 "Show S01E03-E04 - Double"]),
            (2, ["Show S02E01 - Two One", "Show S02E02 - Two Two", "Bonus"]),
            (3, ["Show S03E01"]),
            (0, ["Show S00E01 - Christmas"]),
        ]),
    ]


def test_ids_are_derived_from_scope_and_name_and_keyed() -> None:
    shows, _ids = build(LIBRARY)
    tv = next(s for s in shows.shows.values() if s.scope == "TV")
    assert tv.id == show_id("TV", "show", SECRET) == show_id("TV", "SHOW.", SECRET)
    assert tv.id != show_id("Kids", "Show", SECRET)
    assert tv.id != show_id("TV", "Show", None) != show_id("TV", "Show", "cd" * 32)
    assert len(tv.id) == 12 and int(tv.id, 16) >= 0
    unkeyed, _ = build(LIBRARY, secret=None)
    assert [s.id for s in unkeyed.shows.values()] == [
        show_id(s.scope, s.name) for s in unkeyed.shows.values()]


def test_previous_and_next_cross_seasons_and_skip_copies() -> None:
    shows, ids = build(LIBRARY)
    tv = "TV/Show/Season 1/Show S01E0"
    chain = [f"{tv}1 - Pilot.mkv", f"{tv}2 - Second.mkv", f"{tv}3-E04 - Double.mkv",
             "TV/Show/Season 2/01 - Two One.mkv", "TV/Show/Season 2/02 - Two Two.mkv",
             "TV/Show/Season 2/Bonus.mkv", "TV/Show.S03E01.720p.x264.mkv"]
    for before, after in itertools.pairwise(chain):
        assert shows.next(ids[before]) == ids[after], before
        assert shows.previous(ids[after]) == ids[before], after
    assert shows.previous(ids[chain[0]]) is None
    assert shows.next(ids[chain[-1]]) is None  # not into the specials
    copy = ids[f"{tv}2 - Second (1).mkv"]
    assert shows.next(copy) == ids[chain[2]] and shows.previous(copy) == ids[chain[0]]
    special = ids["TV/Show/Specials/Show S00E01 - Christmas.mkv"]
    assert shows.next(special) is None and shows.previous(special) is None
    assert shows.next(ids["Films/Film (2017).mkv"]) is None
    assert shows.show_of(ids["Films/Film (2017).mkv"]) is None
    show = shows.show_of(ids[chain[3]])
    assert show is not None and show.first.id == ids[chain[0]]
    assert show.episode_count == 9


def test_next_unwatched_and_first_unwatched() -> None:
    shows, ids = build(LIBRARY)
    tv = "TV/Show/Season 1/Show S01E0"
    pilot, second, copy = (ids[f"{tv}1 - Pilot.mkv"], ids[f"{tv}2 - Second.mkv"],
                           ids[f"{tv}2 - Second (1).mkv"])
    double = ids[f"{tv}3-E04 - Double.mkv"]
    assert shows.next_unwatched(pilot, {pilot}) == second
    assert shows.next_unwatched(pilot, {pilot, copy}) == double  # a copy watched counts
    show = shows.show_of(pilot)
    assert show is not None
    assert shows.first_unwatched(show.id, set()) == pilot
    assert shows.first_unwatched(show.id, {pilot, copy}) == double
    everything = {item.id for season in show.seasons for item in season.episodes}
    assert shows.first_unwatched(show.id, everything) is None
    assert shows.first_unwatched("0" * 12, set()) is None
    assert shows.next_unwatched("f" * 12, set()) is None


def test_the_video_standing_for_an_episode_is_its_first_copy() -> None:
    shows, ids = build(LIBRARY)
    tv = "TV/Show/Season 1/Show S01E0"
    second, copy = ids[f"{tv}2 - Second.mkv"], ids[f"{tv}2 - Second (1).mkv"]
    assert shows.episode_of(copy) == shows.episode_of(second) == second
    assert shows.episode_of(second) == shows.next(ids[f"{tv}1 - Pilot.mkv"])
    assert shows.episode_of("f" * 12) == "f" * 12  # no episode: itself


# ---------------------------------------------------------------------------- properties

SHOW_NAMES = ["Show", "The Show", "Other", "Ünï Show", "24"]
LAYOUTS = [
    "{show}/Season {s}/{show} S{s:02d}E{e:02d}.mkv",
    "{show}/Season {s}/{e:02d} - Title {e}.mkv",
    "{show}.S{s:02d}E{e:02d}.720p.x264.mkv",
    "{show} - {s}x{e:02d}.mkv",
    "{show}/Season {s}/{show} S{s:02d}E{e:02d} (1).mkv",
    "{show}/Specials/{show} S00E{e:02d}.mkv",
]
episodes = st.lists(st.tuples(st.sampled_from(SHOW_NAMES), st.integers(1, 4),
                              st.integers(1, 30), st.sampled_from(LAYOUTS)),
                    min_size=1, max_size=60)


def _paths(specs: list[tuple[str, int, int, str]]) -> list[str]:
    return sorted({layout.format(show=show, s=s, e=e) for show, s, e, layout in specs})


@settings(max_examples=150)
@given(episodes, st.randoms(use_true_random=False))
def test_properties(specs: list[tuple[str, int, int, str]], rng: random.Random) -> None:
    paths = _paths(specs)
    shows, ids = build(paths)
    shuffled = paths[:]
    rng.shuffle(shuffled)
    again, _ = build(shuffled)
    assert outline(again) == outline(shows)  # the input's order does not matter
    seen: list[str] = []
    for show in shows.shows.values():
        numbers = [season.number for season in show.seasons]
        assert numbers == sorted(numbers, key=lambda n: (n == 0, n))
        regular = [i for s in show.seasons if s.number for i in s.episodes]
        for season in show.seasons:
            keys = [(i.parsed.episode or 0) for i in season.episodes]
            assert keys == sorted(keys)
            seen.extend(item.id for item in season.episodes)
        # walking next from the first episode visits every regular episode's slot in order
        walked, at = [], regular[0].id if regular else None
        while at is not None:
            walked.append(at)
            following = shows.next(at)
            if following is not None:
                assert shows.previous(following) == at
            at = following
        assert len(walked) == len({(i.parsed.season, i.parsed.episode) for i in regular})
    assert sorted(seen) == sorted(ids.values())  # every path is an episode of one show
    assert len(shows.shows) == len({s.id for s in shows.shows.values()})
