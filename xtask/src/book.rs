//! `cargo xtask book`: the book built with mdBook, and then read as a
//! reader would, in a real browser.
//!
//! 1. `mdbook build docs` into the target directory. mdBook only logs a
//!    missing include and says nothing of a broken link or a missing
//!    figure, so every warning it logs is a failure here, and the built
//!    HTML is checked ([`html`]): every `src` and every relative `href` of
//!    every page names a file of the book, every `#fragment` an id of its
//!    page, no `{{#include}}` was left unresolved and no listing is empty
//!    (an include whose anchor does not exist gives an empty one).
//! 2. Each chapter of the table of contents is opened in headless Chromium
//!    ([`devtools`]), the book served on loopback ([`serve`]), and the page
//!    itself checks that every image loaded (complete, with a width) and
//!    every relative link answers and leads to an element with its
//!    fragment's id; nothing the page loads may fail, and none of its
//!    scripts may throw. A screenshot of the whole page is saved, and one
//!    of each figure, readable at its size.
//!
//! One line per chapter, and `N passed, N failed` (the build counts as
//! one); the exit status is 1 when anything failed.

mod devtools;
mod html;
mod serve;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use lesson_testing::supervisor::{self, Ended, Stream};
use serde_json::{json, Value};

use crate::flags;
use crate::lessons;
use crate::term::{self, Color, Style};

/// The mdBook this was written against, and what .ci/run installs.
pub const MDBOOK_VERSION: &str = "0.5.4";

/// How long `mdbook build` may take (it takes well under a second).
const BUILD_LIMIT: Duration = Duration::from_secs(120);

/// How long the browser may take for any one step of a chapter: loading
/// it, checking it, taking its picture.
const PAGE_LIMIT: Duration = Duration::from_secs(30);

/// The window the chapters are shown in: a laptop's, wide enough for
/// mdBook to show its sidebar beside the text.
const WIDTH: u64 = 1280;
const HEIGHT: u64 = 900;

/// The tallest screenshot taken: the first this many pixels of a longer
/// chapter (the longest is about 26,000). It bounds the memory and time a
/// runaway page could take.
const TALLEST: f64 = 32768.0;

/// The margin around a figure's own screenshot.
const MARGIN: f64 = 16.0;

/// `cargo xtask book`
pub fn run(_flags: flags::Book) -> ExitCode {
    term::catch_interrupts();
    let _ = supervisor::become_subreaper();
    let style = Style::for_stdout();
    let started = Instant::now();
    let root = lessons::workspace_root();
    let target = lessons::target_dir();
    let out = target.join("book");
    let screenshots = target.join("book-screenshots");

    // Both tools first, so that a machine without either hears of both.
    let mdbook = mdbook_version();
    let chromium = find_on_path("chromium");
    if let Err(e) = &mdbook {
        eprintln!("error: {e}");
    }
    if chromium.is_none() {
        eprintln!(
            "error: no `chromium` on PATH: the chapters are tried in headless Chromium. \
             On Debian or Ubuntu: `apt-get install chromium` (as root); .ci/run installs it"
        );
    }
    let (Ok(mdbook), Some(chromium)) = (mdbook, chromium) else {
        return ExitCode::FAILURE;
    };
    if !mdbook.ends_with(&format!("v{MDBOOK_VERSION}")) {
        println!(
            "note: this is {mdbook}; CI builds the book with {MDBOOK_VERSION} \
             (`cargo install mdbook --locked --version {MDBOOK_VERSION}`)"
        );
    }

    let mut verdicts = Verdicts::default();
    let built = match build(&root.join("docs"), &out) {
        Ok(problems) => problems,
        Err(e) if term::interrupted() => {
            eprintln!("{e}");
            return ExitCode::from(term::EXIT_INTERRUPTED);
        }
        Err(e) => {
            verdicts.add(&style, "build", "", &[e]);
            verdicts.print(&style);
            return ExitCode::FAILURE;
        }
    };
    let chapters = chapters(&out);
    let checked = check_built_book(&out, chapters.as_deref().unwrap_or_default());
    let mut problems = built;
    problems.extend(checked.problems.iter().cloned());
    verdicts.add(
        &style,
        "build",
        &format!(
            "{mdbook}: {} pages, {} links and {} images checked in the HTML, {}",
            checked.pages,
            checked.links,
            checked.images,
            shown(&out, &root)
        ),
        &problems,
    );

    let chapters = match chapters {
        Ok(chapters) => chapters,
        Err(e) => {
            verdicts.add(&style, "chapters", "", &[e]);
            verdicts.print(&style);
            return ExitCode::FAILURE;
        }
    };
    let _ = fs::remove_dir_all(&screenshots);
    if let Err(e) = fs::create_dir_all(&screenshots) {
        eprintln!("error: cannot create {}: {e}", screenshots.display());
        return ExitCode::FAILURE;
    }
    match try_in_browser(
        &chromium,
        &out,
        &chapters,
        &screenshots,
        &mut verdicts,
        &style,
    ) {
        Ok(totals) => println!(
            "book: {} chapters, {} figures loaded, {} links checked, screenshots in {} ({:.1} s)",
            chapters.len(),
            totals.figures,
            totals.links,
            shown(&screenshots, &root),
            started.elapsed().as_secs_f64()
        ),
        Err(_) if term::interrupted() => {
            supervisor::kill_orphans();
            return ExitCode::from(term::EXIT_INTERRUPTED);
        }
        Err(e) => verdicts.add(&style, "browser", "", &[e]),
    }
    verdicts.print(&style);
    supervisor::kill_orphans();
    if verdicts.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `mdbook v0.5.4`, or why there is none.
fn mdbook_version() -> Result<String, String> {
    let install = format!(
        "install it with `cargo install mdbook --locked --version {MDBOOK_VERSION}` \
         (a few minutes, once; .ci/run does it)"
    );
    let mut version = String::new();
    let ended = supervisor::run_to_end(
        Command::new("mdbook").arg("--version"),
        Instant::now() + Duration::from_secs(10),
        &term::interrupted,
        |stream, line, _| {
            if stream == Stream::Stdout && version.is_empty() {
                version = line.trim().to_string();
            }
        },
    );
    match ended {
        Ok(Ended::Exited(status)) if status.success() && !version.is_empty() => Ok(version),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "no `mdbook` on PATH: the book is built with mdBook; {install}"
        )),
        Err(e) => Err(format!("cannot run mdbook: {e}; {install}")),
        Ok(_) => Err(format!("`mdbook --version` failed; {install}")),
    }
}

/// The first file named `name` in a directory of `$PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// `mdbook build docs -d out`, into an emptied `out`: a figure deleted from
/// the sources must not survive from an earlier build. Returns what mdBook
/// warned about (each a problem), or why there is no book.
fn build(docs: &Path, out: &Path) -> Result<Vec<String>, String> {
    let _ = fs::remove_dir_all(out);
    let mut command = Command::new("mdbook");
    command.arg("build").arg(docs).arg("-d").arg(out);
    let mut warnings = Vec::new();
    let mut said = Vec::new();
    let ended = supervisor::run_to_end(
        &mut command,
        Instant::now() + BUILD_LIMIT,
        &term::interrupted,
        |_, line, _| {
            let line = strip_ansi(line);
            if is_warning(&line) {
                warnings.push(format!("mdBook: {}", line.trim()));
            }
            said.push(line);
        },
    )
    .map_err(|e| format!("cannot run mdbook: {e}"))?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(warnings),
        Ended::Exited(_) => Err(format!(
            "`mdbook build` failed:\n{}",
            supervisor::cut_for_a_message(&said.join("\n"))
        )),
        Ended::TimedOut => Err(format!(
            "`mdbook build` took more than {} s",
            BUILD_LIMIT.as_secs()
        )),
        Ended::Interrupted => Err("interrupted".to_string()),
    }
}

/// Whether a line of mdBook's log is a warning or an error: ` WARN ...`
/// and `ERROR ...` (0.5), `[WARN] (mdbook...)` after a date (0.4).
fn is_warning(line: &str) -> bool {
    line.split_whitespace()
        .take(3)
        .any(|word| matches!(word, "WARN" | "ERROR" | "[WARN]" | "[ERROR]"))
}

/// `line` without terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // ESC [ parameters, up to the final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// What the check of the built HTML found.
#[derive(Default)]
struct Checked {
    pages: usize,
    links: usize,
    images: usize,
    problems: Vec<String>,
}

/// Every page of the book under `out`: its links, images, stylesheets and
/// scripts name files of the book, and its links' fragments ids of their
/// pages; no directive was left unresolved, and no listing is empty.
///
/// `print.html` (every chapter on one page) and an `index.html` that is no
/// chapter (mdBook's copy of the first) repeat the chapters' problems:
/// theirs are listed only when the chapters have none, which makes them
/// mdBook's own.
fn check_built_book(out: &Path, chapters: &[String]) -> Checked {
    let mut checked = Checked::default();
    let mut anchors: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut anchors_of = |path: &str| -> Option<BTreeSet<String>> {
        anchors
            .entry(path.to_string())
            .or_insert_with(|| {
                let text = fs::read_to_string(out.join(path)).ok()?;
                Some(html::anchors(&html::tags(&text)))
            })
            .clone()
    };
    let copies = |page: &str| {
        page == "print.html" || (page == "index.html" && !chapters.iter().any(|c| c == page))
    };
    let mut echoed = Vec::new();
    for page in files_under(out, ".html") {
        let Ok(text) = fs::read_to_string(out.join(&page)) else {
            checked.problems.push(format!("{page}: cannot be read"));
            continue;
        };
        checked.pages += 1;
        let tags = html::tags(&text);
        let mut problems = leftovers(&text, &tags);
        let base = tags
            .iter()
            .find(|t| t.name == "base")
            .and_then(|t| t.get("href"));
        for tag in &tags {
            let attribute = match tag.name.as_str() {
                "a" | "link" => "href",
                "img" | "script" | "source" | "iframe" => "src",
                _ => continue,
            };
            let Some(link) = tag.get(attribute) else {
                continue;
            };
            let shown = format!("<{} {attribute}=\"{link}\">", tag.name);
            let (path, fragment) = match html::resolve(&page, base, link) {
                html::Target::External => continue,
                html::Target::Outside => {
                    problems.push((tag.at, format!("{shown} leads out of the book")));
                    continue;
                }
                html::Target::Internal { path, fragment } => (path, fragment),
            };
            match tag.name.as_str() {
                "a" => checked.links += 1,
                "img" => checked.images += 1,
                _ => {}
            }
            if !out.join(&path).is_file() {
                problems.push((tag.at, format!("{shown}: the book has no {path}")));
                continue;
            }
            let fragment = fragment.filter(|f| !f.is_empty() && f != "top");
            if let (Some(fragment), true) = (fragment, path.ends_with(".html")) {
                if !anchors_of(&path).is_some_and(|ids| ids.contains(&fragment)) {
                    problems.push((
                        tag.at,
                        format!("{shown}: {path} has no element with id \"{fragment}\""),
                    ));
                }
            }
        }
        // In the page's order, and each once (mdBook shows every figure
        // twice: the picture, and its enlarged copy).
        problems.sort();
        let mut lines: Vec<String> = Vec::new();
        for (at, problem) in problems {
            let line = format!("{page}:{}: {problem}", html::line_of(&text, at));
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        if copies(&page) {
            echoed.extend(lines);
        } else {
            checked.problems.extend(lines);
        }
    }
    if checked.problems.is_empty() {
        checked.problems = echoed;
    }
    checked
}

/// What mdBook leaves in a page when a quote fails: the `{{#include}}`
/// itself when its file is missing, an empty listing when its anchor is.
/// Each with its byte offset in `text`. (No chapter shows the directive
/// as text; one that did would have to write its braces as `&#123;`.)
fn leftovers(text: &str, tags: &[html::Tag]) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    for (at, _) in text.match_indices("{{#") {
        let directive = &text[at..];
        let end = directive
            .find("}}")
            .map_or(directive.len().min(80), |e| e + 2);
        let directive = &directive[..end];
        problems.push((at, format!("mdBook left `{directive}` unresolved")));
    }
    for tag in tags.iter().filter(|t| t.name == "code") {
        let after = text[tag.at..].find('>').map(|end| tag.at + end + 1);
        if after.is_some_and(|after| text[after..].starts_with("</code>")) {
            problems.push((
                tag.at,
                "an empty listing (an {{#include}} whose anchor does not exist?)".to_string(),
            ));
        }
    }
    problems
}

/// The files under `dir` whose names end with `extension`, as paths
/// relative to it, `/`-separated, sorted.
fn files_under(dir: &Path, extension: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = fs::read_dir(dir.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = relative.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(extension) {
                found.push(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

/// The chapters, in the order of the book's table of contents (the pages
/// mdBook's `toc.html` links to).
fn chapters(out: &Path) -> Result<Vec<String>, String> {
    let toc = fs::read_to_string(out.join("toc.html"))
        .map_err(|e| format!("the built book has no toc.html to list its chapters: {e}"))?;
    let mut chapters: Vec<String> = Vec::new();
    for tag in html::tags(&toc).iter().filter(|t| t.name == "a") {
        if let Some(html::Target::Internal { path, .. }) = tag
            .get("href")
            .map(|href| html::resolve("toc.html", None, href))
        {
            if path.ends_with(".html") && !chapters.contains(&path) {
                chapters.push(path);
            }
        }
    }
    if chapters.is_empty() {
        return Err("the book's toc.html lists no chapters".to_string());
    }
    Ok(chapters)
}

/// What the pages checked in the browser had in all.
#[derive(Default)]
struct Totals {
    figures: usize,
    links: usize,
}

/// What one chapter showed in the browser.
struct Visit {
    figures: usize,
    loaded: usize,
    links: usize,
    screenshot: PathBuf,
    /// Screenshots of single figures, beside the chapter's.
    close_ups: usize,
    problems: Vec<String>,
}

/// Opens every chapter in headless Chromium, each checked and
/// photographed; a verdict for each. An error is one of the browser (it
/// would not start, or stopped answering), not of the book.
fn try_in_browser(
    chromium: &Path,
    out: &Path,
    chapters: &[String],
    screenshots: &Path,
    verdicts: &mut Verdicts,
    style: &Style,
) -> Result<Totals, String> {
    let root = lessons::workspace_root();
    let server = serve::Server::start(out).map_err(|e| format!("cannot serve the book: {e}"))?;
    let mut browser = devtools::Browser::launch(chromium)?;
    println!(
        "browser: {} (headless), the book served at {}",
        browser.version,
        server.url("")
    );
    let page = open_page(&mut browser)?;
    let mut totals = Totals::default();
    for (index, chapter) in chapters.iter().enumerate() {
        let name = chapter.trim_end_matches(".html");
        let screenshot = screenshots.join(format!("{}.png", name.replace('/', "-")));
        let visit = match visit(&mut browser, &page, &server.url(chapter), &screenshot) {
            Ok(visit) => visit,
            Err(e) if term::interrupted() => return Err(e),
            Err(e) => {
                // The browser is stuck or gone: no use trying the rest.
                verdicts.add(style, name, "", &[e]);
                for chapter in &chapters[index + 1..] {
                    let name = chapter.trim_end_matches(".html");
                    verdicts.not_tried(style, name, "the browser failed on an earlier chapter");
                }
                break;
            }
        };
        totals.figures += visit.loaded;
        totals.links += visit.links;
        let close_ups = match visit.close_ups {
            0 => String::new(),
            n => format!(" (and {n} of its figures)"),
        };
        let what = format!(
            "{}/{} figures loaded, {} links checked, {}{close_ups}",
            visit.loaded,
            visit.figures,
            visit.links,
            shown(&visit.screenshot, &root)
        );
        verdicts.add(style, name, &what, &visit.problems);
    }
    browser.close();
    Ok(totals)
}

/// A new tab, attached, with what the checks listen to turned on, and the
/// window's size set; its session ID.
fn open_page(browser: &mut devtools::Browser) -> Result<String, String> {
    let target = browser.call(
        None,
        "Target.createTarget",
        json!({ "url": "about:blank" }),
        PAGE_LIMIT,
    )?;
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
        PAGE_LIMIT,
    )?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or("Target.attachToTarget: no session ID in the answer")?
        .to_string();
    for method in ["Page.enable", "Network.enable", "Runtime.enable"] {
        browser.call(Some(&session), method, json!({}), PAGE_LIMIT)?;
    }
    browser.call(
        Some(&session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false }),
        PAGE_LIMIT,
    )?;
    Ok(session)
}

/// What the page checks about itself once loaded: every image complete
/// with a width, and every relative link answered (fetched, once per page)
/// and leading to an element with its fragment's id. Links with a scheme
/// lead out of the book, and are not followed: CI has no network.
const CHECK_IN_PAGE: &str = r#"(async () => {
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  await Promise.race([document.fonts.ready, pause(5000)]);
  const images = [...document.images];
  await Promise.race([Promise.all(images.map((i) => i.decode().catch(() => {}))), pause(10000)]);
  const figures = images.map((i) => {
    const r = i.getBoundingClientRect();
    return {
      src: i.getAttribute('src') || '',
      url: i.currentSrc || i.src,
      loaded: i.complete && i.naturalWidth > 0,
      // Where it is on the page, for its own screenshot; none if hidden.
      box: r.width > 0 && r.height > 0
        ? { x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height }
        : null,
    };
  });
  const here = location.href.split('#')[0];
  const answers = new Map();
  const answer = (url) => {
    if (!answers.has(url)) {
      answers.set(url, fetch(url, { signal: AbortSignal.timeout(10000) })
        .then(async (r) => ({ ok: r.ok, status: `${r.status}`, text: r.ok ? await r.text() : '' }))
        .catch((e) => ({ ok: false, status: `${e}`, text: '' })));
    }
    return answers.get(url);
  };
  const parsed = new Map();
  const broken = [];
  let links = 0;
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue;
    links += 1;
    const url = new URL(a.href);
    let fragment = url.hash.slice(1);
    try { fragment = decodeURIComponent(fragment); } catch (e) {}
    url.hash = '';
    let page = document;
    if (url.href !== here) {
      const got = await answer(url.href);
      if (!got.ok) { broken.push(`link "${href}": ${got.status}`); continue; }
      if (!fragment || fragment === 'top') continue;
      if (!parsed.has(url.href)) {
        parsed.set(url.href, new DOMParser().parseFromString(got.text, 'text/html'));
      }
      page = parsed.get(url.href);
    }
    if (fragment && fragment !== 'top' && !page.getElementById(fragment)
        && page.getElementsByName(fragment).length === 0) {
      broken.push(`link "${href}": no element with id "${fragment}"`);
    }
  }
  return { figures, links, broken };
})()"#;

/// A figure of a chapter as the browser showed it.
struct Figure {
    /// As the page names it (`figures/02-zombie.svg`).
    src: String,
    /// As the browser resolved it, as the network events name it.
    url: String,
    loaded: bool,
    /// Where it is on the page (`x`, `y`, `width`, `height`), if visible.
    place: Option<Value>,
}

/// Loads `url` in the page of `session`, has it checked, takes its
/// picture into `screenshot` (and each figure's beside it), and says what
/// it saw.
fn visit(
    browser: &mut devtools::Browser,
    session: &str,
    url: &str,
    screenshot: &Path,
) -> Result<Visit, String> {
    let page = Some(session);
    let _ = browser.take_events();
    let navigated = browser.call(page, "Page.navigate", json!({ "url": url }), PAGE_LIMIT)?;
    let mut problems = Vec::new();
    if let Some(error) = navigated["errorText"].as_str() {
        problems.push(format!("it did not load: {error}"));
    }
    browser.wait_for_event(session, "Page.loadEventFired", PAGE_LIMIT)?;
    let evaluated = browser.call(
        page,
        "Runtime.evaluate",
        json!({ "expression": CHECK_IN_PAGE, "awaitPromise": true, "returnByValue": true }),
        PAGE_LIMIT,
    )?;
    if let Some(exception) = evaluated.get("exceptionDetails") {
        return Err(format!("the check in the page failed: {exception}"));
    }
    let seen = &evaluated["result"]["value"];
    // mdBook shows each figure twice (the picture, and a hidden enlarged
    // copy for a click): one figure, loaded if every copy is, and where
    // its visible copy is.
    let mut figures: Vec<Figure> = Vec::new();
    for image in seen["figures"].as_array().into_iter().flatten() {
        let text = |key: &str| image[key].as_str().unwrap_or_default().to_string();
        let loaded = image["loaded"].as_bool().unwrap_or(false);
        let place = Some(image["box"].clone()).filter(Value::is_object);
        match figures.iter_mut().find(|f| f.src == text("src")) {
            Some(figure) => {
                figure.loaded &= loaded;
                figure.place = figure.place.take().or(place);
            }
            None => figures.push(Figure {
                src: text("src"),
                url: text("url"),
                loaded,
                place,
            }),
        }
    }

    let metrics = browser.call(page, "Page.getLayoutMetrics", json!({}), PAGE_LIMIT)?;
    let height = metrics["cssContentSize"]["height"]
        .as_f64()
        .unwrap_or(HEIGHT as f64)
        .clamp(1.0, TALLEST)
        .ceil();
    let whole = json!({ "x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1 });
    take_screenshot(browser, session, whole, screenshot)?;
    // Each figure on its own as well, readable at its size: a whole
    // chapter is too tall a picture to look at a figure in.
    let mut close_ups = 0;
    for (index, figure) in figures.iter().enumerate() {
        let Some(place) = &figure.place else { continue };
        let number = |key: &str| place[key].as_f64().unwrap_or(0.0);
        let x = (number("x") - MARGIN).max(0.0);
        let y = (number("y") - MARGIN).max(0.0);
        let clip = json!({
            "x": x,
            "y": y,
            "width": (number("width") + 2.0 * MARGIN).min(WIDTH as f64 - x),
            "height": number("height") + 2.0 * MARGIN,
            "scale": 1,
        });
        let path = screenshot.with_extension(format!("figure-{}.png", index + 1));
        take_screenshot(browser, session, clip, &path)?;
        close_ups += 1;
    }

    // A figure that did not load, with why if the network said; then the
    // page's broken links, then whatever else failed to load.
    let mut failures = failures_seen(&browser.take_events());
    for figure in figures.iter().filter(|f| !f.loaded) {
        let why: Vec<String> = failures
            .iter()
            .filter(|f| f.url.as_deref() == Some(figure.url.as_str()))
            .map(|f| f.what.clone())
            .collect();
        failures.retain(|f| f.url.as_deref() != Some(figure.url.as_str()));
        match why.first() {
            Some(why) => problems.push(format!("figure {} did not load: {why}", figure.src)),
            None => problems.push(format!("figure {} did not load", figure.src)),
        }
    }
    for broken in seen["broken"].as_array().into_iter().flatten() {
        problems.push(broken.as_str().unwrap_or_default().to_string());
    }
    for failure in failures {
        let problem = match failure.url {
            Some(url) => format!("{url}: {}", failure.what),
            None => failure.what,
        };
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    Ok(Visit {
        figures: figures.len(),
        loaded: figures.iter().filter(|f| f.loaded).count(),
        close_ups,
        links: seen["links"].as_u64().unwrap_or(0) as usize,
        screenshot: screenshot.to_path_buf(),
        problems,
    })
}

/// A PNG of the region `clip` of the page of `session`, into `path`.
fn take_screenshot(
    browser: &mut devtools::Browser,
    session: &str,
    clip: Value,
    path: &Path,
) -> Result<(), String> {
    let shot = browser.call(
        Some(session),
        "Page.captureScreenshot",
        json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
        PAGE_LIMIT,
    )?;
    let png = shot["data"]
        .as_str()
        .and_then(devtools::base64_decode)
        .ok_or("Page.captureScreenshot: no picture in the answer")?;
    fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Something that went wrong in the page, as the browser's events said.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    /// The resource that failed, if one did.
    url: Option<String>,
    what: String,
}

/// What went wrong while a page loaded, from the browser's events: a
/// resource answered with an error status or not at all, or a script
/// threw. The check's own requests (`Fetch`) are left out: it reports
/// its broken links itself.
fn failures_seen(events: &[(String, Value)]) -> Vec<Failure> {
    let mut urls = BTreeMap::new();
    let mut failures = Vec::new();
    for (method, params) in events {
        match method.as_str() {
            "Network.requestWillBeSent" => {
                urls.insert(
                    params["requestId"].to_string(),
                    params["request"]["url"].as_str().unwrap_or_default(),
                );
            }
            "Network.responseReceived" if params["type"] != "Fetch" => {
                let status = params["response"]["status"].as_u64().unwrap_or(0);
                if status >= 400 {
                    failures.push(Failure {
                        url: params["response"]["url"].as_str().map(str::to_string),
                        what: format!("the server answered {status}"),
                    });
                }
            }
            "Network.loadingFailed" if params["type"] != "Fetch" => {
                let error = params["errorText"].as_str().unwrap_or_default();
                // Aborted: a prefetch the next navigation cut short.
                if params["canceled"] != true && error != "net::ERR_ABORTED" {
                    failures.push(Failure {
                        url: urls
                            .get(&params["requestId"].to_string())
                            .map(|u| u.to_string()),
                        what: format!("it failed to load: {error}"),
                    });
                }
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let what = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("an exception");
                failures.push(Failure {
                    url: None,
                    what: format!("a script threw: {}", what.lines().next().unwrap_or(what)),
                });
            }
            _ => {}
        }
    }
    failures
}

/// `path` relative to the workspace root when it is inside it.
fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The verdicts so far: a line each as they come, and the count.
#[derive(Default)]
struct Verdicts {
    passed: usize,
    failed: usize,
}

impl Verdicts {
    /// Prints `PASS  name  what`, or `FAIL` and each problem below it.
    fn add(&mut self, style: &Style, name: &str, what: &str, problems: &[String]) {
        let verdict = if problems.is_empty() {
            self.passed += 1;
            style.paint(Color::Green, "PASS")
        } else {
            self.failed += 1;
            style.paint(Color::Red, "FAIL")
        };
        println!("{verdict}  {name:<20} {what}");
        for problem in problems {
            println!("      {}", problem.replace('\n', "\n      "));
        }
    }

    /// Prints `FAIL  name  not tried: why`.
    fn not_tried(&mut self, style: &Style, name: &str, why: &str) {
        self.failed += 1;
        println!(
            "{}  {name:<20} not tried: {why}",
            style.paint(Color::Red, "FAIL")
        );
    }

    /// The last line, as `cargo xtask check` ends.
    fn print(&self, style: &Style) {
        let line = format!("{} passed, {} failed", self.passed, self.failed);
        let color = if self.failed == 0 {
            Color::Green
        } else {
            Color::Red
        };
        println!("{}", style.paint(color, &line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdbook_warnings_and_errors_are_recognised() {
        let error = "\x1b[31mERROR\x1b[0m Error updating \"{{#include nope.rs}}\"";
        assert!(is_warning(&strip_ansi(error)));
        assert!(is_warning(" WARN Caused By: failed to read `nope.rs`"));
        assert!(is_warning(
            "2024-05-01 10:00:00 [WARN] (mdbook::preprocess::cmd): Unable to run"
        ));
        assert!(!is_warning(" INFO Book building has started"));
        assert!(!is_warning(
            " INFO HTML book written to `target/book` (WARN)"
        ));
    }

    #[test]
    fn leftovers_of_failed_quotes_are_found() {
        let page = "<p>\n<pre><code class=\"language-rust\">{{#include ../x.rs}}</code></pre>\n\
                    <pre><code class=\"language-rust ignore\"></code></pre>\n\
                    <p><code>ok</code></p>";
        let problems: Vec<(usize, String)> = leftovers(page, &html::tags(page))
            .into_iter()
            .map(|(at, problem)| (html::line_of(page, at), problem))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            problems[0],
            (
                2,
                "mdBook left `{{#include ../x.rs}}` unresolved".to_string()
            )
        );
        assert_eq!(problems[1].0, 3);
        assert!(problems[1].1.starts_with("an empty listing"));
    }

    #[test]
    fn failed_loads_and_exceptions_are_reported_but_not_the_checks_own_fetches() {
        let events: Vec<(String, Value)> = vec![
            (
                "Network.responseReceived".into(),
                json!({ "type": "Image", "response": { "url": "http://x/figures/a.svg", "status": 404 } }),
            ),
            (
                "Network.responseReceived".into(),
                json!({ "type": "Fetch", "response": { "url": "http://x/gone.html", "status": 404 } }),
            ),
            (
                "Network.requestWillBeSent".into(),
                json!({ "requestId": "7", "request": { "url": "http://x/next.html" } }),
            ),
            (
                "Network.loadingFailed".into(),
                json!({ "requestId": "7", "type": "Other", "errorText": "net::ERR_ABORTED" }),
            ),
            (
                "Runtime.exceptionThrown".into(),
                json!({ "exceptionDetails": { "exception": { "description": "TypeError: x\n at y" } } }),
            ),
        ];
        assert_eq!(
            failures_seen(&events),
            [
                Failure {
                    url: Some("http://x/figures/a.svg".to_string()),
                    what: "the server answered 404".to_string()
                },
                Failure {
                    url: None,
                    what: "a script threw: TypeError: x".to_string()
                }
            ]
        );
    }
}
