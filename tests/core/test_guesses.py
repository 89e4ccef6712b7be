"""The guessing budgets (issue 17, finding 5): failed logins per address with backoff, a
bounded table, and scrypt lanes in which a client that is not failing never queues behind
guesses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mediaserve.core.http.guesses import (
    Admitted,
    Grant,
    GuessBudget,
    Lane,
    Lanes,
    Outcome,
    Refused,
    client_key,
)


def fail(budget: GuessBudget, key: str, now: float) -> Admitted | Refused:
    verdict = budget.admit(key, now)
    if isinstance(verdict, Admitted):
        budget.settle(key, now, Outcome.WRONG)
    return verdict


def test_free_failures_then_doubling_waits_with_retry_after() -> None:
    budget = GuessBudget(attempts=3)
    for _ in range(3):
        assert isinstance(fail(budget, "a", 100.0), Admitted)
    assert budget.admit("a", 100.0) == Refused(1)
    assert isinstance(fail(budget, "a", 101.0), Admitted)  # waited 1 s
    assert budget.admit("a", 101.5) == Refused(2)  # now 2 s, from the last failure
    assert budget.admit("a", 102.9) == Refused(1)
    assert isinstance(fail(budget, "a", 103.0), Admitted)
    assert budget.admit("a", 103.0) == Refused(4)
    now = 103.0
    for _ in range(20):  # capped at 15 minutes
        now += 1000
        assert isinstance(fail(budget, "a", now), Admitted)
    assert budget.admit("a", now) == Refused(900)
    assert isinstance(budget.admit("b", now), Admitted)  # others are not affected


def test_an_hour_without_failure_starts_over() -> None:
    budget = GuessBudget(attempts=2)
    for now in (0.0, 0.0, 1.0, 3.0, 7.0):
        assert isinstance(fail(budget, "a", now), Admitted)
    assert budget.admit("a", 10.0) == Refused(5)  # 8 s after the last failure
    assert budget.admit("a", 7.0 + 3599) == Admitted(Lane.SUSPECT)  # still remembered
    budget.settle("a", 7.0 + 3599, Outcome.OK)
    assert budget.admit("a", 7.0 + 3600) == Admitted(Lane.CLEAN)


def test_success_neither_needs_nor_resets_the_budget() -> None:
    budget = GuessBudget(attempts=2)
    assert budget.admit("a", 0.0) == Admitted(Lane.CLEAN)
    budget.settle("a", 0.0, Outcome.OK)
    assert len(budget) == 0  # a clean success leaves no trace
    fail(budget, "a", 1.0)
    fail(budget, "a", 1.0)
    verdict = budget.admit("a", 2.5)  # the wait of 1 s is over
    assert verdict == Admitted(Lane.SUSPECT)
    budget.settle("a", 2.5, Outcome.OK)  # the attacker's own good account...
    assert isinstance(fail(budget, "a", 2.5), Admitted)
    assert budget.admit("a", 3.0) == Refused(2)  # ...did not reset the backoff


def test_tries_in_flight_count_against_the_budget() -> None:
    """400 connections from one address at once: only ``attempts`` get a check."""
    budget = GuessBudget(attempts=10)
    verdicts = [budget.admit("a", 0.0) for _ in range(400)]
    admitted = [v for v in verdicts if isinstance(v, Admitted)]
    assert len(admitted) == 10
    assert admitted[0].lane is Lane.CLEAN and {v.lane for v in admitted[1:]} == {Lane.SUSPECT}
    assert set(verdicts[10:]) == {Refused(1)}


def test_zero_attempts_means_no_per_address_limit_but_lanes_still_apply() -> None:
    budget = GuessBudget(attempts=0)
    for _ in range(1000):
        assert isinstance(fail(budget, "a", 0.0), Admitted)
    assert budget.admit("a", 0.0) == Admitted(Lane.SUSPECT)


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"), ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"), ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"), (None, ""), ("", ""), ("/run/ms.sock", "")])
def test_client_keys(address: str | None, key: str) -> None:
    assert client_key(address) == key


def test_the_table_is_bounded_and_forgets_the_oldest() -> None:
    budget = GuessBudget(attempts=1, capacity=4)
    for number in range(100):
        fail(budget, f"10.0.0.{number}", float(number))
        assert len(budget) <= 4
    assert isinstance(budget.admit("10.0.0.99", 99.0), Refused)  # the newest is remembered
    assert budget.admit("10.0.0.0", 99.0) == Admitted(Lane.CLEAN)  # the oldest was dropped


def test_a_table_full_of_checks_in_flight_refuses_rather_than_grows() -> None:
    budget = GuessBudget(attempts=5, capacity=2)
    assert isinstance(budget.admit("a", 0.0), Admitted)
    assert isinstance(budget.admit("b", 0.0), Admitted)
    assert budget.admit("c", 0.0) == Refused(1, busy=True)
    assert len(budget) == 2


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["admit", *Outcome]),
                          st.floats(0, 400)), max_size=300),
       st.integers(0, 6), st.integers(1, 16))
def test_any_sequence_keeps_the_table_bounded_and_answers_sane(
        steps: list[tuple[int, str | Outcome, float]], attempts: int, capacity: int) -> None:
    budget = GuessBudget(attempts=attempts, capacity=capacity)
    now = 0.0
    in_flight: dict[str, int] = {}
    for who, action, later in steps:
        now += later
        key = f"k{who}"
        if action == "admit":
            verdict = budget.admit(key, now)
            if isinstance(verdict, Refused):
                assert 1 <= verdict.retry_after <= 900
            else:
                in_flight[key] = in_flight.get(key, 0) + 1
                if verdict.lane is Lane.CLEAN:
                    assert in_flight[key] == 1  # nothing else of it in flight
        elif in_flight.get(key):
            assert isinstance(action, Outcome)
            in_flight[key] -= 1
            refused = budget.settle(key, now, action)
            assert (refused is not None) == (action is Outcome.BUSY)
            if refused is not None:
                assert refused.busy and 1 <= refused.retry_after <= 900
        assert len(budget) <= capacity
        if attempts:  # never more checks in flight than the budget has left
            assert all(count <= attempts for count in in_flight.values())


# --------------------------------------------------------------------------- lanes


def test_a_clean_check_starts_while_guesses_queue() -> None:
    lanes = Lanes()
    grants = [lanes.request(n, Lane.SUSPECT) for n in range(40)]
    assert grants[0] is Grant.RUN
    assert set(grants[1:33]) == {Grant.WAIT}
    assert set(grants[33:]) == {Grant.BUSY}  # the suspect queue is bounded
    assert lanes.request(100, Lane.CLEAN) is Grant.RUN  # not behind 32 guesses
    assert lanes.request(101, Lane.CLEAN) is Grant.WAIT
    assert lanes.release(Lane.SUSPECT) == [101]  # clean ones first
    assert lanes.release(Lane.CLEAN) == []  # no new guess while a clean check runs
    assert lanes.release(Lane.CLEAN) == [1]


def test_a_full_clean_queue_is_busy_and_a_withdrawn_ticket_leaves_it() -> None:
    lanes = Lanes(clean_queue=1, suspect_queue=1)
    assert lanes.request(1, Lane.CLEAN) is Grant.RUN
    assert lanes.request(2, Lane.CLEAN) is Grant.RUN
    assert lanes.request(3, Lane.CLEAN) is Grant.WAIT
    assert lanes.request(4, Lane.CLEAN) is Grant.BUSY
    assert lanes.request(5, Lane.SUSPECT) is Grant.WAIT
    assert lanes.withdraw(3) and not lanes.withdraw(3)
    assert lanes.release(Lane.CLEAN) == []
    assert lanes.release(Lane.CLEAN) == [5]


def test_a_busy_refusal_holds_an_address_suspect_for_a_while() -> None:
    """A botnet's fresh addresses look clean; the ones refused as busy are suspect for
    BUSY_HOLD seconds and pay for it in budget, a real user among them is clean again."""
    budget = GuessBudget(attempts=3, busy_hold=10.0)
    assert budget.admit("fresh", 0.0) == Admitted(Lane.CLEAN)
    assert budget.settle("fresh", 0.0, Outcome.BUSY) == Refused(10, busy=True)
    assert budget.admit("fresh", 5.0) == Admitted(Lane.SUSPECT)
    assert budget.settle("fresh", 5.0, Outcome.BUSY) == Refused(10, busy=True)
    assert budget.admit("fresh", 15.0) == Admitted(Lane.CLEAN)  # the hold is over
    assert budget.settle("fresh", 15.0, Outcome.BUSY) == Refused(10, busy=True)
    assert budget.admit("fresh", 15.5) == Refused(1)  # three failures: the backoff
    assert budget.admit("late", 0.0) == Admitted(Lane.CLEAN)
    budget.settle("late", 0.0, Outcome.WRONG)
    assert budget.admit("late", 3599.0) == Admitted(Lane.SUSPECT)  # wrong: for the hour
    budget.settle("late", 3599.0, Outcome.GONE)  # a cancelled try marks nothing
    assert len(budget) == 2


class LanesMachine(RuleBasedStateMachine):
    """Any interleaving of requests, releases and withdrawals: the bounds hold, and a clean
    check never waits while a suspect one is started or while a slot is free for it."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes = Lanes(slots=2, suspect_slots=1, clean_queue=3, suspect_queue=4)
        self.running: list[Lane] = []
        self.waiting: dict[int, Lane] = {}
        self.next_ticket = 0

    @rule(lane=st.sampled_from(Lane))
    def request(self, lane: Lane) -> None:
        ticket = self.next_ticket
        self.next_ticket += 1
        clean_waiting = sum(1 for w in self.waiting.values() if w is Lane.CLEAN)
        free = len(self.running) < 2
        grant = self.lanes.request(ticket, lane)
        if lane is Lane.CLEAN and free and not clean_waiting:
            assert grant is Grant.RUN  # a free slot is never held back from a clean check
        if lane is Lane.CLEAN and clean_waiting < 3:
            assert grant is not Grant.BUSY  # only a full clean queue refuses it
        if grant is Grant.RUN:
            self.start(lane)
        elif grant is Grant.WAIT:
            self.waiting[ticket] = lane

    def start(self, lane: Lane) -> None:
        if lane is Lane.SUSPECT:  # no new guess beside a real user's check
            assert Lane.CLEAN not in self.running
        self.running.append(lane)

    @precondition(lambda self: self.running)
    @rule(index=st.integers(0, 10))
    def release(self, index: int) -> None:
        lane = self.running.pop(index % len(self.running))
        clean_was_waiting = any(w is Lane.CLEAN for w in self.waiting.values())
        started = [(ticket, self.waiting.pop(ticket)) for ticket in self.lanes.release(lane)]
        for _ticket, placed in started:
            self.start(placed)
        if clean_was_waiting:
            assert started and started[0][1] is Lane.CLEAN

    @precondition(lambda self: self.waiting)
    @rule(index=st.integers(0, 10))
    def withdraw(self, index: int) -> None:
        ticket = sorted(self.waiting)[index % len(self.waiting)]
        assert self.lanes.withdraw(ticket)
        del self.waiting[ticket]

    @invariant()
    def bounded(self) -> None:
        assert len(self.running) <= 2
        assert self.running.count(Lane.SUSPECT) <= 1
        assert self.lanes.running == {lane: self.running.count(lane) for lane in Lane}
        assert len(self.lanes.waiting[Lane.CLEAN]) <= 3
        assert len(self.lanes.waiting[Lane.SUSPECT]) <= 4
        if len(self.running) < 2:  # a free slot: nobody who may use it is waiting
            assert not self.lanes.waiting[Lane.CLEAN]
            if not self.running:
                assert not self.lanes.waiting[Lane.SUSPECT]


TestLanes = LanesMachine.TestCase
