"""The client modules expose paho-mqtt's public surface (paho-compat.md §2-§4, §9, §10).

For ``paho.mqtt.client``, ``paho.mqtt.publish``, ``paho.mqtt.subscribe`` and the ``paho.mqtt``
package: every public name exists in ours; constants and enum members are equal; re-exported
vocabulary classes are our own vocabulary classes; every public function and every public
``Client`` method has a compatible signature (paho's parameters with the same names, kinds, order
and defaults; anything we add comes after them with a default, or is keyword-only); properties
have the same getter/setter shape; the ``on_*`` slots and their decorator factories exist and
work; ``MQTTMessageInfo`` and ``MQTTMessage`` behave the same. The vocabulary modules are covered
by ``test_paho_surface_vocabulary.py``.

paho-mqtt 2.x is a test dependency. Clients are built but never connected.
"""

from __future__ import annotations
import __future__

import collections.abc
import enum
import importlib
import inspect
import pkgutil
import time
import types
import typing
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import paho.mqtt
import paho.mqtt.client as paho_client
import paho.mqtt.publish as paho_publish
import paho.mqtt.subscribe as paho_subscribe
import pytest

import mqttclient
import mqttclient.client as our_client
import mqttclient.publish as our_publish
import mqttclient.subscribe as our_subscribe

# Public names of paho's that we do not mirror, with the reason. Keys are "module.name",
# "Class.attribute" or "Class.method(parameter) default".
EXCLUDED: dict[str, str] = {
    # paho's publish.py imports these for its own use (building its client, annotating its
    # callbacks); they are not part of the module's documented API. Import them from
    # mqttclient.client / mqttclient.enums as in paho.
    "publish.CallbackAPIVersion": "incidental import in paho's publish.py, not API",
    "publish.Properties": "incidental import in paho's publish.py, not API",
    "publish.ReasonCode": "incidental import in paho's publish.py, not API",
    # A sentinel lets an omitted argument warn (paho-mqtt 2.1 semantics) while an explicit
    # VERSION1 does not; omitted still means VERSION1.
    "Client.__init__(callback_api_version) default": "sentinel that behaves as VERSION1",
}

# Private names that paho-compat.md §2 lists as present and that programs reach for.
PRIVATE_API = ["_base62", "_socketpair_compat", "_force_bytes", "_encode_payload"]

# Dunder methods that are API (the others are inherited from object or implementation detail).
API_DUNDERS = {"__init__", "__iter__", "__next__", "__getitem__", "__str__", "__eq__", "__ne__"}

# Module objects paho's client exposes on purpose (paho-compat.md §2).
API_MODULES = ["ssl", "socks", "dns"]

CALLBACK_SLOTS = [
    "on_log",
    "on_pre_connect",
    "on_connect",
    "on_connect_fail",
    "on_subscribe",
    "on_message",
    "on_publish",
    "on_unsubscribe",
    "on_disconnect",
    "on_socket_open",
    "on_socket_close",
    "on_socket_register_write",
    "on_socket_unregister_write",
]

MODULE_PAIRS = {
    "client": (paho_client, our_client),
    "publish": (paho_publish, our_publish),
    "subscribe": (paho_subscribe, our_subscribe),
}


_MISSING = object()


def _is_imported_helper(name: str, value: Any) -> bool:
    """Names a paho module imports for itself (``typing.Any``, ``collections``, ``annotations``)
    rather than defines. Type aliases built from typing (``PayloadType``) are API and stay."""
    if isinstance(value, (types.ModuleType, __future__._Feature)):
        return True
    return any(getattr(source, name, _MISSING) is value for source in (typing, collections.abc))


def public_names(module: types.ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not _is_imported_helper(name, value)
    ]


def _pairs_of(kind: str) -> list[tuple[str, str]]:
    return [
        (module, name)
        for module, (theirs, _) in MODULE_PAIRS.items()
        for name in public_names(theirs)
        if kind == "all"
        or (kind == "callable" and inspect.isfunction(getattr(theirs, name)))
        or (
            kind == "value"
            and isinstance(getattr(theirs, name), (int, float, str, bytes, dict, enum.Enum))
        )
    ]


def signature_problems(
    theirs: Callable[..., Any], ours: Callable[..., Any], where: str
) -> list[str]:
    """Differences that could break a call written for paho: paho's parameters must come first
    in our signature with the same names, kinds and (unless EXCLUDED) defaults; our extra
    parameters must be optional."""
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    problems = []
    our_names = [p.name for p in our_params[: len(their_params)]]
    if our_names != [p.name for p in their_params]:
        return [f"{where}: parameters {our_names} != paho's {[p.name for p in their_params]}"]
    for their, our in zip(their_params, our_params):
        if our.kind != their.kind:
            problems.append(f"{where}: {their.name} is {our.kind.name}, paho {their.kind.name}")
        if their.default is inspect.Parameter.empty:
            continue  # required in paho; a default of ours only makes us more lenient
        if f"{where}({their.name}) default" in EXCLUDED:
            assert our.default is not inspect.Parameter.empty, where
            continue
        if our.default is inspect.Parameter.empty or not _same_default(our.default, their.default):
            problems.append(
                f"{where}: default of {their.name} is {our.default!r}, paho {their.default!r}"
            )
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    for extra in our_params[len(their_params) :]:
        if extra.default is inspect.Parameter.empty and extra.kind not in variadic:
            problems.append(f"{where}: our extra parameter {extra.name} needs a default")
    return problems


def _same_default(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, enum.Enum):
        return type(ours).__name__ == type(theirs).__name__ and ours.value == theirs.value
    return type(ours) is type(theirs) and ours == theirs


def _client(module: types.ModuleType, **kwargs: Any) -> Any:
    return module.Client(module.CallbackAPIVersion.VERSION2, **kwargs)


# --- the paho.mqtt package ----------------------------------------------------------------------


def test_package_exports_exception_and_version() -> None:
    assert issubclass(mqttclient.MQTTException, Exception)
    assert isinstance(paho.mqtt.__version__, str)
    assert isinstance(mqttclient.__version__, str)
    # Code catches paho.mqtt.MQTTException around publish.single() and client calls.
    assert our_client.MQTTException is mqttclient.MQTTException
    assert our_client.MalformedPacket.__mro__[1:].count(mqttclient.MQTTException) == 1


def test_every_public_submodule_exists() -> None:
    """``import paho.mqtt.X`` → ``import mqttclient.X`` for every public submodule of the
    installed paho (2.2 added ``exception`` with ``MQTTException`` and ``MalformedPacket``)."""
    missing = []
    for info in pkgutil.iter_modules(paho.mqtt.__path__):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"mqttclient.{info.name}")
        except ImportError:
            missing.append(info.name)
    assert missing == []


def test_exception_module_names() -> None:
    try:
        ours = importlib.import_module("mqttclient.exception")
    except ImportError:
        pytest.fail("mqttclient.exception is missing (paho.mqtt.exception in paho-mqtt 2.2)")
    theirs = importlib.import_module("paho.mqtt.exception")
    assert [n for n in public_names(theirs) if not hasattr(ours, n)] == []
    assert ours.MQTTException is mqttclient.MQTTException
    assert issubclass(ours.MalformedPacket, ours.MQTTException)


# --- module-level names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name"), [p for p in _pairs_of("all") if f"{p[0]}.{p[1]}" not in EXCLUDED]
)
def test_public_name_exists(module: str, name: str) -> None:
    ours = MODULE_PAIRS[module][1]
    assert hasattr(ours, name), f"mqttclient.{module}.{name} is missing"


def test_excluded_names_are_still_in_paho() -> None:
    """Every exclusion names a real paho name and gives a reason (keeps the list honest)."""
    for key, reason in EXCLUDED.items():
        module, _, name = key.partition(".")
        if module in MODULE_PAIRS:
            assert hasattr(MODULE_PAIRS[module][0], name), key
        assert reason


@pytest.mark.parametrize("name", PRIVATE_API)
def test_private_helpers_that_programs_use_exist(name: str) -> None:
    assert callable(getattr(our_client, name, None)), name
    assert not signature_problems(getattr(paho_client, name), getattr(our_client, name), name)


def test_module_objects_are_exposed() -> None:
    for name in API_MODULES:
        if hasattr(paho_client, name):
            assert hasattr(our_client, name), name
            theirs, ours = getattr(paho_client, name), getattr(our_client, name)
            assert (theirs is None) == (ours is None), name
    assert our_client.HAVE_DNS == paho_client.HAVE_DNS


@pytest.mark.parametrize(("module", "name"), _pairs_of("value"))
def test_constants_are_equal(module: str, name: str) -> None:
    theirs, ours = (getattr(m, name) for m in MODULE_PAIRS[module])
    if isinstance(theirs, dict):
        assert {(int(k), v) for k, v in ours.items()} == {(int(k), v) for k, v in theirs.items()}
        return
    assert ours == theirs
    assert type(ours).__name__ == type(theirs).__name__, f"{name}: {type(ours)}"
    if isinstance(theirs, enum.Enum):
        assert ours.name == theirs.name


def test_time_func_is_monotonic() -> None:
    assert our_client.time_func is paho_client.time_func is time.monotonic


def test_reexported_classes_are_our_vocabulary_classes() -> None:
    """``mqtt.Properties`` etc. must be the very classes of our vocabulary modules, so that
    ``isinstance`` and equality work across ``import mqttclient.X`` styles."""
    checked = 0
    for name in public_names(paho_client):
        theirs = getattr(paho_client, name)
        source = getattr(theirs, "__module__", "")
        if not inspect.isclass(theirs) or source == "paho.mqtt.client":
            continue
        module = source.replace("paho.mqtt.", "")
        if module in ("enums", "properties", "reasoncodes", "subscribeoptions", "matcher"):
            ours = getattr(importlib.import_module(f"mqttclient.{module}"), name)
            assert getattr(our_client, name) is ours, name
            checked += 1
    assert checked >= 10


def _callable_arities(alias: Any) -> set[int]:
    if typing.get_origin(alias) is collections.abc.Callable:
        return {len(typing.get_args(alias)[0])}
    if typing.get_origin(alias) is typing.Union:
        return set().union(*(_callable_arities(arg) for arg in typing.get_args(alias)))
    return set()


def test_type_aliases_have_the_same_shape() -> None:
    checked = 0
    for name in public_names(paho_client):
        theirs = getattr(paho_client, name)
        if typing.get_origin(theirs) is None:
            continue
        ours = getattr(our_client, name)
        assert typing.get_origin(ours) == typing.get_origin(theirs), name
        # Callbacks: the same argument counts, (client, userdata, ...) (a Union of identical
        # Callables collapses, so compare the sets of counts).
        assert _callable_arities(ours) == _callable_arities(theirs), name
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize(("module", "name"), _pairs_of("callable"))
def test_function_signatures_are_compatible(module: str, name: str) -> None:
    theirs, ours = (getattr(m, name) for m in MODULE_PAIRS[module])
    assert callable(ours)
    assert signature_problems(theirs, ours, f"{module}.{name}") == []


# --- functions give the same answers ------------------------------------------------------------


def test_error_string_texts() -> None:
    for code in [*range(-1, 18), 99]:
        assert our_client.error_string(code) == paho_client.error_string(code), code


def test_connack_string_texts() -> None:
    for code in range(7):
        assert our_client.connack_string(code) == paho_client.connack_string(code), code
    for code in (0, 0x80, 0x86, 0x87):
        theirs = paho_client.connack_string(paho_client.ReasonCode(2, identifier=code))
        ours = our_client.connack_string(our_client.ReasonCode(2, identifier=code))
        assert ours == theirs


def test_reason_code_conversions() -> None:
    for code in range(8):
        theirs = paho_client.convert_connack_rc_to_reason_code(code)
        ours = our_client.convert_connack_rc_to_reason_code(code)
        assert (ours.packetType, ours.value, str(ours)) == (
            theirs.packetType,
            theirs.value,
            str(theirs),
        )
    for rc in paho_client.MQTTErrorCode:
        theirs = paho_client.convert_disconnect_error_code_to_reason_code(rc)
        ours = our_client.convert_disconnect_error_code_to_reason_code(
            our_client.MQTTErrorCode(rc.value)
        )
        assert (ours.packetType, ours.value) == (theirs.packetType, theirs.value), rc


def test_topic_matches_sub_agrees() -> None:
    cases = [
        ("a/b", "a/b"),
        ("a/+", "a/b"),
        ("a/+", "a/b/c"),
        ("a/#", "a"),
        ("a/#", "a/b/c"),
        ("#", "$SYS/x"),
        ("+/x", "$SYS/x"),
        ("$SYS/#", "$SYS/x"),
        ("+/+", "/x"),
        ("a/b", "a/c"),
    ]
    for sub, topic in cases:
        expected = paho_client.topic_matches_sub(sub, topic)
        assert our_client.topic_matches_sub(sub, topic) == expected, (sub, topic)


def test_payload_encoding_helpers_agree() -> None:
    for payload in ["text", "ünï", b"\x00\xff", bytearray(b"ba"), 42, -1, 3.5, None]:
        assert bytes(our_client._encode_payload(payload)) == bytes(
            paho_client._encode_payload(payload)
        ), payload
    for bad in (object(), [1], {"a": 1}):
        with pytest.raises(TypeError):
            paho_client._encode_payload(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            our_client._encode_payload(bad)  # type: ignore[arg-type]
    assert our_client._force_bytes("é") == paho_client._force_bytes("é")
    for num in (0, 1, 61, 62, 12345678901234567890):
        assert our_client._base62(num, padding=22) == paho_client._base62(num, padding=22)


def test_flag_tuples() -> None:
    for name in ("ConnectFlags", "DisconnectFlags"):
        theirs, ours = getattr(paho_client, name), getattr(our_client, name)
        assert issubclass(ours, tuple)
        assert ours._fields == theirs._fields, name
    assert issubclass(our_client.WebsocketConnectionError, ConnectionError)


# --- MQTTMessageInfo and MQTTMessage ------------------------------------------------------------


@pytest.mark.parametrize("cls", ["MQTTMessageInfo", "MQTTMessage"])
def test_message_classes_have_pahos_methods_and_slots(cls: str) -> None:
    theirs, ours = getattr(paho_client, cls), getattr(our_client, cls)
    problems = []
    for attr, value in vars(theirs).items():
        if attr.startswith("_") and attr not in API_DUNDERS:
            continue
        if attr == "__slots__":
            continue
        if not hasattr(ours, attr):
            problems.append(f"{cls}.{attr} is missing")
        elif isinstance(value, property):
            our_attr = inspect.getattr_static(ours, attr)
            assert isinstance(our_attr, property), attr
            assert (our_attr.fset is None) == (value.fset is None), f"{attr} setter"
        elif callable(value):
            problems += signature_problems(value, getattr(ours, attr), f"{cls}.{attr}")
    instance = ours(1) if cls == "MQTTMessageInfo" else ours()
    for slot in theirs.__slots__:
        if not slot.startswith("_"):
            assert hasattr(instance, slot), f"{cls}.{slot}"
    assert problems == []


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_message_info_is_a_tuple_of_rc_and_mid(module: types.ModuleType) -> None:
    info = module.MQTTMessageInfo(7)
    assert info.rc == module.MQTT_ERR_SUCCESS and info.mid == 7
    rc, mid = info
    assert (rc, mid) == (0, 7)
    assert (info[0], info[1]) == (0, 7)
    with pytest.raises(IndexError):
        info[2]
    assert str(info) == str((module.MQTT_ERR_SUCCESS, 7))
    iterator: Iterator[int] = iter(info)
    assert next(iterator) == 0 and next(iterator) == 7
    with pytest.raises(StopIteration):
        next(iterator)
    assert list(info) == [0, 7]  # iterable again
    assert info.is_published() is False
    info.wait_for_publish(0)  # times out quietly
    assert info.is_published() is False


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_message_info_next_method(module: types.ModuleType) -> None:
    """paho-compat.md §2.1: ``next()`` is a method too (1.x code calls ``info.next()``)."""
    info = module.MQTTMessageInfo(3)
    iter(info)
    assert info.next() == 0
    assert info.next() == 3


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_message_info_error_codes_raise(module: types.ModuleType) -> None:
    info = module.MQTTMessageInfo(1)
    info.rc = module.MQTT_ERR_QUEUE_SIZE
    with pytest.raises(ValueError):
        info.wait_for_publish(0)
    with pytest.raises(ValueError):
        info.is_published()
    info.rc = module.MQTT_ERR_NO_CONN
    with pytest.raises(RuntimeError, match="Message publish failed: The client is not"):
        info.wait_for_publish(0)
    with pytest.raises(RuntimeError):
        info.is_published()
    info.rc = module.MQTT_ERR_AGAIN
    assert info.is_published() is False


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_message_attributes(module: types.ModuleType) -> None:
    msg = module.MQTTMessage(5, b"a/b")
    assert (msg.mid, msg.topic, msg.payload, msg.qos) == (5, "a/b", b"", 0)
    assert msg.retain is False and msg.dup is False
    assert msg.properties is None
    assert isinstance(msg.info, module.MQTTMessageInfo) and msg.info.mid == 5
    assert isinstance(msg.timestamp, float)
    assert msg == module.MQTTMessage(5, b"other") and msg != module.MQTTMessage(6, b"a/b")
    msg.topic = b"c/d"
    assert msg.topic == "c/d"
    msg.topic = b"\xff"
    with pytest.raises(UnicodeDecodeError):
        msg.topic  # noqa: B018
    default = module.MQTTMessage()
    assert (default.mid, default.topic) == (0, "")


# --- Client ---------------------------------------------------------------------------------------


def _client_members(kind: str) -> list[str]:
    names = []
    for name, value in vars(paho_client.Client).items():
        if name.startswith("_") and name not in API_DUNDERS:
            continue
        is_property = isinstance(value, property)
        if (kind == "property") == is_property and (is_property or callable(value)):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _client_members("method"))
def test_client_method_signature(name: str) -> None:
    theirs = getattr(paho_client.Client, name)
    ours = getattr(our_client.Client, name, None)
    assert ours is not None, f"Client.{name} is missing"
    assert callable(ours)
    assert signature_problems(theirs, ours, f"Client.{name}") == []


@pytest.mark.parametrize("name", _client_members("property"))
def test_client_property_shape(name: str) -> None:
    theirs = inspect.getattr_static(paho_client.Client, name)
    ours = inspect.getattr_static(our_client.Client, name, None)
    assert ours is not None, f"Client.{name} is missing"
    # A property, or another data descriptor (our on_* slots), with a setter iff paho has one.
    assert hasattr(ours, "__get__"), name
    writable = ours.fset is not None if isinstance(ours, property) else hasattr(ours, "__set__")
    assert writable == (theirs.fset is not None), f"{name}: setter presence"


def test_fresh_client_property_values_match() -> None:
    theirs, ours = _client(paho_client), _client(our_client)
    for name in _client_members("property"):
        if name in ("will_topic", "will_payload"):
            continue  # test_will_properties_without_a_will
        their_value, our_value = getattr(theirs, name), getattr(ours, name)
        if name == "callback_api_version" or name == "protocol":
            assert our_value.value == their_value.value, name
        else:
            assert our_value == their_value, name
    assert ours.suppress_exceptions is theirs.suppress_exceptions is False


def test_will_properties_without_a_will() -> None:
    """Quirk: paho documents None but returns "" and b"" when no will is set (fresh client or
    after will_clear()); ``if client.will_topic is None`` style code depends on which."""
    for clear in (False, True):
        theirs, ours = _client(paho_client), _client(our_client)
        if clear:
            for client in (theirs, ours):
                client.will_set("w", "x")
                client.will_clear()
        assert (ours.will_topic, ours.will_payload) == (theirs.will_topic, theirs.will_payload)


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_read_only_properties_refuse_assignment(module: types.ModuleType) -> None:
    client = _client(module)
    for name in ("protocol", "will_topic", "will_payload", "callback_api_version"):
        with pytest.raises(AttributeError):
            setattr(client, name, None)


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_configuration_properties_round_trip_before_connect(module: types.ModuleType) -> None:
    client = _client(module)
    values = {
        "host": "broker.example",
        "port": 8883,
        "keepalive": 17,
        "transport": "websockets",
        "connect_timeout": 2.5,
        "username": "user",
        "password": "secret",
        "max_inflight_messages": 7,
        "max_queued_messages": 9,
    }
    for name, value in values.items():
        setattr(client, name, value)
        assert getattr(client, name) == value, name
    client.will_set("will/topic", "gone", 1, True)
    assert client.will_topic == "will/topic"
    assert client.will_payload == b"gone"
    client.will_clear()
    assert not client.will_topic and not client.will_payload


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_callback_slots_and_decorators(module: types.ModuleType) -> None:
    client = _client(module)

    def handler(*args: Any) -> None:
        pass

    for slot in CALLBACK_SLOTS:
        assert getattr(client, slot) is None, slot
        setattr(client, slot, handler)
        assert getattr(client, slot) is handler, slot
        setattr(client, slot, None)
        factory = getattr(client, slot[3:] + "_callback")
        decorator = factory()

        def decorated(*args: Any) -> None:
            pass

        assert decorator(decorated) is decorated, slot
        assert getattr(client, slot) is decorated, slot

    def on_topic(*args: Any) -> None:
        pass

    assert client.topic_callback("a/+")(on_topic) is on_topic
    client.message_callback_remove("a/+")
    client.message_callback_add("b/#", on_topic)
    with pytest.raises(ValueError):
        client.message_callback_add("b/#", None)


# paho's __del__ fails (AttributeError: _sock) on a Client whose __init__ raised.
_PAHO_DEL_NOISE = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(paho_client, id="paho", marks=_PAHO_DEL_NOISE),
        pytest.param(our_client, id="ours"),
    ],
)
def test_constructor_argument_errors(module: types.ModuleType) -> None:
    v2 = module.CallbackAPIVersion.VERSION2
    with pytest.raises(ValueError):
        module.Client(v2, protocol=module.MQTTv5, clean_session=True)
    with pytest.raises(ValueError):
        module.Client(v2, clean_session=False)
    with pytest.raises(ValueError):
        module.Client(v2, transport="quic")
    client = module.Client(v2, "id", transport="TCP", userdata={"k": 1})
    assert client.transport == "tcp"
    assert client.user_data_get() == {"k": 1}
    with pytest.raises(ValueError):
        client.connect("127.0.0.1", 1883, clean_start=False)  # 3.1.1: no clean_start
    with pytest.raises(ValueError):
        client.connect("127.0.0.1", 1883, properties=module.Properties(module.PacketTypes.CONNECT))


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_omitted_callback_api_version_warns(module: types.ModuleType) -> None:
    with pytest.warns(DeprecationWarning):
        client = module.Client()
    assert client.callback_api_version == module.CallbackAPIVersion.VERSION1


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_calls_that_need_a_connection_say_no_conn(module: types.ModuleType) -> None:
    client = _client(module, client_id="offline")
    assert client.subscribe("a") == (module.MQTT_ERR_NO_CONN, None)
    assert client.unsubscribe("a") == (module.MQTT_ERR_NO_CONN, None)
    assert client.disconnect() == module.MQTT_ERR_NO_CONN
    info = client.publish("a", "x", qos=0)
    assert (info.rc, info.mid) == (module.MQTT_ERR_NO_CONN, 1)
    assert client.is_connected() is False
    assert client.want_write() is False
    assert client.socket() is None
    assert client.loop_stop() == module.MQTT_ERR_INVAL
    assert client.max_queued_messages_set(3) is client
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.enable_logger()
        client.disable_logger()


@pytest.mark.parametrize("module", [paho_client, our_client], ids=["paho", "ours"])
def test_argument_errors_raise_value_error(module: types.ModuleType) -> None:
    client = _client(module, client_id="args")
    for bad in [("",), ("a/+",), ("a/#",), ("a", "x", 3)]:
        with pytest.raises(ValueError):
            client.publish(*bad)
    with pytest.raises(TypeError):
        client.publish("a", object())
    for bad_sub in [("a", 3), ([],), ("a", -1), ([("a", 3)],)]:
        with pytest.raises(ValueError):
            client.subscribe(*bad_sub)
    with pytest.raises(ValueError):
        client.unsubscribe("")
    with pytest.raises(ValueError):
        client.will_set("", "x")
    with pytest.raises(ValueError):
        client.will_set("w", "x", qos=3)
    with pytest.raises(ValueError):
        client.loop(-1)
    with pytest.raises(ValueError):
        client.tls_insecure_set(True)  # no TLS context yet
    with pytest.raises(ValueError):
        client.ws_set_options(headers=42)  # type: ignore[arg-type]
