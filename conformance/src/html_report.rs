//! `conformance run --html FILE`: the certification report as one self-contained HTML file, to
//! keep and to send. Its stylesheet is inline, it has no script and names no other resource,
//! so it reads the same offline, in a mail attachment years later, and on paper (a print
//! stylesheet keeps every failure's evidence open). Every text that comes from the client or
//! the server is escaped: a client that prints `<script>` shows those characters.

use std::fmt::Write;

use crate::results::{CheckResult, ScenarioResult, Status, SuiteResult};

/// What the report says besides the results: who was tested, how and when.
pub struct ReportInfo<'a> {
    pub suite: &'a str,
    pub client: &'a str,
    /// When the run ended (RFC 3339, UTC).
    pub date: String,
    /// The mock-server's version as its health endpoint gave it.
    pub mock_version: Option<String>,
}

pub fn html(result: &SuiteResult, info: &ReportInfo<'_>) -> String {
    let certified = result.passed();
    let verdict = if certified { "CERTIFIED" } else { "NOT CERTIFIED" };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Conformance report: {verdict}: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(info.client)
    );
    let _ = writeln!(
        h,
        "<header><h1>Conformance report</h1><p class=\"verdict {}\">{verdict}</p></header>",
        if certified { "pass" } else { "fail" }
    );
    let facts: [(&str, String); 8] = [
        ("client command", info.client.to_owned()),
        ("suite", info.suite.to_owned()),
        ("date", info.date.clone()),
        ("mock-server", info.mock_version.clone().unwrap_or_else(|| "unknown".to_owned())),
        ("conformance", env!("CARGO_PKG_VERSION").to_owned()),
        ("server", result.server.clone()),
        ("duration", format!("{:.1} s", result.duration_ms as f64 / 1000.0)),
        (
            "checks",
            format!(
                "{} passed, {} failed, {} warnings, {} skipped, {} expected failures; {} scenarios could not run",
                result.count(Status::Passed),
                result.count(Status::Failed),
                result.count(Status::Warning),
                result.count(Status::Skipped),
                result.count(Status::ExpectedFailure),
                result.scenarios.iter().filter(|s| s.error.is_some()).count()
            ),
        ),
    ];
    h.push_str("<table class=\"facts\">\n");
    for (name, value) in facts {
        let _ = writeln!(h, "<tr><th>{name}</th><td>{}</td></tr>", esc(&value));
    }
    h.push_str("</table>\n");
    expected_failures(&mut h, result);
    for scenario in &result.scenarios {
        scenario_section(&mut h, scenario);
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// The failures the expected-failures file declared and that did fail: honoured, not hidden.
fn expected_failures(h: &mut String, result: &SuiteResult) {
    let honoured: Vec<(&ScenarioResult, &CheckResult)> = result
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
        .filter(|(_, c)| c.status == Status::ExpectedFailure)
        .collect();
    if honoured.is_empty() {
        return;
    }
    h.push_str("<section class=\"expected\"><h2>Expected failures honoured</h2><ul>\n");
    for (s, c) in honoured {
        let _ = writeln!(h, "<li><code>{}</code> {}: {}</li>", esc(&s.id), esc(&c.name), esc(&c.message));
    }
    h.push_str("</ul></section>\n");
}

fn scenario_section(h: &mut String, s: &ScenarioResult) {
    let _ = write!(
        h,
        "<section class=\"scenario\"><h2><span class=\"status {}\">{}</span> <code>{}</code> {}</h2>\n\
         <p class=\"meta\">{} / {}, {} ms, client exit {}{}</p>\n",
        class(s.status),
        s.status.label(),
        esc(&s.id),
        esc(&s.title),
        esc(&s.provider),
        esc(&s.suite),
        s.duration_ms,
        s.client.code.map_or("none".to_owned(), |c| c.to_string()),
        if s.client.timed_out { " (timed out)" } else { "" }
    );
    if let Some(error) = &s.error {
        let _ = writeln!(h, "<div class=\"error\"><h3>Could not run</h3><pre>{}</pre></div>", esc(error));
    }
    if !s.checks.is_empty() {
        h.push_str("<table class=\"checks\"><tr><th>check</th><th>clause</th><th>status</th><th>message</th></tr>\n");
        for c in &s.checks {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code><br>{}</td><td>{}</td><td><span class=\"status {}\">{}</span></td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.summary),
                esc(&c.clause),
                class(c.status),
                c.status.label(),
                esc(&c.message)
            );
        }
        h.push_str("</table>\n");
    }
    for c in s.checks.iter().filter(|c| c.status == Status::Failed) {
        let evidence = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
        let _ = writeln!(
            h,
            "<details class=\"evidence\" open><summary>Evidence: {}</summary><p>{}</p><p>clause: {}</p>\
             <h4>what the server saw</h4><pre>{}</pre><h4>client standard error (end)</h4><pre>{}</pre></details>",
            esc(&c.name),
            esc(&c.message),
            esc(&c.clause),
            esc(&evidence),
            esc(&s.client.stderr_tail)
        );
    }
    h.push_str("</section>\n");
}

fn class(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Warning => "warning",
        Status::Skipped => "skipped",
        Status::ExpectedFailure => "expected",
    }
}

/// Escapes text for HTML content and attribute values. Terminal colour codes (a client's
/// coloured stderr) and other control characters are dropped, line breaks and tabs kept.
fn esc(s: &str) -> String {
    let plain = strip_ansi_escapes::strip_str(s);
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:2rem auto;max-width:70rem;padding:0 1rem}
h1{margin:0}h2{font-size:1.05rem;margin:1.5rem 0 .3rem}code,pre{font-family:ui-monospace,monospace}
pre{background:#f4f5f7;padding:.5rem;white-space:pre-wrap;word-break:break-all;font-size:12px}
.verdict{display:inline-block;font-weight:700;font-size:1.3rem;padding:.2rem .8rem;border-radius:4px}
.verdict.pass{background:#d9f2e0;color:#14532d}.verdict.fail{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e5ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
.facts th{width:12rem;color:#555}.meta{color:#555;margin:0}
.status{font-weight:700;font-size:12px;padding:0 .3rem;border-radius:3px;white-space:nowrap}
.passed{background:#d9f2e0}.failed{background:#fde2e1}.warning,.expected{background:#fff1c7}.skipped{background:#eceef2}
.error{border-left:4px solid #b91c1c;padding-left:.6rem}.evidence{margin:.5rem 0 1rem}
@media print{body{margin:0;max-width:none}details{display:block}summary{font-weight:700}section{break-inside:avoid-page}}
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ClientExit, Severity};

    fn result(stderr: &str, error: Option<&str>) -> SuiteResult {
        let check = |status, message: &str| CheckResult {
            name: "token_request_uses_client_secret".to_owned(),
            summary: "the token request carries the secret".to_owned(),
            clause: "RFC 6749 §2.3.1".to_owned(),
            severity: Severity::Failure,
            status,
            message: message.to_owned(),
            evidence: vec![serde_json::json!({"path": "/token?<b>"})],
        };
        SuiteResult {
            client: "my-client --flag".to_owned(),
            server: "http://127.0.0.1:1/__admin".to_owned(),
            duration_ms: 1200,
            scenarios: vec![ScenarioResult {
                id: "kalibrate/token".to_owned(),
                title: "a token".to_owned(),
                provider: "kalibrate".to_owned(),
                suite: "core".to_owned(),
                status: Status::Failed,
                duration_ms: 1000,
                error: error.map(str::to_owned),
                client: ClientExit {
                    code: Some(1),
                    timed_out: false,
                    duration_ms: 900,
                    stdout_tail: String::new(),
                    stderr_tail: stderr.to_owned(),
                },
                checks: vec![check(Status::Failed, "no secret <sent>"), check(Status::ExpectedFailure, "known")],
            }],
        }
    }

    fn info() -> ReportInfo<'static> {
        ReportInfo {
            suite: "all",
            client: "my-client --flag",
            date: "2026-12-06T00:00:00Z".to_owned(),
            mock_version: Some("0.1.0".to_owned()),
        }
    }

    #[test]
    fn client_text_is_escaped_never_markup() {
        let page = html(&result("<script>alert(1)</script>", None), &info());
        assert!(!page.contains("<script>"), "a client's output became markup");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("no secret &lt;sent&gt;"));
        assert!(page.contains("/token?&lt;b&gt;"), "the evidence is shown, escaped");
    }

    #[test]
    fn it_names_the_verdict_the_client_the_versions_and_the_honoured_expected_failures() {
        let page = html(&result("", None), &info());
        assert!(page.contains("NOT CERTIFIED"));
        assert!(page.contains("my-client --flag") && page.contains("2026-12-06T00:00:00Z"));
        assert!(page.contains("<th>mock-server</th><td>0.1.0</td>"));
        assert!(page.contains("RFC 6749 §2.3.1"));
        assert!(page.contains("Expected failures honoured") && page.contains("known"));
        assert!(!page.contains("http://127.0.0.1:1/__admin\"") && !page.contains("src=") && !page.contains("href="));
    }

    #[test]
    fn terminal_colours_and_control_characters_are_dropped() {
        let page = html(&result("\u{1b}[31merror\u{1b}[0m: bad\u{7}\nnext line", None), &info());
        assert!(page.contains("error: bad\nnext line"), "{page}");
        assert!(!page.contains('\u{1b}') && !page.contains('\u{7}'));
    }

    #[test]
    fn a_scenario_that_could_not_run_says_why() {
        let page = html(&result("", Some("the client could not start: sh: 1: nope: not found")), &info());
        assert!(page.contains("Could not run") && page.contains("nope: not found"));
    }
}
