//! Command-line arguments, the contract's way.
//!
//! The tutorial reads `argv[1]` and calls `atoi()`, which turns `abc` into
//! port 0 and `70000` into 4464 once `htons()` has cut it to 16 bits. Here
//! a port is a decimal integer 0..=65535 or a usage error, and every usage
//! error is one line on stderr and exit status 2. `-h`/`--help` anywhere
//! prints the usage on stdout and exits 0. Options (`--name VALUE` or
//! `--name=VALUE`) and flags (`--name`, no value) may come before or after
//! the positional arguments.

use std::ffi::{OsStr, OsString};
use std::process;

use crate::report::stderr_line;

/// Exit status for a usage error: a missing, extra or invalid argument.
pub const EXIT_USAGE: i32 = 2;

/// The parsed command line of one binary.
#[derive(Debug)]
pub struct Args {
    /// The usage line, e.g. `tcp-server PORT`, repeated in every error.
    usage: &'static str,
    /// Positional arguments, in order, exactly as many as declared.
    positional: Vec<OsString>,
    /// `(name, value)` for each option given; the last one given wins.
    options: Vec<(&'static str, OsString)>,
    /// The flags given (options without a value, such as `--show-peer`).
    flags: Vec<&'static str>,
}

impl Args {
    /// Parses the process's arguments. `positional` names the arguments
    /// (`["HOST", "PORT"]`), `options` the accepted `--options`, each of
    /// which takes a value. Exits 0 on `--help`, 2 on any usage error.
    pub fn parse(usage: &'static str, positional: &[&str], options: &[&'static str]) -> Args {
        Args::parse_with_flags(usage, positional, options, &[])
    }

    /// As [`Args::parse`], also accepting `flags`: options that take no
    /// value and are either given or not.
    pub fn parse_with_flags(
        usage: &'static str,
        positional: &[&str],
        options: &[&'static str],
        flags: &[&'static str],
    ) -> Args {
        Args::parse_with_help(usage, "", positional, options, flags)
    }

    /// As [`Args::parse_with_flags`], for a program whose options need
    /// explaining: `-h`/`--help` prints `help` after the usage line (what
    /// the program does, each option, its allowed values, its default).
    pub fn parse_with_help(
        usage: &'static str,
        help: &str,
        positional: &[&str],
        options: &[&'static str],
        flags: &[&'static str],
    ) -> Args {
        let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
        let parsed = Args::parse_from(usage, positional, options, flags, argv);
        parsed.unwrap_or_else(|outcome| match outcome {
            Stop::Help => {
                crate::output::write_stdout(help_text(usage, help).as_bytes());
                process::exit(0)
            }
            Stop::Usage(why) => usage_error(usage, &why),
        })
    }

    /// The parser itself, apart from the process, so it can be unit-tested.
    pub fn parse_from(
        usage: &'static str,
        positional: &[&str],
        options: &[&'static str],
        flags: &[&'static str],
        argv: Vec<OsString>,
    ) -> Result<Args, Stop> {
        if argv.iter().any(|a| a == "-h" || a == "--help") {
            return Err(Stop::Help);
        }
        let mut args = Args {
            usage,
            positional: Vec::new(),
            options: Vec::new(),
            flags: Vec::new(),
        };
        let mut rest = argv.into_iter();
        while let Some(arg) = rest.next() {
            let text = arg.to_string_lossy();
            // A leading dash followed by a digit is a (bad) number such as
            // a port of -1, not an option: let the port check explain it.
            let looks_like_option = text.starts_with('-')
                && text.len() > 1
                && !text[1..].starts_with(|c: char| c.is_ascii_digit());
            if !looks_like_option {
                args.positional.push(arg);
                continue;
            }
            let (name, inline_value) = match text.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(OsString::from(value))),
                None => (text.to_string(), None),
            };
            if let Some(&flag) = flags.iter().find(|f| **f == name) {
                if inline_value.is_some() {
                    return Err(Stop::Usage(format!("{flag} takes no value")));
                }
                args.flags.push(flag);
                continue;
            }
            let Some(&known) = options.iter().find(|o| **o == name) else {
                return Err(Stop::Usage(format!("unknown option '{name}'")));
            };
            let value = match inline_value.or_else(|| rest.next()) {
                Some(value) => value,
                None => return Err(Stop::Usage(format!("option {known} needs a value"))),
            };
            args.options.push((known, value));
        }
        if args.positional.len() < positional.len() {
            let missing = positional[args.positional.len()].to_lowercase();
            return Err(Stop::Usage(format!("missing argument: {missing}")));
        }
        if args.positional.len() > positional.len() {
            return Err(Stop::Usage("too many arguments".to_string()));
        }
        Ok(args)
    }

    /// Positional argument `index` as given (paths need not be UTF-8).
    pub fn os(&self, index: usize) -> &OsStr {
        &self.positional[index]
    }

    /// Positional argument `index` as text, or a usage error.
    pub fn text(&self, index: usize, what: &str) -> String {
        match self.positional[index].to_str() {
            Some(text) => text.to_string(),
            None => usage_error(self.usage, &format!("{what} is not valid UTF-8")),
        }
    }

    /// Positional argument `index` as a port, or a usage error naming it.
    pub fn port(&self, index: usize) -> u16 {
        let given = self.positional[index].to_string_lossy();
        parse_port(&given).unwrap_or_else(|why| usage_error(self.usage, &why))
    }

    /// The value of `--name`, if given.
    pub fn option(&self, name: &str) -> Option<String> {
        let (_, value) = self.options.iter().rev().find(|(n, _)| *n == name)?;
        Some(value.to_string_lossy().into_owned())
    }

    /// Whether the flag `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// The value of `--name` parsed as a `T`, `default` when absent, a usage
    /// error when it does not parse.
    pub fn option_parsed<T: std::str::FromStr>(&self, name: &str, default: T, expected: &str) -> T {
        match self.option(name) {
            None => default,
            Some(value) => value.parse().unwrap_or_else(|_| {
                usage_error(
                    self.usage,
                    &invalid_value(&value, name, &format!("expected {expected}")),
                )
            }),
        }
    }

    /// The value of `--name` as `check` makes it, `default` when absent; a
    /// usage error when `check` refuses it, with its reason:
    /// `invalid value '1e20' for --timeout: too long a wait, at most 60
    /// seconds`.
    pub fn option_checked<T>(
        &self,
        name: &str,
        default: T,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.option(name) {
            None => default,
            Some(value) => check(&value)
                .unwrap_or_else(|why| usage_error(self.usage, &invalid_value(&value, name, &why))),
        }
    }

    /// Reports `why` as a usage error of this binary and exits 2.
    pub fn usage_error(&self, why: &str) -> ! {
        usage_error(self.usage, why)
    }
}

/// Why parsing stopped instead of returning arguments.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// `-h` or `--help` was given.
    Help,
    /// A usage error, with the reason.
    Usage(String),
}

/// A port: a decimal integer 0..=65535 (0 lets the OS choose).
pub fn parse_port(given: &str) -> Result<u16, String> {
    let valid = !given.is_empty() && given.len() <= 5 && given.bytes().all(|b| b.is_ascii_digit());
    match given.parse::<u16>() {
        Ok(port) if valid => Ok(port),
        _ => {
            // Shorten hostile input so the error stays one readable line.
            let shown: String = given.chars().take(40).collect();
            Err(format!(
                "invalid port '{shown}': expected a decimal integer 0..65535"
            ))
        }
    }
}

/// What `-h`/`--help` prints: the usage line, then `help` if there is any.
pub fn help_text(usage: &str, help: &str) -> String {
    let help = help.trim();
    if help.is_empty() {
        format!("usage: {usage}\n")
    } else {
        format!("usage: {usage}\n\n{help}\n")
    }
}

/// Why an option's value was refused, in one line.
fn invalid_value(value: &str, name: &str, why: &str) -> String {
    // Shorten hostile input so the error stays one readable line.
    let shown: String = value.chars().take(40).collect();
    format!("invalid value '{shown}' for {name}: {why}")
}

fn usage_error(usage: &str, why: &str) -> ! {
    stderr_line(&format!("{why} (usage: {usage})"));
    process::exit(EXIT_USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str], options: &[&'static str]) -> Result<Args, Stop> {
        let argv = argv.iter().map(OsString::from).collect();
        Args::parse_from(
            "prog HOST PORT",
            &["HOST", "PORT"],
            options,
            &["--loud"],
            argv,
        )
    }

    #[test]
    fn ports_are_decimal_and_sixteen_bit() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("00080"), Ok(80));
        for bad in [
            "", "65536", "70000", "-1", "+80", "8O", " 80", "1e3", "999999",
        ] {
            let err = parse_port(bad).unwrap_err();
            assert!(err.contains("port"), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn options_may_come_before_or_after_positionals() {
        let args = parse(&["--reap", "ignore", "host", "80"], &["--reap"]).unwrap();
        assert_eq!(args.option("--reap").as_deref(), Some("ignore"));
        assert_eq!(args.os(0), "host");
        let args = parse(&["host", "80", "--reap=handler"], &["--reap"]).unwrap();
        assert_eq!(args.option("--reap").as_deref(), Some("handler"));
        assert_eq!(args.os(1), "80");
    }

    #[test]
    fn flags_take_no_value_and_may_come_anywhere() {
        let args = parse(&["--loud", "host", "80"], &[]).unwrap();
        assert!(args.flag("--loud"));
        assert_eq!(args.os(0), "host");
        let args = parse(&["host", "80"], &[]).unwrap();
        assert!(!args.flag("--loud"));
        let args = parse(&["host", "--loud", "80"], &[]).unwrap();
        assert!(args.flag("--loud"));
        assert_eq!(args.os(1), "80");
        assert_eq!(
            parse(&["host", "80", "--loud=yes"], &[]).unwrap_err(),
            Stop::Usage("--loud takes no value".to_string())
        );
    }

    #[test]
    fn help_wins_anywhere() {
        assert_eq!(
            parse(&["host", "--help", "80"], &[]).unwrap_err(),
            Stop::Help
        );
        assert_eq!(parse(&["-h"], &[]).unwrap_err(), Stop::Help);
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        let usage = |argv: &[&str]| match parse(argv, &["--reap"]) {
            Err(Stop::Usage(why)) => why,
            other => panic!("{argv:?} gave {other:?}"),
        };
        assert_eq!(usage(&["host"]), "missing argument: port");
        assert_eq!(usage(&[]), "missing argument: host");
        assert_eq!(usage(&["a", "1", "b"]), "too many arguments");
        assert_eq!(usage(&["a", "1", "--bogus"]), "unknown option '--bogus'");
        assert_eq!(usage(&["a", "1", "--reap"]), "option --reap needs a value");
    }

    #[test]
    fn help_is_the_usage_line_then_the_text_given() {
        assert_eq!(help_text("prog PORT", ""), "usage: prog PORT\n");
        assert_eq!(
            help_text("prog PORT", "\noptions:\n  --x  an x\n"),
            "usage: prog PORT\n\noptions:\n  --x  an x\n"
        );
    }

    #[test]
    fn a_refused_value_is_named_with_its_option_and_the_reason() {
        assert_eq!(
            invalid_value("1e20", "--timeout", "at most 60"),
            "invalid value '1e20' for --timeout: at most 60"
        );
        let args = parse(&["--reap", "9", "host", "80"], &["--reap"]).unwrap();
        let checked = args.option_checked("--reap", 1u8, |v| v.parse().map_err(|_| String::new()));
        assert_eq!(checked, 9);
        let absent = parse(&["host", "80"], &["--reap"]).unwrap();
        assert_eq!(
            absent.option_checked("--reap", 1u8, |_| Err(String::new())),
            1
        );
    }

    #[test]
    fn a_negative_number_is_a_positional_not_an_option() {
        let args = parse(&["host", "-1"], &[]).unwrap();
        assert_eq!(args.os(1), "-1");
    }
}
