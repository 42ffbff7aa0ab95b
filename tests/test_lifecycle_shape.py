"""The order lifecycle table has the shape the design requires: one start, every path ends."""

from __future__ import annotations

import re
from collections import deque

import pytest

from core.orders.lifecycle import CORRECTIONS, INITIAL, TERMINAL, TRANSITIONS, IllegalTransition, Status, target
from core.orders.model import Order


def _exits(*, corrections: bool = False) -> dict[Status, set[Status]]:
    """Every state with the states one transition takes it to (an appeal's corrections left out
    unless asked for: they move between final states and are checked on their own)."""
    graph: dict[Status, set[Status]] = {s: set() for s in Status}
    for name, (sources, to) in TRANSITIONS.items():
        if name in CORRECTIONS and not corrections:
            continue
        for source in sources:
            graph[source].add(to)
    return graph


def _reachable(start: Status, graph: dict[Status, set[Status]]) -> set[Status]:
    """Every state reachable from `start`, itself included."""
    seen, todo = {start}, deque([start])
    while todo:
        for nxt in graph[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _draft() -> Order:
    return Order(id=42, donor_id=1, status=Status.DRAFT, seeker_lat=13.0, seeker_lng=80.0, zone="tf3b0", created_at="")


def test_draft_is_the_only_state_no_transition_leads_to() -> None:
    targets = {to for _sources, to in TRANSITIONS.values()}
    assert INITIAL is Status.DRAFT
    assert set(Status) - targets == {Status.DRAFT}


def test_every_state_is_reachable_from_draft() -> None:
    assert _reachable(INITIAL, _exits()) == set(Status)


def test_terminal_states_have_no_exits_and_every_other_state_has_one() -> None:
    graph = _exits()
    assert {s for s, exits in graph.items() if not exits} == set(TERMINAL)
    for name, (sources, _to) in TRANSITIONS.items():
        assert name in CORRECTIONS or not set(sources) & TERMINAL, f"{name} leaves a terminal state"


def test_an_appeals_corrections_only_move_between_the_final_money_states() -> None:
    # Settled and refunded are where a dispute's money ends; an appeal that changes the outcome
    # moves the order from one to the other, and from nowhere else to anywhere else.
    assert CORRECTIONS <= set(TRANSITIONS)
    moves = {TRANSITIONS[name] for name in CORRECTIONS}
    assert moves == {((Status.REFUNDED,), Status.SETTLED), ((Status.SETTLED,), Status.REFUNDED)}
    graph = _exits(corrections=True)
    assert {s for s in TERMINAL if graph[s]} == {Status.SETTLED, Status.REFUNDED}
    assert all(graph[s] <= TERMINAL for s in TERMINAL)


@pytest.mark.parametrize("state", list(Status), ids=str)
def test_every_state_reaches_a_terminal_state(state: Status) -> None:
    assert _reachable(state, _exits()) & TERMINAL


def test_an_illegal_move_names_the_transition_and_the_state_and_changes_nothing() -> None:
    order = _draft()
    with pytest.raises(IllegalTransition, match=r"order 42: cannot 'accept' from 'draft'") as caught:
        order.accept("person:1")
    assert (caught.value.order_id, caught.value.transition, caught.value.status) == (42, "accept", Status.DRAFT)
    assert (order.status, order.version, order.events) == (Status.DRAFT, 0, [])


def test_every_transition_is_refused_from_every_state_it_does_not_list() -> None:
    for name, (sources, _to) in TRANSITIONS.items():
        for state in set(Status) - set(sources):
            with pytest.raises(IllegalTransition) as caught:
                target(7, name, state)
            assert repr(name) in str(caught.value) and repr(state.value) in str(caught.value)


def test_every_status_is_stored_as_a_readable_lowercase_word() -> None:
    for status in Status:
        assert status.value == status.name.lower()
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", status.value)
        assert str(status) == status.value
