//! Reports: a console summary (progress as it runs, then totals), JSON (everything, for tools)
//! and JUnit XML (one testcase per scenario check, for CI dashboards).

use std::fmt::Write as _;

use crate::results::{ScenarioResult, Status, SuiteResult};
use crate::runner::Progress;

/// One line when a scenario starts, its verdict and any non-passing checks when it ends.
pub fn console_progress(progress: Progress) {
    match progress {
        Progress::Starting { index, total, scenario } => {
            eprint!("[{index}/{total}] {} ({}) ... ", scenario.id, scenario.title);
        }
        Progress::Finished { result } => eprintln!("{}", scenario_lines(result)),
    }
}

fn scenario_lines(r: &ScenarioResult) -> String {
    let mut out = format!("{} in {:.1} s", r.status.label(), r.duration_ms as f64 / 1000.0);
    if let Some(e) = &r.error {
        let _ = write!(out, "\n    error: {e}");
    }
    for c in r.checks.iter().filter(|c| c.status != Status::Passed) {
        let _ = write!(out, "\n    {} {}: {}\n      clause: {}", c.status.label(), c.name, c.message, c.clause);
    }
    if r.status == Status::Failed && r.error.is_none() {
        let exit = match (r.client.timed_out, r.client.code) {
            (true, _) => "killed at the time limit".to_owned(),
            (false, Some(code)) => format!("exit {code}"),
            (false, None) => "killed by a signal".to_owned(),
        };
        let _ = write!(out, "\n    client: {exit}");
        if let Some(last) = r.client.stderr_tail.lines().rev().find(|l| !l.trim().is_empty()) {
            let _ = write!(out, "; last stderr line: {}", last.trim());
        }
    }
    out
}

pub fn console_summary(result: &SuiteResult) -> String {
    let scenarios = result.scenarios.len();
    let failed = result.scenarios.iter().filter(|s| s.status == Status::Failed).count();
    format!(
        "{} scenario(s), {} failed; checks: {} passed, {} failed, {} warning(s), {} skipped, {} expected failure(s) in {:.1} s\n{}",
        scenarios,
        failed,
        result.count(Status::Passed),
        result.count(Status::Failed),
        result.count(Status::Warning),
        result.count(Status::Skipped),
        result.count(Status::ExpectedFailure),
        result.duration_ms as f64 / 1000.0,
        if result.passed() { "CERTIFIED: the client passed every scenario" } else { "NOT CERTIFIED" }
    )
}

pub fn json(result: &SuiteResult) -> String {
    serde_json::to_string_pretty(result).expect("serialisable")
}

/// JUnit XML as Jenkins, GitLab and GitHub reporters read it: a testsuite per provider suite,
/// a testcase per check of each scenario. Warnings pass with the warning in `system-out`;
/// expected failures and skipped checks are `skipped`. A scenario that could not run at all
/// (the client or the server would not start) is one `setup` testcase with an `<error>`,
/// counted in `errors`, not in `failures`: nothing was judged. Newlines in messages survive,
/// in attributes too (as `&#10;`, which XML parsers keep where a raw newline becomes a space).
pub fn junit(result: &SuiteResult) -> String {
    let mut suites: Vec<(String, Vec<&ScenarioResult>)> = Vec::new();
    for s in &result.scenarios {
        let name = format!("{}/{}", s.provider, s.suite);
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, list)) => list.push(s),
            None => suites.push((name, vec![s])),
        }
    }
    let cases = |list: &[&ScenarioResult]| list.iter().map(|s| s.checks.len().max(1)).sum::<usize>();
    let failures = |list: &[&ScenarioResult]| {
        list.iter()
            .filter(|s| s.error.is_none())
            .map(|s| s.checks.iter().filter(|c| c.status == Status::Failed).count())
            .sum::<usize>()
    };
    let errors = |list: &[&ScenarioResult]| list.iter().filter(|s| s.error.is_some()).count();
    let skipped = |list: &[&ScenarioResult]| {
        list.iter()
            .flat_map(|s| &s.checks)
            .filter(|c| matches!(c.status, Status::Skipped | Status::ExpectedFailure))
            .count()
    };
    let all: Vec<&ScenarioResult> = result.scenarios.iter().collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        cases(&all),
        failures(&all),
        errors(&all),
        skipped(&all),
        result.duration_ms as f64 / 1000.0
    );
    for (name, list) in &suites {
        let time: u64 = list.iter().map(|s| s.duration_ms).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            esc(name),
            cases(list),
            failures(list),
            errors(list),
            skipped(list),
            time as f64 / 1000.0
        );
        for s in list {
            let classname = s.id.replace('/', ".");
            if let Some(e) = &s.error {
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"setup\" time=\"{:.3}\">",
                    esc(&classname),
                    s.duration_ms as f64 / 1000.0
                );
                let _ = writeln!(
                    x,
                    "      <error message=\"{}\" type=\"setup\">{}\nclient stderr (end):\n{}</error>\n    </testcase>",
                    attr(e),
                    esc(e),
                    esc(&s.client.stderr_tail)
                );
                continue;
            }
            let per_check = s.duration_ms as f64 / 1000.0 / s.checks.len().max(1) as f64;
            for c in &s.checks {
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{per_check:.3}\">",
                    esc(&classname),
                    esc(&c.name)
                );
                let evidence = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
                match c.status {
                    Status::Failed => {
                        let _ = writeln!(
                            x,
                            "      <failure message=\"{}\" type=\"FAILED\">{}\n{}\n\nclause: {}\nclient stderr (end):\n{}\nevidence:\n{}</failure>",
                            attr(&c.message),
                            esc(&c.message),
                            esc(&c.summary),
                            esc(&c.clause),
                            esc(&s.client.stderr_tail),
                            esc(&evidence)
                        );
                    }
                    Status::Skipped | Status::ExpectedFailure => {
                        let _ = writeln!(x, "      <skipped message=\"{}: {}\"/>", c.status.label(), attr(&c.message));
                    }
                    Status::Warning => {
                        let _ = writeln!(
                            x,
                            "      <system-out>WARNING: {}\nclause: {}</system-out>",
                            esc(&c.message),
                            esc(&c.clause)
                        );
                    }
                    Status::Passed => {}
                }
                x.push_str("    </testcase>\n");
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Escapes text for an XML attribute: as [`esc`], and line breaks and tabs as character
/// references, which attribute-value normalisation keeps.
fn attr(s: &str) -> String {
    esc(s).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(attr("one\ntwo"), "one&#10;two");
    }
}
