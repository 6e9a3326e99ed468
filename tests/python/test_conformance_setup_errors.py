"""A client command that cannot start (sh exit 127) did nothing to judge: both reports show a
setup error, never a failed check, and sh's own words (a command named with markup and a line
break in the message) reach them as text."""

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from test_conformance import run

# Quoted so that sh looks the whole name up instead of reading `<` as a redirection.
MISSING_CLIENT = "'/nonexistent/<script>alert(1)</script>'"


class Page(HTMLParser):
    """Collects an HTML page's tags, its text and what it references."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.references = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.references += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        self.text.append(data)


def test_a_client_that_cannot_start_is_a_setup_error_in_both_reports(tmp_path):
    html, junit = tmp_path / "report.html", tmp_path / "report.xml"
    done = run(["run", "--suite", "kalibrate/basic", "--client", MISSING_CLIENT,
                "--junit", str(junit), "--html", str(html)])
    assert done.returncode == 1, done.stderr
    assert "NOT CERTIFIED" in done.stdout

    root = ET.parse(junit).getroot()
    errors = list(root.iter("error"))
    assert len(errors) >= 1, ET.tostring(root, encoding="unicode")
    assert int(root.get("errors")) == len(errors) == sum(int(s.get("errors")) for s in root)
    assert int(root.get("failures")) == 0 and not list(root.iter("failure")), "nothing was judged"
    for error in errors:
        assert error.get("type") == "setup"
        assert error.get("message") == "the client command could not start: command not found (sh exit 127)"
        assert error.text.startswith(error.get("message") + "\n"), "the line break survives"
        assert "/nonexistent/<script>alert(1)</script>: not found" in error.text, error.text

    page = Page()
    page.feed(html.read_text())
    page.close()
    text = "".join(page.text)
    assert "script" not in page.tags, "the client's words became markup"
    assert "<script>alert(1)</script>" in text, "they are shown as text"
    assert "NOT CERTIFIED" in text and "Could not run" in text
    assert "command not found (sh exit 127)" in text
    assert not [r for r in page.references if r.startswith(("http:", "https:", "//"))], page.references
