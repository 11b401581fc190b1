"""Topic names and topic filters: validation and matching (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7, §4.8.2).

Owns paho-mqtt's ``MQTTMatcher`` (a trie from topic filters to values, used for
``message_callback_add``) and ``topic_matches_sub``, plus the topic checks the rest of the
library calls at its API edge: :func:`validate_topic_name`, :func:`validate_topic_filter` and
:func:`parse_shared_subscription`. Those raise :class:`~mqttclient.errors.InvalidTopicError`.

Matching rules: levels are split on ``/``; ``+`` matches exactly one level (possibly empty);
``#`` matches the rest, including the parent level (``a/#`` matches ``a``); a filter whose
first level is ``+`` or ``#`` does not match a topic starting with ``$`` ([MQTT-4.7.2-1]).
Matching follows paho's trie literally, so odd filters that validation would refuse (``a/#/b``)
match the way paho matches them.

Deliberate difference from paho: a shared subscription filter ``$share/{group}/{filter}`` also
matches the topics its inner ``{filter}`` matches (MQTT 5.0 §4.8.2), so a callback registered
for the filter one subscribed with is called. paho matches it only against topics that literally
start with ``$share/``; that literal match is kept too. Vocabulary: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

from mqttclient.errors import InvalidTopicError

__all__ = [
    "MQTTMatcher",
    "parse_shared_subscription",
    "topic_matches_sub",
    "validate_topic_filter",
    "validate_topic_name",
]

_SHARE_PREFIX = "$share/"
_MAX_TOPIC_BYTES = 65535
# iter_match caches this many topics at most (then starts afresh).
_CACHE_SIZE = 4096
# Filters with more levels than this are matched by an iterative walk instead of recursion.
_RECURSION_DEPTH = 64


class MQTTMatcher:
    """A mapping from topic filters to values that finds every filter matching a topic.

    ``matcher[filter] = value`` stores (a ``None`` value counts as absent, as in paho),
    ``matcher[filter]`` reads and ``del matcher[filter]`` removes (both ``KeyError`` if
    absent); :meth:`iter_match` yields the values of all filters matching a topic. Filters are
    not validated. Not thread-safe: the caller serialises changes with matching.
    """

    class Node:
        """A trie node: children by level string, and the value of the filter ending here."""

        __slots__ = ("_children", "_content")

        def __init__(self) -> None:
            self._children: dict[str, MQTTMatcher.Node] = {}
            self._content: Any = None

    def __init__(self) -> None:
        self._root = self.Node()
        # topic -> matching values, emptied by every change; bounded by emptying when full.
        self._cache: dict[str, tuple[Any, ...]] = {}
        # Most levels of any filter ever stored: deep tries are walked without recursion.
        self._depth = 0

    def __setitem__(self, key: str, value: Any) -> None:
        """Associate topic filter ``key`` with ``value`` (replacing any previous value)."""
        self._cache.clear()
        levels = key.split("/")
        if len(levels) > self._depth:
            self._depth = len(levels)
        node = self._root
        for level in levels:
            child = node._children.get(level)
            if child is None:
                child = node._children[level] = self.Node()
            node = child
        node._content = value

    def __getitem__(self, key: str) -> Any:
        """Return the value of topic filter ``key``; ``KeyError`` if it has none."""
        node: Optional[MQTTMatcher.Node] = self._root
        for level in key.split("/"):
            node = node._children.get(level) if node is not None else None
        if node is None or node._content is None:
            raise KeyError(key)
        return node._content

    def __contains__(self, key: object) -> bool:
        """Return whether topic filter ``key`` has a value."""
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __delitem__(self, key: str) -> None:
        """Remove topic filter ``key`` and prune the nodes left empty; ``KeyError`` if absent."""
        path: list[tuple[MQTTMatcher.Node, str, MQTTMatcher.Node]] = []
        node = self._root
        for level in key.split("/"):
            child = node._children.get(level)
            if child is None:
                raise KeyError(key)
            path.append((node, level, child))
            node = child
        if node._content is None:
            raise KeyError(key)
        self._cache.clear()
        node._content = None
        for parent, level, child in reversed(path):
            if child._children or child._content is not None:
                break
            del parent._children[level]

    def iter_match(self, topic: str) -> Iterator[Any]:
        """Return an iterator over the values of every filter that matches topic name ``topic``.

        Order as in paho: depth first, at each level the literal match, then ``+``, then
        ``#``; then the ``$share/{group}/...`` filters matched by their inner filter, groups in
        insertion order. The matches are collected before the iterator is returned, so the
        matcher may be changed while iterating. Results are cached per topic until the next
        change, since a client sees the same topics again and again.
        """
        matches = self._cache.get(topic)
        if matches is None:
            matches = self._match(topic)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[topic] = matches
        return iter(matches)

    def _match(self, topic: str) -> tuple[Any, ...]:
        levels = topic.split("/")
        dollar = topic.startswith("$")
        found: list[Any] = []
        root = self._root
        roots = [root]
        shared = root._children.get("$share")
        if shared is not None:
            roots.extend(shared._children.values())
        if self._depth <= _RECURSION_DEPTH:
            for node in roots:
                _walk(node, levels, 0, len(levels), dollar, found)
        else:
            for node in roots:
                _walk_deep(node, levels, dollar, found)
        return tuple(found)


def _walk(
    node: MQTTMatcher.Node,
    levels: list[str],
    index: int,
    count: int,
    dollar: bool,
    out: list[Any],
) -> None:
    """Append to ``out`` the values under ``node`` whose filters match ``levels[index:]``.

    Recursive (one frame per filter level), the fastest walk in CPython; used while every
    stored filter has at most ``_RECURSION_DEPTH`` levels.
    """
    children = node._children
    if index == count:
        if node._content is not None:
            out.append(node._content)
    elif children:
        child = children.get(levels[index])
        if child is not None:
            _walk(child, levels, index + 1, count, dollar, out)
        # [MQTT-4.7.2-1]: wildcards in the first level do not match "$" topics.
        if index or not dollar:
            one = children.get("+")
            if one is not None:
                _walk(one, levels, index + 1, count, dollar, out)
    if children and (index or not dollar):
        rest = children.get("#")
        if rest is not None and rest._content is not None:
            out.append(rest._content)


def _walk_deep(root: MQTTMatcher.Node, levels: list[str], dollar: bool, out: list[Any]) -> None:
    """:func:`_walk` without recursion, for tries too deep for the interpreter's stack.

    A stack entry is a node and the index of the next topic level; index -1 marks a ``#`` node
    whose value is emitted after its siblings' subtrees, which keeps paho's order.
    """
    count = len(levels)
    stack = [(root, 0)]
    pop = stack.pop
    push = stack.append
    while stack:
        node, index = pop()
        if index < 0:
            out.append(node._content)
            continue
        children = node._children
        if children:
            wild = index > 0 or not dollar
            if wild:
                rest = children.get("#")
                if rest is not None and rest._content is not None:
                    push((rest, -1))
            if index < count:
                if wild:
                    one = children.get("+")
                    if one is not None:
                        push((one, index + 1))
                child = children.get(levels[index])
                if child is not None:
                    push((child, index + 1))
        if index == count and node._content is not None:
            out.append(node._content)


def _filter_matches(levels: list[str], topic_levels: list[str], dollar: bool) -> bool:
    # The one-filter case of _collect, without building a trie.
    count = len(topic_levels)
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if level == "#" and index == last:
            return index > 0 or not dollar
        if index >= count:
            return False
        if level != topic_levels[index] and (level != "+" or (index == 0 and dollar)):
            return False
    return len(levels) == count


def topic_matches_sub(sub: str, topic: str) -> bool:
    """Return whether topic name ``topic`` matches topic filter ``sub``.

    ``"foo/bar"`` matches ``"foo/#"`` and ``"+/bar"``; ``"non/matching"`` does not match
    ``"non/+/+"``. A ``$share/{group}/{filter}`` subscription matches what ``{filter}``
    matches. Neither argument is validated.
    """
    topic_levels = topic.split("/")
    dollar = topic.startswith("$")
    if _filter_matches(sub.split("/"), topic_levels, dollar):
        return True
    if sub.startswith(_SHARE_PREFIX):
        inner = sub.split("/", 2)
        if len(inner) == 3:
            return _filter_matches(inner[2].split("/"), topic_levels, dollar)
    return False


# --- validation -----------------------------------------------------------------------------


def _encoded(text: str, what: str, allow_empty: bool) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"a {what} must be a str, not {type(text).__name__}")
    if not text and not allow_empty:
        raise InvalidTopicError(f"a {what} must be at least one character long ([MQTT-4.7.3-1])")
    if "\x00" in text:
        raise InvalidTopicError(f"a {what} must not contain U+0000 ([MQTT-4.7.3-2]): {text!r}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTopicError(
            f"a {what} must be valid UTF-8 without surrogates ([MQTT-1.5.4-1]): {text!r}"
        ) from exc
    if len(data) > _MAX_TOPIC_BYTES:
        raise InvalidTopicError(
            f"a {what} must be at most 65535 bytes in UTF-8 ([MQTT-4.7.3-3]), "
            f"this one is {len(data)}"
        )
    return data


def validate_topic_name(topic: str, *, allow_empty: bool = False) -> bytes:
    """Check a topic name to publish to and return it encoded as UTF-8.

    A topic name is at least one character (MQTT 5.0 allows an empty one together with a Topic
    Alias: pass ``allow_empty=True``), at most 65,535 UTF-8 bytes, without U+0000 or
    surrogates, and without the wildcards ``+`` and ``#`` ([MQTT-4.7.0-1], [MQTT-3.3.2-2]).

    Raises :class:`~mqttclient.errors.InvalidTopicError` (a ``ValueError``) if it is not valid
    and ``TypeError`` if it is not a ``str``. Any thread may call it.
    """
    data = _encoded(topic, "topic name", allow_empty)
    if "+" in topic or "#" in topic:
        raise InvalidTopicError(
            f"a topic name must not contain the wildcards '+' or '#' ([MQTT-4.7.0-1]): {topic!r}"
        )
    return data


def parse_shared_subscription(flt: str) -> Optional[tuple[str, str]]:
    """Return ``(share_name, inner_filter)`` for a ``$share/{ShareName}/{filter}`` filter.

    Returns ``None`` for a filter that is not shaped as a shared subscription (no ``$share/``
    prefix, empty share name or empty inner filter). The share name's characters and the inner
    filter are not checked here; :func:`validate_topic_filter` does that.
    """
    if not flt.startswith(_SHARE_PREFIX):
        return None
    parts = flt.split("/", 2)
    if len(parts) < 3 or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _check_wildcards(flt: str, what: str) -> None:
    if "+" not in flt and "#" not in flt:
        return
    levels = flt.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            raise InvalidTopicError(
                f"'#' must be a whole level and the last one of a {what} ([MQTT-4.7.1-1]): {flt!r}"
            )
        if "+" in level and level != "+":
            raise InvalidTopicError(
                f"'+' must be a whole level of a {what} ([MQTT-4.7.1-2]): {flt!r}"
            )


def validate_topic_filter(flt: str, *, shared_subscriptions: bool = True) -> bytes:
    """Check a topic filter to subscribe or unsubscribe with; return it encoded as UTF-8.

    A topic filter is at least one character, at most 65,535 UTF-8 bytes, without U+0000 or
    surrogates; ``#`` stands alone as the last level; ``+`` stands alone in its level
    ([MQTT-4.7.1-1], [MQTT-4.7.1-2]). A filter starting with ``$share/`` must have the form
    ``$share/{ShareName}/{filter}`` with a non-empty ShareName free of ``/``, ``+`` and ``#``
    and a valid non-empty ``{filter}`` ([MQTT-4.8.2-1], [MQTT-4.8.2-2]); pass
    ``shared_subscriptions=False`` (MQTT 3.x, where ``$share`` means nothing) to check such a
    filter as an ordinary one.

    Raises :class:`~mqttclient.errors.InvalidTopicError` (a ``ValueError``) if it is not valid
    and ``TypeError`` if it is not a ``str``. Any thread may call it.
    """
    data = _encoded(flt, "topic filter", False)
    if shared_subscriptions and flt.startswith(_SHARE_PREFIX):
        shared = parse_shared_subscription(flt)
        if shared is None:
            raise InvalidTopicError(
                "a shared subscription must have the form $share/{ShareName}/{filter} with a "
                f"non-empty ShareName and filter ([MQTT-4.8.2-1], [MQTT-4.8.2-2]): {flt!r}"
            )
        share_name, inner = shared
        if "+" in share_name or "#" in share_name:
            raise InvalidTopicError(
                f"a ShareName must not contain '+' or '#' ([MQTT-4.8.2-2]): {flt!r}"
            )
        _check_wildcards(inner, "shared subscription's topic filter")
    else:
        _check_wildcards(flt, "topic filter")
    return data
