"""The journal's web view (`/__admin/ui`) driven in a real browser: headless Chromium from the
system's packages, through Playwright (its own browser download is not used).

The page is opened first and the client's requests are made afterwards, so what it shows came
through its live stream, not from the first load. Skipped, saying why, when Chromium or
Playwright is not installed (scripts/test.sh installs both).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import requests

from conftest import READ_CLIENT, SANDPIT_SCOPE, SANDPIT_TENANT, raw_exchange, serving
from openenergy_support import CONSUMER, credentials

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install -r tests/python/requirements.txt"
)
expect = sync_api.expect

CHROMIUM = Path(os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)", allow_module_level=True)

# Long enough for a debug build on a busy CI machine; a live page shows an event within ~100 ms.
WAIT_MS = 10_000
XSS = "<img src=x onerror=window.__xss=1>"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """Opens a page and fails the test on any script error or Content-Security-Policy report:
    a policy that blocked the page's own script would leave it dead."""
    contexts, problems = [], []

    def open_(url):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text
            else None,
        )
        page.goto(url)
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, problems


def rows(page, selector=""):
    return page.locator(f"#rows tr{selector}")


def token(mock, client=READ_CLIENT, token_url=None):
    return requests.post(
        token_url or mock.token_url(),
        data={"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1], "scope": SANDPIT_SCOPE},
        timeout=10,
    )


def admin_address(mock):
    u = urlsplit(mock.admin)
    return u.hostname, u.port


def test_the_page_is_served_from_the_binary_with_a_strict_policy(mock):
    r = requests.get(f"{mock.admin}/ui", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'self';") and "'sha256-" in csp and "unsafe" not in csp
    assert "<script src" not in r.text and "http://" not in r.text.split("<script>")[0]


def test_a_token_request_made_after_the_page_loaded_appears_without_a_reload(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    page.evaluate("window.__loaded_once = true")
    expect(rows(page)).to_have_count(0)

    assert token(mock).status_code == 200

    expect(rows(page, '[data-kind="token.issued"]')).to_have_count(1, timeout=WAIT_MS)
    exchange = rows(page, '[data-kind="http.exchange"][data-provider="kalibrate"]')
    expect(exchange).to_have_count(1)
    expect(exchange.locator(".status")).to_have_text("200")
    expect(exchange.locator(".status")).to_have_attribute("data-outcome", "ok")
    assert page.evaluate("window.__loaded_once") is True, "the page was reloaded"


def test_filters_narrow_the_list(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    assert token(mock).status_code == 200
    assert token(mock, (READ_CLIENT[0], "wrong-secret")).status_code == 401
    assert requests.post(mock.opinum("identity", "/connect/token"), data={"grant_type": "client_credentials"}, timeout=10).status_code >= 400
    expect(rows(page, '[data-provider="opinum"][data-kind="http.exchange"]')).to_have_count(1, timeout=WAIT_MS)
    everything = rows(page).count()
    assert everything >= 6  # two kalibrate exchanges, one opinum, and their domain events

    page.select_option("#f-provider", "kalibrate")
    expect(rows(page, ':not([data-provider="kalibrate"])')).to_have_count(0)
    kalibrate = rows(page).count()
    assert 0 < kalibrate < everything

    page.select_option("#f-kind", "http.exchange")
    expect(rows(page)).to_have_count(2)
    page.select_option("#f-status", "=401")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).locator(".status")).to_have_text("401")

    page.select_option("#f-status", "warn")
    page.select_option("#f-kind", "")
    expect(rows(page, '[data-kind="token.rejected"]')).to_have_count(1)
    expect(rows(page, '[data-kind="token.issued"]')).to_have_count(0)

    page.select_option("#f-status", "")
    page.select_option("#f-provider", "")
    page.fill("#f-text", "no-such-text-anywhere")
    expect(rows(page)).to_have_count(0)
    page.fill("#f-text", "oauth2/v2.0/token")
    expect(rows(page)).to_have_count(2)
    page.fill("#f-text", "")
    expect(rows(page)).to_have_count(everything)


def test_an_exchange_opens_with_its_refusal_reason_header_names_and_token_events(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    assert token(mock, (READ_CLIENT[0], "wrong-secret")).status_code == 401
    refused = rows(page, '[data-kind="http.exchange"]')
    expect(refused).to_have_count(1, timeout=WAIT_MS)
    refused.click()

    detail = page.locator("#detail")
    expect(detail.locator("#why")).to_contain_text("AADSTS7000215")
    expect(detail.locator("dl")).to_contain_text("POST")
    expect(detail.locator("dl")).to_contain_text("401")
    expect(detail.locator("dl")).to_contain_text("ms")
    expect(detail.locator(".chip", has_text="content-type")).to_have_count(1)
    expect(detail.locator("#related li", has_text="token.rejected")).to_have_count(1)

    # A token and the API call it authorizes are tied by the token id.
    access = token(mock).json()["access_token"]
    status = requests.get(mock.data_url("/api/status"), headers={"Authorization": f"Bearer {access}", "User-Agent": "API-CLIENT"}, timeout=10)
    assert status.status_code == 200, status.text
    expect(rows(page, '[data-kind="api.authorized"]')).to_have_count(1, timeout=WAIT_MS)
    rows(page, '[data-kind="token.issued"]').click()
    expect(detail.locator("#related li", has_text="api.authorized")).to_have_count(1)


def test_overlapping_requests_each_lead_to_their_own_events(mock, open_page):
    """Twelve token requests at once to one service, each held 300 ms by a fault rule (so that
    every rule firing is journaled before any answer): a refusal leads back to its own request,
    and that request to its own firing and refusal only, by the exchange number they share."""
    from concurrent.futures import ThreadPoolExecutor

    mock.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "action": {"delay_ms": 300}})
    page = open_page(f"{mock.admin}/ui")
    unknown = [f"00000000-0000-4000-8000-{i:012}" for i in range(12)]

    def refused(i):
        r = requests.post(mock.token_url(), headers={"User-Agent": f"agent-{i}"}, timeout=10,
                          data={"grant_type": "client_credentials", "client_id": unknown[i], "client_secret": "x", "scope": SANDPIT_SCOPE})
        return r.status_code

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(refused, range(12))) == {400}
    expect(rows(page, '[data-kind="token.rejected"]')).to_have_count(12, timeout=WAIT_MS)

    detail = page.locator("#detail")
    for i in (3, 7, 11):
        page.fill("#f-text", unknown[i])
        expect(rows(page)).to_have_count(1)
        rows(page, '[data-kind="token.rejected"]').click()
        detail.locator("#related li", has_text="its request").click()
        expect(detail.locator("dl")).to_contain_text(f"agent-{i}")
        expect(detail.locator("#related li")).to_have_count(2)
        expect(detail.locator("#related li", has_text="fault.applied")).to_have_count(1)
        expect(detail.locator("#related li", has_text="token.rejected")).to_contain_text(unknown[i])


def test_a_fault_added_from_the_page_fires_on_the_next_request(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    form = page.locator("#fault-form")
    form.locator('[name="provider"]').fill("kalibrate")
    form.locator('[name="service"]').fill("login")
    form.locator('[name="route"]').fill("/*/oauth2/v2.0/token")
    form.locator('[name="status"]').fill("503")
    form.locator('[name="times"]').fill("1")
    form.locator('button[type="submit"]').click()
    armed = page.locator("#faults li[data-fault]")
    expect(armed).to_have_count(1, timeout=WAIT_MS)
    assert [rule["route"] for rule in mock.faults()] == ["/*/oauth2/v2.0/token"]

    assert token(mock).status_code == 503
    assert token(mock).status_code == 200  # times = 1
    expect(rows(page, '[data-kind="fault.applied"]')).to_have_count(1, timeout=WAIT_MS)
    expect(armed).to_contain_text("fired 1/1", timeout=WAIT_MS)

    # A bad rule is refused with the API's own message, and arms nothing.
    form.locator('[name="status"]').fill("")
    form.locator('[name="times"]').fill("")
    form.locator('button[type="submit"]').click()
    expect(page.locator("#fault-error")).to_contain_text("bad_fault")
    expect(armed).to_have_count(1)

    armed.locator("button", has_text="remove").click()
    expect(armed).to_have_count(0, timeout=WAIT_MS)
    assert mock.faults() == []


def test_the_clock_advances_and_freezes_from_the_page(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    page.fill("#clock-advance", "7200")
    page.click('#clock-form button[type="submit"]')
    expect(page.locator("#clock-offset")).to_have_text("7200", timeout=WAIT_MS)
    page.click("#clock-freeze")
    expect(page.locator("#clock-state")).to_have_text("frozen", timeout=WAIT_MS)
    clock = requests.get(f"{mock.admin}/clock", timeout=10).json()
    assert clock["frozen"] is True and round(clock["offset_seconds"]) >= 7199


def test_the_run_scoped_page_shows_only_its_runs_events(mock, open_page):
    run_id = f"web-{uuid.uuid4().hex[:10]}"
    created = requests.post(f"{mock.admin}/runs", json={"id": run_id}, timeout=10)
    assert created.status_code == 201, created.text
    run = created.json()["endpoints"]
    try:
        run_token_url = f"{run['services']['kalibrate.login']}/{SANDPIT_TENANT}/oauth2/v2.0/token"
        assert token(mock, ("default-namespace-client", "x")).status_code == 400
        assert token(mock, ("run-client-before", "x"), token_url=run_token_url).status_code == 400

        page = open_page(f"{run['admin']}/ui")
        expect(page.locator("#namespace")).to_have_value(run_id)
        expect(page.locator("#namespace")).to_be_disabled()
        expect(page.locator("#runs li", has_text=run_id)).to_have_count(1, timeout=WAIT_MS)
        expect(rows(page, '[data-kind="token.rejected"]')).to_have_count(1, timeout=WAIT_MS)

        assert token(mock, ("run-client-after", "x"), token_url=run_token_url).status_code == 400
        assert token(mock, ("default-namespace-client", "x")).status_code == 400
        expect(rows(page, '[data-kind="token.rejected"]')).to_have_count(2, timeout=WAIT_MS)
        expect(rows(page, ":has-text('run-client-before')")).to_have_count(1)
        expect(rows(page, ":has-text('run-client-after')")).to_have_count(1)
        page.wait_for_timeout(500)  # the default namespace's second request had time to show up, if it would
        expect(rows(page, ":has-text('default-namespace-client')")).to_have_count(0)

        # The root page watches a run when asked, and only that run.
        root = open_page(f"{mock.admin}/ui")
        expect(rows(root, ":has-text('default-namespace-client')")).to_have_count(2, timeout=WAIT_MS)
        expect(root.locator(f'#namespace option[value="{run_id}"]')).to_have_count(1, timeout=WAIT_MS)
        root.select_option("#namespace", run_id)
        expect(rows(root, ":has-text('run-client-after')")).to_have_count(1, timeout=WAIT_MS)
        expect(rows(root, ":has-text('default-namespace-client')")).to_have_count(0)
    finally:
        requests.delete(f"{mock.admin}/runs/{run_id}", timeout=10)


def test_journal_text_is_shown_as_text_never_as_markup(mock, open_page):
    page = open_page(f"{mock.admin}/ui")
    # hyper refuses `<` in a request path, so the markup travels where a client can put it and
    # the journal keeps it verbatim: a query value (shown with the path) and the User-Agent.
    query = "q=%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D1%3E"
    request = f"GET /no/such/path?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {XSS}\r\nConnection: close\r\n\r\n"
    status, _, _ = raw_exchange(admin_address(mock), request.encode())
    assert status == 404
    assert mock.events(kind="http.exchange")[-1]["query"] == {"q": XSS}

    row = rows(page, '[data-kind="http.exchange"]')
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.locator("td.what")).to_contain_text(f"q={XSS}")
    row.click()
    expect(page.locator("#detail dd", has_text=XSS)).to_have_count(2)  # query and user agent
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_the_page_follows_the_streams_lagged_and_cleared_messages(mock, browser):
    """The stream's contract, played by the browser's network layer: journal messages add rows,
    `lagged` says how many were missed, `cleared` empties the list, and a reconnection that
    replays what the page already holds adds nothing twice."""

    def journal(seq, path):
        event = {"seq": seq, "at": "2030-01-01T00:00:00Z", "provider": "opinum", "service": "api", "kind": "http.exchange",
                 "listener": "https", "method": "GET", "host": "h", "path": path, "query": {}, "status": 200,
                 "duration_ms": 1.0, "user_agent": None, "auth_scheme": None, "client_cert": None}
        return f"id: {seq}\nevent: journal\ndata: {json.dumps(event)}\n\n"

    answers = [
        "retry: 50\n\n" + journal(1, "/one") + journal(2, "/two") + 'event: lagged\ndata: {"missed": 5}\n\n' + journal(8, "/eight"),
        "retry: 1000\n\n" + journal(1, "/one") + journal(8, "/eight"),  # a replay: nothing new
        "event: cleared\ndata: {}\n\n" + journal(9, "/nine"),
    ]
    served = []

    def stream(route):
        body = answers[len(served)] if len(served) < len(answers) else ": quiet\n\n"
        served.append(route.request.url)
        route.fulfill(status=200, headers={"content-type": "text/event-stream", "cache-control": "no-store"}, body=body)

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/__admin/events/stream", stream)
        page.goto(f"{mock.admin}/ui")
        expect(page.locator("#notice")).to_have_text("the page fell behind: 5 events missed", timeout=WAIT_MS)
        while len(served) < 2:
            page.wait_for_timeout(20)
        expect(rows(page)).to_have_count(3)  # within the second answer's 1 s retry, before `cleared`
        expect(page.locator("#notice")).to_have_text("the journal was cleared", timeout=WAIT_MS)
        expect(rows(page)).to_have_count(1)
        expect(rows(page, '[data-seq="9"]')).to_have_count(1)
        assert len(served) >= 3 and all(url.endswith("/__admin/events/stream") for url in served)
    finally:
        context.close()


def test_recorded_bodies_are_shown_redacted_in_the_exchange(tmp_path, open_page):
    with serving(tmp_path, "--journal-bodies") as server:
        page = open_page(f"{server.admin}/ui")
        form = {"grant_type": "client_credentials", "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1], "scope": SANDPIT_SCOPE}
        answer = requests.post(server.token_url(), data=form, timeout=10, verify=server.ca)
        assert answer.status_code == 200, answer.text
        exchange = rows(page, '[data-kind="http.exchange"]')
        expect(exchange).to_have_count(1, timeout=WAIT_MS)
        exchange.click()
        request_body = page.locator("#detail h4:text-is('Request body') + pre")
        response_body = page.locator("#detail h4:text-is('Response body') + pre")
        expect(request_body).to_contain_text("grant_type=client_credentials")
        expect(response_body).to_contain_text("token_type")
        shown = page.locator("#detail").inner_text()
        assert READ_CLIENT[1] not in shown and answer.json()["access_token"] not in shown


def test_each_refusal_says_why_in_its_providers_terms_and_a_certificate_shows_its_thumbprint(mock, open_page, tmp_path):
    page = open_page(f"{mock.admin}/ui")
    detail = page.locator("#detail")

    # Knoema: a header signed with the wrong secret, diagnosed in the api.denied event.
    hour = datetime.now(timezone.utc).strftime("%d-%m-%y-%H").encode()
    digest = base64.b64encode(hmac.new(hour, b"not-the-secret", hashlib.sha1).digest()).decode()
    knoema = requests.get(f"{mock.service('knoema.api')}/api/1.0/meta/dataset/DEMOSALES",
                          headers={"Authorization": f"Knoema demo-app:{digest}:1.2"}, timeout=10)
    assert knoema.status_code == 403, knoema.text
    exchange = rows(page, '[data-kind="http.exchange"][data-provider="knoema"]')
    expect(exchange).to_have_count(1, timeout=WAIT_MS)
    exchange.click()
    expect(detail.locator("#why")).to_contain_text("403")
    expect(detail.locator("#why")).to_contain_text("wrong secret")

    # IoT Open MQTT: a CONNECT with a key nobody has, refused with its MQTT 5 reason code.
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set("apikey", "0" * 32)
    tcp = urlsplit(mock.endpoints["mqtt"]["tcp"])
    try:
        client.connect(tcp.hostname, tcp.port, keepalive=30)
        client.loop_start()
        refused = rows(page, '[data-kind="mqtt.refused"]')
        expect(refused).to_have_count(1, timeout=WAIT_MS)
    finally:
        client.loop_stop()
        client.disconnect()
    refused.click()
    expect(detail.locator("#why")).to_contain_text("CONNACK reason code 135 (0x87)")

    # Open Energy over mTLS: the exchange shows the certificate's thumbprint.
    creds = credentials(mock, tmp_path, CONSUMER)
    token = requests.post(f"{mock.service('openenergy.auth')}/token", cert=(str(creds.certificate), str(creds.key)),
                          data={"grant_type": "client_credentials", "client_id": creds.client_id, "scope": "directory:software"},
                          timeout=10)
    assert token.status_code == 200, token.text
    issued = rows(page, '[data-kind="http.exchange"][data-provider="openenergy"]')
    expect(issued.last).to_be_visible(timeout=WAIT_MS)
    issued.last.click()
    expect(detail.locator("dl")).to_contain_text(f"x5t#S256 {creds.thumbprint}")
