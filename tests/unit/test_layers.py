"""The import direction of the layers (docs/architecture.rst), checked by parsing every module.

Every ``import`` counts: at module level, inside functions and under ``TYPE_CHECKING``. The rules:

* vocabulary imports the standard library, ``errors`` and ``_spec`` only;
* ``_core`` imports the standard library (minus sockets, threads, the clock, asyncio and
  subprocesses), vocabulary and ``_core``: no third-party package;
* ``properties`` (the façade's edge) imports the standard library, vocabulary and ``_core``;
* ``_io`` imports the standard library, ``certifi``/``wsproto``/``socks``, vocabulary, ``_core``
  and ``_io``;
* the façade imports anything; nothing below it imports a façade module.

A module that needs an exception goes into ``ALLOWANCES`` with its reason, never into the rules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

PACKAGE = "mqttclient"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

VOCABULARY = "vocabulary"
CORE = "_core"
EDGE = "edge"
IO = "_io"
FACADE = "façade"

# Top-level modules, by layer. Modules under _core/ and _io/ are classified by their package.
TOP_LEVEL = {
    "mqttclient.errors": VOCABULARY,
    "mqttclient.enums": VOCABULARY,
    "mqttclient.packettypes": VOCABULARY,
    "mqttclient.reasoncodes": VOCABULARY,
    "mqttclient.subscribeoptions": VOCABULARY,
    "mqttclient.matcher": VOCABULARY,
    "mqttclient._spec": VOCABULARY,
    "mqttclient.exception": VOCABULARY,
    # Authenticators are pure sans-I/O state machines (stdlib + errors) that _core calls.
    "mqttclient.auth": VOCABULARY,
    "mqttclient._auth_client": FACADE,
    "mqttclient.properties": EDGE,
    "mqttclient": FACADE,
    "mqttclient.__main__": FACADE,
    "mqttclient.client": FACADE,
    "mqttclient._callbacks": FACADE,
    "mqttclient.message": FACADE,
    "mqttclient.publish": FACADE,
    "mqttclient.subscribe": FACADE,
    "mqttclient._helpers": FACADE,
    "mqttclient._routing": FACADE,
    "mqttclient._subscriptions": FACADE,
    "mqttclient._request": FACADE,
    "mqttclient.demo": FACADE,
    "mqttclient.cli": FACADE,
    "mqttclient._server_policy": FACADE,
    # Parts of Client (mixins and paho's module-level names), re-exported by mqttclient.client.
    "mqttclient._client_constants": FACADE,
    "mqttclient._client_settings": FACADE,
    "mqttclient._client_connection": FACADE,
    "mqttclient._client_connect": FACADE,
    "mqttclient._client_loop": FACADE,
}

# Packages and module-name prefixes classified as a whole.
PREFIXES = (
    ("mqttclient._core", CORE),
    ("mqttclient._io", IO),
    ("mqttclient._cli_", FACADE),  # the command line's parts (``mqttclient pub`` / ``sub``)
)

# Vocabulary modules any layer may import; vocabulary itself may import only these.
VOCABULARY_BASE = {"mqttclient.errors", "mqttclient._spec"}

# Façade modules nothing below the façade may import (a clearer message than the layer rule).
FACADE_ONLY = {
    "mqttclient.client",
    "mqttclient._callbacks",
    "mqttclient.message",
    "mqttclient.publish",
    "mqttclient.subscribe",
    "mqttclient.cli",
    "mqttclient.demo",
}

# Standard-library modules _core must not import: the sans-I/O core owns no sockets, threads,
# clock, event loop or processes (time is passed in as ``now``).
CORE_FORBIDDEN_STDLIB = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "threading",
    "time",
    "asyncio",
    "subprocess",
}

# Third-party packages the I/O layer may use (top-level import names).
IO_THIRD_PARTY = {"certifi", "wsproto", "socks"}

# (importing module, imported module): the reason the rules allow it anyway.
ALLOWANCES = {
    ("mqttclient.reasoncodes", "mqttclient.packettypes"): (
        "ReasonCode names packet types with PacketTypes.Names/indexes, as paho's reasoncodes "
        "module does; packettypes is itself vocabulary (standard library and _spec only)"
    ),
}


class Import(NamedTuple):
    importer: str
    target: str  # a dotted module name; for "from X import y", X.y when that is a module
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_package_module(name: str) -> bool:
    return name in MODULES


def _resolve_relative(importer: str, level: int, module: str | None) -> str:
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    drop = level - 1 if is_package else level
    if drop:
        base = base[:-drop]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(name, node.level, node.module)
            else:
                base = node.module or ""
            if base == "__future__":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if base.split(".")[0] == PACKAGE and _is_package_module(candidate):
                    yield Import(name, candidate, node.lineno)
                else:
                    yield Import(name, base, node.lineno)


ALL_IMPORTS = [imp for name, path in MODULES.items() for imp in _imports(name, path)]


def layer_of(module: str) -> str | None:
    """The layer of an mqttclient module; ``None`` if it is not classified yet."""
    for prefix, layer in PREFIXES:
        if module.startswith(prefix):
            return layer
    return TOP_LEVEL.get(module)


def _stdlib_names() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9
        pytest.skip("sys.stdlib_module_names needs Python 3.10")
    return frozenset(names)


def _kind(target: str, stdlib: frozenset[str]) -> str:
    """Return ``"package"`` for mqttclient modules, else ``"stdlib"`` or ``"third-party"``."""
    top = target.split(".")[0]
    if top == PACKAGE:
        return "package"
    return "stdlib" if top in stdlib else "third-party"


def _allowed(importer: str, target: str, stdlib: frozenset[str]) -> bool:
    kind = _kind(target, stdlib)
    layer = layer_of(importer)
    if layer is None:
        return True  # test_every_module_is_classified reports it
    if kind == "stdlib":
        if layer == CORE:
            return target.split(".")[0] not in CORE_FORBIDDEN_STDLIB
        return True
    if kind == "third-party":
        if layer == IO:
            return target.split(".")[0] in IO_THIRD_PARTY
        return layer == FACADE
    target_layer = layer_of(target)
    if layer == VOCABULARY:
        return target in VOCABULARY_BASE
    if layer == CORE:
        return target_layer in (VOCABULARY, CORE)
    if layer == EDGE:
        return target_layer in (VOCABULARY, CORE)
    if layer == IO:
        return target_layer in (VOCABULARY, CORE, IO)
    return True  # the façade


def _describe(violations: list[Import]) -> str:
    return "\n".join(
        f"  {imp.importer} (line {imp.line}) imports {imp.target}" for imp in violations
    )


def test_every_module_is_classified() -> None:
    unknown = [name for name in MODULES if layer_of(name) is None]
    assert not unknown, f"add these modules to TOP_LEVEL with their layer: {unknown}"


def test_every_package_import_resolves() -> None:
    # Catches an import of a module that does not exist, which would slip past the layer rules.
    missing = [
        imp
        for imp in ALL_IMPORTS
        if imp.target.split(".")[0] == PACKAGE and imp.target not in MODULES
    ]
    assert not missing, "imports of unknown mqttclient modules:\n" + _describe(missing)


def test_imports_point_downward() -> None:
    stdlib = _stdlib_names()
    violations = [
        imp
        for imp in ALL_IMPORTS
        if not _allowed(imp.importer, imp.target, stdlib)
        and (imp.importer, imp.target) not in ALLOWANCES
    ]
    assert not violations, (
        "imports against the layering of docs/architecture.rst (fix the import, or record a "
        "reasoned exception in ALLOWANCES):\n" + _describe(violations)
    )


def test_nothing_below_the_facade_imports_it() -> None:
    violations = [
        imp for imp in ALL_IMPORTS if imp.target in FACADE_ONLY and layer_of(imp.importer) != FACADE
    ]
    assert not violations, "façade modules imported from below:\n" + _describe(violations)


def test_client_parts_do_not_import_the_client_module() -> None:
    """``mqttclient.client`` imports the modules of ``Client``'s mixins and its constants; an
    import back (even under ``TYPE_CHECKING``) would be a cycle (docs/architecture.rst)."""
    import mqttclient.client  # the one runtime import here: Client's bases name the parts

    parts = {cls.__module__ for cls in mqttclient.client.Client.__mro__[1:] if cls is not object}
    parts |= {name for name in MODULES if name.startswith("mqttclient._client_")}
    assert "mqttclient._client_loop" in parts and "mqttclient._callbacks" in parts
    violations = [
        imp for imp in ALL_IMPORTS if imp.importer in parts and imp.target == "mqttclient.client"
    ]
    assert not violations, "parts of Client import mqttclient.client:\n" + _describe(violations)


def test_core_does_no_io() -> None:
    violations = [
        imp
        for imp in ALL_IMPORTS
        if layer_of(imp.importer) == CORE and imp.target.split(".")[0] in CORE_FORBIDDEN_STDLIB
    ]
    assert not violations, (
        "_core must not touch sockets, threads, the clock, asyncio or subprocesses:\n"
        + _describe(violations)
    )


# ``Session`` (``_core/session.py``) is assembled from these parts (mixins holding methods only);
# they belong to the pure core like the session, so the core's rules above bind each of them.
SESSION_PARTS = ("handshake", "receiving", "subscribing", "publishing")


@pytest.mark.parametrize("part", SESSION_PARTS)
def test_session_parts_are_core_modules(part: str) -> None:
    name = f"{PACKAGE}._core.{part}"
    assert name in MODULES, f"{name} is gone: update SESSION_PARTS and docs/architecture.rst"
    assert layer_of(name) == CORE
    imported = {(imp.importer, imp.target) for imp in ALL_IMPORTS}
    assert (f"{PACKAGE}._core.session", name) in imported, f"session.py does not import {name}"


def test_allowances_are_still_needed() -> None:
    used = {(imp.importer, imp.target) for imp in ALL_IMPORTS}
    stale = [pair for pair in ALLOWANCES if pair not in used]
    assert not stale, f"remove these allowances, the imports are gone: {stale}"


@pytest.mark.parametrize(
    ("importer", "target", "expected"),
    [
        ("mqttclient.enums", "enum", True),
        ("mqttclient.matcher", "mqttclient.errors", True),
        ("mqttclient.matcher", "mqttclient.enums", False),
        ("mqttclient.matcher", "mqttclient._core.codec", False),
        ("mqttclient._core.session", "time", False),
        ("mqttclient._core.session", "logging", True),
        ("mqttclient._core.session", "mqttclient.properties", False),
        ("mqttclient._core.publishing", "time", False),
        ("mqttclient._core.handshake", "mqttclient._io.loop", False),
        ("mqttclient._core.receiving", "mqttclient._core.packets", True),
        ("mqttclient._core.subscribing", "mqttclient._callbacks", False),
        ("mqttclient._core.codec", "wsproto", False),
        ("mqttclient.properties", "mqttclient._core.codec", True),
        ("mqttclient.properties", "mqttclient._io.loop", False),
        ("mqttclient._io.loop", "mqttclient._core.session", True),
        ("mqttclient._io.loop", "mqttclient.client", False),
        ("mqttclient._io.websocket", "wsproto.events", True),
        ("mqttclient._io.transport", "requests", False),
        ("mqttclient.client", "mqttclient._io.loop", True),
        ("mqttclient._cli_common", "mqttclient._io.proxy", True),
    ],
)
def test_rules_themselves(importer: str, target: str, expected: bool) -> None:
    assert _allowed(importer, target, _stdlib_names()) is expected
