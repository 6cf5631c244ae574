//! One cause, one message: when several checks fail for one visible cause,
//! the run says so once, first, in a student's terms, before each failure
//! says what its own check saw. The causes are those the checks' reports
//! can show for certain: a step not written yet, a program stopped by one
//! of the grader's limits, a program that printed one line over and over,
//! a server that ends before it is ready, a program that never ends, and a
//! server that prints an empty line after each message.

use crate::libtest::Verdict;
use crate::runner::Check;

/// A cause worth naming: it explains at least this many failures.
const AT_LEAST: usize = 2;

/// The causes that several of `checks`' failures share, each in a line.
pub fn common(checks: &[Check]) -> Vec<String> {
    let failures: Vec<&Check> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    let count = |test: &dyn Fn(&str) -> bool| {
        failures
            .iter()
            .filter(|c| c.detail.as_deref().is_some_and(test))
            .count()
    };
    let mut causes = Vec::new();
    let blanks = failures
        .iter()
        .filter(|c| {
            c.note
                .as_deref()
                .is_some_and(|n| n.starts_with("not written yet"))
        })
        .count();
    if blanks >= AT_LEAST {
        causes.push(format!(
            "{blanks} checks fail because they run into steps you have not written yet; the \
             progress line at the end names the next one"
        ));
    }
    let flooded = count(&|d| d.contains("a loop that never ends"));
    if flooded >= AT_LEAST {
        causes.push(format!(
            "in {flooded} checks a program wrote the same line over and over: a loop that never \
             ends. In a server this is most often a read loop that does not stop when read() \
             returns 0, which means the client has closed the connection"
        ));
    }
    let limited = count(&|d| d.contains("it was stopped because"));
    if limited >= AT_LEAST {
        causes.push(format!(
            "in {limited} checks a program was stopped by one of the grader's limits (each \
             failure says which)"
        ));
    }
    let not_ready = count(&|d| d.contains("ended before it was ready"));
    if not_ready >= AT_LEAST {
        causes.push(format!(
            "in {not_ready} checks the server ended before it was ready (bound, and listening \
             for a stream server): look at how it ended and what it said, in any of them"
        ));
    }
    let hung = count(&|d| d.contains("was still running after"));
    if hung >= AT_LEAST {
        causes.push(format!(
            "in {hung} checks a program was still running when it should have ended: it waits \
             for something that never comes (a reply, the end of a connection, input)"
        ));
    }
    let doubled = count(&|d| prints_an_empty_line_after_each_message(d));
    if doubled >= AT_LEAST {
        causes.push(format!(
            "in {doubled} checks the server printed an empty line after each message: the \
             message's own newline was printed, and then another (the contract prints \
             `Here is the message: hello` for `hello\\n`)"
        ));
    }
    causes
}

/// Whether a failure's report shows a server's output with an empty line
/// right after each `Here is the message:` line.
fn prints_an_empty_line_after_each_message(detail: &str) -> bool {
    let lines: Vec<&str> = detail.lines().map(str::trim).collect();
    let messages: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("Here is the message:"))
        .map(|(i, _)| i)
        .collect();
    !messages.is_empty()
        && messages
            .iter()
            .all(|&i| lines.get(i + 1).is_some_and(|next| next.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(detail: &str) -> Check {
        Check::failed("01", "a_check", None, Some(detail.to_string()))
    }

    #[test]
    fn a_cause_shared_by_several_failures_is_named_once() {
        let doubled = "`tcp-server 0`: it exited with status 0\n  its stdout:\n    Here is the message: hello\n    \n";
        let checks = [failed(doubled), failed(doubled), failed("something else")];
        let causes = common(&checks);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(causes[0].starts_with("in 2 checks the server printed an empty line"));
        assert!(
            common(&checks[..1]).is_empty(),
            "one failure is its own cause"
        );
    }
}
