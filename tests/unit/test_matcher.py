"""Topic validation and matching (MQTT 5.0 §4.7, §4.8.2), MQTTMatcher and topic_matches_sub."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub as paho_topic_matches_sub
from paho.mqtt.matcher import MQTTMatcher as PahoMQTTMatcher

from mqttclient import matcher as matcher_module
from mqttclient.errors import InvalidTopicError, MQTTException
from mqttclient.matcher import (
    MQTTMatcher,
    parse_shared_subscription,
    topic_matches_sub,
    validate_topic_filter,
    validate_topic_name,
)

# The examples of MQTT 5.0 §4.7.1.2, §4.7.1.3, §4.7.2, §4.7.3 and §4.8.2
# (mqtt-client-rules.md §7).
SPEC_EXAMPLES = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("#", "sport", True),
    ("#", "sport/tennis/player1", True),
    ("#", "/finance", True),
    ("#", "/", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player2", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("#", "$SYS/anything", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("$SYS/#", "$SYS/monitor/Clients", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
    ("ACCOUNTS", "Accounts", False),
    ("finance", "/finance", False),
    ("$share/consumer1//finance", "/finance", True),
]
# The one row where paho differs: it matches $share filters literally.
SHARED_ROWS = {"$share/consumer1//finance"}

MORE_EXAMPLES = [
    ("a/b", "a/b", True),
    ("a/b", "a/b/", False),
    ("a/b/", "a/b/", True),
    ("a//b", "a//b", True),
    ("a/+/b", "a//b", True),
    ("/", "/", True),
    ("+/+", "/", True),
    ("#", "$", False),
    ("+", "$", False),
    ("$", "$", True),
    ("$SYS", "$SYS", True),
    ("$SYS/#", "$SYS", True),
    ("a/$b/#", "a/$b/c", True),
    ("a/+", "a/$b", True),  # the $ rule applies to the first level only
    ("a/#", "a/$b", True),
    ("Accounts payable", "Accounts payable", True),
    ("sport/tennis/player1/#", "sport/tennis/player", False),
    ("+/tennis/#", "sport/tennis", True),
    ("$share/g/sport/#", "sport/x", True),
    ("$share/g/#", "$SYS/x", False),  # the $ rule holds inside a shared filter
    ("$share/g/+/x", "$SYS/x", False),
    ("$share/g/$SYS/#", "$SYS/x", True),
    ("$share/g/a", "$share/g/a", True),  # paho's literal match is kept
    ("$share/g", "g", False),
]


@pytest.mark.parametrize(("sub", "topic", "expected"), SPEC_EXAMPLES + MORE_EXAMPLES)
def test_topic_matches_sub(sub: str, topic: str, expected: bool) -> None:
    assert topic_matches_sub(sub, topic) is expected


@pytest.mark.parametrize(("sub", "topic", "expected"), SPEC_EXAMPLES + MORE_EXAMPLES)
def test_matcher_agrees(sub: str, topic: str, expected: bool) -> None:
    matcher = MQTTMatcher()
    matcher[sub] = "value"
    assert list(matcher.iter_match(topic)) == (["value"] if expected else [])


@pytest.mark.parametrize(("sub", "topic", "expected"), SPEC_EXAMPLES + MORE_EXAMPLES)
def test_paho_agrees_except_for_shared_subscriptions(sub: str, topic: str, expected: bool) -> None:
    paho = paho_topic_matches_sub(sub, topic)
    if sub.startswith("$share/") and not topic.startswith("$share/"):
        assert paho is False
    else:
        assert paho is expected


# --- validation ---------------------------------------------------------------------------------

VALID_FILTERS = [
    "#",
    "sport/tennis/#",
    "+",
    "+/tennis/#",
    "sport/+/player1",
    "/",
    "//",
    "+/+",
    "/+",
    "+/#",
    "$SYS/#",
    "Accounts payable",
    "a/b/c",
    "é/ü",
    "$share/group/#",
    "$share/consumer1//finance",
    "$share/g/+/x/#",
    "$share/g/$share",
    "$share",
    "$sharegroup/a",
    "x" * 65535,
]
INVALID_FILTERS = [
    "",
    "sport/tennis#",
    "sport/tennis/#/ranking",
    "sport+",
    "#/",
    "##",
    "++",
    "a/b+",
    "a/#b",
    "a\x00b",
    "\ud800",
    "x" * 65536,
    "é" * 32768,
    "$share/g",
    "$share/g/",
    "$share//a",
    "$share/g+/a",
    "$share/+/a",
    "$share/g#/a",
    "$share/#",
    "$share/g/a#",
    "$share/g/#/a",
]


@pytest.mark.parametrize("flt", VALID_FILTERS, ids=lambda f: f[:30])
def test_valid_filters(flt: str) -> None:
    assert validate_topic_filter(flt) == flt.encode("utf-8")


@pytest.mark.parametrize("flt", INVALID_FILTERS, ids=lambda f: repr(f[:30]))
def test_invalid_filters(flt: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_filter(flt)


def test_shared_subscription_rules_can_be_switched_off() -> None:
    # MQTT 3.x has no shared subscriptions: "$share/g" is then an ordinary filter.
    assert validate_topic_filter("$share/g", shared_subscriptions=False) == b"$share/g"
    assert validate_topic_filter("$share//a", shared_subscriptions=False) == b"$share//a"
    with pytest.raises(InvalidTopicError):
        validate_topic_filter("$share/g+/a", shared_subscriptions=False)


VALID_NAMES = ["a", "/", "sport/tennis/player1", "$SYS/monitor", "Accounts payable", "x" * 65535]
INVALID_NAMES = ["", "a/+", "+", "#", "a/#", "a+b", "a\x00", "\udfff", "x" * 65536, "€" * 21846]


@pytest.mark.parametrize("topic", VALID_NAMES, ids=lambda t: t[:30])
def test_valid_topic_names(topic: str) -> None:
    assert validate_topic_name(topic) == topic.encode("utf-8")


@pytest.mark.parametrize("topic", INVALID_NAMES, ids=lambda t: repr(t[:30]))
def test_invalid_topic_names(topic: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_name(topic)


def test_empty_topic_name_for_topic_alias() -> None:
    assert validate_topic_name("", allow_empty=True) == b""
    with pytest.raises(InvalidTopicError):
        validate_topic_name("+", allow_empty=True)


def test_validation_errors_are_value_errors_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="wildcards"):
        validate_topic_name("a/#")
    with pytest.raises(MQTTException, match="at least one character"):
        validate_topic_filter("")
    with pytest.raises(ValueError, match="65535 bytes"):
        validate_topic_filter("é" * 40000)
    with pytest.raises(ValueError, match="U\\+0000"):
        validate_topic_name("\x00")
    with pytest.raises(ValueError, match="'#' must be a whole level and the last"):
        validate_topic_filter("a/#/b")
    with pytest.raises(ValueError, match="'\\+' must be a whole level"):
        validate_topic_filter("a/b+")
    with pytest.raises(ValueError, match=r"\$share/\{ShareName\}/\{filter\}"):
        validate_topic_filter("$share/g")


def test_validation_wants_str() -> None:
    with pytest.raises(TypeError):
        validate_topic_name(b"a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        validate_topic_filter(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("$share/g/a/b", ("g", "a/b")),
        ("$share/consumer1//finance", ("consumer1", "/finance")),
        ("$share/g/#", ("g", "#")),
        ("$share/g", None),
        ("$share/g/", None),
        ("$share//a", None),
        ("$SHARE/g/a", None),
        ("a/$share/g/a", None),
        ("sport/#", None),
    ],
)
def test_parse_shared_subscription(flt: str, expected: tuple[str, str] | None) -> None:
    assert parse_shared_subscription(flt) == expected


# --- MQTTMatcher --------------------------------------------------------------------------------


def test_set_get_replace_delete() -> None:
    matcher = MQTTMatcher()
    matcher["a/b"] = 1
    matcher["a/+"] = 2
    assert matcher["a/b"] == 1
    assert "a/b" in matcher
    assert "a" not in matcher
    assert 5 not in matcher
    matcher["a/b"] = 3
    assert matcher["a/b"] == 3
    with pytest.raises(KeyError):
        matcher["a"]
    with pytest.raises(KeyError):
        matcher["x/y"]
    del matcher["a/b"]
    assert "a/b" not in matcher
    with pytest.raises(KeyError):
        del matcher["a/b"]
    with pytest.raises(KeyError):
        del matcher["a"]
    with pytest.raises(KeyError):
        del matcher["nope/x"]
    assert matcher["a/+"] == 2


def test_delete_prunes_empty_nodes() -> None:
    matcher = MQTTMatcher()
    matcher["a/b/c"] = 1
    matcher["a"] = 2
    del matcher["a/b/c"]
    assert list(matcher._root._children) == ["a"]
    assert matcher._root._children["a"]._children == {}
    del matcher["a"]
    assert matcher._root._children == {}


def test_none_is_absent() -> None:
    matcher = MQTTMatcher()
    matcher["a"] = None
    with pytest.raises(KeyError):
        matcher["a"]
    assert list(matcher.iter_match("a")) == []


def test_node_class_is_exposed() -> None:
    node = MQTTMatcher.Node()
    assert node._children == {}
    assert node._content is None
    assert not hasattr(node, "__dict__")


def test_match_order_is_pahos() -> None:
    filters = ["#", "a/#", "a/+", "a/b", "+/b", "+/+", "a/b/#", "+/#", "a/+/#"]
    ours = MQTTMatcher()
    theirs = PahoMQTTMatcher()
    for flt in filters:
        ours[flt] = flt
        theirs[flt] = flt
    for topic in ["a/b", "a", "a/c", "x/b", "a/b/c", "$a/b", "a/$b", "b"]:
        assert list(ours.iter_match(topic)) == list(theirs.iter_match(topic)), topic
    assert list(ours.iter_match("a/b")) == [
        "a/b",
        "a/b/#",
        "a/+",
        "a/+/#",
        "a/#",
        "+/b",
        "+/+",
        "+/#",
        "#",
    ]


def test_shared_filters_match_after_plain_ones() -> None:
    matcher = MQTTMatcher()
    matcher["$share/g1/a/+"] = "g1"
    matcher["a/b"] = "plain"
    matcher["$share/g2/#"] = "g2"
    matcher["$share/g1/a/b"] = "g1 exact"
    assert list(matcher.iter_match("a/b")) == ["plain", "g1 exact", "g1", "g2"]
    assert list(matcher.iter_match("$SYS/x")) == []
    del matcher["$share/g2/#"]
    assert list(matcher.iter_match("a/b")) == ["plain", "g1 exact", "g1"]


def test_results_follow_changes() -> None:
    matcher = MQTTMatcher()
    matcher["a/+"] = 1
    assert list(matcher.iter_match("a/b")) == [1]
    matcher["a/b"] = 2
    assert list(matcher.iter_match("a/b")) == [2, 1]
    matcher["a/+"] = 3
    assert list(matcher.iter_match("a/b")) == [2, 3]
    del matcher["a/b"]
    assert list(matcher.iter_match("a/b")) == [3]


def test_many_distinct_topics_stay_correct() -> None:
    matcher = MQTTMatcher()
    matcher["t/+"] = "x"
    for index in range(10_000):
        assert list(matcher.iter_match(f"t/{index}")) == ["x"]
    assert len(matcher._cache) <= matcher_module._CACHE_SIZE


def test_matcher_may_change_while_iterating() -> None:
    matcher = MQTTMatcher()
    for flt in ("a/#", "a/+", "a/b"):
        matcher[flt] = flt
    seen = []
    for value in matcher.iter_match("a/b"):
        seen.append(value)
        del matcher[value]
        matcher["a/" + value] = "new"
    assert seen == ["a/b", "a/+", "a/#"]


def test_iter_match_returns_an_iterator() -> None:
    matcher = MQTTMatcher()
    matcher["a"] = 1
    iterator = matcher.iter_match("a")
    assert next(iterator) == 1
    with pytest.raises(StopIteration):
        next(iterator)


def test_deep_filters_use_the_iterative_walk() -> None:
    depth = matcher_module._RECURSION_DEPTH * 2
    levels = [f"l{index}" for index in range(depth)]
    ours = MQTTMatcher()
    theirs = PahoMQTTMatcher()
    filters = ["/".join(levels), "/".join([*levels[:-1], "+"]), "/".join([*levels[:5], "#"]), "#"]
    for flt in filters:
        ours[flt] = flt
        theirs[flt] = flt
    assert ours._depth > matcher_module._RECURSION_DEPTH
    for topic in ["/".join(levels), "/".join([*levels[:-1], "x"]), "l0/l1", "$x"]:
        assert list(ours.iter_match(topic)) == list(theirs.iter_match(topic))


def test_very_deep_filter_does_not_hit_the_recursion_limit() -> None:
    topic = "/".join(["x"] * 5000)
    matcher = MQTTMatcher()
    matcher[topic] = "deep"
    matcher["x/#"] = "rest"
    assert list(matcher.iter_match(topic)) == ["deep", "rest"]
    assert topic_matches_sub(topic, topic)


# --- differential against paho ------------------------------------------------------------------

_LEVEL = st.sampled_from(["a", "b", "", "$a", "+", "#"])
_TOPIC_LEVEL = st.sampled_from(["a", "b", "", "$a", "$b"])
_FILTER = st.lists(_LEVEL, min_size=1, max_size=4).map("/".join)
_TOPIC = st.lists(_TOPIC_LEVEL, min_size=1, max_size=4).map("/".join)


@settings(max_examples=500, deadline=None)
@given(_FILTER, _TOPIC)
def test_topic_matches_sub_agrees_with_paho(sub: str, topic: str) -> None:
    assert topic_matches_sub(sub, topic) == paho_topic_matches_sub(sub, topic)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FILTER, max_size=8), st.lists(_TOPIC, min_size=1, max_size=5))
def test_matcher_agrees_with_paho(filters: list[str], topics: list[str]) -> None:
    ours = MQTTMatcher()
    theirs = PahoMQTTMatcher()
    for index, flt in enumerate(filters):
        ours[flt] = index
        theirs[flt] = index
    for topic in topics:
        expected: list[Any] = list(theirs.iter_match(topic))
        assert list(ours.iter_match(topic)) == expected
        assert list(ours.iter_match(topic)) == expected  # again, from the cache
    for flt in filters[::2]:
        if flt in ours:
            del ours[flt]
            del theirs[flt]
    for topic in topics:
        assert list(ours.iter_match(topic)) == list(theirs.iter_match(topic))
