"""What ``publish`` and ``subscribe`` (paho's one-call helpers) share: building a client from
their keyword arguments."""

from __future__ import annotations

from typing import Any, Optional

from mqttclient.client import Client
from mqttclient.enums import CallbackAPIVersion, MQTTProtocolVersion


def make_client(
    client_id: str,
    userdata: Any,
    protocol: MQTTProtocolVersion,
    transport: str,
    *,
    clean_session: Optional[bool] = None,
    auth: Optional[dict[str, Any]] = None,
    will: Optional[dict[str, Any]] = None,
    tls: Any = None,
    proxy_args: Optional[dict[str, Any]] = None,
) -> Client:
    """A VERSION2 client with logging on and the helpers' ``auth``/``will``/``tls``/``proxy``
    options applied (``tls`` is a dict of ``tls_set`` arguments plus ``"insecure"``, or an
    ``ssl.SSLContext``)."""
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if protocol == MQTTProtocolVersion.MQTTv5 else clean_session,
        userdata=userdata,
        protocol=protocol,
        transport=transport,  # type: ignore[arg-type]
    )
    client.enable_logger()
    if proxy_args is not None:
        client.proxy_set(**proxy_args)
    if auth:
        username = auth.get("username")
        if not username:
            raise KeyError("The 'username' key was not found, this is required for auth")
        client.username_pw_set(username, auth.get("password"))
    if will is not None:
        client.will_set(**will)
    if tls is not None:
        if isinstance(tls, dict):
            options = dict(tls)
            insecure = options.pop("insecure", False)
            client.tls_set(**options)
            if insecure:
                client.tls_insecure_set(insecure)
        else:
            client.tls_set_context(tls)
    return client
