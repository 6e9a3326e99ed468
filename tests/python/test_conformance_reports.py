"""The conformance runner's reports as a CI and a certified party read them: the HTML
certification report (self-contained, well formed, escaped, with the evidence of every failure
and the expected failures honoured) and the JUnit file (a scenario that could not run is an
`<error>`, counted in `errors`; newlines in messages survive)."""

import json
import sys
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import requests

from test_conformance import EXPECTED, FAULTY, REFERENCE, run


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Reads an HTML page: what it references, its text, the text of each `<pre>`, and whether
    every element it opens is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.references, self.text, self.tags, self.pres = [], [], [], []
        self.open, self.mismatched = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.references += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "pre":
            self.pres.append("")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.mismatched.append(tag)

    def handle_data(self, data):
        self.text.append(data)
        if self.open and self.open[-1] == "pre":
            self.pres[-1] += data


def read_page(path):
    page = Page()
    page.feed(path.read_text())
    page.close()
    assert not page.mismatched and not page.open, (page.mismatched, page.open)
    assert "script" not in page.tags, "the report needs no script"
    assert not [r for r in page.references if r.startswith(("http:", "https:", "//"))], page.references
    return page


def test_the_reports_of_a_faulty_client_show_each_failure_its_evidence_and_the_expected_ones(tmp_path):
    """A faulty client whose standard error ends with markup and several lines, one of whose
    failures is declared expected."""
    fault = max(FAULTY, key=lambda name: len(EXPECTED[name]["fails"]))
    scenario, check = EXPECTED[fault]["fails"][0].split(": ")
    expected = tmp_path / "expected.toml"
    expected.write_text(f'[[expected]]\nscenario = "kalibrate/{scenario}"\ncheck = "{check}"\n'
                        'reason = "ticket <b>42</b>"\n')
    client = (f"{FAULTY[fault]}; status=$?; "
              "printf '<script>alert(1)</script>\\nstderr line one\\nstderr line two\\n' >&2; exit $status")
    html, junit, report = tmp_path / "report.html", tmp_path / "report.xml", tmp_path / "report.json"
    done = run(["run", "--suite", "kalibrate", "--client", client, "--expected-failures", str(expected),
                "--html", str(html), "--junit", str(junit), "--json", str(report)])
    assert done.returncode == 1, done.stderr
    failed = [(s, c) for s in json.loads(report.read_text())["scenarios"] for c in s["checks"]
              if c["status"] == "FAILED"]
    assert len(failed) == len(EXPECTED[fault]["fails"]) - 1

    page = read_page(html)
    text = "".join(page.text)
    assert "NOT CERTIFIED" in text and client in text
    assert "<script>alert(1)</script>" in text, "the client's markup is shown as text"
    assert "<b>" not in page.tags and "ticket <b>42</b>" in text
    honoured = text[text.index("Expected failures honoured"):]
    assert f"kalibrate/{scenario}" in honoured and check in honoured
    shown = []
    for pre in page.pres:
        try:
            shown.append(json.loads(pre))
        except ValueError:
            pass
    for s, c in failed:
        assert c["evidence"] in shown, f"the evidence of {s['id']}: {c['name']}"
        assert f"Evidence: {c['name']}" in text and c["clause"] in text

    root = ET.parse(junit).getroot()
    assert (int(root.get("failures")), int(root.get("errors"))) == (len(failed), 0)
    skipped = [e.get("message") for e in root.iter("skipped")]
    assert [m for m in skipped if m.startswith("EXPECTED FAILURE") and "ticket <b>42</b>" in m], skipped
    failures = list(root.iter("failure"))
    assert failures and all(f.get("message") in text for f in failures), "every JUnit failure is in the report"
    for f in failures:
        assert f.text.startswith(f.get("message")) and "\nclause: " in f.text
        assert "<script>alert(1)</script>\nstderr line one\nstderr line two" in f.text, "newlines survive"


def test_a_certified_client_gets_a_certified_report(tmp_path):
    html = tmp_path / "report.html"
    done = run(["run", "--suite", "kalibrate/basic", "--client", REFERENCE["requests"], "--html", str(html)])
    assert done.returncode == 0, done.stderr
    read_page(html)
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
    for e in errors:
        assert e.text.startswith(e.get("message")) and "\nclient stderr (end):\n" in e.text, e.text
    text = "".join(read_page(html).text)
    assert "Could not run" in text and errors[0].get("message") in text
