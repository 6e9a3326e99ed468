"""`--log-format json`: every line the server logs (standard error) is one JSON object a log
shipper can read (timestamp, level, target, message), at debug level too, and carries no
secret: not the client secret, the access token or the MQTT API key the clients used. The
"ready" banner for people stays on standard output."""

import json
import subprocess
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import requests

from conftest import BIN, READ_CLIENT, SANDPIT_SCOPE, Mock, _wait_for_endpoints

ANNA_KEY = "f7650807dffc43c98710bdd942d78b68"


@contextmanager
def serving_with_logs_apart(work, *extra_args):
    """The binary on free ports, its standard error (the log) in `work/log.jsonl`."""
    endpoints_file, log_path = work / "endpoints.json", work / "log.jsonl"
    with open(log_path, "wb") as log, open(work / "stdout.txt", "wb") as out:
        process = subprocess.Popen(
            [str(BIN), "serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0",
             "--listen", "knoema.api=127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0",
             "--mqtt-ws", "127.0.0.1:0", "--certs-dir", str(work / "certs"), "--endpoints-file", str(endpoints_file),
             *extra_args],
            stdout=out, stderr=log,
        )
    try:
        yield Mock(_wait_for_endpoints(endpoints_file, process, log_path), process, log_path)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_json_logs_are_one_object_a_line_with_no_secret(tmp_path):
    with serving_with_logs_apart(tmp_path, "--log", "debug", "--log-format", "json") as server:
        form = {"grant_type": "client_credentials", "client_id": READ_CLIENT[0], "client_secret": READ_CLIENT[1],
                "scope": SANDPIT_SCOPE}
        issued = requests.post(server.token_url(), data=form, timeout=10, verify=server.ca)
        assert issued.status_code == 200
        access_token = issued.json()["access_token"]
        wrong = requests.post(server.token_url(), data={**form, "client_secret": "wrong-secret-value"},
                              timeout=10, verify=server.ca)
        assert wrong.status_code == 401
        host, port = server.endpoints["mqtt"]["tcp"].split("//")[1].split(":")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.username_pw_set("apikey", ANNA_KEY)
        client.connect(host, int(port))
        client.loop_start()
        client.publish("1001/obj/log/format", json.dumps({"value": 1}), qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        log_path = server.log_path
    text = log_path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 5, text
    levels = set()
    for line in lines:
        entry = json.loads(line)  # raises on a line that is not one JSON object
        assert {"timestamp", "level", "target"} <= entry.keys(), entry
        assert isinstance(entry.get("message"), str), entry
        levels.add(entry["level"])
    assert {"INFO", "DEBUG"} <= levels
    for secret in (READ_CLIENT[1], "wrong-secret-value", access_token, ANNA_KEY):
        assert secret not in text, "a secret reached the log"


def test_an_unknown_log_format_is_refused_with_the_choices(tmp_path):
    done = subprocess.run([str(BIN), "serve", "--log-format", "xml"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "text" in done.stderr and "json" in done.stderr
