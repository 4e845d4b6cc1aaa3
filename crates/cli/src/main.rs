//! `ocisize`: how big is this container image, and why does every runtime disagree?
//!
//! This binary is the only part of ocisize that parses flags, prints, or uses `anyhow`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod du;
mod store;
mod table;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ocisize::{Input, Options, Parallelism, SourceArg};

/// Inspect OCI and Docker images: verify every byte and show the size every runtime reports.
#[derive(Debug, Parser)]
#[command(name = "ocisize", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify images and report their sizes as docker, podman, ctr and crictl show them.
    ///
    /// SOURCE is a path (format detected), `-` for standard input, or a skopeo-style
    /// `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, `dir:DIR`.
    /// Archives may be gzip or zstd compressed.
    ///
    /// Exit status: 0 when everything verified, 1 when something failed verification (the
    /// report is still printed), 2 when an input could not be read or the usage was wrong.
    Inspect(InspectArgs),
    /// A local content store: import, ls, export, rm, gc, fsck.
    Store(store::StoreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For bash: `ocisize completions bash > ~/.local/share/bash-completion/completions/ocisize`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages: ocisize.1 and one per command (ocisize-inspect.1, …).
    ///
    /// `ocisize man --dir ~/.local/share/man/man1`; without --dir, ocisize.1 goes to standard
    /// output.
    Man {
        /// Write every page into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Compare two images: the layers they share (by diffID) and not, then what differs
    /// between their final filesystems (added, removed, modified by kind, size, link or
    /// content: a digest of every regular file's bytes, taken in the same pass).
    ///
    /// A and B are sources as `inspect` takes them. Exit status as for `inspect`: 0 when both
    /// verified (whatever differs), 1 when something failed verification, 2 on usage or I/O
    /// errors.
    Diff(DiffArgs),
    /// The image stores of this node together (runtime roots, archives, layouts): sizes,
    /// images held more than once, and what removing the extra copies would free.
    Du(du::DuArgs),
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The first image source.
    #[arg(value_name = "A")]
    a: String,
    /// The second image source.
    #[arg(value_name = "B")]
    b: String,
    /// Print the comparison as JSON.
    #[arg(long)]
    json: bool,
    /// The platform to take from a source with several images (default: the first).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// Most file changes listed; every change is counted.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_changes: usize,
    /// Threads to use (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Image sources.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// Print the report as JSON (one object per source; an array for several sources).
    #[arg(long)]
    json: bool,
    /// Show every layer.
    #[arg(long, short = 'l')]
    layers: bool,
    /// Threads to use (default: all cores): layers, and several sources, are read in
    /// parallel; 1 does everything on one thread.
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Read only the documents, not the layers: fast, and nothing is verified. Figures that
    /// need layer contents are unknown.
    #[arg(long)]
    no_verify: bool,
    /// Stop decompressing a layer after this many bytes (decompression-bomb guard).
    #[arg(long, value_name = "BYTES")]
    max_uncompressed: Option<u64>,
    /// Account for the files, in the same single pass: bytes that later layers overwrite,
    /// white out or hide (what squashing would free), dive's efficiency, and the paths that
    /// waste the most. Needs the layers read: not with `--no-verify`.
    #[arg(long, conflicts_with = "no_verify")]
    files: bool,
    /// How many of the most wasteful paths `--files` lists.
    #[arg(long, value_name = "N", default_value_t = 20)]
    top: usize,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ocisize: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print().context("writing usage")?;
            return Ok(ExitCode::from(code));
        }
    };
    match cli.command {
        Command::Inspect(args) => inspect(&args),
        Command::Store(args) => store::run(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "ocisize", &mut io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Diff(args) => diff(&args),
        Command::Du(args) => du::run(&args),
    }
}

/// The man pages, from the same clap definitions as the flags.
fn man(dir: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("ocisize".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((format!("ocisize-{}", sub.get_name()), sub.clone()));
        for subsub in sub.get_subcommands() {
            let name = format!("ocisize-{}-{}", sub.get_name(), subsub.get_name());
            pages.push((name, subsub.clone()));
        }
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page.name(name.clone())).render(&mut buf)?;
        // Atomic: a temporary file beside it, then a rename.
        let tmp = dir.join(format!(".{name}.1.tmp"));
        std::fs::write(&tmp, &buf).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Print a report on standard output: as pretty JSON, or as `table` writes it.
pub(crate) fn emit<T: serde::Serialize>(
    json: bool,
    report: &T,
    table: impl FnOnce(&mut io::StdoutLock<'static>, &T) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    } else {
        table(&mut out, report)?;
    }
    Ok(out.flush()?)
}

/// Parse every argument; the first that does not parse is printed, and the status is 2.
pub(crate) fn parse_all<T>(
    args: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<Vec<T>, ExitCode>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    args.into_iter()
        .map(|s| {
            s.as_ref().parse::<T>().map_err(|e| {
                eprintln!("ocisize: {e}");
                ExitCode::from(2)
            })
        })
        .collect()
}

fn diff(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let parsed: Vec<SourceArg> = match parse_all([&args.a, &args.b]) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut options = Options::default();
    if let Some(j) = args.jobs {
        options.parallelism = Parallelism::new(j);
    }
    let d = ocisize::DiffOptions { platform: args.platform.clone(), max_changes: args.max_changes };
    let report = match ocisize::diff(&parsed[0], &parsed[1], &options, &d) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ocisize: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    emit(args.json, &report, table::write_diff)?;
    Ok(ExitCode::from(if report.verified() { 0 } else { 1 }))
}

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let parsed: Vec<SourceArg> = match parse_all(&args.sources) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut options = Options::default();
    if let Some(j) = args.jobs {
        options.parallelism = Parallelism::new(j);
    }
    options.verify = !args.no_verify;
    options.files = args.files;
    options.files_top = args.top;
    if let Some(m) = args.max_uncompressed {
        options.limits.layer.max_uncompressed_bytes = m;
    }
    let bar = if parsed.len() == 1 { progress_bar(&parsed[0], args.no_progress) } else { None };
    if let Some(b) = &bar {
        let b = b.clone();
        options.progress = Some(Arc::new(move |n| b.inc(n)));
    }
    let results = ocisize::inspect_many(&parsed, &options);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut worst = 0u8;
    for r in &results {
        match r {
            Ok(r) if !r.verified() => worst = worst.max(1),
            Ok(_) => {}
            Err(e) => {
                // The error names the input already.
                eprintln!("ocisize: {e}");
                worst = 2;
            }
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        // Every source gets its entry, in argument order: the report, or what failed.
        let entries: Vec<serde_json::Value> = parsed
            .iter()
            .zip(&results)
            .map(|(arg, r)| match r {
                Ok(r) => serde_json::to_value(r),
                Err(e) => Ok(serde_json::json!({
                    "source": { "path": arg.input.to_string(), "format": arg.format },
                    "error": { "kind": e.kind(), "message": e.to_string() },
                })),
            })
            .collect::<Result<_, _>>()?;
        let text = if entries.len() == 1 {
            serde_json::to_string_pretty(&entries[0])?
        } else {
            serde_json::to_string_pretty(&entries)?
        };
        writeln!(out, "{text}")?;
    } else {
        let mut first = true;
        for r in results.iter().flatten() {
            if !first {
                writeln!(out)?;
            }
            first = false;
            table::write_report(&mut out, r, args.layers)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}

fn progress_bar(arg: &SourceArg, disabled: bool) -> Option<indicatif::ProgressBar> {
    if disabled || !io::stderr().is_terminal() {
        return None;
    }
    let total = match &arg.input {
        Input::Path(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
        Input::Stdin => None,
    };
    let bar = match total {
        Some(t) if t >= 64 << 20 => {
            let b = indicatif::ProgressBar::new(t);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} {wide_bar} {binary_bytes_per_sec} eta {eta}",
                )
                .ok()?,
            );
            b
        }
        Some(_) => return None,
        None => {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                    .ok()?,
            );
            b
        }
    };
    b_draw_target(&bar);
    Some(bar)
}

fn b_draw_target(bar: &indicatif::ProgressBar) {
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(8));
    bar.enable_steady_tick(std::time::Duration::from_millis(125));
}
