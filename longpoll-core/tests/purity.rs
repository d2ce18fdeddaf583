//! The core must stay sans-IO: no clock, no OS randomness, no threads, no runtime. These
//! checks read the crate's own sources and dependency tree, so a change that breaks the rule
//! fails `cargo test` instead of slipping through review.

use std::path::Path;

/// Calls that would make the core read the world or act on it by itself.
const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "getrandom",
    "rand::",
    "thread::spawn",
    "thread::sleep",
    "std::net",
    "std::fs",
    "std::process",
    "tokio",
    "futures",
    "async fn",
    ".await",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_code_never_reads_a_clock_or_randomness_or_spawns() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 10, "expected the core's modules in {src:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            // Comments (including doc examples, which play the driver's part) are not code.
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the core must stay sans-IO:\n{}",
        offences.join("\n")
    );
}

#[test]
fn core_depends_on_bytes_only() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "longpoll-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"bytes"), "{tree}");
    for name in crates {
        assert!(
            matches!(name, "longpoll-core" | "bytes"),
            "longpoll-core must depend on bytes only, found {name}:\n{tree}"
        );
    }
}
