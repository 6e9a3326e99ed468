#!/usr/bin/env python3
"""Takes the screenshot of the journal's web view that docs/web-view.md shows
(docs/images/web-view.png): a mock-server on free ports, the page open in headless Chromium,
then a few clients of different providers, one of them refused, and that exchange opened.

    MOCK_SERVER_BIN=target/debug/mock-server .venv/bin/python scripts/screenshot_web_view.py [OUT]

Needs the Python test environment (tests/python/requirements.txt, Playwright included) and
Chromium from the system's packages (`apt-get install chromium`).
"""

import base64
import hashlib
import hmac
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import requests  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from conftest import READ_CLIENT, SANDPIT_SCOPE, serving  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "web-view.png"


def kalibrate_token(mock, secret):
    form = {"grant_type": "client_credentials", "client_id": READ_CLIENT[0], "client_secret": secret, "scope": SANDPIT_SCOPE}
    return requests.post(mock.token_url(), data=form, timeout=10)


def knoema_signed_with_a_wrong_secret(mock):
    hour = datetime.now(timezone.utc).strftime("%d-%m-%y-%H")
    digest = hmac.new(hour.encode(), b"not-the-secret", hashlib.sha1).digest()
    authorization = f"Knoema demo-app:{base64.b64encode(digest).decode()}:1.2"
    url = mock.service("knoema.api") + "/api/1.0/meta/dataset/DEMOSALES"
    return requests.get(url, headers={"Authorization": authorization}, timeout=10)


def mqtt_connect_with_a_wrong_key(mock):
    """A bare MQTT 3.1.1 CONNECT (user `apikey`, a key nobody has): the broker refuses it."""
    host, port = mock.endpoints["mqtt"]["tcp"].removeprefix("mqtt://").split(":")
    user, password, client_id = b"apikey", b"0000000000000000000000000000dead", b"screenshot"
    field = lambda b: len(b).to_bytes(2, "big") + b  # noqa: E731
    variable = field(b"MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")
    payload = field(client_id) + field(user) + field(password)
    body = variable + payload
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(bytes([0x10, len(body)]) + body)
        s.recv(4)


def exercise(mock):
    assert kalibrate_token(mock, READ_CLIENT[1]).status_code == 200
    access = kalibrate_token(mock, READ_CLIENT[1]).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}", "User-Agent": "API-CLIENT"}
    requests.get(mock.data_url("/api/status"), headers=headers, timeout=10)
    requests.post(
        mock.opinum("identity", "/connect/token"),
        data={"grant_type": "password", "username": "pusher@demo-energy.example", "password": "pusher-password",
              "client_id": "opinum-demo-client", "client_secret": "opinum-demo-secret", "scope": "datahub-api push-data"},
        timeout=10,
    )
    knoema_signed_with_a_wrong_secret(mock)
    iotopen = mock.service("iotopen.api")
    requests.post(iotopen + "/api/v2/auth", auth=("bertil@cabin-rentals.example", "bertil-password"), timeout=10)
    mqtt_connect_with_a_wrong_key(mock)
    requests.post(
        f"{mock.admin}/faults",
        json={"provider": "opinum", "service": "api", "times": 1, "action": {"status": 503}},
        timeout=10,
    ).raise_for_status()
    requests.get(mock.opinum("api", "/sources"), timeout=10)
    kalibrate_token(mock, "a-wrong-secret")


def main():
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, serving(Path(work)) as mock:
        os.environ["REQUESTS_CA_BUNDLE"] = mock.ca
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 980})
            page.goto(f"{mock.admin}/ui")
            expect(page.locator("#connection")).not_to_have_attribute("data-state", "connecting")
            exercise(mock)
            refused = page.locator('#rows tr[data-kind="http.exchange"][data-provider="kalibrate"]').first
            expect(refused.locator(".status")).to_have_text("401", timeout=10_000)
            time.sleep(0.5)
            refused.click()
            expect(page.locator("#why")).to_be_visible()
            expect(page.locator("#sms li", has_text="verification code")).to_have_count(1, timeout=10_000)
            expect(page.locator("#faults li[data-fault]")).to_contain_text("fired 1")
            page.mouse.move(0, 0)
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
