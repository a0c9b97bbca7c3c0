//! Tidy: no runbook turns a failed capability call into a default.
//!
//! A capability call returns an `OpResult`; `.await.unwrap_or_default()`,
//! `.await.ok()` or `.await.unwrap_or(false)` on it makes a failure look like
//! an empty answer ("the target holds nothing", "0 stores", "not mounted"),
//! and a verdict built on that answer passes when it should fail. This test
//! reads every `scenarios/src/runbooks/*.rs` file as text and rejects those
//! calls when they apply to the result of an `.await`, naming file:line.
//!
//! A justified exception carries the marker `// tidy: allow(<reason>)` on
//! the line of the call.
//!
//! It also rejects a service start or stop made on the backend directly
//! instead of through the context, which records it for `runbook-order`.

use std::path::{Path, PathBuf};

/// The calls that turn an error into a value.
const SWALLOWERS: [&str; 4] = [
    ".unwrap_or_default()",
    ".ok()",
    ".unwrap_or(false)",
    ".unwrap_or(true)",
];

/// The opt-out marker, with its reason in parentheses.
const ALLOW: &str = "// tidy: allow(";

/// `text` with comments and the contents of string and character literals
/// blanked (same length, same line breaks), so that only code is searched.
fn code_only(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                blank(&mut out, i, end);
                i = end;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                match text[open + 1..].find(&close) {
                    Some(n) => {
                        blank(&mut out, open + 1, open + 1 + n);
                        i = open + 1 + n + close.len();
                    }
                    None => {
                        blank(&mut out, open + 1, b.len());
                        i = b.len();
                    }
                }
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1, j.min(b.len()));
                i = j + 1;
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{..}') or a lifetime.
                let len = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..].iter().position(|&c| c == b'\'').map(|n| n + 3)
                } else {
                    let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + ch) == Some(&b'\'')).then_some(ch + 1)
                };
                match len {
                    Some(n) => {
                        blank(&mut out, i + 1, i + n);
                        i += n + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The receiver chain of a method call whose `.` is at `dot`: walks back over
/// identifiers, `.`, `?`, `::`, white space and balanced brackets, and returns
/// the chain with the contents of brackets removed (`a.b(..).await.c`).
fn receiver(code: &[u8], dot: usize) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut i = dot;
    while i > 0 {
        let c = code[i - 1];
        match c {
            b')' | b']' | b'}' => {
                let (close, open) = (c, matching(c));
                let mut depth = 0usize;
                let mut j = i;
                while j > 0 {
                    j -= 1;
                    if code[j] == close {
                        depth += 1;
                    } else if code[j] == open {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                out.push(c);
                out.push(open);
                i = j;
            }
            c if c.is_ascii_alphanumeric() || b"_.?:".contains(&c) || c.is_ascii_whitespace() => {
                if !c.is_ascii_whitespace() {
                    out.push(c);
                }
                i -= 1;
            }
            _ => break,
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn matching(close: u8) -> u8 {
    match close {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

/// Whether the chain applies its last call to the result of an `.await`
/// (directly, or through combinators such as `.map(..)`).
fn awaits(chain: &str) -> bool {
    chain.contains(".await")
}

/// Every swallowed capability result in `text`, as `line: call`.
fn swallowed(text: &str) -> Vec<(usize, &'static str)> {
    let code = code_only(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for pat in SWALLOWERS {
        let p = pat.as_bytes();
        let mut from = 0;
        while let Some(n) = code[from..].windows(p.len()).position(|w| w == p) {
            let at = from + n;
            from = at + 1;
            if !awaits(&receiver(&code, at)) {
                continue;
            }
            let line = code[..at].iter().filter(|&&c| c == b'\n').count();
            let allowed = lines.get(line).is_some_and(|l| l.contains(ALLOW));
            if !allowed {
                found.push((line + 1, pat));
            }
        }
    }
    found.sort();
    found
}

fn runbooks() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runbooks");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    v.sort();
    v
}

#[test]
fn runbooks_do_not_swallow_capability_errors() {
    let files = runbooks();
    assert!(!files.is_empty(), "no runbook files found");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(f);
        for (line, call) in swallowed(&text) {
            bad.push(format!(
                "{}:{line}: `{call}` on the result of an `.await` turns a failed capability \
                 call into a default; make the call part of a step (`cx.step(..)`) and \
                 propagate its error, or justify it with `{ALLOW}<reason>)` on the same line",
                name.display()
            ));
        }
    }
    assert!(bad.is_empty(), "swallowed errors:\n{}", bad.join("\n"));
}

#[test]
fn the_detector_sees_chains_across_lines_and_through_combinators() {
    let text = r#"
fn f() {
    let a = b.read_back(src).await.unwrap_or_default();
    let c = b
        .list_stores(to)
        .await
        .unwrap_or_default();
    let d = b.store_mounted(h, st).await.unwrap_or(false);
    let e = b.queue_status(a, b).await.map(|q| q.state).ok();
    let g = b.ping(a, b, t).await.is_ok();
    let h = parse_utc(start).ok();
    let i = host(s, n).map(|h| h.ip).unwrap_or_default();
    // a comment: x.await.unwrap_or_default()
    let j = "x.await.ok()";
    let k = b.read_back(src).await.ok(); // tidy: allow(the read is a best effort)
    let l = run(async { x.await }).ok();
}
"#;
    let found: Vec<usize> = swallowed(text).into_iter().map(|x| x.0).collect();
    assert_eq!(found, vec![3, 7, 8, 9]);
}

/// Every service start or stop of a runbook goes through the context
/// (`Ctx::start_service`, `Ctx::stop_service`), which records the call as
/// its step's `service-requested` event: a call made on the backend
/// directly would be invisible to the `runbook-order` invariant. Finds
/// the lines (1-based) of `.start_service(` or `.stop_service(` called on
/// anything but `cx`.
fn unrecorded_service_calls(text: &str) -> Vec<usize> {
    let code = code_only(text);
    let mut found = Vec::new();
    for pat in [".start_service(", ".stop_service("] {
        let mut from = 0;
        let p = pat.as_bytes();
        while let Some(n) = code[from..].windows(p.len()).position(|w| w == p) {
            let at = from + n;
            from = at + 1;
            // the value the method is called on: the chain's last name
            let chain = receiver(&code, at);
            let on = chain.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            if on.into_iter().next() != Some("cx") {
                found.push(code[..at].iter().filter(|&&c| c == b'\n').count() + 1);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn runbooks_start_and_stop_services_through_the_context() {
    let mut bad = Vec::new();
    for f in &runbooks() {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(f);
        for line in unrecorded_service_calls(&text) {
            bad.push(format!(
                "{}:{line}: start and stop services with `cx.start_service`/`cx.stop_service`, \
                 which record the call for the runbook-order invariant",
                name.display()
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "unrecorded service calls:\n{}",
        bad.join("\n")
    );
    let text = "cx.start_service(h, s)\nrun.cx.stop_service(h, s)\ncx.b.start_service(h, s)\n\
                b.stop_service(h, s) // cx.b.stop_service(\n{ x }\ncx\n  .stop_service(h, s)\n";
    assert_eq!(unrecorded_service_calls(text), vec![3, 4]);
}
