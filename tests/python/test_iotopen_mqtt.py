"""IoT Open's MQTT API with paho-mqtt 2.x, the way integrators connect to lynx.iotopen.se:
over TCP, over TLS trusting our CA, and over WebSocket at /mqtt, with an API key as password.

A wrong key gets a refused CONNACK (paho's on_connect reports "Not authorized", not a lost
connection); a client receives what another publishes under its installation; another user's
installation gets a SUBACK failure and publishes there never reach its subscribers; published
values show in /api/v2/status and /api/v3beta/log at once; a revoked key stops connecting, and
its open connections end; a broad `#` of one organisation never receives another's messages; a
message arrives at the lower of its QoS and its subscription's; each message keeps its own topic
for a client that accepts topic aliases; bad sockets (garbage, half handshakes) do not disturb a
working client.
"""

import json
import os
import queue
import socket
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
import requests

ANNA = "f7650807dffc43c98710bdd942d78b68"
BERTIL = "0641b6e4b4490b21dd9e8dadd34be3ab"
# Demo Housing's integration key: every installation of organisation 1 (1001, 1003), `#` allowed.
INTEGRATION = "6e78f2f2df7b3aaa1938fc22b32d9089"
TIMEOUT = 10


def host_port(url: str):
    u = urlparse(url)
    return u.hostname, u.port


class Paho:
    """A paho client in its own network thread, with what it saw in queues."""

    def __init__(self, mock, transport: str, key: str, protocol=mqtt.MQTTv311, client_id="", clean_session=None):
        self.url = mock.endpoints["mqtt"][transport]
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                  transport="websockets" if transport == "ws" else "tcp", clean_session=clean_session)
        self.client.username_pw_set("apikey", key)
        if transport == "tls":
            self.client.tls_set(ca_certs=mock.ca)
        if transport == "ws":
            self.client.ws_set_options(path=urlparse(self.url).path)
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.acks = queue.Queue()
        self.disconnects = queue.Queue()
        self.client.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc)
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put(codes)
        self.client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.on_publish = lambda c, u, mid, rc, props: self.acks.put(rc)
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.put(rc)

    def connect(self):
        host, port = host_port(self.url)
        self.client.reconnect_delay_set(60, 60)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        return self.connacks.get(timeout=TIMEOUT)

    def subscribe(self, topic, qos=1):
        if qos is None:
            self.client.subscribe(topic)  # (filter, SubscribeOptions)
        else:
            self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic, value, qos=1, **extra):
        info = self.client.publish(topic, json.dumps({"value": value, **extra}), qos=qos)
        info.wait_for_publish(TIMEOUT)
        return self.acks.get(timeout=TIMEOUT)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        try:
            c.stop()
        except Exception:
            pass


def connected(mock, clients, transport, key=ANNA, **kw):
    c = Paho(mock, transport, key, **kw)
    clients.append(c)
    rc = c.connect()
    assert not rc.is_failure, rc
    return c


def connected_v5_with(mock, clients, **properties):
    """A connected MQTT 5 client (Anna's key, TCP) whose CONNECT carries these properties."""
    from paho.mqtt.properties import Properties

    c = Paho(mock, "tcp", ANNA, protocol=mqtt.MQTTv5)
    clients.append(c)
    connect = Properties(mqtt.PacketTypes.CONNECT)
    for name, value in properties.items():
        setattr(connect, name, value)
    host, port = host_port(c.url)
    c.client.connect(host, port, keepalive=30, properties=connect)
    c.client.loop_start()
    assert not c.connacks.get(timeout=TIMEOUT).is_failure
    return c


def api(mock, path):
    return mock.service("iotopen.api") + path


@pytest.mark.parametrize("transport", ["tcp", "tls", "ws"])
@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_api_key_connects_and_receives_what_another_client_publishes(mock, clients, transport, protocol):
    sub = connected(mock, clients, transport, protocol=protocol)
    codes = sub.subscribe("1001/#")
    assert [c.value for c in codes] == [1]
    pub = connected(mock, clients, transport, protocol=protocol)
    assert not pub.publish("1001/obj/zwave/12/temperature", 21.5).is_failure
    topic, payload = sub.messages.get(timeout=TIMEOUT)
    assert topic == "1001/obj/zwave/12/temperature"
    assert json.loads(payload) == {"value": 21.5}


@pytest.mark.parametrize("transport", ["tcp", "tls", "ws"])
@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_a_wrong_key_gets_a_refused_connack_not_a_dropped_socket(mock, clients, transport, protocol):
    c = Paho(mock, transport, "00000000000000000000000000000000", protocol=protocol)
    clients.append(c)
    rc = c.connect()
    assert rc.is_failure
    assert rc == mqtt.ReasonCode(mqtt.PacketTypes.CONNACK, "Not authorized")
    refused = mock.events(kind="mqtt.refused")
    assert refused and refused[-1]["code"] == (135 if protocol == mqtt.MQTTv5 else 5)
    assert refused[-1]["transport"] == transport


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_another_users_installation_gets_a_suback_failure_and_never_sees_anna(mock, clients, protocol):
    bertil = connected(mock, clients, "tcp", BERTIL, client_id="bertil")
    assert not bertil.subscribe("1002/#")[0].is_failure
    anna = connected(mock, clients, "tls", ANNA, protocol=protocol, client_id="anna")
    codes = anna.subscribe("1002/#")
    assert codes[0].is_failure
    assert codes[0].value == (0x87 if protocol == mqtt.MQTTv5 else 0x80)
    ack = anna.publish("1002/obj/zwave/4/power", 9999)
    if protocol == mqtt.MQTTv5:
        assert ack == mqtt.ReasonCode(mqtt.PacketTypes.PUBACK, "Not authorized")
    with pytest.raises(queue.Empty):
        bertil.messages.get(timeout=1.0)
    status = requests.get(api(mock, "/api/v2/status/2002"), headers={"X-API-Key": BERTIL}, timeout=TIMEOUT)
    assert status.json() == []
    denied = mock.events(kind="mqtt.denied")
    assert {e["action"] for e in denied} >= {"subscribe", "publish"}


def test_a_published_value_is_in_status_and_log_at_once(mock, clients):
    anna = connected(mock, clients, "ws", protocol=mqtt.MQTTv5)
    t = round(time.time() - 1, 3)
    assert not anna.publish("1001/obj/zwave/12/temperature", 19.25, timestamp=t, msg="ok").is_failure
    headers = {"X-API-Key": ANNA}
    status = requests.get(api(mock, "/api/v2/status/2001"), params={"topics": "obj/zwave/12/temperature"}, headers=headers, timeout=TIMEOUT)
    assert status.status_code == 200
    assert status.json() == [{"client_id": 1001, "installation_id": 2001, "msg": "ok", "timestamp": t,
                              "topic": "obj/zwave/12/temperature", "value": 19.25}]
    log = requests.get(api(mock, "/api/v3beta/log/2001"), params={"topics": "obj/zwave/12/temperature"}, headers=headers, timeout=TIMEOUT)
    assert log.status_code == 200
    assert log.json() == {"total": 1, "last": t, "count": 1, "data": [
        {"client_id": 1001, "installation_id": 2001, "msg": "ok", "timestamp": t,
         "topic": "1001/obj/zwave/12/temperature", "value": 19.25}]}


def test_a_revoked_key_stops_working_on_rest_and_new_mqtt_connections(mock, clients):
    headers = {"X-API-Key": ANNA}
    key = requests.post(api(mock, "/api/v2/user/me/security/token"), json={"name": "device", "expire": 0, "session_timeout": 0},
                        headers=headers, timeout=TIMEOUT).json()
    connected(mock, clients, "tcp", key["token"])
    assert requests.get(api(mock, "/api/v2/status/2001"), headers={"X-API-Key": key["token"]}, timeout=TIMEOUT).status_code == 200
    r = requests.delete(api(mock, f"/api/v2/user/me/security/token/{key['id']}"), headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"message": "OK"}
    assert requests.get(api(mock, "/api/v2/status/2001"), headers={"X-API-Key": key["token"]}, timeout=TIMEOUT).status_code == 401
    again = Paho(mock, "tls", key["token"])
    clients.append(again)
    assert again.connect() == mqtt.ReasonCode(mqtt.PacketTypes.CONNACK, "Not authorized")


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_a_revoked_keys_open_connections_end_at_their_next_packet(mock, clients, protocol):
    """Revoking a key (or logging out) ends the MQTT connections it opened: the publisher's next
    PUBLISH and the subscriber's next delivery end theirs (on 5 with DISCONNECT 0x87), and
    neither the publish nor the message gets through."""
    headers = {"X-API-Key": ANNA}
    key = requests.post(api(mock, "/api/v2/user/me/security/token"), json={"name": "open", "expire": 0, "session_timeout": 0},
                        headers=headers, timeout=TIMEOUT).json()
    publisher = connected(mock, clients, "tcp", key["token"], protocol=protocol)
    subscriber = connected(mock, clients, "tls", key["token"], protocol=protocol)
    assert [c.value for c in subscriber.subscribe("1001/obj/revoked/#")] == [1]
    assert not publisher.publish("1001/obj/revoked/before", 1).is_failure
    assert subscriber.messages.get(timeout=TIMEOUT)[0] == "1001/obj/revoked/before"
    r = requests.delete(api(mock, f"/api/v2/user/me/security/token/{key['id']}"), headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200
    publisher.client.publish("1001/obj/revoked/after", json.dumps({"value": 2}), qos=1)
    anna = connected(mock, clients, "ws", ANNA)
    assert not anna.publish("1001/obj/revoked/by-anna", 3).is_failure
    for ended in (publisher, subscriber):
        rc = ended.disconnects.get(timeout=TIMEOUT)
        assert rc.is_failure
        if protocol == mqtt.MQTTv5:
            assert rc == mqtt.ReasonCode(mqtt.PacketTypes.DISCONNECT, "Not authorized")
    with pytest.raises(queue.Empty):
        subscriber.messages.get(timeout=0.5)
    published = [e["topic"] for e in mock.events(kind="mqtt.published")]
    assert "1001/obj/revoked/after" not in published and "1001/obj/revoked/by-anna" in published
    reasons = [e["reason"] for e in mock.events(kind="mqtt.disconnected")]
    assert sum("revoked" in r for r in reasons) >= 2, reasons


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_a_broad_subscription_receives_only_its_organisations_installations(mock, clients, protocol):
    """Demo Housing's integration key may subscribe to `#`, which in the engine matches every
    installation; Bertil's installation 1002 is another organisation's, and none of its messages
    reach the key, at any QoS. More than the engine's in-flight window (100) of withheld QoS 1
    and 2 messages must not stall what the key may receive after them."""
    seen = queue.Queue()
    broad = connected(mock, clients, "tcp", INTEGRATION, protocol=protocol)
    broad.client.on_message = lambda c, u, msg: seen.put((msg.topic, msg.qos))
    assert [c.value for c in broad.subscribe("#", qos=2)] == [2]
    bertil = connected(mock, clients, "tcp", BERTIL, protocol=protocol)
    for i in range(120):
        qos = (0, 1, 2)[i % 3]
        bertil.client.publish(f"1002/obj/other-org/{i}", json.dumps({"value": i}), qos=qos).wait_for_publish(TIMEOUT)
    anna = connected(mock, clients, "ws", ANNA, protocol=protocol)
    for qos in (0, 1, 2):
        assert not anna.publish(f"1001/obj/own-org/{qos}", qos, qos=qos).is_failure
    got = sorted(seen.get(timeout=TIMEOUT) for _ in range(3))
    assert got == [(f"1001/obj/own-org/{q}", q) for q in (0, 1, 2)]
    with pytest.raises(queue.Empty):
        print(seen.get(timeout=0.5))
    assert len([e for e in mock.events(kind="mqtt.published") if e["topic"].startswith("1002/obj/other-org/")]) == 120


def test_each_message_keeps_its_topic_for_a_client_that_accepts_topic_aliases(mock, clients):
    """A 5 client that declares a Topic Alias Maximum gets each message under its own topic name
    or an alias the broker set for that same name [MQTT-3.3.2-12]: rumqttd gives one alias to all
    the topics of a filter, so the gate keeps the engine from aliasing at all."""
    sub = connected_v5_with(mock, clients, TopicAliasMaximum=10)
    sub.subscribe("1001/obj/alias/#")
    pub = connected(mock, clients, "tcp", ANNA, protocol=mqtt.MQTTv5)
    for name in ("a", "b", "c", "a"):
        assert not pub.publish(f"1001/obj/alias/{name}", name).is_failure
    got = [sub.messages.get(timeout=TIMEOUT) for _ in range(4)]
    assert [(t, json.loads(p)["value"]) for t, p in got] == [(f"1001/obj/alias/{n}", n) for n in ("a", "b", "c", "a")]


def test_a_message_larger_than_the_clients_maximum_packet_size_is_not_sent(mock, clients):
    """MQTT 5 [MQTT-3.1.2-24] and [MQTT-3.1.2-25]: the server must not send a packet larger than
    the Maximum Packet Size the client declared; it discards it and goes on as if sent. The
    client stays connected and gets the small messages before and after, at QoS 0, 1 and 2."""
    sub = connected_v5_with(mock, clients, MaximumPacketSize=64)
    sub.subscribe("1001/obj/size/#", qos=2)
    pub = connected(mock, clients, "tcp", ANNA, protocol=mqtt.MQTTv5)
    for qos in (0, 1, 2):
        assert not pub.publish(f"1001/obj/size/{qos}", 1, qos=qos).is_failure
        assert not pub.publish(f"1001/obj/size/{qos}", 1, qos=qos, msg="x" * 100).is_failure
    got = [sub.messages.get(timeout=TIMEOUT) for _ in range(3)]
    assert [(t, json.loads(p)) for t, p in got] == [(f"1001/obj/size/{q}", {"value": 1}) for q in (0, 1, 2)]
    with pytest.raises(queue.Empty):
        sub.messages.get(timeout=0.5)
    assert sub.disconnects.empty()


def session_client(mock, clients, client_id, protocol, clean, expiry=None):
    """A connected paho client; `clean` is clean session (3.1.1) or Clean Start (5), `expiry`
    the 5 Session Expiry Interval. Returns it and its CONNACK's session present flag."""
    from paho.mqtt.properties import Properties

    c = Paho(mock, "tcp", ANNA, protocol=protocol, client_id=client_id,
             clean_session=clean if protocol == mqtt.MQTTv311 else None)
    clients.append(c)
    flags = queue.Queue()
    c.client.on_connect = lambda cl, u, f, rc, props: flags.put((rc, f.session_present))
    host, port = host_port(c.url)
    c.client.reconnect_delay_set(60, 60)
    if protocol == mqtt.MQTTv5:
        properties = None
        if expiry is not None:
            properties = Properties(mqtt.PacketTypes.CONNECT)
            properties.SessionExpiryInterval = expiry
        c.client.connect(host, port, keepalive=30, clean_start=clean, properties=properties)
    else:
        c.client.connect(host, port, keepalive=30)
    c.client.loop_start()
    rc, present = flags.get(timeout=TIMEOUT)
    assert not rc.is_failure, rc
    return c, present


def test_an_mqtt5_session_is_kept_by_its_expiry_interval_whatever_clean_start_was(mock, clients):
    """MQTT 5 [MQTT-3.1.2-23]: a session with a Session Expiry Interval above 0 outlives its
    connection even when it began with Clean Start (paho-mqtt 2's default), and a message
    published meanwhile is delivered on resumption; 0 (the default) ends it with the
    connection; an interval that has passed ends it too."""
    v5 = mqtt.MQTTv5
    first, present = session_client(mock, clients, "kept-5", v5, clean=True, expiry=3600)
    assert present is False
    first.subscribe("1001/obj/kept/#", qos=1)
    first.stop()
    pub = connected(mock, clients, "tcp", ANNA, protocol=v5)
    assert not pub.publish("1001/obj/kept/while-away", 1, qos=1).is_failure
    again, present = session_client(mock, clients, "kept-5", v5, clean=False, expiry=3600)
    assert present is True
    assert again.messages.get(timeout=TIMEOUT)[0] == "1001/obj/kept/while-away"
    again.stop()

    short, _ = session_client(mock, clients, "short-5", v5, clean=True, expiry=1)
    short.subscribe("1001/obj/short/#", qos=1)
    short.stop()
    time.sleep(2.2)
    _, present = session_client(mock, clients, "short-5", v5, clean=False, expiry=1)
    assert present is False, "its interval had passed"

    from paho.mqtt.properties import Properties

    longer, _ = session_client(mock, clients, "longer-5", v5, clean=True, expiry=1)
    longer.subscribe("1001/obj/longer/#", qos=1)
    disconnect = Properties(mqtt.PacketTypes.DISCONNECT)
    disconnect.SessionExpiryInterval = 3600
    longer.client.disconnect(properties=disconnect)
    longer.client.loop_stop()
    time.sleep(2.2)
    _, present = session_client(mock, clients, "longer-5", v5, clean=False, expiry=1)
    assert present is True, "the DISCONNECT made the interval an hour"

    once, _ = session_client(mock, clients, "once-5", v5, clean=False)
    once.subscribe("1001/obj/once/#", qos=1)
    once.stop()
    _, present = session_client(mock, clients, "once-5", v5, clean=False)
    assert present is False, "interval 0: the session ended with its connection"


def test_a_clean_session_discards_the_kept_one(mock, clients):
    """MQTT 3.1.1 [MQTT-3.1.2-6]: a clean session discards any session kept under its client id,
    so a later persistent connection starts afresh (session present 0)."""
    v311 = mqtt.MQTTv311
    kept, present = session_client(mock, clients, "meter-9", v311, clean=False)
    kept.subscribe("1001/obj/meter/#", qos=1)
    kept.stop()
    clean, present = session_client(mock, clients, "meter-9", v311, clean=True)
    assert present is False
    clean.stop()
    _, present = session_client(mock, clients, "meter-9", v311, clean=False)
    assert present is False


def test_mqtt5_subscription_options_no_local_retain_as_published_retain_handling(mock, clients):
    """MQTT 5 §3.8.3.1: No Local keeps a client's own messages from it [MQTT-3.8.3-3]; Retain As
    Published keeps the RETAIN flag as published (otherwise 0 [MQTT-3.3.1-12]); Retain Handling 0
    sends the retained messages at every SUBSCRIBE, 1 only for a new subscription, 2 never
    [MQTT-3.3.1-9..11]. MQTT 3.1.1 sends them again on a repeated SUBSCRIBE [MQTT-3.8.4-3]."""
    from paho.mqtt.subscribeoptions import SubscribeOptions

    flags = {}

    def client(name, protocol=mqtt.MQTTv5):
        c = connected(mock, clients, "tcp", ANNA, protocol=protocol, client_id=f"opts-{name}")
        seen = flags[name] = queue.Queue()
        c.client.on_message = lambda cl, u, msg: seen.put((msg.topic, msg.retain))
        return c

    def drain(name, wait=0.5):
        got = []
        try:
            while True:
                got.append(flags[name].get(timeout=wait))
        except queue.Empty:
            return got

    a, b = client("a"), client("b")
    a.subscribe(("1001/obj/opts/#", SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True)), qos=None)
    b.subscribe("1001/obj/opts/#", qos=1)
    for publisher, retain in ((a, False), (b, False), (b, True)):
        publisher.client.publish(f"1001/obj/opts/{'a' if publisher is a else 'b'}/{retain}", json.dumps({"value": 1}),
                                 qos=1, retain=retain).wait_for_publish(TIMEOUT)
    assert sorted(drain("a")) == [("1001/obj/opts/b/False", False), ("1001/obj/opts/b/True", True)], "no local; as published"
    assert sorted(drain("b")) == [("1001/obj/opts/a/False", False), ("1001/obj/opts/b/False", False),
                                  ("1001/obj/opts/b/True", False)], "RETAIN 0 to a subscription that was there"
    try:
        c = client("c")
        c.subscribe(("1001/obj/opts/b/#", SubscribeOptions(qos=1, retainHandling=1)), qos=None)
        assert drain("c") == [("1001/obj/opts/b/True", True)], "a new subscription"
        c.subscribe(("1001/obj/opts/b/#", SubscribeOptions(qos=1, retainHandling=1)), qos=None)
        assert drain("c") == [], "handling 1: not again"
        c.subscribe(("1001/obj/opts/b/#", SubscribeOptions(qos=1, retainHandling=0)), qos=None)
        assert drain("c") == [("1001/obj/opts/b/True", True)], "handling 0: at every SUBSCRIBE"
        d = client("d")
        d.subscribe(("1001/obj/opts/b/#", SubscribeOptions(qos=1, retainHandling=2)), qos=None)
        assert drain("d") == [], "handling 2: never"
        old = client("old", protocol=mqtt.MQTTv311)
        for _ in range(2):
            old.subscribe("1001/obj/opts/b/#", qos=1)
            assert drain("old") == [("1001/obj/opts/b/True", True)], "3.1.1: at every SUBSCRIBE"
    finally:
        # Other tests subscribe to 1001/#: the retained message goes.
        b.client.publish("1001/obj/opts/b/True", b"", qos=1, retain=True).wait_for_publish(TIMEOUT)


def test_function_meta_changes_are_announced(mock, clients):
    anna = connected(mock, clients, "tcp")
    anna.subscribe("1001/evt/functionx/updated")
    r = requests.put(api(mock, "/api/v2/functionx/2001/402/meta/name"), json={"value": "Porch light", "protected": False},
                     headers={"X-API-Key": ANNA}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"value": "Porch light", "protected": False}
    topic, payload = anna.messages.get(timeout=TIMEOUT)
    assert topic == "1001/evt/functionx/updated"
    assert json.loads(payload)["meta"]["name"] == "Porch light"


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_a_message_is_delivered_at_the_lower_of_its_qos_and_the_subscriptions(mock, clients, protocol):
    """MQTT 3.1.1 [MQTT-3.8.4-6] and MQTT 5.0 section 3.8.4: the QoS of a delivered message is the
    minimum of the QoS it was published with and the QoS the subscription was granted."""
    delivered = {}
    for granted in (2, 1, 0):
        sub = connected(mock, clients, "tcp", protocol=protocol)
        seen = delivered[granted] = queue.Queue()
        sub.client.on_message = lambda c, u, msg, seen=seen: seen.put((msg.topic, msg.qos))
        assert [c.value for c in sub.subscribe("1001/obj/qos/#", qos=granted)] == [granted]
    pub = connected(mock, clients, "tcp", protocol=protocol)
    for published in (0, 1, 2):
        assert not pub.publish(f"1001/obj/qos/{published}", published, qos=published).is_failure
    for granted, seen in delivered.items():
        got = sorted(seen.get(timeout=TIMEOUT) for _ in range(3))
        assert got == [(f"1001/obj/qos/{p}", min(p, granted)) for p in (0, 1, 2)], f"granted QoS {granted}"


def raw_connect(client_id: bytes, key: str, v5: bool) -> bytes:
    """A CONNECT with a persistent session (3.1.1: clean session 0; 5: clean start 0 and a
    session expiry of an hour) and the API key as password, as raw bytes."""
    def string(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b
    flags = 0xC0  # user name and password, clean session / clean start 0
    properties = bytes([5, 0x11]) + (3600).to_bytes(4, "big") if v5 else b""
    body = string(b"MQTT") + bytes([5 if v5 else 4, flags]) + (30).to_bytes(2, "big") + properties
    body += string(client_id) + string(b"apikey") + string(key.encode())
    return bytes([0x10, len(body)]) + body


def read_packet(sock) -> bytes:
    """One whole MQTT packet from a socket (fixed header, remaining length, body)."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data
    head = exactly(1)
    length, shift, raw = 0, 0, b""
    while True:
        byte = exactly(1)
        raw += byte
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    return head + raw + exactly(length)


def publish_fields(packet: bytes, v5: bool):
    """(DUP flag, topic, packet id, payload) of a raw QoS 1 PUBLISH."""
    at = 1
    while packet[at] & 0x80:
        at += 1
    at += 1
    topic_len = int.from_bytes(packet[at:at + 2], "big")
    topic = packet[at + 2:at + 2 + topic_len].decode()
    at += 2 + topic_len
    pkid = int.from_bytes(packet[at:at + 2], "big")
    at += 2
    if v5:
        length, shift = 0, 0
        while True:
            length |= (packet[at] & 0x7F) << shift
            shift += 7
            at += 1
            if not packet[at - 1] & 0x80:
                break
        at += length
    return bool(packet[0] & 0x08), topic, pkid, packet[at:]


def test_a_client_gets_no_more_unacknowledged_messages_than_its_receive_maximum(mock, clients):
    """MQTT 5 [MQTT-3.3.4-9]: the server sends no more QoS 1 and 2 PUBLISHes that are not yet
    acknowledged than the Receive Maximum the client declared. A raw client that declared 2 and
    does not acknowledge gets two of five messages; each PUBACK lets the next one out, in order."""
    def string(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b
    host, port = host_port(mock.endpoints["mqtt"]["tcp"])
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        properties = bytes([3, 0x21]) + (2).to_bytes(2, "big")  # Receive Maximum 2
        body = string(b"MQTT") + bytes([5, 0xC2]) + (30).to_bytes(2, "big") + properties
        body += string(b"window-2") + string(b"apikey") + string(ANNA.encode())
        sock.sendall(bytes([0x10, len(body)]) + body)
        assert read_packet(sock)[0] == 0x20
        subscribe = (7).to_bytes(2, "big") + b"\x00" + string(b"1001/obj/window/#") + b"\x01"
        sock.sendall(bytes([0x82, len(subscribe)]) + subscribe)
        assert read_packet(sock)[0] == 0x90
        pub = connected(mock, clients, "tcp", ANNA, protocol=mqtt.MQTTv5)
        for i in range(5):
            assert not pub.publish(f"1001/obj/window/{i}", i, qos=1).is_failure

        def next_publish():
            packet = read_packet(sock)
            assert packet[0] & 0xF0 == 0x30, packet
            _, topic, pkid, _ = publish_fields(packet, v5=True)
            return topic, pkid.to_bytes(2, "big")

        first, second = next_publish(), next_publish()
        assert [first[0], second[0]] == ["1001/obj/window/0", "1001/obj/window/1"]
        sock.settimeout(1.0)
        with pytest.raises(socket.timeout):
            read_packet(sock)
        sock.settimeout(TIMEOUT)
        got = []
        for pkid in [first[1], second[1]]:
            sock.sendall(bytes([0x40, 2]) + pkid)
            got.append(next_publish())
        for topic, pkid in got:
            sock.sendall(bytes([0x40, 2]) + pkid)
        got.append(next_publish())
        assert [t for t, _ in got] == [f"1001/obj/window/{i}" for i in (2, 3, 4)]
    finally:
        sock.close()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_a_resumed_session_gets_its_unacknowledged_messages_again_with_their_ids(mock, clients, protocol):
    """MQTT 3.1.1 [MQTT-4.4.0-1] and 5 (section 4.4): a session resumed after its connection
    dropped gets the QoS 1 messages it had not acknowledged again, with their own packet ids
    and DUP set [MQTT-3.3.1-1], and not the one it had acknowledged. A message's DUP on the way
    in does not reach its subscribers [MQTT-3.3.1-3]. Raw sockets: a client library acknowledges
    everything it receives."""
    v5 = protocol == mqtt.MQTTv5
    host, port = host_port(mock.endpoints["mqtt"]["tcp"])
    client_id = f"resumed-{protocol}-{os.getpid()}-{time.monotonic_ns()}".encode()
    topic = f"1001/obj/resumed/{protocol}"

    def session():
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.sendall(raw_connect(client_id, ANNA, v5))
        connack = read_packet(sock)
        assert connack[0] == 0x20 and connack[3] == 0, connack
        return sock, bool(connack[2] & 1)

    sub, present = session()
    assert not present
    subscribe = (1).to_bytes(2, "big") + (b"\x00" if v5 else b"") + len(topic).to_bytes(2, "big") + topic.encode() + b"\x01"
    sub.sendall(bytes([0x82, len(subscribe)]) + subscribe)
    assert read_packet(sub)[0] == 0x90

    publisher = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        publisher.sendall(raw_connect(client_id + b"-pub", ANNA, v5))
        assert read_packet(publisher)[0] == 0x20
        for i in range(3):
            body = len(topic).to_bytes(2, "big") + topic.encode() + (i + 1).to_bytes(2, "big") + (b"\x00" if v5 else b"") + str(i).encode()
            # The second goes in with DUP set, as a publisher's own retry would.
            publisher.sendall(bytes([0x3A if i == 1 else 0x32, len(body)]) + body)
            assert read_packet(publisher)[0] == 0x40
    finally:
        publisher.close()

    first = [publish_fields(read_packet(sub), v5) for _ in range(3)]
    assert [(dup, payload) for dup, _, _, payload in first] == [(False, b"0"), (False, b"1"), (False, b"2")], first
    ids = {payload: pkid for _, _, pkid, payload in first}
    sub.sendall(bytes([0x40, 2]) + ids[b"1"].to_bytes(2, "big"))  # only the second acknowledged
    time.sleep(0.3)
    sub.close()  # dropped, no DISCONNECT
    time.sleep(0.5)

    sub, present = session()
    try:
        assert present
        again = [publish_fields(read_packet(sub), v5) for _ in range(2)]
        assert [(dup, pkid, payload) for dup, _, pkid, payload in again] == [(True, ids[b"0"], b"0"), (True, ids[b"2"], b"2")], (ids, again)
        sub.settimeout(1.0)
        with pytest.raises(socket.timeout):
            read_packet(sub)  # not the acknowledged one
    finally:
        sub.close()


def test_a_client_that_exceeds_the_servers_receive_maximum_is_disconnected(mock, clients):
    """MQTT 5 §3.3.4: the broker's CONNACK names its Receive Maximum (100, as paho-mqtt reads
    it), and a client with more unanswered QoS 1 and 2 publishes than that gets DISCONNECT 0x93.
    A raw client sends 101 QoS 2 publishes and never releases them."""
    def string(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b
    connacks = queue.Queue()
    paho5 = Paho(mock, "tcp", ANNA, protocol=mqtt.MQTTv5)
    clients.append(paho5)
    paho5.client.on_connect = lambda c, u, flags, rc, props: connacks.put(props)
    host, port = host_port(paho5.url)
    paho5.client.connect(host, port, keepalive=30)
    paho5.client.loop_start()
    properties = connacks.get(timeout=TIMEOUT)
    assert properties.ReceiveMaximum == 100
    assert properties.MaximumPacketSize == 1024 * 1024, "the limit the gate enforces, announced"

    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        body = string(b"MQTT") + bytes([5, 0xC2]) + (30).to_bytes(2, "big") + b"\x00"
        body += string(b"greedy") + string(b"apikey") + string(ANNA.encode())
        sock.sendall(bytes([0x10, len(body)]) + body)
        assert read_packet(sock)[0] == 0x20
        for pkid in range(1, 102):
            publish = string(b"1001/obj/greedy") + pkid.to_bytes(2, "big") + b"\x00" + b'{"value": 1}'
            sock.sendall(bytes([0x34, len(publish)]) + publish)
        answers = []
        while True:
            packet = read_packet(sock)
            answers.append(packet[0] & 0xF0)
            if packet[0] == 0xE0:
                assert packet[2] == 0x93, packet
                break
        assert set(answers[:-1]) <= {0x50}, "PUBRECs (as many as the engine sent in time), then DISCONNECT"
    finally:
        sock.close()
    reasons = [e["reason"] for e in mock.events(kind="mqtt.disconnected") if e["client_id"] == "greedy"]
    assert reasons and "Receive Maximum" in reasons[-1]


def test_a_subscriber_that_falls_behind_loses_no_qos1_message(mock, clients):
    """The engine keeps 10 MiB per filter for subscribers that lag. A paho subscriber stalls for
    3 s (its callback sleeps, so it reads nothing) while a publisher keeps its 100-message window
    full of 1 kB QoS 1 messages: 30 MB, far beyond what the engine and the sockets hold. The
    publisher is held back instead (its PUBACKs wait) and every message arrives, in order.
    Before, the engine acknowledged at once and the subscriber lost what fell out of the log."""
    total, window = 30_000, 100
    received = []
    done = threading.Event()
    sub = connected(mock, clients, "tcp")

    def on_message(client, userdata, msg):
        if not received:
            time.sleep(3)
        received.append(json.loads(msg.payload)["value"])
        if len(received) == total:
            done.set()

    sub.client.on_message = on_message
    assert [c.value for c in sub.subscribe("1001/obj/flood/#")] == [1]

    def string(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    def remaining(n: int) -> bytes:
        out = b""
        while True:
            byte, n = n % 128, n // 128
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    host, port = host_port(mock.endpoints["mqtt"]["tcp"])
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        body = string(b"MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")
        body += string(b"flooder") + string(b"apikey") + string(ANNA.encode())
        sock.sendall(bytes([0x10, len(body)]) + body)
        assert read_packet(sock)[0] == 0x20
        padding = "x" * 1000
        sent = acked = 0
        while acked < total:
            burst = b""
            while sent < total and sent - acked < window:
                sent += 1
                payload = json.dumps({"value": sent, "msg": padding}).encode()
                publish = string(b"1001/obj/flood/m") + (sent % 65535 + 1).to_bytes(2, "big") + payload
                burst += bytes([0x32]) + remaining(len(publish)) + publish
            if burst:
                sock.sendall(burst)
            assert read_packet(sock)[0] == 0x40, "a PUBACK"
            acked += 1
    finally:
        sock.close()
    assert done.wait(60), f"{len(received)} of {total} delivered"
    assert received == list(range(1, total + 1))


def test_concurrent_connects_with_one_client_id_leave_the_broker_serving(mock, clients):
    """Eight connections send a CONNECT with one client id and a persistent session at the same
    instant (3.1.1 and 5 mixed), for ten rounds: each takes the id over from the one before
    ([MQTT-3.1.4-2]) and the broker goes on serving everyone. Such bursts used to panic the
    engine and poison its lock, so that every later CONNECT, on every transport and in every
    run, got "server unavailable". Raw sockets: no client library sends eight CONNECTs at one
    instant."""
    port = host_port(mock.endpoints["mqtt"]["tcp"])[1]
    opened = []
    for _ in range(10):
        barrier = threading.Barrier(8)

        def send(i):
            s = socket.create_connection(("127.0.0.1", port))
            opened.append(s)
            barrier.wait()
            s.sendall(raw_connect(b"dup", ANNA, v5=i % 2 == 1))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.05)
    time.sleep(0.5)
    for s in opened:
        s.close()
    for transport, protocol in [("tcp", mqtt.MQTTv311), ("tls", mqtt.MQTTv5), ("ws", mqtt.MQTTv311)]:
        sub = connected(mock, clients, transport, protocol=protocol)
        assert [c.value for c in sub.subscribe("1001/obj/after-the-burst")] == [1]
        pub = connected(mock, clients, "tcp")
        assert not pub.publish("1001/obj/after-the-burst", 1).is_failure
        assert sub.messages.get(timeout=TIMEOUT)[0] == "1001/obj/after-the-burst"


def urls_in(document) -> list:
    """Every URL an endpoints document names, at any depth."""
    if isinstance(document, dict):
        return [u for v in document.values() for u in urls_in(v)]
    if isinstance(document, list):
        return [u for v in document for u in urls_in(v)]
    return [document] if isinstance(document, str) and "://" in document else []


def listening_ports(pid: int) -> set:
    """The loopback TCP ports process `pid` listens on (from /proc: its socket inodes, matched
    against the kernel's table of listening sockets)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and inode in inodes:  # 0A: LISTEN
            ports.add(int(local.split(":")[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads the listening sockets from Linux's /proc")
@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_the_engine_behind_the_gate_has_no_port_of_its_own(mock, clients, protocol):
    """The MQTT engine is reached only through in-process pipes from the gate: the server listens
    on exactly the ports its endpoints document names, so nothing can reach the broker without
    the gate's checks (it once had two loopback ports of its own, guarded by a login)."""
    published = {urlparse(url).port for url in urls_in(mock.endpoints)}
    listening = listening_ports(mock.process.pid)
    assert published <= listening, "the endpoints document names a port nobody listens on"
    assert listening == published, f"ports no endpoint names: {sorted(listening - published)}"
    # And the gate still gets through.
    sub = connected(mock, clients, "tcp", protocol=protocol)
    assert [c.value for c in sub.subscribe("1001/#")] == [1]


def test_bad_sockets_do_not_disturb_a_working_client(mock, clients):
    sub = connected(mock, clients, "tls")
    sub.subscribe("1001/obj/ok")
    pub = connected(mock, clients, "ws")
    hosts = {t: host_port(mock.endpoints["mqtt"][t]) for t in ("tcp", "tls", "ws")}
    bad = []
    for blob in [b"\xff" * 32, b"GET / HTTP/1.1\r\n\r\n", b"\x30\xff\xff\xff\x7f", b"\x10\x02\x00\x04"]:
        s = socket.create_connection(hosts["tcp"])
        s.sendall(blob)
        bad.append(s)
    half_tls = socket.create_connection(hosts["tls"])
    half_tls.sendall(b"\x16\x03\x01\x02\x00")
    half_ws = socket.create_connection(hosts["ws"])
    half_ws.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
    bad += [half_tls, half_ws]
    flood = []
    for _ in range(50):
        c = Paho(mock, "tcp", "ffffffffffffffffffffffffffffffff")
        flood.append(c)
        clients.append(c)
        c.client.connect(*hosts["tcp"])
        c.client.loop_start()
    for i in range(5):
        pub.publish("1001/obj/ok", i)
        topic, payload = sub.messages.get(timeout=TIMEOUT)
        assert json.loads(payload) == {"value": i}
    for c in flood:
        assert c.connacks.get(timeout=TIMEOUT).is_failure
    # The garbage sockets were closed by the server.
    for s in bad[:4]:
        s.settimeout(TIMEOUT)
        assert s.recv(100) == b""
        s.close()
    half_tls.close()
    half_ws.close()
