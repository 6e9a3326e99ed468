"""IoT Open's REST API with requests and with IoT Open's own Python client, py-lynx
(iotopen-py-lynx), which builds its objects from the exact JSON keys (an extra key crashes it).

Login with SMS 2FA (the code read from the admin SMS outbox), API keys, another user's
installation refused with 403 on every route, OAuth with a consent that grants a subset.
"""

import time

import lynx
import pytest
import requests

ANNA = "f7650807dffc43c98710bdd942d78b68"
BERTIL = "0641b6e4b4490b21dd9e8dadd34be3ab"
INTEGRATION = "6e78f2f2df7b3aaa1938fc22b32d9089"
TIMEOUT = 10


def api(mock, path=""):
    return mock.service("iotopen.api") + path


def sms_codes(mock):
    r = requests.get(f"{mock.admin}/sms", params={"provider": "iotopen"}, timeout=TIMEOUT)
    assert r.status_code == 200
    return r.json()["messages"]


def test_py_lynx_reads_installations_functions_devices_and_me(mock):
    cli = lynx.Client(api(mock), ANNA)
    infos = cli.get_installation_info()
    assert [(i.id, i.client_id, i.assigned) for i in infos] == [(2001, 1001, True)]
    assert cli.get_installation_info_client_id(1001).name == "Anna's apartment"
    rows = cli.get_installations()
    assert rows[0].users == [11] and rows[0].client_id == 1001
    assert cli.get_installation(2001).meta["timezone"] == "Europe/Stockholm"
    functions = cli.get_functions(2001)
    assert {f.id for f in functions} == {401, 402}
    assert [f.id for f in cli.get_functions(2001, lynx.Filter(topic_read="obj/zwave/12/switch"))] == [402]
    assert cli.get_devices(2001)[0].meta["node_id"] == "12"
    me = cli.get_me()
    assert me.email == "anna@demo-housing.example"


def test_py_lynx_writes_functions_and_meta(mock):
    cli = lynx.Client(api(mock), ANNA)
    made = cli.create_function(lynx.Function(installation_id=2001, type="humidity", meta=lynx.Meta(topic_read="obj/zwave/12/humidity")))
    assert made.id and made.type == "humidity" and made.created
    made.meta["unit"] = "%"
    assert cli.update_function(made).meta["unit"] == "%"
    assert cli.create_function_meta(2001, made.id, "room", lynx.MetaObject("kitchen")).value == "kitchen"
    assert cli.update_function_meta(2001, made.id, "room", lynx.MetaObject("hall")).value == "hall"
    assert cli.get_function_meta(2001, made.id, "room").value == "hall"
    assert cli.delete_function_meta(2001, made.id, "room").message == "OK"
    assert cli.delete_function(made).message == "OK"
    device = cli.create_device(lynx.Device(installation_id=2001, type="lora", meta=lynx.Meta(eui="a8")))
    assert cli.get_device(2001, device.id).meta == {"eui": "a8"}


def test_py_lynx_status_and_log_after_mqtt_values(mock):
    import json
    import paho.mqtt.client as mqtt
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.username_pw_set("apikey", ANNA)
    host, port = mock.endpoints["mqtt"]["tcp"].split("//")[1].split(":")
    c.connect(host, int(port))
    c.loop_start()
    now = time.time()
    for i in range(5):
        c.publish("1001/obj/zwave/12/temperature", json.dumps({"timestamp": now - 100 + i, "value": 20 + i}), qos=1).wait_for_publish(TIMEOUT)
    c.disconnect()
    c.loop_stop()
    cli = lynx.Client(api(mock), ANNA)
    status = cli.get_status(2001)
    assert [(s.topic, s.value) for s in status] == [("obj/zwave/12/temperature", 24)]
    page = cli.get_logs(2001, fromm=now - 1000, to=now, limit=3, order="asc", topics=["obj/zwave/12/temperature"])
    assert (page.total, page.count) == (5, 3)
    assert [e.value for e in page.data] == [20, 21, 22]
    assert all(e.topic == "1001/obj/zwave/12/temperature" for e in page.data)


def test_py_lynx_is_refused_with_403_on_another_users_installation(mock):
    cli = lynx.Client(api(mock), ANNA)
    calls = [
        lambda: cli.get_installation_info_client_id(1002),
        lambda: cli.get_installation(2002),
        lambda: cli.get_functions(2002),
        lambda: cli.get_function(2002, 403),
        lambda: cli.get_devices(2002),
        lambda: cli.get_device(2002, 302),
        lambda: cli.get_function_meta(2002, 403, "name"),
        lambda: cli.create_function(lynx.Function(installation_id=2002, type="x", meta=lynx.Meta())),
        lambda: cli.get_status(2002),
        lambda: cli.get_logs(2002),
    ]
    for call in calls:
        with pytest.raises(lynx.HTTPException) as e:
            call()
        assert e.value.status_code == 403 and e.value.message == "Forbidden"


def test_requests_403_on_every_installation_route(mock):
    h = {"X-API-Key": ANNA}
    routes = [("GET", "/api/v2/installationinfo/1002"), ("GET", "/api/v2/installation/2002"), ("GET", "/api/v2/status/2002"),
              ("POST", "/api/v2/status/2002"), ("GET", "/api/v3beta/log/2002"), ("POST", "/api/v3beta/log/2002")]
    for kind, obj in [("functionx", 403), ("devicex", 302)]:
        routes += [("GET", f"/api/v2/{kind}/2002"), ("POST", f"/api/v2/{kind}/2002"), ("GET", f"/api/v2/{kind}/2002/{obj}"),
                   ("PUT", f"/api/v2/{kind}/2002/{obj}"), ("DELETE", f"/api/v2/{kind}/2002/{obj}")]
        routes += [(m, f"/api/v2/{kind}/2002/{obj}/meta/name") for m in ("GET", "POST", "PUT", "DELETE")]
    for method, path in routes:
        r = requests.request(method, api(mock, path), headers=h, json={"type": "x", "value": "v"} if method in ("POST", "PUT") else None, timeout=TIMEOUT)
        assert (r.status_code, r.json()) == (403, {"message": "Forbidden"}), (method, path)


def test_login_with_sms_two_factor(mock):
    r = requests.post(api(mock, "/api/v2/auth"), auth=("bertil@cabin-rentals.example", "bertil-password"), timeout=TIMEOUT)
    assert r.status_code == 200
    first = r.json()
    assert first["nextstep"] == "smslogin" and first["next_step"] == "smslogin"
    half = first["token"]
    assert requests.get(api(mock, "/api/v2/installationinfo"), headers={"X-API-Key": half}, timeout=TIMEOUT).status_code == 401
    messages = sms_codes(mock)
    assert messages[-1]["to"] == "+46700000012"
    code = messages[-1]["code"]
    wrong = "000000" if code != "000000" else "111111"
    bad = requests.put(api(mock, "/api/v2/auth"), json={"challenge": wrong}, headers={"X-API-Key": half}, timeout=TIMEOUT)
    assert (bad.status_code, bad.json()) == (401, {"message": "Unauthorized"})
    ok = requests.put(api(mock, "/api/v2/auth"), json={"challenge": code}, headers={"X-API-Key": half}, timeout=TIMEOUT)
    assert ok.status_code == 200 and set(ok.json()) == {"token"}
    cli = lynx.Client(api(mock), ok.json()["token"])
    assert [i.id for i in cli.get_installation_info()] == [2002]
    out = requests.delete(api(mock, "/api/v2/auth"), headers={"X-API-Key": ok.json()["token"]}, timeout=TIMEOUT)
    assert out.json() == {"message": "OK"}
    assert requests.get(api(mock, "/api/v2/installationinfo"), headers={"X-API-Key": ok.json()["token"]}, timeout=TIMEOUT).status_code == 401


def test_login_without_two_factor_and_wrong_password(mock):
    r = requests.post(api(mock, "/api/v2/auth"), auth=("anna@demo-housing.example", "anna-password"), timeout=TIMEOUT)
    assert r.status_code == 200 and set(r.json()) == {"token"}
    bad = requests.post(api(mock, "/api/v2/auth"), auth=("anna@demo-housing.example", "wrong"), timeout=TIMEOUT)
    assert (bad.status_code, bad.json()) == (401, {"message": "Unauthorized"})


def test_api_key_expiry_on_the_virtual_clock(mock):
    h = {"X-API-Key": ANNA}
    key = requests.post(api(mock, "/api/v2/user/me/security/token"), json={"name": "hour", "expire": int(time.time()) + 3600}, headers=h, timeout=TIMEOUT).json()
    assert set(key) == {"id", "type", "created", "token", "accessed", "last_used", "current", "agent", "expire", "session_timeout", "name", "permissions"}
    assert requests.get(api(mock, "/api/v2/status/2001"), headers={"X-API-Key": key["token"]}, timeout=TIMEOUT).status_code == 200
    mock.advance_clock(3601)
    assert requests.get(api(mock, "/api/v2/status/2001"), headers={"X-API-Key": key["token"]}, timeout=TIMEOUT).status_code == 401


def test_oauth_consent_grants_a_subset(mock):
    h = {"X-API-Key": INTEGRATION}
    request = requests.get(api(mock, "/api/v2/oauth2/authorize"), headers=h, timeout=TIMEOUT, params={
        "response_type": "code", "client_id": "demo-integrator", "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "status:read log:read", "state": "s1"}).json()
    consent = requests.post(api(mock, "/api/v2/oauth2/consent"), headers=h, timeout=TIMEOUT, json={
        "consent_challenge": request["consent_challenge"], "grant_scope": ["log:read"], "installations": [2001]}).json()
    code = consent["redirect_to"].split("code=")[1].split("&")[0]
    token = requests.post(api(mock, "/api/v2/oauth2/token"), auth=("demo-integrator", "demo-integrator-secret"), timeout=TIMEOUT, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:8765/callback"}).json()
    assert token["scope"] == "log:read"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(api(mock, "/api/v3beta/log/2001"), headers=bearer, timeout=TIMEOUT).status_code == 200
    assert requests.get(api(mock, "/api/v3beta/log/2003"), headers=bearer, timeout=TIMEOUT).status_code == 403
    assert requests.get(api(mock, "/api/v2/status/2001"), headers=bearer, timeout=TIMEOUT).status_code == 403


def test_go_lynx_quirks_double_slash_and_414_fallback(mock):
    assert requests.get(api(mock, "//api/v2/ping"), timeout=TIMEOUT).status_code == 200
    topics = [f"obj/zwave/{i}/temperature" for i in range(500)]
    long = requests.get(api(mock, "/api/v3beta/log/2001"), params={"topics": topics}, headers={"X-API-Key": ANNA}, timeout=TIMEOUT)
    assert (long.status_code, long.json()) == (414, {"message": "Request-URI Too Long"})
    post = requests.post(api(mock, "/api/v3beta/log/2001"), json=topics, headers={"X-API-Key": ANNA}, timeout=TIMEOUT)
    assert post.status_code == 200 and set(post.json()) == {"total", "last", "count", "data"}
