"""A TCP proxy that lets a generic MQTT test suite (Eclipse Paho's interoperability suites, which
connect anonymously and use free topics such as `TopicA`, `+/C` or `#`) run against IoT Open's
broker, which authenticates every CONNECT with an API key as password and lets a key use only
topics under its installations' `{client_id}/`.

Client to broker, the shim rewrites:

- CONNECT (3.1.1 and 5): user name and password set (the password is the API key), flags and
  remaining length fixed; the will topic gets the prefix; on 5, the client's Maximum Packet Size
  grows by the prefix (what the broker sends loses it here) and a will's Response Topic gets the
  prefix.
- PUBLISH topic, SUBSCRIBE and UNSUBSCRIBE filters: `{prefix}` put in front (`#` becomes
  `{prefix}#`, `+/C` becomes `{prefix}+/C`; `$share/{group}/` stays in front); on 5 a PUBLISH's
  Response Topic too. An empty topic (behind a topic alias on 5) stays empty. A topic or filter
  starting with `$` (other than `$share/`) is passed as it is, so the broker's own rules for `$`
  topics apply. The suite's "nosubscribe" topic gets a prefix the key may not use (another
  user's installation), so the broker refuses it for real.

A client id can get a prefix too (`client_id_prefix`; empty ids stay empty), so that the suites'
fixed ids (`myclientid`) name sessions of one shim only, not those earlier users of the broker
left in it.

Broker to client, a PUBLISH loses either prefix from its topic (and Response Topic); on 5 the
CONNACK's Maximum Packet Size shrinks by what the prefix adds. Every other packet, and any packet
that does not decode, goes through unchanged; a stream that cannot even be framed (a bad
remaining length) is passed through raw from there on.

The encoder and decoder are this file's own, minimal: just enough of MQTT 3.1.1 and 5 (strings,
variable byte integers, properties) to rewrite those fields.

Run alone for manual checks:

    python mqtt_interop_shim.py --broker 127.0.0.1:1883 --key KEY --prefix 1001/ --forbidden 1002/
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import struct
import threading
from dataclasses import dataclass, field

log = logging.getLogger("mqtt_interop_shim")

CONNECT, CONNACK, PUBLISH, SUBSCRIBE, UNSUBSCRIBE = 1, 2, 3, 8, 10
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
         8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
         14: "DISCONNECT", 15: "AUTH"}

# MQTT 5 properties (§2.2.2.2) by the type of their value.
BYTE_PROPS = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
TWO_BYTE_PROPS = {0x13, 0x21, 0x22, 0x23}
FOUR_BYTE_PROPS = {0x02, 0x11, 0x18, 0x27}
VARINT_PROPS = {0x0B}
STRING_PROPS = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
BINARY_PROPS = {0x09, 0x16}
PAIR_PROPS = {0x26}
RESPONSE_TOPIC = 0x08
MAXIMUM_PACKET_SIZE = 0x27
# The largest packet MQTT can frame: a 5-byte fixed header and 268 435 455 bytes.
MQTT_MAX_PACKET = 268_435_460


class Malformed(Exception):
    """A packet the shim cannot read; it goes through unchanged."""


# -- the wire types ---------------------------------------------------------------------------

def encode_varint(n: int) -> bytes:
    if not 0 <= n <= 268_435_455:
        raise Malformed(f"variable byte integer out of range: {n}")
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); Malformed if it runs over 4 bytes or off the end."""
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(data):
            raise Malformed("truncated variable byte integer")
        byte = data[pos + i]
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise Malformed("variable byte integer longer than 4 bytes")


def encode_string(s: bytes) -> bytes:
    if len(s) > 0xFFFF:
        raise Malformed("string longer than 65535 bytes")
    return struct.pack("!H", len(s)) + s


def decode_string(data: bytes, pos: int) -> tuple[bytes, int]:
    """A two-byte length and its bytes (UTF-8 strings and binary data alike), kept as bytes."""
    if pos + 2 > len(data):
        raise Malformed("truncated string length")
    (n,) = struct.unpack_from("!H", data, pos)
    if pos + 2 + n > len(data):
        raise Malformed("truncated string")
    return data[pos + 2:pos + 2 + n], pos + 2 + n


def u16(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data):
        raise Malformed("truncated two-byte integer")
    return struct.unpack_from("!H", data, pos)[0], pos + 2


@dataclass
class Prop:
    """One property: its identifier, its value as decoded (int or bytes, a pair for user
    properties), and its raw value bytes, which are what is written back unless it changed."""
    ident: int
    value: object
    raw: bytes


def decode_properties(data: bytes, pos: int) -> tuple[list[Prop], int]:
    length, pos = decode_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise Malformed("properties run past the packet")
    props = []
    while pos < end:
        ident, pos = decode_varint(data, pos)
        start = pos
        if ident in BYTE_PROPS:
            if pos + 1 > end:
                raise Malformed("truncated property")
            value, pos = data[pos], pos + 1
        elif ident in TWO_BYTE_PROPS:
            value, pos = u16(data, pos)
        elif ident in FOUR_BYTE_PROPS:
            if pos + 4 > end:
                raise Malformed("truncated property")
            value, pos = struct.unpack_from("!I", data, pos)[0], pos + 4
        elif ident in VARINT_PROPS:
            value, pos = decode_varint(data, pos)
        elif ident in STRING_PROPS or ident in BINARY_PROPS:
            value, pos = decode_string(data, pos)
        elif ident in PAIR_PROPS:
            key, pos = decode_string(data, pos)
            val, pos = decode_string(data, pos)
            value = (key, val)
        else:
            raise Malformed(f"unknown property 0x{ident:02x}")
        if pos > end:
            raise Malformed("a property runs past the properties")
        props.append(Prop(ident, value, data[start:pos]))
    return props, end


def encode_properties(props: list[Prop]) -> bytes:
    body = b"".join(encode_varint(p.ident) + p.raw for p in props)
    return encode_varint(len(body)) + body


def describe(props: list[Prop]) -> str:
    """Properties for a trace: `{0x11: 99999, 0x26: (b'a', b'2')}`."""
    return "{" + ", ".join(f"0x{p.ident:02x}: {p.value!r}" for p in props) + "}"


def set_string_prop(prop: Prop, value: bytes) -> None:
    prop.value, prop.raw = value, encode_string(value)


def set_four_byte_prop(prop: Prop, value: int) -> None:
    value = max(1, min(value, 0xFFFFFFFF))
    prop.value, prop.raw = value, struct.pack("!I", value)


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + encode_varint(len(body)) + body


def frame_length(buf: bytes | bytearray) -> int | None:
    """The length of the whole packet at the start of `buf`, None when more bytes are needed;
    Malformed when the remaining length is not a valid variable byte integer."""
    if len(buf) < 2:
        return None
    value, shift = 0, 0
    for i in range(1, 5):
        if i >= len(buf):
            return None
        byte = buf[i]
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return i + 1 + value
        shift += 7
    raise Malformed("remaining length longer than 4 bytes")


# -- the rewriting ----------------------------------------------------------------------------

@dataclass
class Names:
    """How the suite's topics map to the broker's and back."""
    prefix: bytes
    forbidden_prefix: bytes
    nosubscribe: tuple[bytes, ...] = (b"test/nosubscribe",)
    # Put in front of every non-empty client id: a suite's fixed ids ("myclientid") then name
    # sessions of this shim only, not those an earlier user of the broker left in it.
    client_id_prefix: bytes = b""

    def inward(self, topic: bytes) -> bytes:
        """A topic name or filter as the broker gets it."""
        if not topic:
            return topic  # PUBLISH behind a topic alias (5); an empty filter is the broker's to refuse
        if topic.startswith(b"$share/"):
            parts = topic.split(b"/", 2)
            if len(parts) == 3:
                return b"/".join(parts[:2]) + b"/" + self.inward(parts[2])
            return topic
        if topic.startswith(b"$"):
            return topic  # `$SYS/...` and other `$` topics: the broker's rules for them apply
        if topic in self.nosubscribe:
            return self.forbidden_prefix + topic
        return self.prefix + topic

    def outward(self, topic: bytes) -> bytes:
        """A topic name from the broker as the suite knows it."""
        for p in (self.prefix, self.forbidden_prefix):
            if topic.startswith(p):
                return topic[len(p):]
        return topic


@dataclass
class Rewriter:
    """One connection's rewriting, both directions. `version` is learnt from CONNECT."""
    names: Names
    key: bytes
    username: bytes = b"paho-interop"
    version: int = 4
    trace: list = field(default_factory=list)
    tracing: bool = False

    @property
    def v5(self) -> bool:
        return self.version == 5

    def note(self, direction: str, first: int | None, detail: str = "") -> None:
        """One line of the connection's trace (kept only when tracing): direction, packet type, what
        was seen or changed."""
        if self.tracing:
            kind = "" if first is None else NAMES.get(first >> 4, str(first >> 4))
            self.trace.append(" ".join(part for part in (direction, kind, detail) if part))

    def upstream(self, frame: bytes) -> bytes:
        """A packet from the client, as the broker gets it."""
        kind = frame[0] >> 4
        try:
            body = frame[len(frame) - self._body_len(frame):]
            if kind == CONNECT:
                out = self._connect(frame[0], body)
            elif kind == PUBLISH:
                out = self._publish(frame[0], body, self.names.inward)
            elif kind in (SUBSCRIBE, UNSUBSCRIBE):
                out = self._filters(frame[0], body)
            else:
                out = frame
                self.note("c>b", frame[0], body[:24].hex(" "))
        except Malformed as e:
            self.note("c>b", frame[0], f"passed unchanged: {e}")
            return frame
        return out

    def downstream(self, frame: bytes) -> bytes:
        """A packet from the broker, as the client gets it."""
        kind = frame[0] >> 4
        try:
            body = frame[len(frame) - self._body_len(frame):]
            if kind == PUBLISH:
                out = self._publish(frame[0], body, self.names.outward)
            elif kind == CONNACK and self.v5:
                out = self._connack(frame[0], body)
            else:
                out = frame
                self.note("b>c", frame[0], body[:24].hex(" "))
        except Malformed as e:
            self.note("b>c", frame[0], f"passed unchanged: {e}")
            return frame
        return out

    @staticmethod
    def _body_len(frame: bytes) -> int:
        value, _ = decode_varint(frame, 1)
        return value

    # CONNECT: [MQTT-3.1] 3.1.1 and 5 share the layout but for the properties.
    def _connect(self, first: int, body: bytes) -> bytes:
        name, pos = decode_string(body, 0)
        if pos + 4 > len(body):
            raise Malformed("truncated CONNECT")
        level, flags = body[pos], body[pos + 1]
        keep_alive = body[pos + 2:pos + 4]
        pos += 4
        if name != b"MQTT" or level not in (4, 5):
            # Not a protocol the shim knows the layout of: the broker judges it as it is.
            self.note("c>b", first, f"protocol {name!r} level {level}: unchanged")
            return packet(first, body)
        self.version = level
        props = b""
        if self.v5:
            plist, pos = decode_properties(body, pos)
            for p in plist:
                if p.ident == MAXIMUM_PACKET_SIZE:
                    # What the broker sends loses the prefix here: it may send that much more.
                    set_four_byte_prop(p, min(p.value + len(self.names.prefix), MQTT_MAX_PACKET))
            props = encode_properties(plist)
        client_id, pos = decode_string(body, pos)
        sent_id = self.names.client_id_prefix + client_id if client_id else client_id
        will = b""
        if flags & 0x04:
            will_props = b""
            if self.v5:
                wlist, pos = decode_properties(body, pos)
                for p in wlist:
                    if p.ident == RESPONSE_TOPIC:
                        set_string_prop(p, self.names.inward(p.value))
                will_props = encode_properties(wlist)
            will_topic, pos = decode_string(body, pos)
            will_payload, pos = decode_string(body, pos)
            will = will_props + encode_string(self.names.inward(will_topic)) + encode_string(will_payload)
        else:
            will_topic = b""
        username = self.username
        if flags & 0x80:
            username, pos = decode_string(body, pos)
        if flags & 0x40:
            _, pos = decode_string(body, pos)
        if pos != len(body):
            raise Malformed("bytes after the CONNECT payload")
        flags = (flags | 0xC0)
        out = (encode_string(name) + bytes([level, flags]) + keep_alive + props + encode_string(sent_id) + will
               + encode_string(username) + encode_string(self.key))
        self.note("c>b", first, f"v{level} flags 0x{flags:02x} keep-alive {int.from_bytes(keep_alive, 'big')} "
                  f"client id {client_id!r} -> {sent_id!r}" + (f" will {will_topic!r}" if flags & 0x04 else "")
                  + (f" properties {describe(plist)}" if self.v5 else ""))
        return packet(first, out)

    def _connack(self, first: int, body: bytes) -> bytes:
        if len(body) < 2:
            raise Malformed("truncated CONNACK")
        head, pos = body[:2], 2
        if pos == len(body):
            self.note("b>c", first, f"session present {body[0] & 1} code 0x{body[1]:02x}")
            return packet(first, body)
        plist, pos = decode_properties(body, pos)
        for p in plist:
            if p.ident == MAXIMUM_PACKET_SIZE:
                # A client packet grows by the prefix (and at most one byte of remaining length).
                set_four_byte_prop(p, p.value - len(self.names.prefix) - 1)
        self.note("b>c", first, f"session present {body[0] & 1} code 0x{body[1]:02x} properties {describe(plist)}")
        return packet(first, head + encode_properties(plist) + body[pos:])

    # PUBLISH [MQTT-3.3]: topic, packet id at QoS 1 and 2, properties on 5, payload.
    def _publish(self, first: int, body: bytes, rename) -> bytes:
        topic, pos = decode_string(body, 0)
        qos = (first >> 1) & 0x03
        if qos == 3:
            raise Malformed("PUBLISH with QoS 3")
        pkid = b""
        if qos:
            if pos + 2 > len(body):
                raise Malformed("truncated packet id")
            pkid, pos = body[pos:pos + 2], pos + 2
        props = b""
        if self.v5:
            plist, pos = decode_properties(body, pos)
            for p in plist:
                if p.ident == RESPONSE_TOPIC:
                    set_string_prop(p, rename(p.value))
            props = encode_properties(plist)
        renamed = rename(topic)
        self.note("c>b" if rename == self.names.inward else "b>c", first,
                  f"qos {qos} retain {first & 1} dup {(first >> 3) & 1} id {pkid.hex()} {topic!r} -> {renamed!r}"
                  + (f" properties {describe(plist)}" if self.v5 else "") + f" payload {body[pos:pos + 40]!r}")
        return packet(first, encode_string(renamed) + pkid + props + body[pos:])

    # SUBSCRIBE [MQTT-3.8] and UNSUBSCRIBE [MQTT-3.10]: packet id, properties on 5, filters
    # (each with an options byte in SUBSCRIBE).
    def _filters(self, first: int, body: bytes) -> bytes:
        kind = first >> 4
        if len(body) < 2:
            raise Malformed("truncated packet id")
        head, pos = body[:2], 2
        seen = []
        if self.v5:
            plist, pos = decode_properties(body, pos)
            head += encode_properties(plist)
            seen.append(f"properties {describe(plist)}")
        out = []
        while pos < len(body):
            flt, pos = decode_string(body, pos)
            renamed = self.names.inward(flt)
            seen.append(f"{flt!r} -> {renamed!r}")
            out.append(encode_string(renamed))
            if kind == SUBSCRIBE:
                if pos >= len(body):
                    raise Malformed("a filter without its options")
                out.append(body[pos:pos + 1])
                seen[-1] += f" options 0x{body[pos]:02x}"
                pos += 1
        self.note("c>b", first, ", ".join(seen))
        return packet(first, head + b"".join(out))


# -- the proxy --------------------------------------------------------------------------------

async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rewrite) -> None:
    """Frames what `reader` sends, rewrites each packet and writes it on. A stream that cannot be
    framed is relayed raw from there on."""
    buf = bytearray()
    raw = False
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        if raw:
            writer.write(chunk)
            await writer.drain()
            continue
        buf += chunk
        out = bytearray()
        while True:
            try:
                n = frame_length(buf)
            except Malformed:
                out += buf
                buf.clear()
                raw = True
                break
            if n is None or n > len(buf):
                break
            frame = bytes(buf[:n])
            del buf[:n]
            out += rewrite(frame)
        if out:
            writer.write(bytes(out))
            await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float = 0.5) -> None:
    """The broker closed: the client gets end of stream, and what it still sends is read and
    dropped for a moment, as the broker does, so that closing does not reset the socket before
    the client has read the broker's last packets (its DISCONNECT)."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except (OSError, TimeoutError):
        pass


class Shim:
    """The proxy on 127.0.0.1 (port 0: a free one), forwarding to `broker` (host, port)."""

    def __init__(self, broker: tuple[str, int], key: str, prefix: str, forbidden_prefix: str,
                 client_id_prefix: str = "", host: str = "127.0.0.1", port: int = 0, tracing: bool = False):
        self.broker = broker
        self.key = key.encode()
        self.names = Names(prefix.encode(), forbidden_prefix.encode(), client_id_prefix=client_id_prefix.encode())
        self.host, self.port = host, port
        self.tracing = tracing
        self.traces: list[list[str]] = []
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._conns.add(task)
        rw = Rewriter(self.names, self.key, tracing=self.tracing)
        if self.tracing:
            self.traces.append(rw.trace)
        b_writer = None
        try:
            try:
                b_reader, b_writer = await asyncio.open_connection(*self.broker)
            except OSError as e:
                log.warning("broker unreachable: %s", e)
                return
            up = asyncio.ensure_future(_pump(c_reader, b_writer, rw.upstream))
            down = asyncio.ensure_future(_pump(b_reader, c_writer, rw.downstream))
            done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            rw.note("--", None, "client closed" if up in done else "broker closed")
            for t in pending:
                t.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            if down in done:
                await _linger(c_reader, c_writer)
        except asyncio.CancelledError:
            pass
        finally:
            # Either side gone: both closed at once, as a broker or client would see a drop (no
            # DISCONNECT is made up, so a will fires when the suite's client just goes away).
            for w in (c_writer, b_writer):
                if w is not None:
                    w.close()
            self._conns.discard(task)


class ShimThread:
    """A `Shim` with an event loop in a thread of its own, for synchronous callers (pytest)."""

    def __init__(self, *args, **kwargs):
        self.shim = Shim(*args, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mqtt-interop-shim", daemon=True)

    def __enter__(self) -> "ShimThread":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.shim.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.shim.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def port(self) -> int:
        return self.shim.port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", required=True, help="host:port of the broker's MQTT TCP listener")
    ap.add_argument("--key", required=True, help="API key sent as the password")
    ap.add_argument("--prefix", required=True, help="topic prefix the key may use, e.g. 1001/")
    ap.add_argument("--forbidden", required=True, help="prefix for the nosubscribe topic, e.g. 1002/")
    ap.add_argument("--client-id-prefix", default="", help="put in front of every non-empty client id")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--trace", action="store_true", help="print each rewritten packet")
    a = ap.parse_args()
    host, port = a.broker.rsplit(":", 1)

    async def run() -> None:
        shim = Shim((host, int(port)), a.key, a.prefix, a.forbidden, a.client_id_prefix, port=a.port,
                    tracing=a.trace)
        print(f"listening on 127.0.0.1:{await shim.start()}", flush=True)
        while True:
            await asyncio.sleep(0.5)
            if a.trace:
                for i, t in enumerate(shim.traces):
                    for line in t:
                        print(f"[{i}] {line}", flush=True)
                    t.clear()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
