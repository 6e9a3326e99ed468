"""Shared code of the IoT Open conformance clients.

`IotOpenClient` is the well-behaved client: paho-mqtt for the broker (the API key as
password, subscriptions renewed in on_connect so they survive a reconnect, a refused CONNACK
taken as final) and requests for REST (installations, the history API page by page, the
login with its SMS step). The faulty variants in faulty.py subclass it and override one
method each.
"""
import json
import os
import queue
import sys
import threading
import time
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import requests

USER_AGENT = "iotopen-conformance-reference/1.0"
TIMEOUT = 10  # seconds, every HTTP call
CONNACK_WAIT = 5  # seconds
ECHO_WAIT = 2.5  # seconds for a published value to come back, twice at most


def log(message):
    """Diagnostics go to stderr; stdout has one line per step."""
    print(message, file=sys.stderr, flush=True)


def say(message):
    print(message, flush=True)


class Refused(Exception):
    """The broker refused the CONNECT: the credentials are wrong, expired or revoked."""


class Env:
    """The runner's environment contract: only these variables are read."""

    required = ("IOTOPEN_API_URL", "IOTOPEN_API_KEY", "IOTOPEN_MQTT_URL")

    def __init__(self):
        missing = [name for name in self.required if not os.environ.get(name)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)}")
        get = os.environ.get
        self.action = get("CONFORMANCE_ACTION", "")
        try:
            self.values = int(get("CONFORMANCE_VALUES") or 3)
            self.points = int(get("CONFORMANCE_POINTS") or 10)
            self.page_size = int(get("CONFORMANCE_PAGE_SIZE") or 100)
        except ValueError:
            raise ValueError("CONFORMANCE_VALUES, _POINTS and _PAGE_SIZE must be integers") from None
        self.api_url = get("IOTOPEN_API_URL").rstrip("/")
        self.api_key = get("IOTOPEN_API_KEY")
        self.mqtt_url = get("IOTOPEN_MQTT_URL")
        self.username = get("IOTOPEN_USERNAME", "")
        self.password = get("IOTOPEN_PASSWORD", "")
        self.sms_outbox = get("IOTOPEN_SMS_OUTBOX", "")
        self.ca_bundle = get("REQUESTS_CA_BUNDLE") or get("CONFORMANCE_CA") or True


class IotOpenClient:
    """Well-behaved IoT Open client."""

    mqtt_username = "apikey"

    def __init__(self, env):
        self.env = env
        self.http = requests.Session()
        self.http.verify = env.ca_bundle
        self.http.headers["User-Agent"] = USER_AGENT
        self.filters = []  # what to be subscribed to, renewed on every connect
        self.connack = queue.Queue()
        self.messages = queue.Queue()
        self.connects = 0
        self.mqtt = None

    # --- REST -----------------------------------------------------------------------------

    def rest(self, method, path, key=None, **kwargs):
        headers = {"X-API-Key": key or self.env.api_key}
        return self.http.request(method, self.env.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def installations(self, key=None):
        r = self.rest("GET", "/api/v2/installationinfo", key=key)
        r.raise_for_status()
        return r.json()

    # --- MQTT -----------------------------------------------------------------------------

    def payload(self, value):
        return json.dumps({"timestamp": time.time(), "value": value})

    def filters_for(self, installations):
        """Everything of its own installations, and nothing else."""
        return [f"{i['client_id']}/#" for i in installations]

    def credentials(self, client):
        client.username_pw_set(self.mqtt_username, self.env.api_key)

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.on_refused(client, reason_code)
            return
        self.connects += 1
        self.subscribe_on_connect(client)
        self.connack.put(None)

    def subscribe_on_connect(self, client):
        """A clean session forgets subscriptions: subscribe again on every (re)connect."""
        for f in self.filters:
            client.subscribe(f, qos=1)

    def on_refused(self, client, reason_code):
        """Not authorized or bad credentials: final. Stop the network loop's reconnects."""
        client.disconnect()
        self.connack.put(reason_code)

    def after_refusal(self, client):
        client.loop_stop()

    def connect(self):
        url = urlparse(self.env.mqtt_url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.credentials(client)
        if url.scheme == "mqtts":
            client.tls_set(ca_certs=self.env.ca_bundle if isinstance(self.env.ca_bundle, str) else None)
        client.on_connect = self.on_connect
        client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        client.on_disconnect = lambda c, u, flags, rc, props: log(f"disconnected: {rc}")
        self.configure_reconnect(client)
        client.connect(url.hostname, url.port or 1883, keepalive=30)
        client.loop_start()
        self.mqtt = client
        try:
            refusal = self.connack.get(timeout=CONNACK_WAIT)
        except queue.Empty:
            raise Refused("no CONNACK") from None
        if refusal is not None:
            self.after_refusal(client)
            raise Refused(str(refusal))
        return client

    def configure_reconnect(self, client):
        client.reconnect_delay_set(min_delay=0.2, max_delay=2)

    def subscribe(self, filters):
        self.filters = list(filters)
        self.subscribe_on_connect(self.mqtt)

    def publish(self, topic, value):
        info = self.mqtt.publish(topic, self.payload(value), qos=1)
        return info

    def wait_echo(self, topic, value, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                got_topic, payload = self.messages.get(timeout=left)
            except queue.Empty:
                return False
            try:
                got = json.loads(payload).get("value")
            except (ValueError, AttributeError):
                continue
            if got_topic == topic and got == value:
                return True

    def mqtt_action(self):
        """Connect, find the installations, subscribe to them, publish values and see each back."""
        try:
            self.connect()
        except Refused as exc:
            say(f"MQTT CONNECT refused: {exc}")
            return 1
        try:
            installations = self.installations()
            if not installations:
                say("the key reaches no installation")
                return 1
            self.subscribe(self.filters_for(installations))
            topic = f"{installations[0]['client_id']}/obj/conformance/value"
            time.sleep(0.2)  # let the SUBACK come back before the first publish
            for n in range(1, self.env.values + 1):
                connects = self.connects
                self.publish(topic, n)
                seen = self.wait_echo(topic, n, ECHO_WAIT)
                if not seen and self.connects != connects:
                    log(f"value {n} not seen back after a reconnect: publishing it again")
                    self.publish(topic, n)
                    seen = self.wait_echo(topic, n, ECHO_WAIT)
                if not seen:
                    say(f"value {n}: not received back on {topic}")
                    return 1
                say(f"value {n}: published and received back")
            return 0
        except requests.RequestException as exc:
            say(f"REST error: {exc!r}")
            return 1
        finally:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()

    # --- history --------------------------------------------------------------------------

    def history_pages(self, installation_id, topic):
        """Every point of `topic`, page by page, oldest first."""
        points, offset = [], 0
        while True:
            r = self.rest("GET", f"/api/v3beta/log/{installation_id}",
                          params={"topics": topic, "limit": self.env.page_size, "offset": offset, "order": "asc"})
            r.raise_for_status()
            body = r.json()
            page = body.get("data") or []
            points.extend(page)
            offset += len(page)
            if not page or offset >= int(body.get("total", 0)):
                return points

    def history_action(self):
        try:
            self.connect()
        except Refused as exc:
            say(f"MQTT CONNECT refused: {exc}")
            return 1
        try:
            installation = self.installations()[0]
            relative = "obj/conformance/history"
            topic = f"{installation['client_id']}/{relative}"
            for n in range(1, self.env.points + 1):
                self.publish(topic, n).wait_for_publish(timeout=5)
            got = self.history_pages(installation["id"], relative)
        except (requests.RequestException, RuntimeError, ValueError) as exc:
            say(f"error: {exc!r}")
            return 1
        finally:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()
        values = [p.get("value") for p in got]
        say(f"history: {len(values)} point(s) read back")
        if sorted(values) != list(range(1, self.env.points + 1)):
            say(f"history: expected values 1..{self.env.points}, got {values}")
            return 1
        return 0

    # --- login with the SMS step ----------------------------------------------------------

    def sms_code(self, since):
        """The code the phone received (the runner's SMS outbox stands in for the phone)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            messages = self.http.get(self.env.sms_outbox, timeout=TIMEOUT).json().get("messages", [])
            fresh = [m for m in messages if m.get("code") and m.get("id") not in since]
            if fresh:
                return fresh[-1]["code"]
            time.sleep(0.1)
        raise RuntimeError("no SMS code arrived")

    def second_step(self, first_token, since):
        r = self.rest("PUT", "/api/v2/auth", key=first_token, json={"challenge": self.sms_code(since)})
        r.raise_for_status()
        return r.json()["token"]

    def login_action(self):
        try:
            before = {m.get("id") for m in self.http.get(self.env.sms_outbox, timeout=TIMEOUT).json().get("messages", [])}
            r = self.http.post(self.env.api_url + "/api/v2/auth", auth=(self.env.username, self.env.password), timeout=TIMEOUT)
            r.raise_for_status()
            body = r.json()
            token = body["token"]
            if (body.get("nextstep") or body.get("next_step")) == "smslogin":
                say("login: SMS step")
                token = self.second_step(token, before)
            installations = self.installations(key=token)
            say(f"login: {len(installations)} installation(s)")
            self.rest("DELETE", "/api/v2/auth", key=token)
            return 0
        except (requests.RequestException, RuntimeError, KeyError, ValueError) as exc:
            say(f"login failed: {exc!r}")
            return 1

    def run(self):
        return {"mqtt": self.mqtt_action, "history": self.history_action, "login-2fa": self.login_action}[self.env.action]()


ACTIONS = ("mqtt", "history", "login-2fa")


def main(client_class):
    try:
        env = Env()
    except ValueError as exc:
        log(f"error: {exc}")
        sys.exit(2)
    if env.action not in ACTIONS:
        log(f"error: unknown CONFORMANCE_ACTION {env.action!r} (IoT Open has: {', '.join(ACTIONS)})")
        sys.exit(2)
    sys.exit(client_class(env).run())
