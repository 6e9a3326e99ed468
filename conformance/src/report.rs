//! Reports: a console summary (progress as it runs, then totals), JSON (everything, for tools)
//! and JUnit XML (one testcase per scenario check, for CI dashboards). The HTML certification
//! report is `html_report.rs`.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

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
        let _ = write!(out, "\n    error: {}", e.replace('\n', "\n      "));
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

/// JUnit XML as Jenkins, GitLab and GitHub reporters read it, written by `quick-junit`: a
/// testsuite per provider suite, a testcase per check of each scenario. Warnings pass with the
/// warning in `system-out`; expected failures and skipped checks are `skipped`. A scenario that
/// could not run at all (the client or the server would not start) is one `setup` testcase with
/// an `<error type="setup">`, counted in `errors`, not in `failures`: nothing was judged.
///
/// A `message` attribute holds the message's first line, the headline reporters show: XML
/// parsers turn a raw line break in an attribute into a space. The element's text holds the
/// whole message, every line of it, then the clause, the end of the client's standard error
/// and the evidence. Characters XML cannot carry (ANSI colours, other control characters) are
/// dropped.
pub fn junit(result: &SuiteResult) -> String {
    let mut report = Report::new("conformance");
    report.set_time(Duration::from_millis(result.duration_ms));
    let mut suites: Vec<TestSuite> = Vec::new();
    for s in &result.scenarios {
        let name = format!("{}/{}", s.provider, s.suite);
        let index = match suites.iter().position(|suite| suite.name.as_str() == name) {
            Some(index) => index,
            None => {
                suites.push(TestSuite::new(name));
                suites.len() - 1
            }
        };
        let suite = &mut suites[index];
        suite.time = Some(suite.time.unwrap_or_default() + Duration::from_millis(s.duration_ms));
        suite.add_test_cases(scenario_cases(s));
    }
    report.add_test_suites(suites);
    report.to_string().expect("a JUnit report in memory serialises")
}

/// The testcases of one scenario: one per check, or one `setup` error when it could not run.
fn scenario_cases(s: &ScenarioResult) -> Vec<TestCase> {
    let classname = s.id.replace('/', ".");
    if let Some(error) = &s.error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_type("setup")
            .set_message(headline(error))
            .set_description(format!("{error}\nclient stderr (end):\n{}", s.client.stderr_tail));
        let mut case = TestCase::new("setup", status);
        case.set_classname(classname).set_time(Duration::from_millis(s.duration_ms));
        return vec![case];
    }
    let per_check = Duration::from_millis(s.duration_ms) / s.checks.len().max(1) as u32;
    s.checks
        .iter()
        .map(|c| {
            let status = match c.status {
                Status::Failed => {
                    let evidence = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_type("FAILED").set_message(headline(&c.message)).set_description(format!(
                        "{}\n{}\n\nclause: {}\nclient stderr (end):\n{}\nevidence:\n{evidence}",
                        c.message, c.summary, c.clause, s.client.stderr_tail
                    ));
                    status
                }
                Status::Skipped | Status::ExpectedFailure => {
                    let mut status = TestCaseStatus::skipped();
                    status
                        .set_message(format!("{}: {}", c.status.label(), headline(&c.message)))
                        .set_description(format!("{}\nclause: {}", c.message, c.clause));
                    status
                }
                Status::Passed | Status::Warning => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(c.name.as_str(), status);
            case.set_classname(classname.as_str()).set_time(per_check);
            if c.status == Status::Warning {
                case.set_system_out(format!("WARNING: {}\nclause: {}", c.message, c.clause));
            }
            case
        })
        .collect()
}

/// The first non-empty line of a message, for a `message` attribute.
fn headline(message: &str) -> &str {
    message.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ClientExit, Severity};
    use crate::results::CheckResult;

    fn check(name: &str, status: Status, message: &str) -> CheckResult {
        CheckResult {
            name: name.to_owned(),
            summary: "what it checks".to_owned(),
            clause: "RFC 6749 §5.2".to_owned(),
            severity: Severity::Failure,
            status,
            message: message.to_owned(),
            evidence: vec![serde_json::json!({"path": "/token", "body": "<script>x</script>"})],
        }
    }

    fn scenario(id: &str, error: Option<&str>, checks: Vec<CheckResult>) -> ScenarioResult {
        ScenarioResult {
            id: id.to_owned(),
            title: "a scenario".to_owned(),
            provider: "kalibrate".to_owned(),
            suite: "basic".to_owned(),
            status: Status::Failed,
            duration_ms: 2000,
            error: error.map(str::to_owned),
            client: ClientExit {
                code: Some(1),
                timed_out: false,
                duration_ms: 1500,
                stdout_tail: String::new(),
                stderr_tail: "Traceback:\n  line 1\n\u{1b}[31mboom\u{1b}[0m\u{7}".to_owned(),
            },
            checks,
        }
    }

    fn suite() -> SuiteResult {
        SuiteResult {
            client: "client".to_owned(),
            server: "embedded".to_owned(),
            duration_ms: 6000,
            scenarios: vec![
                scenario(
                    "kalibrate/one",
                    None,
                    vec![
                        check("a.passes", Status::Passed, "fine"),
                        check("b.fails", Status::Failed, "first line <b>\nsecond line & more"),
                        check("c.warns", Status::Warning, "slow"),
                        check("d.expected", Status::ExpectedFailure, "known (expected: ticket 1)"),
                    ],
                ),
                scenario("kalibrate/two", Some("reset failed: connection refused\nretry later"), vec![]),
                scenario("kalibrate/three", Some("cannot start the client command: No such file"), vec![]),
            ],
        }
    }

    #[test]
    fn counts_setup_errors_as_errors_and_failed_checks_as_failures() {
        let xml = junit(&suite());
        let report = Report::deserialize_from_str(&xml).expect("the JUnit file parses back");
        assert_eq!((report.tests, report.failures, report.errors, report.skipped), (6, 1, 2, 1));
        let suite = &report.test_suites[0];
        assert_eq!(suite.name.as_str(), "kalibrate/basic");
        assert_eq!((suite.failures, suite.errors), (1, 2));
        let setup: Vec<_> = suite.test_cases.iter().filter(|c| c.name.as_str() == "setup").collect();
        assert_eq!(setup.len(), 2);
        for case in setup {
            match &case.status {
                TestCaseStatus::NonSuccess { kind: NonSuccessKind::Error, ty, .. } => {
                    assert_eq!(ty.as_deref(), Some("setup"))
                }
                other => panic!("a setup error became {other:?}"),
            }
        }
        assert!(xml.contains("<error message=\"reset failed: connection refused\" type=\"setup\">"), "{xml}");
    }

    #[test]
    fn newlines_survive_and_markup_is_escaped() {
        let xml = junit(&suite());
        let report = Report::deserialize_from_str(&xml).unwrap();
        let failed = report.test_suites[0].test_cases.iter().find(|c| c.name.as_str() == "b.fails").unwrap();
        let TestCaseStatus::NonSuccess { message, description, .. } = &failed.status else {
            panic!("b.fails is not a failure: {:?}", failed.status)
        };
        assert_eq!(message.as_deref(), Some("first line <b>"), "the headline");
        let text = description.as_deref().unwrap();
        assert!(text.starts_with("first line <b>\nsecond line & more\n"), "{text}");
        assert!(text.contains("clause: RFC 6749 §5.2") && text.contains("Traceback:\n  line 1\nboom"), "{text}");
        assert!(text.contains("<script>x</script>"), "the evidence, as text: {text}");
        assert!(!xml.contains("<script>") && !xml.contains("<b>"), "client text became markup: {xml}");
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{7}'), "a character XML 1.0 cannot carry");
        let setup = report.test_suites[0].test_cases.iter().find(|c| c.name.as_str() == "setup").unwrap();
        let TestCaseStatus::NonSuccess { description, .. } = &setup.status else { panic!() };
        assert!(description.as_deref().unwrap().starts_with("reset failed: connection refused\nretry later\n"));
    }

    #[test]
    fn warnings_pass_with_the_warning_and_expected_failures_are_skipped() {
        let report = Report::deserialize_from_str(&junit(&suite())).unwrap();
        let cases = &report.test_suites[0].test_cases;
        let warned = cases.iter().find(|c| c.name.as_str() == "c.warns").unwrap();
        assert!(matches!(warned.status, TestCaseStatus::Success { .. }));
        assert_eq!(warned.system_out.as_deref(), Some("WARNING: slow\nclause: RFC 6749 §5.2"));
        let expected = cases.iter().find(|c| c.name.as_str() == "d.expected").unwrap();
        let TestCaseStatus::Skipped { message, .. } = &expected.status else { panic!("{:?}", expected.status) };
        assert_eq!(message.as_deref(), Some("EXPECTED FAILURE: known (expected: ticket 1)"));
    }

    #[test]
    fn headline_is_the_first_non_empty_line() {
        assert_eq!(headline("\n  one \ntwo"), "one");
        assert_eq!(headline(""), "");
    }
}
