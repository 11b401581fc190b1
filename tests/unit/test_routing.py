"""The route table behind ``subscribe(..., callback=...)`` (mqttclient/_routing.py).

Statement ids are from shared/mqtt-client-rules.md and the MQTT 5.0 standard: a PUBLISH carries
the Subscription Identifiers of every subscription it matched ([MQTT-3.3.4-3], [MQTT-3.3.4-4],
[MQTT-3.3.4-5]), repeated when one identifier was used for several matching subscriptions
(§3.3.2.3.8); re-subscribing a filter replaces the subscription and its identifier (§3.8.4).
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from mqttclient._routing import MAX_SUBSCRIPTION_IDENTIFIER, RouteTable


def named(name: str) -> Callable[..., Any]:
    def callback(*args: Any) -> None:
        pass

    callback.__name__ = name
    return callback


A, B, C = named("a"), named("b"), named("c")


# --- by identifier --------------------------------------------------------------------------


def test_one_identifier_routes_to_its_callback() -> None:
    table = RouteTable()
    table.bind(["sensors/#"], A, 1)
    assert table.match("sensors/t", [1]) == [A]
    assert table.match("sensors/t", [2]) == []  # an identifier nobody routed: ordinary path
    assert table.match("sensors/t", []) == []  # no identifier at all: ordinary path


def test_several_identifiers_on_one_message_reach_each_callback_once() -> None:
    # [MQTT-3.3.4-4]: one copy for overlapping subscriptions carries all their identifiers, in
    # any order; §3.3.2.3.8: the same identifier may repeat.
    table = RouteTable()
    table.bind(["a/#"], A, 1)
    table.bind(["a/b"], B, 2)
    assert table.match("a/b", [2, 1]) == [B, A]
    assert table.match("a/b", [1, 1, 2, 1]) == [A, B]
    assert table.match("a/c", [1]) == [A]


def test_one_callback_for_two_identifiers_gets_the_message_once() -> None:
    table = RouteTable()
    table.bind(["x/1"], A, 1)
    table.bind(["x/+"], A, 2)
    assert table.match("x/1", [1, 2]) == [A]


def test_remove_ends_an_identifier_route() -> None:
    table = RouteTable()
    table.add(5, A)
    table.bind(["t"], B, 6)
    assert table.remove(5) is True
    assert table.remove(5) is False
    assert table.match("t", [5]) == []
    assert table.remove(6) is True
    assert table.match("t", [6]) == []
    assert not table.routes  # the dispatcher's emptiness check sees no routes


def test_unsubscribing_every_filter_of_an_identifier_ends_its_route() -> None:
    table = RouteTable()
    table.bind(["a", "b"], A, 3)  # one SUBSCRIBE, two filters, one identifier (§3.8.2.1.2)
    table.unsubscribed(["a"])
    assert table.match("b", [3]) == [A]  # "b" still has the subscription
    table.unsubscribed(["b"])
    assert table.match("b", [3]) == []
    assert not table.routes


def test_a_route_added_by_identifier_survives_unsubscribe() -> None:
    # subscription_callback_add: the user manages that identifier's subscriptions.
    table = RouteTable()
    table.add(9, A)
    table.bind(["a"], A, 9)
    table.unsubscribed(["a"])
    assert table.match("a", [9]) == [A]


def test_subscribing_again_replaces_the_route() -> None:
    # §3.8.4: a SUBSCRIBE to an existing filter replaces the subscription, identifier included.
    table = RouteTable()
    table.bind(["a"], A, 1)
    table.resubscribed(["a"], 1)  # same identifier again: still routed
    assert table.match("a", [1]) == [A]
    table.resubscribed(["a"], None)  # without an identifier: the route ends
    assert table.match("a", [1]) == []
    table.bind(["b"], B, 2)
    table.resubscribed(["b"], 3)  # another identifier: the route ends
    assert table.match("b", [2]) == []
    table.bind(["c"], A, 4)
    table.bind(["c"], C, 5)  # with a callback again: the new identifier takes over
    assert table.match("c", [4]) == []
    assert table.match("c", [5]) == [C]


class RemovalLog(dict):  # type: ignore[type-arg]
    """A ``routes`` dict that remembers every key removed."""

    removed: list[Any]

    def pop(self, key: Any, *default: Any) -> Any:
        self.removed.append(key)
        return super().pop(key, *default)

    def __delitem__(self, key: Any) -> None:
        self.removed.append(key)
        super().__delitem__(key)


def test_binding_an_identifier_again_never_leaves_a_gap() -> None:
    # Dispatch reads identifier routes without a lock: subscribing again with the same
    # identifier (the response topic after a reconnect) must not drop and re-add the route.
    table = RouteTable()
    table.routes = log = RemovalLog()
    log.removed = []
    table.bind(["r"], A, 1)
    table.bind(["r"], B, 1)
    assert table.match("r", [1]) == [B]
    assert log.removed == []


def test_a_refused_filter_loses_the_route_its_subscribe_made() -> None:
    table = RouteTable()
    table.bind(["ok", "denied"], A, 1)
    table.refused("denied", 1)
    assert not table.has_filter("denied")
    assert table.has_filter("ok")
    table.bind(["later"], B, 2)
    table.refused("later", 1)  # a stale SUBACK for an older SUBSCRIBE changes nothing
    assert table.match("later", [2]) == [B]


def test_fresh_identifiers_skip_routed_and_taken_ones_and_wrap() -> None:
    table = RouteTable()
    table.add(1, A)
    assert table.fresh_id(taken={2, 3}) == 4
    assert table.fresh_id() == 5  # never handed out twice
    table._next_id = MAX_SUBSCRIPTION_IDENTIFIER
    assert table.fresh_id() == MAX_SUBSCRIPTION_IDENTIFIER
    assert table.fresh_id() == 2  # wrapped; 1 is routed


# --- by filter (MQTT 3.x, Subscription Identifiers Available = 0) ----------------------------


def test_fallback_routes_by_topic_filter() -> None:
    table = RouteTable()
    table.bind(["home/+/temp"], A, None)
    table.bind(["$share/workers/jobs/#"], B, None)  # shared: matched by its inner filter
    assert table.match("home/kitchen/temp", []) == [A]
    assert table.match("jobs/42", []) == [B]
    assert table.match("home/kitchen/humidity", []) == []


def test_fallback_overlapping_filters_each_get_the_message_once() -> None:
    table = RouteTable()
    table.bind(["a/#", "a/+"], A, None)  # one callback, two filters: once
    table.bind(["a/b"], B, None)
    assert sorted(cb.__name__ for cb in table.match("a/b", [])) == ["a", "b"]
    assert len(table.match("a/b", [])) == 2


def test_fallback_route_ends_on_unsubscribe_and_on_plain_resubscribe() -> None:
    table = RouteTable()
    table.bind(["a", "b"], A, None)
    table.unsubscribed(["a"])
    assert table.match("a", []) == []
    assert table.match("b", []) == [A]
    table.resubscribed(["b"], None)
    assert table.match("b", []) == []
    assert not table.routes


def test_identifier_routes_win_over_filter_routes() -> None:
    table = RouteTable()
    table.bind(["a/#"], A, None)
    table.bind(["a/b"], B, 7)
    assert table.match("a/b", [7]) == [B]
    assert table.match("a/b", []) == [A]  # no identifier: the filter route applies
    assert table.match("a/b", [8]) == [A]  # an identifier nobody routed: likewise


@pytest.mark.parametrize("key", [1, None])
def test_binding_an_identifier_route_replaces_a_filter_route(key: Any) -> None:
    table = RouteTable()
    table.bind(["a"], A, None if key else 1)
    table.bind(["a"], B, key)
    assert table.match("a", [1]) == [B]
    table.unsubscribed(["a"])
    assert not table.routes
