"""Eclipse Paho's MQTT interoperability suites (paho.mqtt.testing, `interoperability/`:
`client_test.py` for MQTT 3.1.1, `client_test5.py` for MQTT 5) against IoT Open's broker,
unedited, one pytest test per suite test, each in a process of its own.

The suites connect anonymously and use free topics (`TopicA`, `+/C`, `#`); our broker wants an
API key as password and topics under an installation's `{client_id}/`. `mqtt_interop_shim.py`
sits between them: it puts Anna's key into every CONNECT, prefixes topics and filters with
`1001/` (her installation) and strips it from what comes back, and sends the suites'
`test/nosubscribe` to `1002/` (Bertil's installation), which the broker refuses for real.

The suites are another project's code under their own licence: they run from a checkout of
eclipse/paho.mqtt.testing outside this repository (`PAHO_MQTT_TESTING`, or one found at most two
folders below the repository's parent folder), and nothing of them is copied here. Without one
every test skips, saying so.

How each suite is started:

- `client_test5.py -p PORT -v Test.NAME`, its own command line. The host stays the default,
  `localhost`, which its client resolves as IPv4 (127.0.0.1): its getopt takes `-h` for
  `--help` (`o in ("--help")` is a substring test) and leaves `--hostname=` in `sys.argv` for
  unittest, which refuses it.
- `client_test.py` cannot take a port on its command line: its getopt reads `-p`, then
  `unittest.main()` reads the same `sys.argv` and refuses `-p`. `RUNNER` runs the file
  unchanged as `__main__` with `--hostname=127.0.0.1 -p PORT` in `sys.argv` for its getopt, and
  gives `unittest.main` the test name instead.

Each suite test gets a shim of its own whose client ids carry a prefix of their own (see the
`shim` fixture): the suites' fixed ids would otherwise meet the sessions earlier tests left.

Tests that fail because the broker does not do what the suite expects are `xfail(strict=True)`
with the cause (`DIVERGENCES`; three of them ask more than MQTT 5 does, and say so): a fix in
the gate or the engine makes them pass, and strict turns that into a failure here, so the mark
gets removed. A test the suite itself makes racy gets three tries (`RACY`).

Passing is the suites' verdict: client_test5's test_zero_length_clientid catches its own
assertion and passes whatever happens (the broker refuses an empty client id with Clean Start 0,
0x85, which MQTT 5 allows, and the test prints the traceback and passes).
"""

import ast
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mqtt_interop_shim import Malformed, Names, Rewriter, ShimThread, frame_length

ROOT = Path(__file__).resolve().parents[2]


def paho_checkout():
    """A checkout of eclipse/paho.mqtt.testing: `PAHO_MQTT_TESTING`, or one beside the repository."""
    if os.environ.get("PAHO_MQTT_TESTING"):
        return Path(os.environ["PAHO_MQTT_TESTING"])
    for pattern in ("paho.mqtt.testing", "*/paho.mqtt.testing", "*/*/paho.mqtt.testing"):
        for found in sorted(ROOT.parent.glob(pattern)):
            if (found / "interoperability" / "client_test5.py").is_file():
                return found
    return ROOT.parent / "paho.mqtt.testing"


INTEROP = paho_checkout() / "interoperability"

ANNA = "f7650807dffc43c98710bdd942d78b68"  # API key of installation 2001, MQTT client id 1001
PREFIX = "1001/"
FORBIDDEN = "1002/"  # Bertil's installation: Anna's key may not subscribe there

V311, V5 = "client_test.py", "client_test5.py"

# Runs client_test.py as it is, as `__main__`: argv[1] the script, argv[2] the test, the rest
# the script's own options, which only its getopt sees.
RUNNER = """
import functools, os, runpy, sys, unittest
script, test, *options = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
sys.argv = [script, *options]
unittest.main = functools.partial(unittest.main, argv=[script, "-v", test])
runpy.run_path(script, run_name="__main__")
"""

# How long one suite test may take, setUpClass's clean-up included (about 3 s). The longest pass
# in about 25 s (test_keepalive, test_will_delay); a test that waits for what never comes
# (test_flow_control2 loops until it is disconnected) is stopped then.
TIMEOUT = 90

# (suite, test) → why it fails. None fails because of the shim, and none because the broker breaks
# MQTT: in each the suite asks more than the specification does, and the broker does what
# mosquitto or the client libraries our users run need.
DIVERGENCES = {
    (V5, "test_subscribe_failure"):
        "suite stricter than MQTT 5: a denied filter gets SUBACK 0x87 Not authorized, a valid 5 code "
        "(§3.9.3), but the suite's codec accepts only 0, 1, 2 or 0x80 and raises on 0x87 "
        "(mqtt/formats/MQTTV5.py SUBACK unpack); mosquitto 2.0.11 with a deny rule in its ACL file "
        "fails it too, granting the filter",
    (V5, "test_subscribe_identifiers"):
        "suite stricter than MQTT 5: for overlapping subscriptions with identifiers 2 and 3 the "
        "engine sends two copies, each with its own identifier, which [MQTT-3.3.4-5] allows and "
        "mosquitto 2.0.11 does too; the suite expects one copy carrying both [MQTT-3.3.4-4]",
    (V5, "test_server_keep_alive"):
        "suite stricter than MQTT 5: it expects CONNACK Server Keep Alive 60 for keep-alive 120 "
        "(its own broker's setting); the property is optional (§3.2.2.3.14) and the broker sends none",
    (V5, "test_server_topic_alias"):
        "suite stricter than MQTT 5: it expects the broker to set topic aliases for a client that "
        "allows them, which §3.3.2.3.4 leaves to the server; the broker sets none, as mosquitto, "
        "because paho-mqtt 2.2 cannot read one (its application gets an empty topic)",
}


# (suite, test) → why it may fail by chance: a race in the suite itself. Such a test gets two more
# tries; a broker that really fails it fails all three.
RACY = {
    (V5, "test_subscribe_options"):
        "after bclient.subscribe() the suite waits for aclient's SUBACK (callback, not callback2), "
        "which it already has, and aclient publishes at once: the message may reach the engine "
        "before bclient's subscription (seen once in four runs, with other work on the machine)",
    (V5, "test_request_response"):
        "after bclient.subscribe() the suite waits for aclient's SUBACK (`self.waitfor(callback."
        "subscribeds, 1, 3)`, callback, not callback2), which it already has, and aclient publishes "
        "at once: on another connection, so the request may reach the engine before bclient's "
        "subscription and bclient never gets it (seen once in three full runs)",
}
TRIES = 3


def suite_tests(script: str) -> list:
    """The test methods of the suite's `Test` class, read from the file (not imported)."""
    tree = ast.parse((INTEROP / script).read_text(), filename=script)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Test":
            return [f.name for f in node.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test")]
    return []


def cases() -> list:
    if not INTEROP.is_dir():
        return [pytest.param(None, None, id="paho-suites",
                             marks=pytest.mark.skip(reason="Paho interoperability suites not found: set PAHO_MQTT_TESTING "
                                                    "to a checkout of eclipse/paho.mqtt.testing"))]
    params = []
    for script in (V311, V5):
        for name in suite_tests(script):
            why = DIVERGENCES.get((script, name))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            params.append(pytest.param(script, name, id=f"{Path(script).stem}::{name}", marks=marks))
    return params


@pytest.fixture
def shim(mock):
    """A shim for one suite test. Its client ids get a prefix of their own, so that each suite
    test starts from nothing on the session's shared server, whatever sessions the suites'
    fixed client ids left there (each suite test runs on its own; the suites' own clean-up
    assumes they run in one process, in order)."""
    tcp = urlparse(mock.endpoints["mqtt"]["tcp"])
    with ShimThread((tcp.hostname, tcp.port), ANNA, PREFIX, FORBIDDEN, f"paho-{uuid.uuid4().hex[:8]}-") as running:
        yield running


def command(script: str, name: str, port: int) -> list:
    if script == V311:
        return [sys.executable, "-c", RUNNER, script, f"Test.{name}", "--hostname=127.0.0.1", "-p", str(port)]
    return [sys.executable, script, "-p", str(port), "-v", f"Test.{name}"]


def run_suite_test(script: str, name: str, port: int) -> tuple[int | None, str, float]:
    """(exit code or None on timeout, output, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen(command(script, name, port), cwd=INTEROP, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n[stopped after {TIMEOUT} s]"
        code = None
    return code, output, time.monotonic() - started


@pytest.mark.parametrize("script,name", cases())
def test_paho_interoperability(shim, script, name):
    tries = TRIES if (script, name) in RACY else 1
    for attempt in range(1, tries + 1):
        code, output, seconds = run_suite_test(script, name, shim.port)
        print(f"{script} {name}: exit {code} in {seconds:.1f} s (try {attempt} of {tries})\n{output}")
        if code == 0:
            return
    pytest.fail(f"{script} Test.{name} failed (exit {code}, {seconds:.1f} s, {tries} tries):\n{output[-6000:]}")


# The shim's own rewriting, on packets written out by hand here (no server, no suites).

KEY = b"k" * 32


def rewriter(version=4, client_id_prefix=b""):
    return Rewriter(Names(b"1001/", b"1002/", client_id_prefix=client_id_prefix), KEY, version=version)


def utf8(text: bytes) -> bytes:
    """An MQTT string: two bytes of length, then the bytes."""
    return len(text).to_bytes(2, "big") + text


def test_shim_gives_an_anonymous_311_connect_the_key_and_fixes_flags_and_length():
    body = utf8(b"MQTT") + bytes([4, 0x02]) + b"\x00\x3c" + utf8(b"abc")
    out = rewriter(client_id_prefix=b"t-").upstream(bytes([0x10, len(body)]) + body)
    want = utf8(b"MQTT") + bytes([4, 0xC2]) + b"\x00\x3c" + utf8(b"t-abc") + utf8(b"paho-interop") + utf8(KEY)
    assert out == bytes([0x10, len(want)]) + want


def test_shim_rewrites_a_5_connect_with_will_and_properties():
    props = bytes([10]) + b"\x11\x00\x00\x00\x0a" + b"\x27\x00\x00\x00\x40"  # Session Expiry 10, Maximum Packet Size 64
    will_props = bytes([6]) + b"\x08" + utf8(b"r/t")  # Response Topic r/t
    body = utf8(b"MQTT") + bytes([5, 0x06]) + b"\x00\x00" + props + utf8(b"") + will_props + utf8(b"w") + utf8(b"bye")
    rw = rewriter(version=4, client_id_prefix=b"t-")
    out = rw.upstream(bytes([0x10, len(body)]) + body)
    assert rw.version == 5
    want = (utf8(b"MQTT") + bytes([5, 0xC6]) + b"\x00\x00"
            + bytes([10]) + b"\x11\x00\x00\x00\x0a" + b"\x27\x00\x00\x00\x45"  # 64 + len("1001/")
            + utf8(b"")  # an empty client id stays empty (the broker assigns one)
            + bytes([11]) + b"\x08" + utf8(b"1001/r/t") + utf8(b"1001/w") + utf8(b"bye")
            + utf8(b"paho-interop") + utf8(KEY))
    assert out == bytes([0x10, len(want)]) + want


def test_shim_prefixes_filters_keeping_share_and_dollar_and_sends_nosubscribe_elsewhere():
    filters = [b"#", b"+/C", b"$share/g/TopicA", b"$SYS/#", b"test/nosubscribe"]
    body = b"\x00\x07" + b"".join(utf8(f) + b"\x02" for f in filters)
    out = rewriter().upstream(bytes([0x82, len(body)]) + body)
    renamed = [b"1001/#", b"1001/+/C", b"$share/g/1001/TopicA", b"$SYS/#", b"1002/test/nosubscribe"]
    want = b"\x00\x07" + b"".join(utf8(f) + b"\x02" for f in renamed)
    assert out == bytes([0x82, len(want)]) + want


def test_shim_leaves_an_aliased_empty_topic_empty_and_renames_response_topics_both_ways():
    rw = rewriter(version=5)
    props = bytes([3 + 8]) + b"\x23\x00\x01" + b"\x08" + utf8(b"reply")  # Topic Alias 1, Response Topic
    body = utf8(b"") + b"\x00\x09" + props + b"payload"
    out = rw.upstream(bytes([0x32, len(body)]) + body)
    new_props = bytes([3 + 13]) + b"\x23\x00\x01" + b"\x08" + utf8(b"1001/reply")
    assert out == bytes([0x32, len(body) + 5]) + utf8(b"") + b"\x00\x09" + new_props + b"payload"
    down = utf8(b"1001/TopicA") + b"\x00\x02" + new_props + b"payload"
    back = rw.downstream(bytes([0x32, len(down)]) + down)
    assert back == bytes([0x32, len(down) - 10]) + utf8(b"TopicA") + b"\x00\x02" + props + b"payload"


def test_shim_grows_the_remaining_length_past_127():
    body = utf8(b"t") + b"x" * 120
    out = rewriter().upstream(bytes([0x30, len(body)]) + body)
    assert out[:3] == bytes([0x30, 0x80 | ((len(body) + 5) % 128), (len(body) + 5) // 128])
    assert out[3:] == utf8(b"1001/t") + b"x" * 120


def test_shim_passes_malformed_packets_unchanged():
    truncated = bytes([0x30, 3]) + b"\x00\x09t"  # topic length 9, one byte of it
    assert rewriter().upstream(truncated) == truncated
    unknown_property = bytes([0x30, 6]) + utf8(b"t") + b"\x02\x7f\x00"
    assert rewriter(version=5).upstream(unknown_property) == unknown_property
    with pytest.raises(Malformed):
        frame_length(b"\x30\xff\xff\xff\xff\x01")
