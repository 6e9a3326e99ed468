"""The conformance runner's reports as a CI and a certified party read them: the HTML
certification report (self-contained, escaped, with the evidence of every failure) and the
JUnit file (a scenario that could not run is an `<error>`, counted in `errors`)."""

import sys
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import requests

from test_conformance import FAULTY, REFERENCE, run


class Page(HTMLParser):
    """Collects what an HTML page references and its text."""

    def __init__(self):
        super().__init__()
        self.references, self.text, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.references += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        self.text.append(data)


def test_the_html_report_of_a_faulty_client_shows_the_failure_and_its_evidence(tmp_path):
    fault = sorted(FAULTY)[0]
    html, junit = tmp_path / "report.html", tmp_path / "report.xml"
    done = run(["run", "--suite", "kalibrate", "--client", FAULTY[fault], "--html", str(html), "--junit", str(junit)])
    assert done.returncode == 1, done.stderr
    page = Page()
    page.feed(html.read_text())
    text = " ".join(page.text)
    assert "NOT CERTIFIED" in text and FAULTY[fault] in text
    assert "Evidence:" in text and "clause:" in text
    assert "script" not in page.tags, "the report needs no script"
    assert not [r for r in page.references if r.startswith(("http:", "https:", "//"))], page.references
    failing = {f.get("message") for f in ET.parse(junit).getroot().iter("failure")}
    assert failing and all(message in text for message in failing), "every JUnit failure is in the report"


def test_a_certified_client_gets_a_certified_report(tmp_path):
    html = tmp_path / "report.html"
    done = run(["run", "--suite", "kalibrate/basic", "--client", REFERENCE["requests"], "--html", str(html)])
    assert done.returncode == 0, done.stderr
    text = html.read_text()
    assert ">CERTIFIED<" in text and "NOT CERTIFIED" not in text
    assert "<th>mock-server</th><td>0." in text, "the server's version, from its health endpoint"


def test_scenarios_that_could_not_run_are_junit_errors_not_failures(mock, tmp_path):
    """A client that deletes the run it is tested in: the scenarios after it cannot be set up."""
    run_id = f"sabotage-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{mock.admin}/runs", json={"id": run_id}, timeout=10)
    assert created.status_code == 201, created.text
    run_admin = created.json()["endpoints"]["admin"]
    sabotage = f"{sys.executable} -c \"import requests; requests.delete('{mock.admin}/runs/{run_id}')\""
    junit, html = tmp_path / "report.xml", tmp_path / "report.html"
    done = run(["run", "--suite", "kalibrate/basic", "--server", run_admin, "--client", sabotage,
                "--junit", str(junit), "--html", str(html)])
    assert done.returncode == 1, done.stderr
    root = ET.parse(junit).getroot()
    errors = list(root.iter("error"))
    assert errors and int(root.get("errors")) == len(errors)
    assert sum(int(s.get("errors")) for s in root) == len(errors)
    assert all(e.get("type") == "setup" and e.get("message") for e in errors)
    assert not [f for f in root.iter("failure") if f.get("type") == "ERROR"], "setup errors are no longer failures"
    assert "Could not run" in html.read_text()
