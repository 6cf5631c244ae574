//! The checks' verdicts for machines: JUnit XML, which GitHub Classroom,
//! GitLab and Gradescope-style graders read (written by the `quick-junit`
//! crate), and JSON (written by `serde_json`). Both carry, for each check,
//! its lesson, the contract rule it tests, where the book explains it, its
//! verdict, its duration and what it printed when it failed.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::libtest::Verdict;
use crate::runner::Check;

/// All checks as one JUnit report: one test suite per lesson.
pub fn junit(checks: &[Check]) -> Result<String, String> {
    let mut report = Report::new("lesson checks");
    let mut lessons: Vec<&str> = checks.iter().map(|c| c.lesson.as_str()).collect();
    lessons.dedup();
    for lesson in lessons {
        let mut suite = TestSuite::new(format!("lesson {lesson}"));
        for check in checks.iter().filter(|c| c.lesson == lesson) {
            let mut status = match check.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Skip => TestCaseStatus::skipped(),
                Verdict::Fail => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_description(check.explanation());
                    status
                }
            };
            if let (Some(note), TestCaseStatus::NonSuccess { .. }) = (&check.note, &status) {
                status.set_message(note.clone());
            } else if check.verdict == Verdict::Fail {
                status.set_message(
                    check
                        .doc
                        .rule
                        .clone()
                        .unwrap_or_else(|| "check failed".to_string()),
                );
            }
            let mut case = TestCase::new(check.name.clone(), status);
            case.set_classname(format!("lesson{lesson}"));
            if let Some(seconds) = check.seconds {
                case.set_time(Duration::from_secs_f64(seconds));
            }
            if let Some(rule) = &check.doc.rule {
                case.add_property(Property::new("rule", rule.clone()));
            }
            if let Some(read) = &check.doc.read {
                case.add_property(Property::new("read", read.clone()));
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}

/// All checks as JSON: `{"passed": N, "failed": N, "checks": [...]}`.
pub fn json(checks: &[Check]) -> Result<String, String> {
    let entries: Vec<serde_json::Value> = checks
        .iter()
        .map(|check| {
            serde_json::json!({
                "id": check.id(),
                "lesson": check.lesson,
                "name": check.name,
                "rule": check.doc.rule,
                "read": check.doc.read,
                "verdict": match check.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail => "fail",
                    Verdict::Skip => "skip",
                },
                "duration_s": check.seconds,
                "note": check.note,
                "failure": (check.verdict == Verdict::Fail).then(|| check.explanation()),
            })
        })
        .collect();
    let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    let document = serde_json::json!({
        "passed": count(Verdict::Pass),
        "failed": count(Verdict::Fail),
        "skipped": count(Verdict::Skip),
        "checks": entries,
    });
    serde_json::to_string_pretty(&document).map_err(|e| e.to_string())
}

/// All checks as Gradescope's `results.json`: a test per check, with its
/// name, score, max_score and output; each lesson is worth `points`,
/// shared equally by its checks, and the total is the sum.
pub fn gradescope(checks: &[Check], points: f64) -> Result<String, String> {
    let mut lessons: Vec<&str> = checks.iter().map(|c| c.lesson.as_str()).collect();
    lessons.dedup();
    let mut tests = Vec::new();
    let mut total = 0.0;
    for lesson in lessons {
        let mine: Vec<&Check> = checks.iter().filter(|c| c.lesson == lesson).collect();
        let each = points / mine.len() as f64;
        for check in mine {
            let score = if check.verdict == Verdict::Pass {
                each
            } else {
                0.0
            };
            total += score;
            let output = match check.verdict {
                Verdict::Fail => check.explanation(),
                Verdict::Pass => "passed".to_string(),
                Verdict::Skip => "skipped".to_string(),
            };
            tests.push(serde_json::json!({
                "name": format!("{} {}", check.lesson, check.name),
                "score": round(score),
                "max_score": round(each),
                "status": if check.verdict == Verdict::Pass { "passed" } else { "failed" },
                "output": output,
            }));
        }
    }
    let document = serde_json::json!({
        "score": round(total),
        "tests": tests,
    });
    serde_json::to_string_pretty(&document).map_err(|e| e.to_string())
}

/// A score to two decimals, as Gradescope shows them.
fn round(score: f64) -> f64 {
    (score * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradescope_shares_a_lesson_s_points_among_its_checks() {
        let checks = [
            Check::new("01", "passes", Verdict::Pass),
            Check::failed("01", "fails", None, Some("it did not".to_string())),
            Check::new("02", "passes", Verdict::Pass),
        ];
        let results: serde_json::Value =
            serde_json::from_str(&gradescope(&checks, 10.0).expect("JSON")).expect("parses");
        assert_eq!(results["score"], 15.0);
        let tests = results["tests"].as_array().expect("tests");
        assert_eq!(tests.len(), 3);
        assert_eq!(tests[0]["max_score"], 5.0);
        assert_eq!(tests[1]["score"], 0.0);
        assert!(tests[1]["output"]
            .as_str()
            .is_some_and(|o| o.contains("it did not")));
        assert_eq!(tests[2]["max_score"], 10.0);
    }
}
