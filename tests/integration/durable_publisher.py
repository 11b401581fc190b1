"""A publisher process for tests/integration/test_durable.py (run as a script, never imported by
the tests): numbered QoS 1 and QoS 2 messages through a ``SqliteStore``.

    python durable_publisher.py PORT STORE_PATH TOTAL INTERVAL_S [PROTOCOL]

Message ``n`` has payload ``str(n)``, QoS 1 when ``n`` is odd and QoS 2 when even, and is the
``n``-th message ever accepted with this store, so its stable id ``MQTTMessageInfo.seq`` is
``n``. After a restart the process resumes at ``store.load().last_seq + 1``: the numbering is
exactly as durable as the store (a message ``publish()`` returned for is never numbered twice).
It waits for every message to be acknowledged (also those restored from the store), prints DONE
and exits 0; the test kills it with SIGKILL at random points before that.
"""

from __future__ import annotations

import sys
import time

import mqttclient.client as mqtt
from mqttclient import SqliteStore


def main(argv: list[str]) -> int:
    port, path, total, interval = int(argv[1]), argv[2], int(argv[3]), float(argv[4])
    protocol = mqtt.MQTTv5 if len(argv) > 5 and argv[5] == "5" else mqtt.MQTTv311
    store = SqliteStore(path)
    first = store.load().last_seq + 1
    if protocol == mqtt.MQTTv5:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, "durable-pub", protocol=protocol, store=store
        )
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect_async("127.0.0.1", port, 10, clean_start=False, properties=props)
    else:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, "durable-pub", clean_session=False, store=store
        )
        client.connect_async("127.0.0.1", port, 10)
    client.reconnect_delay_set(0.05, 0.5)
    client.max_inflight_messages_set(10)
    infos = client.restored_messages()
    client.loop_start()
    print(f"START first={first} restored={len(infos)}", flush=True)
    for n in range(first, total + 1):
        qos = 1 if n % 2 else 2
        info = client.publish(f"durable/{qos}", str(n), qos)
        if info.seq != n:
            print(f"BAD seq={info.seq} for message {n}", flush=True)
            return 2
        infos.append(info)
        if interval:
            time.sleep(interval)
    deadline = time.monotonic() + 40
    for info in infos:
        info.wait_for_publish(max(0.0, deadline - time.monotonic()))
    done = all(info.is_published() for info in infos)
    client.disconnect()
    client.loop_stop()
    store.close()
    print("DONE" if done else "TIMEOUT", flush=True)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
