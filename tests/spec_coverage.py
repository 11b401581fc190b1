"""Which test guards each client rule of MQTT 3.1.1 and 5.0.

``RULE_IDS`` is the frozen list of every normative statement id the shared rules document
(``mqtt-client-rules.md``, not part of this repository) cites: ranges such as
``[MQTT-3.1.2-16..19]`` and ``[MQTT-3.4.2-2/3]``, and the series elided in
``[MQTT-3.4.2-2/3] ... [MQTT-3.7.2-2/3]``, listed id by id. ``tests/unit/test_spec_coverage.py``
checks that ``COVERAGE`` has exactly these keys, and, wherever the document exists, that the list
still equals what it cites.

Each id of ``COVERAGE`` maps to either

- a tuple of pytest node ids (``path::function`` or ``path::Class::method``, no parameter
  suffix) of tests that fail when the client breaks the rule, or
- a string: why no client test guards it. ``SERVER`` marks a rule for servers only (a node id
  quoted in it names the client-side test of the same behaviour); any other text explains why
  the client cannot break the rule. Every client rule has a test: no gap is allowed. There are no placeholders: a ``PENDING`` entry fails the check.

3.1.1 and 5.0 number their statements independently, so one id may name two rules; the comment
above such an entry says which is which ("v3" = 3.1.1, "v5" = 5.0) and the entry covers both.
``MQTT-3-8.3-4`` is spelled as the 3.1.1 standard spells it.

Map a rule to a test only after reading the test: it must fail if the client broke the rule.
"""

from __future__ import annotations

from typing import Union

Entry = Union[tuple[str, ...], str]

# Test files, to keep the table readable.
MAL = "tests/unit/test_codec_malformed.py"
FIX = "tests/unit/test_codec_fixtures.py"
PROP = "tests/unit/test_codec_properties.py"
CON = "tests/unit/test_session_connect.py"
ERR = "tests/unit/test_session_errors.py"
INB = "tests/unit/test_session_inbound.py"
PUB = "tests/unit/test_session_publish.py"
STO = "tests/unit/test_session_store.py"
MAT = "tests/unit/test_matcher.py"
ALI = "tests/unit/test_session_aliases.py"
LIM = "tests/unit/test_session_server_limits.py"
PFM = "tests/unit/test_session_payload_format.py"
WSU = "tests/unit/test_transport_websocket.py"
TPP = "tests/unit/test_transport_params.py"
SUR = "tests/unit/test_paho_surface_client.py"
RS = "tests/unit/test_rules_session.py"
FB = "tests/integration/test_client_fakebroker.py"
HB = "tests/integration/test_hostile_broker.py"
MOS = "tests/integration/test_client_mosquitto.py"
TR = "tests/integration/test_transports.py"
RC = "tests/integration/test_rules_client.py"
ALM = "tests/integration/test_mqtt5_aliases_limits.py"
RTO = "tests/integration/test_mqtt5_redirect_takeover.py"
SAU = "tests/unit/test_session_auth.py"
EAU = "tests/integration/test_enhanced_auth.py"


def t(path: str, *names: str) -> tuple[str, ...]:
    """Node ids ``path::name`` for each name."""
    return tuple(f"{path}::{name}" for name in names)


SERVER = "server rule: "

# Every statement id the rules document cites, ranges and elided series expanded, in numeric
# order ("MQTT-3-8.3-4", spelled as 3.1.1 spells it, after its 5.0 twin), grouped by section.
# fmt: off
RULE_IDS: tuple[str, ...] = (
    "MQTT-1.5.3-1", "MQTT-1.5.3-2", "MQTT-1.5.3-3", "MQTT-1.5.4-1", "MQTT-1.5.4-2", "MQTT-1.5.4-3",
    "MQTT-1.5.5-1", "MQTT-1.5.7-1",
    "MQTT-2.1.3-1",
    "MQTT-2.2.1-2", "MQTT-2.2.1-3", "MQTT-2.2.1-5", "MQTT-2.2.1-6", "MQTT-2.2.2-1", "MQTT-2.2.2-2",
    "MQTT-2.3.1-1", "MQTT-2.3.1-2", "MQTT-2.3.1-3", "MQTT-2.3.1-5", "MQTT-2.3.1-6", "MQTT-2.3.1-7",
    "MQTT-3.1.0-1", "MQTT-3.1.0-2", "MQTT-3.1.2-2", "MQTT-3.1.2-3", "MQTT-3.1.2-4", "MQTT-3.1.2-6",
    "MQTT-3.1.2-8", "MQTT-3.1.2-9", "MQTT-3.1.2-10", "MQTT-3.1.2-11", "MQTT-3.1.2-12",
    "MQTT-3.1.2-13", "MQTT-3.1.2-14", "MQTT-3.1.2-15", "MQTT-3.1.2-16", "MQTT-3.1.2-17",
    "MQTT-3.1.2-18", "MQTT-3.1.2-19", "MQTT-3.1.2-20", "MQTT-3.1.2-21", "MQTT-3.1.2-22",
    "MQTT-3.1.2-23", "MQTT-3.1.2-24", "MQTT-3.1.2-25", "MQTT-3.1.2-26", "MQTT-3.1.2-27",
    "MQTT-3.1.2-28", "MQTT-3.1.2-29", "MQTT-3.1.2-30", "MQTT-3.1.3-1", "MQTT-3.1.3-3",
    "MQTT-3.1.3-4", "MQTT-3.1.3-5", "MQTT-3.1.3-6", "MQTT-3.1.3-7", "MQTT-3.1.3-8", "MQTT-3.1.3-9",
    "MQTT-3.1.3-10", "MQTT-3.1.3-11", "MQTT-3.1.3-12",
    "MQTT-3.2.0-1", "MQTT-3.2.0-2", "MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.2.2-3", "MQTT-3.2.2-4",
    "MQTT-3.2.2-5", "MQTT-3.2.2-6", "MQTT-3.2.2-7", "MQTT-3.2.2-10", "MQTT-3.2.2-11",
    "MQTT-3.2.2-12", "MQTT-3.2.2-13", "MQTT-3.2.2-14", "MQTT-3.2.2-15", "MQTT-3.2.2-16",
    "MQTT-3.2.2-17", "MQTT-3.2.2-18", "MQTT-3.2.2-21", "MQTT-3.2.2-22",
    "MQTT-3.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.1-4", "MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8",
    "MQTT-3.3.1-9", "MQTT-3.3.1-10", "MQTT-3.3.1-13", "MQTT-3.3.2-2", "MQTT-3.3.2-4",
    "MQTT-3.3.2-5", "MQTT-3.3.2-6", "MQTT-3.3.2-7", "MQTT-3.3.2-8", "MQTT-3.3.2-9",
    "MQTT-3.3.2-10", "MQTT-3.3.2-13", "MQTT-3.3.2-14", "MQTT-3.3.2-15", "MQTT-3.3.2-16",
    "MQTT-3.3.2-17", "MQTT-3.3.2-18", "MQTT-3.3.2-19", "MQTT-3.3.2-20", "MQTT-3.3.4-3",
    "MQTT-3.3.4-4", "MQTT-3.3.4-5", "MQTT-3.3.4-6", "MQTT-3.3.4-7", "MQTT-3.3.4-8", "MQTT-3.3.4-9",
    "MQTT-3.4.2-1", "MQTT-3.4.2-2", "MQTT-3.4.2-3",
    "MQTT-3.5.2-1", "MQTT-3.5.2-2", "MQTT-3.5.2-3",
    "MQTT-3.6.1-1", "MQTT-3.6.2-1", "MQTT-3.6.2-2", "MQTT-3.6.2-3",
    "MQTT-3.7.2-1", "MQTT-3.7.2-2", "MQTT-3.7.2-3",
    "MQTT-3.8.1-1", "MQTT-3.8.3-1", "MQTT-3.8.3-2", "MQTT-3.8.3-3", "MQTT-3.8.3-4", "MQTT-3-8.3-4",
    "MQTT-3.8.3-5", "MQTT-3.8.4-3", "MQTT-3.8.4-4", "MQTT-3.8.4-6", "MQTT-3.8.4-8",
    "MQTT-3.9.3-1", "MQTT-3.9.3-2",
    "MQTT-3.10.1-1", "MQTT-3.10.3-1", "MQTT-3.10.3-2", "MQTT-3.10.4-1", "MQTT-3.10.4-3",
    "MQTT-3.10.4-4", "MQTT-3.10.4-5",
    "MQTT-3.11.3-1",
    "MQTT-3.14.0-1", "MQTT-3.14.1-1", "MQTT-3.14.2-1", "MQTT-3.14.2-2", "MQTT-3.14.2-3",
    "MQTT-3.14.2-4", "MQTT-3.14.4-1", "MQTT-3.14.4-2", "MQTT-3.14.4-3",
    "MQTT-3.15.1-1", "MQTT-3.15.2-1", "MQTT-3.15.2-2", "MQTT-3.15.2-3",
    "MQTT-4.1.0-1",
    "MQTT-4.3.1-1", "MQTT-4.3.2-1", "MQTT-4.3.2-2", "MQTT-4.3.2-3", "MQTT-4.3.2-4", "MQTT-4.3.2-5",
    "MQTT-4.3.3-1", "MQTT-4.3.3-2", "MQTT-4.3.3-3", "MQTT-4.3.3-4", "MQTT-4.3.3-5", "MQTT-4.3.3-6",
    "MQTT-4.3.3-7", "MQTT-4.3.3-8", "MQTT-4.3.3-9", "MQTT-4.3.3-10", "MQTT-4.3.3-11",
    "MQTT-4.3.3-12", "MQTT-4.3.3-13",
    "MQTT-4.4.0-1", "MQTT-4.4.0-2",
    "MQTT-4.5.0-2",
    "MQTT-4.6.0-1", "MQTT-4.6.0-2", "MQTT-4.6.0-3", "MQTT-4.6.0-4", "MQTT-4.6.0-5", "MQTT-4.6.0-6",
    "MQTT-4.7.0-1", "MQTT-4.7.1-1", "MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-4.7.2-1", "MQTT-4.7.3-1",
    "MQTT-4.7.3-2", "MQTT-4.7.3-3", "MQTT-4.7.3-4",
    "MQTT-4.8.0-1", "MQTT-4.8.0-2", "MQTT-4.8.2-1", "MQTT-4.8.2-2", "MQTT-4.8.2-3", "MQTT-4.8.2-6",
    "MQTT-4.9.0-1", "MQTT-4.9.0-2", "MQTT-4.9.0-3",
    "MQTT-4.12.0-1", "MQTT-4.12.0-2", "MQTT-4.12.0-3", "MQTT-4.12.0-4", "MQTT-4.12.0-5",
    "MQTT-4.12.0-6", "MQTT-4.12.0-7", "MQTT-4.12.1-1", "MQTT-4.12.1-2",
    "MQTT-4.13.2-1",
    "MQTT-6.0.0-1", "MQTT-6.0.0-2", "MQTT-6.0.0-3", "MQTT-6.0.0-4",
)
# fmt: on

COVERAGE: dict[str, Entry] = {
    # --- data types (v3 §1.5, v5 §1.5) ---------------------------------------------------------
    # v3: UTF-8 strings well-formed, no surrogates.
    "MQTT-1.5.3-1": t(MAL, "test_malformed")
    + t(PROP, "test_encode_rejects")
    + t(RC, "test_publish_topic_that_is_not_utf8_is_refused_offline"),
    # v3: no U+0000.
    "MQTT-1.5.3-2": t(MAL, "test_malformed")
    + t(PROP, "test_encode_rejects")
    + t(MAT, "test_invalid_topic_names"),
    # v3: U+FEFF kept.
    "MQTT-1.5.3-3": t(FIX, "test_decode", "test_encode"),
    # v5: UTF-8 strings well-formed, no surrogates.
    "MQTT-1.5.4-1": t(MAL, "test_malformed")
    + t(PROP, "test_encode_rejects")
    + t(RC, "test_publish_topic_that_is_not_utf8_is_refused_offline"),
    # v5: no U+0000.
    "MQTT-1.5.4-2": t(MAL, "test_malformed")
    + t(PROP, "test_encode_rejects")
    + t(MAT, "test_invalid_topic_names"),
    # v5: U+FEFF kept.
    "MQTT-1.5.4-3": t(FIX, "test_decode", "test_encode"),
    # v5: Variable Byte Integer in the fewest bytes.
    "MQTT-1.5.5-1": t(MAL, "test_malformed")
    + t(PROP, "test_vbi_boundaries")
    + t(FIX, "test_remaining_length_boundaries_small"),
    # v5: both strings of a UTF-8 String Pair are well-formed UTF-8 strings.
    "MQTT-1.5.7-1": t(MAL, "test_malformed") + t(PROP, "test_encode_rejects"),
    # --- fixed header (v3 §2.2.2, v5 §2.1.3) ---------------------------------------------------
    # v5: reserved flags sent as listed; wrong flags received are malformed.
    "MQTT-2.1.3-1": t(FIX, "test_encode", "test_encode_ack")
    + t(MAL, "test_malformed")
    + t(RS, "test_wrong_fixed_header_flags_disconnect_0x81_v5"),
    # v3: reserved flags sent as listed. v5: Property Length 0 is present when there are no
    # properties.
    "MQTT-2.2.2-1": t(FIX, "test_encode", "test_encode_ack")
    + t(FB, "test_subscribe_and_unsubscribe_bytes_v311")
    + t(RS, "test_qos0_publish_has_dup_0_and_no_packet_identifier"),
    # v3: wrong flags received: close.
    "MQTT-2.2.2-2": t(MAL, "test_malformed")
    + t(RS, "test_wrong_fixed_header_flags_close_without_a_packet_v3"),
    # --- packet identifiers (v3 §2.3.1, v5 §2.2.1) -----------------------------------------------
    # v5: QoS 0 PUBLISH carries no Packet Identifier.
    "MQTT-2.2.1-2": t(RS, "test_qos0_publish_has_dup_0_and_no_packet_identifier")
    + t(PUB, "test_mids_shared_by_every_qos_and_subscribe"),
    # v5: a new PUBLISH QoS > 0 / SUBSCRIBE / UNSUBSCRIBE gets a non-zero id not in use.
    "MQTT-2.2.1-3": t(PUB, "test_mid_wraps_to_one", "test_mid_skips_ids_in_flight")
    + t(PUB, "test_queued_message_with_colliding_mid_gets_fresh_packet_id"),
    # v5: PUBACK/PUBREC/PUBREL/PUBCOMP carry the PUBLISH's id.
    "MQTT-2.2.1-5": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(INB, "test_qos2_exactly_once_with_duplicates")
    + t(PUB, "test_qos2_flow"),
    "MQTT-2.2.1-6": SERVER + "SUBACK/UNSUBACK echo the request's id; the client never sends them "
    "(it matches them by id: tests/unit/test_session_errors.py::test_suback_for_unsubscribe_id"
    "_is_unknown)",
    # v3: non-zero id on PUBLISH QoS > 0, SUBSCRIBE, UNSUBSCRIBE.
    "MQTT-2.3.1-1": t(PUB, "test_mid_wraps_to_one", "test_mids_shared_by_every_qos_and_subscribe"),
    # v3: each new packet gets an id not in use.
    "MQTT-2.3.1-2": t(PUB, "test_mid_skips_ids_in_flight")
    + t(PUB, "test_queued_message_with_colliding_mid_gets_fresh_packet_id"),
    # v3: a re-sent packet keeps its id; the id is free again after the ack.
    "MQTT-2.3.1-3": t(PUB, "test_replay_twice_keeps_ids_and_order", "test_mid_skips_ids_in_flight")
    + t(FB, "test_qos1_resent_with_dup_in_order_after_reconnect"),
    # v3: QoS 0 PUBLISH carries no Packet Identifier.
    "MQTT-2.3.1-5": t(RS, "test_qos0_publish_has_dup_0_and_no_packet_identifier")
    + t(PUB, "test_mids_shared_by_every_qos_and_subscribe"),
    # v3: PUBACK/PUBREC/PUBREL carry the PUBLISH's id.
    "MQTT-2.3.1-6": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(INB, "test_qos2_exactly_once_with_duplicates")
    + t(PUB, "test_qos2_flow"),
    "MQTT-2.3.1-7": SERVER + "SUBACK/UNSUBACK echo the request's id; the client never sends them",
    # --- CONNECT (v3 §3.1, v5 §3.1) --------------------------------------------------------------
    # CONNECT is the first packet the client sends on a connection.
    "MQTT-3.1.0-1": t(PUB, "test_replay_dup_and_pubrel_in_order", "test_qos0_sent_while_connecting")
    + t(FB, "test_disconnect_delivers_everything_then_fin"),
    # At most one CONNECT per connection.
    "MQTT-3.1.0-2": t(CON, "test_connection_opened_twice_is_refused")
    + t(FB, "test_disconnect_delivers_everything_then_fin"),
    # Unsupported level: the server refuses (v3 0x01 / v5 0x84) and closes; the client reads a
    # 3.1.1-shaped refusal in 5.0 mode and falls back.
    "MQTT-3.1.2-2": t(CON, "test_connack_v3_shaped_in_v5_mode")
    + t(FB, "test_downgrade_to_v31_on_protocol_refusal"),
    # Reserved Connect Flags bit 0 is 0.
    "MQTT-3.1.2-3": t(FIX, "test_encode") + t(FB, "test_connect_all_options_v311"),
    # v3: Clean Session 0 keeps the session after the connection ends. v5: Clean Start 1 discards
    # any existing session.
    "MQTT-3.1.2-4": t(PUB, "test_replay_dup_and_pubrel_in_order")
    + t(INB, "test_session_present_0_drops_incoming_qos2_state"),
    # v3: Clean Session 1 discards the previous session (client side: incoming QoS 2 state).
    "MQTT-3.1.2-6": t(RS, "test_clean_session_drops_incoming_qos2_state_v3"),
    # Will published on abnormal close (client: no DISCONNECT then) / v5 Will Delay (server).
    "MQTT-3.1.2-8": t(MOS, "test_will_sent_on_abnormal_loss_not_on_disconnect"),
    # Will Flag 1: will fields present.
    "MQTT-3.1.2-9": t(FIX, "test_encode") + t(FB, "test_connect_will_qos_retain"),
    # DISCONNECT (v5: 0x00) removes the will: the client sends it on disconnect().
    "MQTT-3.1.2-10": t(MOS, "test_will_sent_on_abnormal_loss_not_on_disconnect"),
    # Will Flag 0: Will QoS 0 (v3 -13, v5 -11) and Will Retain 0 (v3 -15, v5 -13).
    "MQTT-3.1.2-11": t(FIX, "test_encode") + t(FB, "test_connect_will_qos_retain"),
    # v5: Will QoS never 3. v3: Will Flag 1 → Will QoS 0, 1 or 2.
    "MQTT-3.1.2-12": t(SUR, "test_constructor_argument_errors") + t(FIX, "test_encode"),
    "MQTT-3.1.2-13": t(FIX, "test_encode") + t(FB, "test_connect_will_qos_retain"),
    # v3: Will QoS never 3.
    "MQTT-3.1.2-14": t(SUR, "test_constructor_argument_errors"),
    # v3: Will Flag 0 → Will Retain 0. v5: Will Retain 1 → retained (server).
    "MQTT-3.1.2-15": t(FIX, "test_encode") + t(FB, "test_connect_will_qos_retain"),
    # v3: Will Retain 0/1 (server publishes retained or not). v5 -16..-19: User Name / Password
    # flags match the presence of the fields.
    "MQTT-3.1.2-16": t(FIX, "test_encode") + t(FB, "test_connect_credentials"),
    "MQTT-3.1.2-17": t(FIX, "test_encode") + t(FB, "test_connect_credentials"),
    # v3 -18..-21 and v5 -18/-19: User Name / Password flags match the fields.
    "MQTT-3.1.2-18": t(FIX, "test_encode") + t(FB, "test_connect_credentials"),
    "MQTT-3.1.2-19": t(FIX, "test_encode")
    + t(FB, "test_connect_credentials", "test_connect_password_without_username_v5"),
    # v3: Password Flag 0 → no password. v5: PINGREQ within Keep Alive of the last send.
    "MQTT-3.1.2-20": t(FIX, "test_encode")
    + t(CON, "test_keepalive_pingreq_and_timeout")
    + t(CON, "test_keepalive_receiving_alone_does_not_defer_ping_when_nothing_sent")
    + t(FB, "test_pingreq_while_only_sending"),
    # v3: Password Flag 1 → password present. v5: Server Keep Alive replaces the client's.
    "MQTT-3.1.2-21": t(FIX, "test_encode")
    + t(CON, "test_server_keep_alive_replaces_ours")
    + t(FB, "test_server_keep_alive_replaces_ours_v5"),
    # v3: a password needs a user name. v5: the server closes after 1.5 x Keep Alive.
    "MQTT-3.1.2-22": t(FB, "test_connect_password_without_username_v311_is_not_sent"),
    # v3: PINGREQ within Keep Alive. v5: Session Expiry > 0: the client keeps its state.
    "MQTT-3.1.2-23": t(CON, "test_keepalive_pingreq_and_timeout")
    + t(CON, "test_keepalive_receiving_alone_does_not_defer_ping_when_nothing_sent")
    + t(FB, "test_pingreq_when_idle")
    + t(INB, "test_session_present_1_keeps_incoming_qos2_state")
    + t(PUB, "test_replay_respects_the_new_window_no_reconnect_storm"),
    # v3: the server closes after 1.5 x Keep Alive. v5: the server sends nothing over our
    # Maximum Packet Size; the client detects it (0x95).
    "MQTT-3.1.2-24": t(ERR, "test_packet_larger_than_our_maximum_packet_size")
    + t(HB, "test_huge_remaining_length_with_maximum_packet_size_v5"),
    "MQTT-3.1.2-25": SERVER + "the server drops a message too large for the client's Maximum "
    "Packet Size instead of sending it",
    # v5: the server sends no alias above our Topic Alias Maximum, none if it is 0 (client
    # detects it: 0x94).
    "MQTT-3.1.2-26": t(INB, "test_topic_alias_out_of_range"),
    "MQTT-3.1.2-27": t(INB, "test_topic_alias_out_of_range"),
    "MQTT-3.1.2-28": SERVER + "Response Information only when the client asked for it",
    # v5: Request Problem Information 0 restricts Reason String / User Property; the client
    # answers one on another packet with DISCONNECT 0x82.
    "MQTT-3.1.2-29": t(RS, "test_reason_string_on_puback_after_request_problem_information_0"),
    # v5: with an Authentication Method, only AUTH or DISCONNECT until CONNACK.
    "MQTT-3.1.2-30": t(SAU, "test_nothing_but_auth_before_connack") + t(EAU, "test_scram_connect"),
    # Payload order: Client Id, [Will Properties], Will Topic, Will Payload, User Name, Password.
    "MQTT-3.1.3-1": t(FIX, "test_encode") + t(FB, "test_connect_all_options_v311"),
    # Client Identifier present, first in the payload, a UTF-8 string.
    "MQTT-3.1.3-3": t(FIX, "test_encode") + t(FB, "test_connect_with_client_id"),
    "MQTT-3.1.3-4": t(FIX, "test_encode")
    + t(FB, "test_connect_with_client_id", "test_connect_empty_client_id_is_sent_empty"),
    "MQTT-3.1.3-5": SERVER + "servers accept 1..23 characters [0-9a-zA-Z] as a client id",
    "MQTT-3.1.3-6": SERVER + "a server may accept an empty client id and assign one",
    # v3: an empty Client Identifier needs Clean Session 1 (client). v5: the server returns an
    # Assigned Client Identifier (server).
    "MQTT-3.1.3-7": t(SUR, "test_constructor_argument_errors"),
    "MQTT-3.1.3-8": SERVER + "the server refuses an empty client id it cannot accept (0x02 / "
    "0x85) and closes",
    "MQTT-3.1.3-9": SERVER + "v3: CONNACK 0x02 for a rejected client id; v5: a reconnect within "
    "the Will Delay Interval cancels the will",
    # v3: Will Topic is UTF-8 (client). v5: the server keeps the order of Will User Properties.
    "MQTT-3.1.3-10": t(FIX, "test_encode") + t(PROP, "test_repeatable_properties_keep_order"),
    # v3: User Name is UTF-8. v5: Will Topic is UTF-8.
    "MQTT-3.1.3-11": t(FIX, "test_encode") + t(MAL, "test_malformed"),
    # v5: User Name is UTF-8.
    "MQTT-3.1.3-12": t(FIX, "test_encode") + t(MAL, "test_malformed"),
    # --- CONNACK (v3 §3.2, v5 §3.2) --------------------------------------------------------------
    # The server's first packet is CONNACK (v5: or AUTH).
    "MQTT-3.2.0-1": t(ERR, "test_packet_before_connack")
    + t(HB, "test_packet_before_connack_v5", "test_packet_before_connack_v311"),
    # v5: at most one CONNACK.
    "MQTT-3.2.0-2": t(ERR, "test_second_connack"),
    # v5: CONNACK flags bits 7-1 reserved (client: malformed). v3: Clean Session 1 → Session
    # Present 0 (server).
    "MQTT-3.2.2-1": t(MAL, "test_malformed") + t(HB, "test_bad_connack_v5"),
    "MQTT-3.2.2-2": SERVER + "Session Present follows Clean Session / Clean Start",
    "MQTT-3.2.2-3": SERVER + "Session Present 1 iff the server had a session",
    # v3: failure code → Session Present 0 (server). v5: no state but Session Present 1 → the
    # client closes.
    "MQTT-3.2.2-4": t(RS, "test_session_present_1_after_clean_start_closes_v5"),
    # v3: failure → the server closes. v5: state but Session Present 0 → the client discards it.
    "MQTT-3.2.2-5": t(INB, "test_session_present_0_drops_incoming_qos2_state")
    + t(STO, "test_session_not_present_clears_stored_incoming")
    + t(FB, "test_incoming_qos2_state_across_reconnect"),
    "MQTT-3.2.2-6": SERVER + "v3: no fitting return code → close without CONNACK; v5: a "
    "failure CONNACK has Session Present 0",
    # v5: after a failure CONNACK the connection closes (client: refused, no DISCONNECT).
    "MQTT-3.2.2-7": t(CON, "test_connack_v5_refusal", "test_connack_v3_refusal_mapped"),
    "MQTT-3.2.2-10": SERVER + "a server without QoS 1/2 still accepts a SUBSCRIBE at any QoS (the "
    "client's side, its Maximum QoS check never refuses such a SUBSCRIBE: tests/unit/test_session_"
    "server_limits.py::test_subscribe_above_maximum_qos_is_allowed)",
    # v5: never PUBLISH above the server's Maximum QoS: refused locally while connected; messages
    # accepted before the CONNACK (queued, or replayed on a new connection) are dropped then.
    "MQTT-3.2.2-11": t(
        LIM,
        "test_publish_above_maximum_qos_fails_locally",
        "test_queued_messages_the_connack_forbids_are_reported_not_sent",
        "test_replay_the_new_connack_forbids_is_reported_and_pubrel_kept",
    )
    + t(
        ALM,
        "test_maximum_qos_and_retain_available_fail_locally_mosquitto",
        "test_messages_queued_offline_are_dropped_at_connack_mosquitto",
    ),
    "MQTT-3.2.2-12": SERVER + "the server refuses a CONNECT whose Will QoS exceeds its Maximum QoS "
    "(CONNACK 0x9B); the client learns the maximum only from that CONNACK",
    "MQTT-3.2.2-13": SERVER + "the server refuses a CONNECT with Will Retain 1 when it does not "
    "support retained messages (CONNACK 0x9A); the client learns it only from that CONNACK",
    # v5: no RETAIN 1 PUBLISH after Retain Available 0: refused locally while connected; messages
    # queued before the CONNACK are dropped then (no test replays a retained one to such a server).
    "MQTT-3.2.2-14": t(
        LIM,
        "test_retained_publish_fails_locally_when_retain_unavailable",
        "test_queued_messages_the_connack_forbids_are_reported_not_sent",
    )
    + t(
        ALM,
        "test_maximum_qos_and_retain_available_fail_locally_mosquitto",
        "test_messages_queued_offline_are_dropped_at_connack_mosquitto",
    ),
    # v5: never send a packet over the server's Maximum Packet Size.
    "MQTT-3.2.2-15": t(PUB, "test_publish_larger_than_server_maximum_packet_size")
    + t(PUB, "test_queued_message_too_large_for_new_server_is_dropped"),
    # v5: Assigned Client Identifier (kept for reconnects).
    "MQTT-3.2.2-16": t(CON, "test_assigned_client_identifier_is_reused"),
    # v5: no outbound Topic Alias above the CONNACK Topic Alias Maximum (automatic aliases
    # bounded by it, a user's alias above it refused; the unit tests read every PUBLISH back
    # through a server-side alias map that fails on an out-of-range alias; mosquitto disconnects).
    "MQTT-3.2.2-17": t(
        ALI,
        "test_bound_is_min_of_option_and_server_maximum",
        "test_manual_alias_above_the_server_maximum_fails_locally",
        "test_manual_alias_queued_offline_above_the_new_maximum_is_sent_without_it",
        "test_random_conversations_keep_every_alias_valid",
    )
    + t(
        ALM,
        "test_auto_alias_bytes_lru_reset_and_replay",
        "test_manual_alias_checked_and_mixing_refused",
        "test_auto_aliases_deliver_every_message_on_its_topic_mosquitto",
    ),
    # v5: Topic Alias Maximum 0 or absent (or not known yet): no outbound alias at all.
    "MQTT-3.2.2-18": t(
        ALI,
        "test_no_alias_when_the_server_maximum_is_zero_or_absent",
        "test_no_alias_before_connack",
        "test_manual_alias_without_server_aliases_fails_locally",
        "test_replay_to_a_server_without_aliases_sends_full_topics",
        "test_manual_empty_topic_message_is_replayed_with_its_topic",
    ),
    # v5: Server Keep Alive replaces the client's Keep Alive.
    "MQTT-3.2.2-21": t(CON, "test_server_keep_alive_replaces_ours")
    + t(CON, "test_server_keep_alive_zero_turns_pings_off")
    + t(FB, "test_server_keep_alive_replaces_ours_v5"),
    "MQTT-3.2.2-22": SERVER + "without Server Keep Alive the server uses the client's value",
    # --- PUBLISH (v3 §3.3, v5 §3.3) --------------------------------------------------------------
    # DUP 1 on a re-sent PUBLISH.
    "MQTT-3.3.1-1": t(
        PUB, "test_replay_dup_and_pubrel_in_order", "test_replay_twice_keeps_ids_and_order"
    )
    + t(FB, "test_qos1_resent_with_dup_in_order_after_reconnect"),
    # DUP 0 on every QoS 0 PUBLISH.
    "MQTT-3.3.1-2": t(RS, "test_qos0_publish_has_dup_0_and_no_packet_identifier"),
    # PUBLISH with QoS 3 is malformed.
    "MQTT-3.3.1-4": t(MAL, "test_malformed")
    + t(ERR, "test_malformed_bytes_v5_after_connack")
    + t(RS, "test_publish_with_qos_3_closes_v3"),
    "MQTT-3.3.1-5": SERVER + "a RETAIN 1 PUBLISH replaces the retained message",
    "MQTT-3.3.1-6": SERVER + "v5: a retained PUBLISH with an empty payload deletes it",
    "MQTT-3.3.1-8": SERVER + "v3: RETAIN 1 on messages sent for a new subscription",
    "MQTT-3.3.1-9": SERVER + "v3: RETAIN 0 on messages forwarded to existing subscriptions",
    "MQTT-3.3.1-10": SERVER + "v3: a retained PUBLISH with an empty payload deletes it",
    "MQTT-3.3.1-13": SERVER + "v5: Retain As Published decides the forwarded RETAIN flag",
    # The Topic Name holds no wildcards.
    "MQTT-3.3.2-2": t(RC, "test_publish_topic_with_wildcards_is_refused")
    + t(MAT, "test_invalid_topic_names"),
    "MQTT-3.3.2-4": SERVER + "the server forwards the Payload Format Indicator unchanged (the "
    "client's optional check of a payload declared UTF-8 on receipt: tests/unit/test_session_"
    "payload_format.py::test_qos1_invalid_utf8_answered_puback_0x99_not_delivered)",
    "MQTT-3.3.2-5": SERVER + "the server drops a message whose Message Expiry Interval passed "
    "(the client's offline-queue mirror of it: tests/unit/test_session_store.py::test_expired_"
    "while_queued_is_dropped_remaining_interval_sent)",
    "MQTT-3.3.2-6": SERVER + "the server forwards the remaining Message Expiry Interval (the "
    "client's offline-queue mirror of it: tests/unit/test_session_store.py::test_expired_while_"
    "queued_is_dropped_remaining_interval_sent)",
    # Topic aliases belong to one connection: inbound, the client forgets the server's; outbound,
    # it never relies on its own from an earlier connection (replays carry the topic).
    "MQTT-3.3.2-7": t(INB, "test_topic_aliases_die_with_the_connection")
    + t(
        ALI,
        "test_aliases_reset_on_every_new_connection",
        "test_replay_after_reconnect_carries_the_topic",
        "test_manual_empty_topic_message_is_replayed_with_its_topic",
    )
    + t(ALM, "test_auto_alias_bytes_lru_reset_and_replay"),
    # v5: the client never sends Topic Alias 0.
    "MQTT-3.3.2-8": t(
        ALI,
        "test_manual_alias_zero_is_refused",
        "test_aliases_numbered_from_one_per_new_topic",
        "test_random_conversations_keep_every_alias_valid",
    ),
    # v5: no Topic Alias above the server's Topic Alias Maximum (see MQTT-3.2.2-17, -18).
    "MQTT-3.3.2-9": t(
        ALI,
        "test_bound_is_min_of_option_and_server_maximum",
        "test_no_alias_when_the_server_maximum_is_zero_or_absent",
        "test_manual_alias_above_the_server_maximum_fails_locally",
        "test_manual_alias_without_server_aliases_fails_locally",
        "test_random_conversations_keep_every_alias_valid",
    )
    + t(
        ALM,
        "test_auto_alias_bytes_lru_reset_and_replay",
        "test_manual_alias_checked_and_mixing_refused",
        "test_auto_aliases_deliver_every_message_on_its_topic_mosquitto",
    ),
    # The receiver accepts any alias 1..its Topic Alias Maximum (inbound half).
    "MQTT-3.3.2-10": t(INB, "test_topic_alias_establish_use_remap"),
    # v5: Response Topic is a UTF-8 string: property 0x08 is encoded as one, and the encoder
    # refuses a string property with a lone surrogate or U+0000 (checked on Content Type; every
    # string property shares the check).
    "MQTT-3.3.2-13": t(PROP, "test_each_property", "test_encode_rejects"),
    "MQTT-3.3.2-14": t(RC, "test_publish_with_a_wildcard_response_topic_is_refused"),
    "MQTT-3.3.2-15": SERVER + "the server forwards the Response Topic unchanged",
    "MQTT-3.3.2-16": SERVER + "the server forwards the Correlation Data unchanged",
    "MQTT-3.3.2-17": SERVER + "the server forwards every User Property unaltered",
    # User Properties keep their order end to end (client half: the codec keeps the order).
    "MQTT-3.3.2-18": t(PROP, "test_repeatable_properties_keep_order"),
    # Content Type is a UTF-8 string.
    "MQTT-3.3.2-19": t(PROP, "test_encode_rejects"),
    "MQTT-3.3.2-20": SERVER + "the server forwards the Content Type unchanged",
    "MQTT-3.3.4-3": SERVER + "a forwarded PUBLISH carries the Subscription Identifiers of the "
    "subscriptions it matched (the client routes by them: tests/unit/test_routing.py::test_several"
    "_identifiers_on_one_message_reach_each_callback_once)",
    "MQTT-3.3.4-4": SERVER + "a single copy carries the identifiers of every matching "
    "subscription, in any order (client side: tests/integration/test_mqtt5_request_response.py::"
    "test_one_publish_with_several_identifiers_reaches_each_callback_once)",
    "MQTT-3.3.4-5": SERVER + "each of several copies carries the identifier of its own "
    "subscription (client side, against mosquitto: tests/integration/test_mqtt5_request_response"
    ".py::test_overlapping_subscriptions_with_callbacks_get_exactly_their_matches)",
    "MQTT-3.3.4-6": t(RC, "test_publish_with_a_subscription_identifier_is_refused"),
    # v5: no QoS > 0 PUBLISH beyond the server's Receive Maximum.
    "MQTT-3.3.4-7": t(PUB, "test_receive_maximum_limits_the_window")
    + t(PUB, "test_replay_respects_the_new_window_no_reconnect_storm")
    + t(FB, "test_connack_receive_maximum_limits_inflight_v5"),
    # v5: other packets are not delayed by the Receive Maximum.
    "MQTT-3.3.4-8": t(RS, "test_other_packets_keep_flowing_when_the_send_quota_is_0"),
    # v5: the server respects our Receive Maximum; the client detects excess (0x93).
    "MQTT-3.3.4-9": t(
        INB, "test_receive_maximum_exceeded", "test_receive_maximum_counts_qos2_until_pubcomp"
    )
    + t(PFM, "test_refused_qos1_counts_against_receive_maximum"),
    # --- acks (v5 §3.4-§3.7) ---------------------------------------------------------------------
    # The sender of PUBACK/PUBREC/PUBREL/PUBCOMP uses a code of that packet's list (0x00; 0x99
    # for a payload declared UTF-8 that is not, when the check is on; PUBCOMP 0x92).
    "MQTT-3.4.2-1": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(PFM, "test_qos1_invalid_utf8_answered_puback_0x99_not_delivered")
    + t(RTO, "test_invalid_utf8_refused_with_0x99_in_order_and_not_delivered"),
    "MQTT-3.5.2-1": t(INB, "test_qos2_exactly_once_with_duplicates")
    + t(PFM, "test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends")
    + t(RTO, "test_invalid_utf8_refused_with_0x99_in_order_and_not_delivered"),
    "MQTT-3.6.2-1": t(PUB, "test_qos2_flow", "test_unknown_acks"),
    "MQTT-3.7.2-1": t(
        INB, "test_pubrel_unknown_gets_pubcomp", "test_qos2_exactly_once_with_duplicates"
    )
    + t(PFM, "test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends"),
    # Reason String / User Property left out of an ack over the receiver's Maximum Packet Size:
    # the client's acks carry none (the tests compare whole packets, the 0x99 ones byte by byte).
    "MQTT-3.4.2-2": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(PFM, "test_qos1_invalid_utf8_answered_puback_0x99_not_delivered"),
    "MQTT-3.4.2-3": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(PFM, "test_qos1_invalid_utf8_answered_puback_0x99_not_delivered"),
    "MQTT-3.5.2-2": t(INB, "test_qos2_exactly_once_with_duplicates")
    + t(PFM, "test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends"),
    "MQTT-3.5.2-3": t(INB, "test_qos2_exactly_once_with_duplicates")
    + t(PFM, "test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends"),
    "MQTT-3.6.2-2": t(PUB, "test_qos2_flow"),
    "MQTT-3.6.2-3": t(PUB, "test_qos2_flow"),
    "MQTT-3.7.2-2": t(INB, "test_qos2_exactly_once_with_duplicates"),
    "MQTT-3.7.2-3": t(INB, "test_qos2_exactly_once_with_duplicates"),
    # PUBREL flags 0010.
    "MQTT-3.6.1-1": t(FIX, "test_encode_ack")
    + t(MAL, "test_malformed")
    + t(RS, "test_wrong_fixed_header_flags_close_without_a_packet_v3")
    + t(RS, "test_wrong_fixed_header_flags_disconnect_0x81_v5"),
    # --- SUBSCRIBE / SUBACK (v3 §3.8-3.9, v5 §3.8-3.9) ----------------------------------------------
    # SUBSCRIBE flags 0010.
    "MQTT-3.8.1-1": t(FIX, "test_encode") + t(FB, "test_subscribe_and_unsubscribe_bytes_v311"),
    # Topic filters are UTF-8 strings.
    "MQTT-3.8.3-1": t(MAT, "test_invalid_filters") + t(MAL, "test_malformed"),
    # v5: at least one filter. v3 -3: at least one filter; v5 -3: No Local (server).
    "MQTT-3.8.3-2": t(SUR, "test_constructor_argument_errors"),
    "MQTT-3.8.3-3": t(SUR, "test_constructor_argument_errors"),
    # v3: options byte bits 7-2 are 0 (also: 5.0 options never leak into a 3.1.1 SUBSCRIBE).
    "MQTT-3-8.3-4": t(FIX, "test_encode", "test_v3_ignores_v5_fields"),
    # v5: No Local on a Shared Subscription is a Protocol Error.
    "MQTT-3.8.3-4": t(RC, "test_no_local_on_a_shared_subscription_is_refused"),
    # v5: reserved option bits 7-6 are 0.
    "MQTT-3.8.3-5": t(FIX, "test_encode") + t(FB, "test_subscribe_options_bytes_v5"),
    "MQTT-3.8.4-3": SERVER + "a SUBSCRIBE for an existing filter replaces the subscription",
    "MQTT-3.8.4-4": SERVER + "re-sending retained messages when a subscription is replaced",
    "MQTT-3.8.4-6": SERVER + "v3: delivery QoS is the minimum of published and granted QoS",
    "MQTT-3.8.4-8": SERVER + "v5: delivery QoS is the minimum of published and granted QoS",
    # One SUBACK code per filter (client: a count mismatch is a Protocol Error).
    "MQTT-3.9.3-1": t(ERR, "test_suback_count_mismatch", "test_suback_matching_count")
    + t(HB, "test_suback_wrong_count"),
    "MQTT-3.9.3-2": SERVER + "SUBACK return / reason codes come from the allowed list",
    # --- UNSUBSCRIBE / UNSUBACK (v3 §3.10-3.11, v5 §3.10-3.11) -------------------------------------
    "MQTT-3.10.1-1": t(FIX, "test_encode") + t(FB, "test_subscribe_and_unsubscribe_bytes_v311"),
    "MQTT-3.10.3-1": t(RS, "test_unsubscribe_filter_must_be_utf8"),
    "MQTT-3.10.3-2": t(RC, "test_unsubscribe_needs_at_least_one_filter"),
    "MQTT-3.10.4-1": SERVER + "UNSUBSCRIBE filters are compared character by character",
    "MQTT-3.10.4-3": SERVER + "messages in flight may still be delivered after UNSUBSCRIBE (the "
    "client acks them: tests/integration/test_rules_client.py::test_every_publish_is_"
    "acknowledged_without_a_subscriber)",
    "MQTT-3.10.4-4": SERVER + "the server answers every UNSUBSCRIBE with UNSUBACK",
    "MQTT-3.10.4-5": SERVER + "UNSUBACK even when nothing matched",
    # v5: one UNSUBACK code per filter (client: a count mismatch is a Protocol Error).
    "MQTT-3.11.3-1": t(ERR, "test_unsuback_count_mismatch_v5"),
    # --- DISCONNECT (v3 §3.14, v5 §3.14) ---------------------------------------------------------
    # v5: the server sends DISCONNECT only after CONNACK (client: earlier is a Protocol Error).
    "MQTT-3.14.0-1": t(ERR, "test_server_disconnect_before_connack_v5"),
    # DISCONNECT flags 0000.
    "MQTT-3.14.1-1": t(FIX, "test_encode")
    + t(MAL, "test_malformed")
    + t(RS, "test_wrong_fixed_header_flags_disconnect_0x81_v5"),
    # v5: DISCONNECT reason codes from the list (the client's own: 0x00, 0x04, 0x81, 0x82, 0x93..).
    "MQTT-3.14.2-1": t(PUB, "test_disconnect_keeps_qos_messages_for_next_connection")
    + t(ERR, "test_malformed_bytes_v5_after_connack", "test_second_connack")
    + t(INB, "test_receive_maximum_exceeded", "test_topic_alias_out_of_range"),
    "MQTT-3.14.2-2": SERVER + "the server never sends Session Expiry Interval in DISCONNECT",
    # v5: Reason String / User Property left out of a DISCONNECT over Maximum Packet Size.
    "MQTT-3.14.2-3": t(
        RS, "test_disconnect_drops_reason_string_and_user_property_over_maximum_packet_size"
    ),
    "MQTT-3.14.2-4": t(
        RS, "test_disconnect_drops_reason_string_and_user_property_over_maximum_packet_size"
    ),
    # Nothing after DISCONNECT; then the sender closes.
    "MQTT-3.14.4-1": t(INB, "test_no_acks_after_disconnect")
    + t(CON, "test_connack_after_disconnect_requested")
    + t(
        PUB,
        "test_disconnect_keeps_qos_messages_for_next_connection",
        "test_qos0_dropped_after_disconnect",
    )
    + t(FB, "test_disconnect_delivers_everything_then_fin"),
    "MQTT-3.14.4-2": t(FB, "test_disconnect_delivers_everything_then_fin"),
    "MQTT-3.14.4-3": SERVER + "the server deletes the will on DISCONNECT (v5: on 0x00)",
    # --- AUTH (v5 §3.15) -------------------------------------------------------------------------
    # AUTH flags 0000 (client side: a wrong AUTH is malformed).
    "MQTT-3.15.1-1": t(MAL, "test_malformed")
    + t(RS, "test_wrong_fixed_header_flags_disconnect_0x81_v5"),
    # The client sends AUTH 0x18 and 0x19 only (exact packets asserted).
    "MQTT-3.15.2-1": t(
        SAU, "test_challenges_are_answered_until_connack", "test_reauthentication_exchange"
    ),
    # The client's AUTH carries no Reason String / User Property at all (exact packets asserted).
    "MQTT-3.15.2-2": t(SAU, "test_challenges_are_answered_until_connack"),
    "MQTT-3.15.2-3": t(SAU, "test_challenges_are_answered_until_connack"),
    # --- session state and QoS flows (v3 §4.1-4.6, v5 §4.1-4.6) ------------------------------------
    # v5: session state is never discarded while connected.
    "MQTT-4.1.0-1": t(RS, "test_no_retransmission_while_connected_v5"),
    # QoS 0: DUP 0, no id.
    "MQTT-4.3.1-1": t(RS, "test_qos0_publish_has_dup_0_and_no_packet_identifier"),
    # QoS 1 sender: unused id, DUP 0, unacknowledged until PUBACK.
    "MQTT-4.3.2-1": t(PUB, "test_qos1_flow", "test_mid_skips_ids_in_flight")
    + t(FB, "test_qos1_resent_with_dup_in_order_after_reconnect"),
    # v3: QoS 1 receiver (PUBACK, then a new message). v5: QoS 1 sender DUP 0.
    "MQTT-4.3.2-2": t(RS, "test_qos1_same_packet_id_after_puback_is_a_new_message")
    + t(PUB, "test_qos1_flow"),
    "MQTT-4.3.2-3": t(PUB, "test_qos1_flow", "test_replay_twice_keeps_ids_and_order"),
    # v5: QoS 1 receiver: PUBACK with the id; afterwards the same id is a new message.
    "MQTT-4.3.2-4": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(RS, "test_qos1_same_packet_id_after_puback_is_a_new_message"),
    "MQTT-4.3.2-5": t(RS, "test_qos1_same_packet_id_after_puback_is_a_new_message"),
    # QoS 2 sender (v3 -1; v5 -1..-6): id, DUP 0, PUBREC, PUBREL, PUBCOMP, no PUBLISH after PUBREL.
    "MQTT-4.3.3-1": t(PUB, "test_qos2_flow", "test_mid_skips_ids_in_flight"),
    # v3: QoS 2 receiver. v5: QoS 2 sender DUP 0.
    "MQTT-4.3.3-2": t(INB, "test_qos2_exactly_once_with_duplicates") + t(PUB, "test_qos2_flow"),
    "MQTT-4.3.3-3": t(PUB, "test_qos2_flow", "test_replay_dup_and_pubrel_in_order"),
    "MQTT-4.3.3-4": t(PUB, "test_qos2_flow", "test_v5_success_reason_code_0x10_is_success")
    + t(PUB, "test_v5_failure_reason_codes_end_the_flow"),
    "MQTT-4.3.3-5": t(PUB, "test_qos2_flow", "test_qos2_holds_a_slot_until_pubcomp"),
    "MQTT-4.3.3-6": t(PUB, "test_replay_dup_and_pubrel_in_order")
    + t(FB, "test_qos2_resent_after_reconnect_publish_or_pubrel"),
    # v5: a sent QoS 2 PUBLISH is never expired.
    "MQTT-4.3.3-7": t(RS, "test_sent_qos2_message_is_never_expired"),
    # v5: QoS 2 receiver: PUBREC with the id.
    "MQTT-4.3.3-8": t(INB, "test_qos2_exactly_once_with_duplicates"),
    # v5: after a PUBREC >= 0x80 (0x99, payload format check on) the id is new: nothing was
    # stored (a PUBREL gets PUBCOMP 0x92) and the next PUBLISH with it is delivered.
    "MQTT-4.3.3-9": t(PFM, "test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends"),
    # v5: until PUBREL answer repeats with PUBREC and deliver once; PUBCOMP for every PUBREL;
    # after PUBCOMP the id is new.
    "MQTT-4.3.3-10": t(
        INB,
        "test_qos2_exactly_once_with_duplicates",
        "test_session_present_1_keeps_incoming_qos2_state",
    ),
    "MQTT-4.3.3-11": t(
        INB, "test_qos2_exactly_once_with_duplicates", "test_pubrel_unknown_gets_pubcomp"
    )
    + t(HB, "test_pubrel_without_pubrec_answered_with_pubcomp"),
    "MQTT-4.3.3-12": t(INB, "test_qos2_exactly_once_with_duplicates"),
    # v5: the QoS 2 exchange completes even for an expired message.
    "MQTT-4.3.3-13": t(RS, "test_expired_incoming_qos2_message_still_completes"),
    # Re-send unacknowledged PUBLISH / PUBREL on reconnect, with the original ids; v5: only then.
    "MQTT-4.4.0-1": t(
        PUB, "test_replay_dup_and_pubrel_in_order", "test_replay_twice_keeps_ids_and_order"
    )
    + t(FB, "test_qos1_resent_with_dup_in_order_after_reconnect")
    + t(FB, "test_qos2_resent_after_reconnect_publish_or_pubrel")
    + t(RS, "test_no_retransmission_while_connected_v5"),
    # v5: never re-send after a PUBACK / PUBREC >= 0x80.
    "MQTT-4.4.0-2": t(PUB, "test_v5_failure_reason_codes_end_the_flow"),
    # Every PUBLISH acknowledged, wanted or not.
    "MQTT-4.5.0-2": t(RC, "test_every_publish_is_acknowledged_without_a_subscriber"),
    # Order: replays in original order; PUBACK / PUBREC in arrival order; PUBREL in PUBREC order.
    "MQTT-4.6.0-1": t(PUB, "test_replay_dup_and_pubrel_in_order")
    + t(FB, "test_qos1_resent_with_dup_in_order_after_reconnect"),
    "MQTT-4.6.0-2": t(INB, "test_qos1_delivered_then_acked_in_call_order")
    + t(FB, "test_incoming_acks_keep_arrival_order")
    + t(PFM, "test_refused_puback_keeps_arrival_order")
    + t(RTO, "test_invalid_utf8_refused_with_0x99_in_order_and_not_delivered"),
    "MQTT-4.6.0-3": t(RS, "test_pubrecs_go_out_in_the_order_the_publishes_arrived"),
    "MQTT-4.6.0-4": t(RS, "test_pubrels_go_out_in_the_order_the_pubrecs_arrived"),
    "MQTT-4.6.0-5": SERVER + "the server keeps per-topic order by default",
    "MQTT-4.6.0-6": SERVER + "ordered topics: the server forwards in the order received",
    # --- topic names and filters (v3 §4.7, v5 §4.7) ------------------------------------------------
    # v5: wildcards only in filters, never in topic names.
    "MQTT-4.7.0-1": t(RC, "test_publish_topic_with_wildcards_is_refused")
    + t(MAT, "test_invalid_topic_names"),
    # v3: wildcards only in filters. v5: '#' is last and stands alone or after '/'.
    "MQTT-4.7.1-1": t(RC, "test_publish_topic_with_wildcards_is_refused")
    + t(MAT, "test_invalid_topic_names", "test_invalid_filters", "test_topic_matches_sub"),
    # v3: '#' rules. v5: '+' fills a whole level.
    "MQTT-4.7.1-2": t(MAT, "test_valid_filters", "test_invalid_filters", "test_topic_matches_sub"),
    # v3: '+' fills a whole level.
    "MQTT-4.7.1-3": t(MAT, "test_valid_filters", "test_invalid_filters", "test_topic_matches_sub"),
    # Filters starting with a wildcard do not match '$' topics.
    "MQTT-4.7.2-1": t(MAT, "test_topic_matches_sub", "test_matcher_agrees"),
    # At least one character, no U+0000, at most 65,535 bytes.
    "MQTT-4.7.3-1": t(MAT, "test_invalid_topic_names", "test_invalid_filters"),
    "MQTT-4.7.3-2": t(MAT, "test_invalid_topic_names", "test_invalid_filters"),
    "MQTT-4.7.3-3": t(
        MAT, "test_valid_topic_names", "test_invalid_topic_names", "test_invalid_filters"
    ),
    # No normalisation when matching (the client's own matcher too).
    "MQTT-4.7.3-4": t(MAT, "test_topic_matches_sub", "test_matcher_agrees"),
    # --- errors and shared subscriptions (v3 §4.8, v5 §4.8, §4.13) ---------------------------------
    # v3: a protocol violation closes the connection (no reason can be sent).
    "MQTT-4.8.0-1": t(
        ERR, "test_malformed_bytes_v3_just_closes", "test_server_disconnect_v3_is_a_violation"
    )
    + t(RS, "test_wrong_fixed_header_flags_close_without_a_packet_v3")
    + t(FB, "test_malformed_packet_v311_closes_and_reconnects"),
    "MQTT-4.8.0-2": "v3: a transient error while handling a packet closes the connection; it is "
    "implementation-internal (no byte sequence from the server causes one), so there is no "
    "wire behaviour to script",
    # v5: Shared Subscription filter syntax.
    "MQTT-4.8.2-1": t(
        MAT, "test_invalid_filters", "test_valid_filters", "test_parse_shared_subscription"
    ),
    "MQTT-4.8.2-2": t(
        MAT, "test_invalid_filters", "test_valid_filters", "test_parse_shared_subscription"
    ),
    "MQTT-4.8.2-3": SERVER + "shared subscriptions: granted QoS per subscriber",
    "MQTT-4.8.2-6": SERVER + "a failing PUBACK/PUBREC from a shared subscriber drops the message",
    # --- flow control (v5 §4.9) ------------------------------------------------------------------
    "MQTT-4.9.0-1": t(PUB, "test_receive_maximum_limits_the_window")
    + t(PUB, "test_replay_respects_the_new_window_no_reconnect_storm"),
    "MQTT-4.9.0-2": t(PUB, "test_receive_maximum_limits_the_window")
    + t(FB, "test_connack_receive_maximum_limits_inflight_v5"),
    "MQTT-4.9.0-3": t(RS, "test_other_packets_keep_flowing_when_the_send_quota_is_0"),
    # --- enhanced authentication (v5 §4.12) ------------------------------------------------------
    "MQTT-4.12.0-1": SERVER + "CONNACK 0x8C/0x87 for an unsupported method, then close",
    "MQTT-4.12.0-2": SERVER + "a server challenge is AUTH 0x18",
    # The client answers AUTH 0x18 with AUTH 0x18.
    "MQTT-4.12.0-3": t(SAU, "test_challenges_are_answered_until_connack")
    + t(EAU, "test_scram_connect"),
    "MQTT-4.12.0-4": SERVER + "the server may refuse with CONNACK >= 0x80 and close",
    # Same Method in every AUTH (both ways) and in the successful CONNACK.
    "MQTT-4.12.0-5": t(
        SAU,
        "test_challenges_are_answered_until_connack",
        "test_auth_method_mismatch_is_a_protocol_error",
        "test_connack_with_another_method_is_a_protocol_error",
    ),
    # No Method in CONNECT: an AUTH or a CONNACK Method from the server is a Protocol Error.
    "MQTT-4.12.0-6": t(ERR, "test_auth_without_method_is_a_violation")
    + t(CON, "test_connack_authentication_method_not_requested")
    + t(SAU, "test_auth_when_connect_had_no_method"),
    # No Method in CONNECT: the client never sends AUTH (re-authentication refused and a server
    # AUTH not answered with one: nothing, or DISCONNECT 0x82).
    "MQTT-4.12.0-7": t(
        SAU,
        "test_reauthenticate_needs_a_connected_authenticated_session",
        "test_auth_when_connect_had_no_method",
    )
    + t(EAU, "test_reauthenticate_without_authenticator"),
    # Re-authentication: AUTH 0x19 with the CONNECT's Method.
    "MQTT-4.12.1-1": t(SAU, "test_reauthentication_exchange")
    + t(EAU, "test_reauthentication_on_a_live_connection"),
    # A failed re-authentication: the client sends DISCONNECT and closes.
    "MQTT-4.12.1-2": t(SAU, "test_reauthentication_rejected_by_the_client"),
    # v5: after a CONNACK / DISCONNECT >= 0x80 the connection is closed.
    "MQTT-4.13.2-1": t(CON, "test_connack_v5_refusal") + t(ERR, "test_server_disconnect_v5"),
    # --- WebSocket (v3 §6, v5 §6) ----------------------------------------------------------------
    "MQTT-6.0.0-1": t(
        WSU, "test_text_frame_closes_with_1003", "test_send_frames_binary_and_bounds_frame_size"
    )
    + t(TR, "test_ws_text_frame_closes_the_connection"),
    "MQTT-6.0.0-2": t(WSU, "test_stream_is_reassembled_from_any_framing")
    + t(TR, "test_ws_packets_split_across_frames_and_joined_in_one"),
    "MQTT-6.0.0-3": t(TPP, "test_request_headers_merge_and_protect_the_handshake")
    + t(TR, "test_ws_request_headers_path_and_callable"),
    "MQTT-6.0.0-4": t(TR, "test_ws_subprotocol_must_be_selected"),
}
