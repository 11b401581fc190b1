"""The vocabulary modules expose paho-mqtt's public surface (paho-compat.md §1, §6-§8).

For each of paho's modules enums, packettypes, reasoncodes, properties, subscribeoptions and
matcher: every public name exists in ours, enum members and values are equal, public callables
take the same parameters in the same order with the same defaults, and paho's class-level and
instance-level attributes exist. paho-mqtt 2.x is a test dependency.
"""

from __future__ import annotations
import __future__

import enum
import importlib
import inspect
import types
from typing import Any, Callable

import pytest
from paho.mqtt import packettypes as paho_packettypes
from paho.mqtt import properties as paho_properties
from paho.mqtt import reasoncodes as paho_reasoncodes
from paho.mqtt import subscribeoptions as paho_subscribeoptions

from mqttclient import packettypes, properties, reasoncodes, subscribeoptions

MODULES = ["enums", "packettypes", "reasoncodes", "properties", "subscribeoptions", "matcher"]

# Dunder methods that are part of paho's API (the rest come from object).
API_DUNDERS = {
    "__init__",
    "__getName__",
    "__eq__",
    "__lt__",
    "__str__",
    "__repr__",
    "__setattr__",
    "__getitem__",
    "__setitem__",
    "__delitem__",
}


def _is_reexported_helper(value: Any) -> bool:
    # Names a paho module happens to import (``annotations``, ``Any``, ``MappingProxyType``...)
    # are not its API.
    if isinstance(value, (types.ModuleType, __future__._Feature)):
        return True
    return getattr(value, "__module__", None) in {"typing", "types", "builtins", "functools"}


def public_names(module: types.ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not _is_reexported_helper(value)
    ]


def pair(name: str) -> tuple[types.ModuleType, types.ModuleType]:
    return importlib.import_module(f"paho.mqtt.{name}"), importlib.import_module(
        f"mqttclient.{name}"
    )


def assert_compatible(theirs: Callable[..., Any], ours: Callable[..., Any], where: str) -> None:
    """Same parameter names, kinds and order; same defaults where paho has one; anything we add
    comes after and has a default."""
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    if [p.kind for p in their_params if p.name != "self"] == [
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    ]:
        return  # paho forwards everything (ReasonCodes.__init__); checked against its target
    assert [p.name for p in our_params[: len(their_params)]] == [p.name for p in their_params], (
        where
    )
    for their, our in zip(their_params, our_params):
        assert our.kind == their.kind, f"{where}: kind of {their.name}"
        if their.default is not inspect.Parameter.empty:
            assert our.default == their.default, f"{where}: default of {their.name}"
    for extra in our_params[len(their_params) :]:
        assert extra.default is not inspect.Parameter.empty or extra.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ), f"{where}: extra parameter {extra.name} needs a default"


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_exists(module: str) -> None:
    theirs, ours = pair(module)
    missing = [name for name in public_names(theirs) if not hasattr(ours, name)]
    assert missing == []


@pytest.mark.parametrize("module", MODULES)
def test_public_callables_have_compatible_signatures(module: str) -> None:
    theirs, ours = pair(module)
    checked = 0
    for name in public_names(theirs):
        their_obj = getattr(theirs, name)
        our_obj = getattr(ours, name)
        if inspect.isclass(their_obj):
            assert inspect.isclass(our_obj), name
            if issubclass(their_obj, enum.Enum):
                continue
            for attr, value in vars(their_obj).items():
                if attr.startswith("_") and attr not in API_DUNDERS:
                    continue
                assert hasattr(our_obj, attr), f"{name}.{attr}"
                if isinstance(value, property):
                    assert isinstance(inspect.getattr_static(our_obj, attr), property), attr
                elif callable(value) or isinstance(value, (staticmethod, classmethod)):
                    assert_compatible(getattr(their_obj, attr), getattr(our_obj, attr), attr)
                    checked += 1
        elif callable(their_obj):
            assert_compatible(their_obj, our_obj, name)
            checked += 1
    assert checked or module in ("enums", "packettypes")


@pytest.mark.parametrize("module", MODULES)
def test_enums_are_equal(module: str) -> None:
    theirs, ours = pair(module)
    for name, their_obj in vars(theirs).items():
        if inspect.isclass(their_obj) and issubclass(their_obj, enum.Enum):
            our_obj = getattr(ours, name)
            assert [(m.name, m.value) for m in our_obj] == [(m.name, m.value) for m in their_obj]
            assert issubclass(our_obj, enum.IntEnum) == issubclass(their_obj, enum.IntEnum)


def test_connection_state_is_there_too() -> None:
    theirs, ours = pair("enums")
    assert [m.name for m in ours._ConnectionState] == [m.name for m in theirs._ConnectionState]
    assert [m.value for m in ours._ConnectionState] == [m.value for m in theirs._ConnectionState]


def test_deprecated_alias_takes_reason_code_arguments() -> None:
    assert_compatible(
        paho_reasoncodes.ReasonCode.__init__, reasoncodes.ReasonCodes.__init__, "ReasonCodes"
    )


def test_packet_types_are_equal() -> None:
    for name, value in vars(paho_packettypes.PacketTypes).items():
        if not name.startswith("_"):
            assert getattr(packettypes.PacketTypes, name) == value, name


def test_instance_attributes_exist() -> None:
    cases = [
        (paho_properties.Properties(3), properties.Properties(3)),
        (paho_reasoncodes.ReasonCode(2), reasoncodes.ReasonCode(2)),
        (paho_subscribeoptions.SubscribeOptions(), subscribeoptions.SubscribeOptions()),
    ]
    for theirs, ours in cases:
        for attr in vars(theirs):
            assert hasattr(ours, attr), f"{type(ours).__name__}.{attr}"


def test_reason_code_table_equals_pahos_plus_payload_format_invalid_in_connack() -> None:
    def flatten(names: Any) -> set[tuple[int, str, int]]:
        return {
            (value, name, packet)
            for value, by_name in names.items()
            for name, packets in by_name.items()
            for packet in packets
        }

    ours = flatten(reasoncodes.ReasonCode.names)
    theirs = flatten(paho_reasoncodes.ReasonCode.names)
    # MQTT 5.0 §3.2.2.2 lists 0x99 for CONNACK; paho's table misses it.
    assert ours - theirs == {(0x99, "Payload format invalid", 2)}
    assert theirs <= ours


def test_property_tables_equal_pahos() -> None:
    theirs = paho_properties.Properties(3)
    ours = properties.Properties(3)
    assert list(ours.types) == theirs.types
    assert dict(ours.names) == theirs.names
    assert list(ours.names) == list(theirs.names)
    assert {k: (t, sorted(p)) for k, (t, p) in ours.properties.items()} == {
        k: (t, sorted(p)) for k, (t, p) in theirs.properties.items()
    }


def test_exception_classes_line_up() -> None:
    assert issubclass(properties.MalformedPacket, properties.MQTTException)
    assert subscribeoptions.MQTTException is properties.MQTTException
