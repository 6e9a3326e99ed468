"""A refused request leaves its connection open for the next one, as the providers' servers do,
even when the client sent its body a moment after its headers (two TLS records, as urllib3
does) and the refusal came before the body was read: a missing token, a fault rule's own
answer. Before, the server closed such a connection after the answer, and a client that pools
connections (requests, MSAL) sent its next request, often the retry the refusal asked for, into
a dead socket (requests: `SSLEOFError`)."""

import socket
import ssl
import time
from urllib.parse import urlsplit

from conftest import READ_CLIENT, SANDPIT_SCOPE, read_response


def statuses_on_one_connection(mock, url: str, bodies: list, content_type: str) -> list:
    """POSTs each body to `url` over one TLS connection, the body 100 ms after the headers,
    and returns the answers' statuses; "closed" where the server closed the connection."""
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=mock.ca)
    statuses = []
    raw = socket.create_connection((target.hostname, target.port), timeout=10)
    with context.wrap_socket(raw, server_hostname=target.hostname) as tls:
        for body in bodies:
            head = (f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nUser-Agent: keep-alive-test\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
            try:
                tls.sendall(head.encode())
                time.sleep(0.1)
                tls.sendall(body)
                statuses.append(read_response(tls)[0])
            except (ssl.SSLError, ConnectionError):
                return statuses + ["closed"]
    return statuses


def test_a_fault_rules_own_answer_keeps_the_connection_for_the_retry(mock):
    mock.add_fault({"provider": "kalibrate", "service": "login", "route": "/*/oauth2/v2.0/token", "times": 1,
                    "action": {"status": 503, "headers": {"Retry-After": "1"}}})
    form = (f"grant_type=client_credentials&client_id={READ_CLIENT[0]}&client_secret={READ_CLIENT[1]}"
            f"&scope={SANDPIT_SCOPE}").encode()
    statuses = statuses_on_one_connection(mock, mock.token_url(), [form, form], "application/x-www-form-urlencoded")
    assert statuses == [503, 200]


def test_a_call_refused_before_its_body_was_read_keeps_the_connection(mock):
    points = b'[{"sourceSerialNumber": "SN-1", "mappingConfig": "E", "data": [{"date": "2024-01-01T00:00:00Z", "value": 1}]}]'
    statuses = statuses_on_one_connection(mock, mock.opinum("push", "/api/data"), [points] * 3, "application/json")
    assert statuses == [401] * 3
