"""Property tests of mediaserve.core.http.ranges (RFC 9110 §13, §14).

The model test checks the spans against an independent bitmap model: the bytes covered
by the response must be exactly the union of the satisfiable requested ranges, split into
its maximal runs, in the request order of each run's earliest member.
"""

import itertools
import random
import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mediaserve.core.http.ranges import Conditionals, Plan, evaluate, make_validators
from tests.complexity import count_calls

CT = "video/mp4"
BOUNDARY = "prop-boundary"
STATUSES = {200, 206, 304, 412, 416}

sizes = st.one_of(st.integers(0, 3), st.integers(0, 20_000), st.integers(0, 2**63 - 1))
mtimes = st.integers(0, 2**62)
numbers = st.one_of(
    st.integers(0, 30_000).map(str),
    st.integers(0, 30_000).map(lambda n: "0" * 3 + str(n)),
    st.integers(0, 10**40).map(str),
    st.just("9" * 600),
)
int_range = st.tuples(numbers, st.one_of(st.just(""), numbers)).map(lambda t: f"{t[0]}-{t[1]}")
member = st.one_of(
    int_range,
    int_range,
    numbers.map(lambda n: f"-{n}"),
    st.sampled_from(["", " ", "abc", "-", "--1", "5-2", "0 -1", "\u0663-"]),
)
range_values = st.tuples(
    st.sampled_from(["bytes", "Bytes", "BYTES", "items", " bytes", ""]),
    st.lists(st.tuples(member, st.sampled_from(["", " ", "\t", " \t "])), max_size=8),
).map(lambda t: t[0] + "=" + ",".join(ws + m + ws for m, ws in t[1]))


INTERESTING = [
    "*",
    '"x"',
    'W/"x"',
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "",
    " ",
    ",",
]
any_text = st.one_of(st.text(), st.sampled_from(INTERESTING), range_values)


def sometimes(values: st.SearchStrategy[str], weight: int) -> st.SearchStrategy[str | None]:
    """Mostly absent (about weight in weight + 1), so that later §13.2.2 steps get reached."""
    return st.integers(0, weight).flatmap(lambda k: values if k == 0 else st.none())


conditionals = st.builds(
    Conditionals,
    range=st.one_of(st.none(), any_text, range_values, range_values),
    if_range=sometimes(any_text, 3),
    if_match=sometimes(any_text, 4),
    if_none_match=sometimes(any_text, 2),
    if_modified_since=sometimes(any_text, 2),
    if_unmodified_since=sometimes(any_text, 4),
)


def written(plan: Plan) -> int:
    return sum(len(p.preamble) + p.span.length for p in plan.parts) + len(plan.epilogue)


def check_invariants(method: str, plan: Plan, size: int) -> None:
    h = dict(plan.headers)
    assert len(h) == len(plan.headers)
    assert plan.status in STATUSES
    spans = sorted((p.span.first, p.span.last) for p in plan.parts)
    for first, last in spans:
        assert 0 <= first <= last < size
    for (_, last), (first, _) in itertools.pairwise(spans):
        assert last + 1 < first  # non-overlapping and not even adjacent (coalesced)
    if method == "GET":
        assert plan.content_length == written(plan)
        assert plan.send_body == (plan.status in (200, 206))
    else:
        assert plan.parts == () and plan.epilogue == b"" and not plan.send_body
    if plan.status == 304:
        assert "Content-Length" not in h and plan.content_length == 0
    else:
        assert h["Content-Length"] == str(plan.content_length)
    if plan.status == 200:
        assert plan.content_length == size
    if plan.status in (412, 416):
        assert plan.content_length == 0
    if plan.status == 206:
        assert method == "GET"
        if plan.multipart:
            assert len(plan.parts) >= 2 and plan.content_length < size
            assert h["Content-Type"].startswith("multipart/byteranges; boundary=")
        else:
            (part,) = plan.parts
            assert h["Content-Range"] == f"bytes {part.span.first}-{part.span.last}/{size}"
    if plan.status == 416:
        assert h["Content-Range"] == f"bytes */{size}"


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    cond=conditionals,
    size=sizes,
    mtime_ns=mtimes,
    max_ranges=st.integers(0, 200),
    cap=st.one_of(st.none(), st.integers(1, 50_000)),
)
def test_any_headers_never_raise_and_plans_are_consistent(
    method: str, cond: Conditionals, size: int, mtime_ns: int, max_ranges: int, cap: int | None
) -> None:
    v = make_validators(size, mtime_ns)
    plan = evaluate(method, cond, v, CT, max_ranges=max_ranges, open_ended_cap=cap)
    event(f"{method} {plan.status} multipart={plan.multipart}")
    check_invariants(method, plan, size)
    if method == "HEAD":  # §9.3.2 and §14.2: HEAD answers like a GET without Range
        get = evaluate("GET", Conditionals(**{**_fields(cond), "range": None}), v, CT)
        assert (plan.status, plan.headers, plan.content_length) == (
            get.status,
            get.headers,
            get.content_length,
        )


def _fields(cond: Conditionals) -> dict[str, str | None]:
    return dict(cond._asdict())


@settings(max_examples=300)
@given(cond=conditionals, size=sizes)
def test_matching_validators_are_recognised(cond: Conditionals, size: int) -> None:
    """Our own ETag/Last-Modified sent back always validate (§13.1.1, §13.1.2, §13.1.5)."""
    v = make_validators(size, 784_111_777_000_000_000)
    assert evaluate("GET", Conditionals(if_none_match=v.etag), v, CT).status == 304
    assert evaluate("GET", Conditionals(if_modified_since=v.last_modified), v, CT).status == 304
    plain = evaluate("GET", Conditionals(range=cond.range), v, CT, boundary=BOUNDARY)
    with_if_range = evaluate(
        "GET", Conditionals(range=cond.range, if_range=v.etag), v, CT, boundary=BOUNDARY
    )
    assert with_if_range == plain
    with_date = evaluate(
        "GET", Conditionals(range=cond.range, if_range=v.last_modified), v, CT, boundary=BOUNDARY
    )
    assert with_date == plain


# --- model test ---------------------------------------------------------------------------

model_members = st.lists(
    st.one_of(
        st.tuples(st.just("int"), st.integers(0, 6000), st.integers(0, 6000)),  # a-b (b >= a)
        st.tuples(st.just("int"), st.integers(0, 6000), st.integers(0, 300)).map(
            lambda t: (t[0], t[1], t[1] + t[2])  # short spans, so that runs stay apart
        ),
        st.tuples(st.just("int"), st.integers(0, 6000), st.none()),  # a-
        st.tuples(st.just("suffix"), st.integers(0, 600), st.none()),  # -n
    ),
    min_size=1,
    max_size=25,
)


def render(members: list[tuple[str, int, int | None]], rnd: random.Random) -> str:
    out = []
    for kind, a, b in members:
        text = f"-{a}" if kind == "suffix" else f"{a}-{'' if b is None else b}"
        out.append(rnd.choice(["", " ", "\t"]) + text + rnd.choice(["", " "]))
        if rnd.random() < 0.1:
            out.append(rnd.choice(["", " "]))  # empty list element
    return rnd.choice(["bytes", "Bytes"]) + "=" + ",".join(out)


def multipart_length(runs: list[tuple[int, int]], size: int) -> int:
    total = 0
    for i, (a, b) in enumerate(runs):
        head = f"--{BOUNDARY}\r\nContent-Type: {CT}\r\nContent-Range: bytes {a}-{b}/{size}\r\n\r\n"
        total += (2 if i else 0) + len(head) + b - a + 1
    return total + len(f"\r\n--{BOUNDARY}--\r\n")


@settings(max_examples=1000)
@given(members=model_members, size=st.integers(0, 5000), seed=st.integers(0, 2**32))
def test_spans_match_bitmap_model(
    members: list[tuple[str, int, int | None]], size: int, seed: int
) -> None:
    # Keep the set valid (last-pos >= first-pos): invalid sets are covered elsewhere.
    members = [(k, a, b if b is None or b >= a else a) for k, a, b in members]
    header = render(members, random.Random(seed))
    v = make_validators(size, 0)
    plan = evaluate("GET", Conditionals(range=header), v, CT, max_ranges=1000, boundary=BOUNDARY)
    check_invariants("GET", plan, size)

    # Independent model: mark requested bytes, one member at a time.
    bitmap = bytearray(size)
    spans = []
    for kind, a, b in members:
        if kind == "suffix":
            first, last = max(size - a, 0), size - 1 if a > 0 else -1
        else:
            first, last = a, size - 1 if b is None else min(b, size - 1)
        spans.append((first, last))
        if first <= last:
            bitmap[first : last + 1] = b"\x01" * (last - first + 1)
    runs = [(m.start(), m.end() - 1) for m in re.finditer(rb"\x01+", bitmap)]

    def earliest(run: tuple[int, int]) -> int:
        return min(i for i, (f, la) in enumerate(spans) if f <= la and run[0] <= f <= run[1])

    runs.sort(key=earliest)
    got = [(p.span.first, p.span.last) for p in plan.parts]
    event(f"{plan.status} multipart={plan.multipart}")
    if not runs:
        assert plan.status == 416
    elif len(runs) == 1:
        assert plan.status == 206 and not plan.multipart and got == runs
    elif multipart_length(runs, size) >= size:
        assert plan.status == 200 and got == [(0, size - 1)]
    else:
        assert plan.status == 206 and plan.multipart and got == runs
        assert plan.content_length == multipart_length(runs, size)


@settings(max_examples=500)
@given(
    first=numbers,
    last=st.one_of(st.just(""), numbers),
    size=sizes,
    cap=st.one_of(st.none(), st.integers(1, 50_000)),
)
def test_fast_path_agrees_with_general_parser(
    first: str, last: str, size: int, cap: int | None
) -> None:
    """`bytes=a-b` takes the fast path; `bytes= a-b` (OWS) the general one: same answer."""
    v = make_validators(size, 0)
    fast = evaluate("GET", Conditionals(range=f"bytes={first}-{last}"), v, CT, open_ended_cap=cap)
    slow = evaluate("GET", Conditionals(range=f"bytes= {first}-{last}"), v, CT, open_ended_cap=cap)
    assert fast == slow


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, 2**40))
def test_ten_thousand_random_ranges_are_fast(seed: int, size: int) -> None:
    rnd = random.Random(seed)
    members = []
    for _ in range(10_000):
        a = rnd.randrange(size + 10)
        kind = rnd.random()
        if kind < 0.1:
            members.append(f"-{a}")
        elif kind < 0.2:
            members.append(f"{a}-")
        else:
            members.append(f"{a}-{a + rnd.randrange(1000)}")
    cond = Conditionals(range="bytes=" + ", ".join(members))
    v = make_validators(size, 0)
    plans = []
    calls = count_calls(lambda: plans.append(evaluate("GET", cond, v, CT, max_ranges=10_000)))
    check_invariants("GET", plans[0], size)
    # O(n log n): a bounded number of calls per member (measured ~14), whatever the sizes
    assert calls < 40 * len(members), calls
