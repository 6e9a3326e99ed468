"""Deliberately faulty IoT Open clients: `faulty.py --fault NAME`.

Each fault is the well-behaved client (common.IotOpenClient) with one method overridden, so it
misbehaves in exactly one way.
"""
import argparse
import json
import time

import common


class KeyAsUsername(common.IotOpenClient):
    """Puts the API key in the MQTT user name and sends no password."""

    def credentials(self, client):
        client.username_pw_set(self.env.api_key, None)


class SubscribesEverywhere(common.IotOpenClient):
    """Also subscribes to every installation's values (+/obj/#), beyond its own."""

    def filters_for(self, installations):
        return super().filters_for(installations) + ["+/obj/#"]


class ExtraPayloadKeys(common.IotOpenClient):
    """Adds a unit to every payload: {timestamp, value, unit}."""

    def payload(self, value):
        return json.dumps({"timestamp": time.time(), "value": value, "unit": "C"})


class ReconnectStorm(common.IotOpenClient):
    """On a refused CONNACK lets paho reconnect every 50 ms, for three seconds."""

    def configure_reconnect(self, client):
        client.reconnect_delay_set(min_delay=0.05, max_delay=0.05)

    def on_refused(self, client, reason_code):
        self.connack.put(reason_code)  # tells the caller, but leaves the reconnects on

    def after_refusal(self, client):
        time.sleep(3)
        client.loop_stop()


class NoResubscribe(common.IotOpenClient):
    """Subscribes once, after the first connect: a reconnect leaves it subscribed to nothing."""

    def subscribe_on_connect(self, client):
        if self.connects <= 1:
            super().subscribe_on_connect(client)


class FirstPageOnly(common.IotOpenClient):
    """Reads one page of history and takes it for the whole."""

    def history_pages(self, installation_id, topic):
        r = self.rest("GET", f"/api/v3beta/log/{installation_id}",
                      params={"topics": topic, "limit": self.env.page_size, "offset": 0, "order": "asc"})
        r.raise_for_status()
        page = r.json().get("data") or []
        # Fills the rest with what it "expects", as a careless integration would.
        return page + [{"value": v} for v in range(len(page) + 1, self.env.points + 1)]


class SkipsSmsStep(common.IotOpenClient):
    """Ignores nextstep=smslogin and uses the first token as if the login were done."""

    def second_step(self, first_token, since):
        return first_token


FAULTS = {
    "key-as-username": KeyAsUsername,
    "subscribes-everywhere": SubscribesEverywhere,
    "extra-payload-keys": ExtraPayloadKeys,
    "reconnect-storm": ReconnectStorm,
    "no-resubscribe": NoResubscribe,
    "first-page-only": FirstPageOnly,
    "skips-sms-step": SkipsSmsStep,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    common.main(FAULTS[parser.parse_args().fault])
