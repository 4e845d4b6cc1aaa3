//! `ocisize store`: a local content store — import, ls, export, rm, gc, fsck.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use ocisize::units;
use ocisize::{Parallelism, Reference, SourceArg};
use ocisize_store::{Destination, ExportOptions, ImportOptions, ImportReport, Store};

/// Store arguments.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, clap::Args)]
struct Where {
    /// The store directory (default: $OCISIZE_STORE, else $XDG_DATA_HOME/ocisize/store, else
    /// ~/.local/share/ocisize/store). It is made on first write.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum StoreCommand {
    /// Verify images as inspect does, in the same single pass, and add them to the store
    /// (only blobs it lacks are written).
    ///
    /// SOURCE is anything inspect reads, `-` for standard input. Names come from the
    /// source (RepoTags, ref.name) unless --name is given.
    Import {
        #[command(flatten)]
        at: Where,
        /// Name the image (repeatable); only for a source holding one image.
        #[arg(long = "name", value_name = "REF")]
        names: Vec<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Threads to use (default: all cores).
        #[arg(long, short = 'j', value_name = "N")]
        jobs: Option<usize>,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Image sources.
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<String>,
    },
    /// List the images in the store, with what `ctr images ls` would show as their size.
    Ls {
        #[command(flatten)]
        at: Where,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write an image to DEST: oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE or
    /// dir:DIR, atomically.
    Export {
        #[command(flatten)]
        at: Where,
        /// For a docker-archive of a multi-platform image: os/arch[/variant] (default: this
        /// machine's).
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// The image's name.
        #[arg(value_name = "REF")]
        name: String,
        /// Where to write it.
        #[arg(value_name = "DEST")]
        dest: String,
    },
    /// Remove names (blobs stay until gc).
    Rm {
        #[command(flatten)]
        at: Where,
        /// Names to remove.
        #[arg(required = true, value_name = "REF")]
        names: Vec<String>,
    },
    /// Remove every blob no name reaches, and ingests abandoned for more than a day.
    Gc {
        #[command(flatten)]
        at: Where,
        /// List what would go, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every blob and follow every reference. Exit status 1 when a blob is corrupt
    /// or missing.
    Fsck {
        #[command(flatten)]
        at: Where,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Where {
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.store {
            Some(p) => Ok(p.clone()),
            None => Ok(Store::default_path()?),
        }
    }

    fn open(&self) -> anyhow::Result<Store> {
        let p = self.path()?;
        Store::open(&p).with_context(|| format!("opening the store {}", p.display()))
    }

    fn open_or_create(&self) -> anyhow::Result<Store> {
        let p = self.path()?;
        Store::open_or_create(&p).with_context(|| format!("opening the store {}", p.display()))
    }
}

fn parse_name(s: &str) -> anyhow::Result<Reference> {
    Reference::parse_normalized(s).with_context(|| format!("invalid name {s:?}"))
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(out.flush()?)
}

/// Run a store command.
pub fn run(args: StoreArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        StoreCommand::Import { at, names, json, jobs, no_progress, sources } => {
            import(&at, &names, json, jobs, no_progress, &sources)
        }
        StoreCommand::Ls { at, json } => ls(&at, json),
        StoreCommand::Export { at, platform, json, name, dest } => {
            let store = at.open()?;
            let dest: Destination = dest.parse()?;
            let platform = platform.map(|p| parse_platform(&p)).transpose()?;
            let report = store.export(&parse_name(&name)?, &dest, &ExportOptions { platform })?;
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "{} {} ({} blobs, {})",
                    report.dest,
                    report.digest,
                    report.blobs,
                    units::human(report.bytes)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Rm { at, names } => {
            let store = at.open()?;
            let refs = names.iter().map(|n| parse_name(n)).collect::<anyhow::Result<Vec<_>>>()?;
            let removed = store.remove_names(&refs)?;
            if removed < refs.len() {
                eprintln!(
                    "ocisize: {} of {} names were not in the store",
                    refs.len() - removed,
                    refs.len()
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Gc { at, dry_run, json } => gc(&at, dry_run, json),
        StoreCommand::Fsck { at, json } => fsck(&at, json),
    }
}

fn parse_platform(s: &str) -> anyhow::Result<ocisize_spec::Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    let (os, arch, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, v] => (*os, *arch, Some((*v).to_owned())),
        _ => anyhow::bail!("invalid platform {s:?}: expected os/arch[/variant]"),
    };
    Ok(ocisize_spec::Platform {
        os: os.into(),
        architecture: arch.into(),
        variant,
        os_version: None,
    })
}

fn import(
    at: &Where,
    names: &[String],
    json: bool,
    jobs: Option<usize>,
    no_progress: bool,
    sources: &[String],
) -> anyhow::Result<ExitCode> {
    let parsed = sources
        .iter()
        .map(|s| s.parse::<SourceArg>().with_context(|| format!("invalid source {s:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names = names.iter().map(|n| parse_name(n)).collect::<anyhow::Result<Vec<_>>>()?;
    if !names.is_empty() && parsed.len() > 1 {
        anyhow::bail!("--name needs a single SOURCE");
    }
    let store = at.open_or_create()?;
    let mut total =
        ImportReport { store: store.root().display().to_string(), ..Default::default() };
    let mut failed = false;
    for arg in &parsed {
        let mut options = ImportOptions { names: names.clone(), ..Default::default() };
        if let Some(j) = jobs {
            options.scan.parallelism = Parallelism::new(j);
        }
        let bar = super::progress_bar(arg, no_progress);
        if let Some(b) = &bar {
            let b = b.clone();
            options.scan.progress = Some(Arc::new(move |n| b.inc(n)));
        }
        let result = store.import(arg, &options);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        match result {
            Ok(r) => total.merge(r),
            Err(e) => {
                // As inspect does: the error (which names the source), then the next source;
                // exit status 2 at the end.
                eprintln!("ocisize: {e}");
                failed = true;
            }
        }
    }
    if json {
        print_json(&total)?;
    } else {
        let mut rows = vec![vec!["NAME".to_owned(), "DIGEST".to_owned(), "IMAGE ID".to_owned()]];
        for i in &total.images {
            rows.push(vec![
                i.name.clone(),
                i.digest.to_string(),
                i.image_id.map(|d| d.short()).unwrap_or_else(|| "-".into()),
            ]);
        }
        let mut out = io::stdout().lock();
        crate::table::write_rows(&mut out, &rows)?;
        writeln!(
            out,
            "{} blobs written ({}), {} present ({})",
            total.blobs_written,
            units::human(total.bytes_written),
            total.blobs_present,
            units::human(total.bytes_present)
        )?;
    }
    Ok(ExitCode::from(if failed { 2 } else { 0 }))
}

fn ls(at: &Where, json: bool) -> anyhow::Result<ExitCode> {
    let list = match at.path().map(|p| (Store::open(&p), p))? {
        (Ok(s), _) => s.list()?,
        // No store yet is an empty list.
        (Err(ocisize_store::StoreError::NotFound { .. }), _) => Vec::new(),
        (Err(e), p) => return Err(e).with_context(|| format!("opening the store {}", p.display())),
    };
    if json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows =
        vec![["NAME", "DIGEST", "IMAGE ID", "PLATFORMS", "SIZE"].map(String::from).to_vec()];
    for i in &list {
        rows.push(vec![
            i.name.clone(),
            i.digest.to_string(),
            i.image_id.map(|d| d.short()).unwrap_or_else(|| "-".into()),
            if i.platforms.is_empty() { "-".into() } else { i.platforms.join(",") },
            i.size.map(units::ctr).unwrap_or_else(|| "?".into()),
        ]);
    }
    crate::table::write_rows(&mut io::stdout().lock(), &rows)?;
    Ok(ExitCode::SUCCESS)
}

fn gc(at: &Where, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let store = at.open()?;
    let r = store.gc(dry_run)?;
    let removed: Vec<serde_json::Value> =
        r.removed.iter().map(|(d, s)| serde_json::json!({ "digest": d, "size": s })).collect();
    if json {
        print_json(&serde_json::json!({
            "dry_run": r.dry_run,
            "removed": removed,
            "bytes_reclaimed": r.bytes_reclaimed,
        }))?;
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for (d, s) in &r.removed {
            println!("{verb} {d} ({})", units::human(*s));
        }
        for i in &r.ingests_removed {
            println!("{verb} ingest {} ({})", i.path.display(), units::human(i.size));
        }
        println!("{} blobs, {} reclaimed", r.removed.len(), units::human(r.bytes_reclaimed));
    }
    Ok(ExitCode::SUCCESS)
}

fn fsck(at: &Where, json: bool) -> anyhow::Result<ExitCode> {
    let store = at.open()?;
    let r = store.fsck()?;
    let mut corrupt: Vec<serde_json::Value> = r
        .corrupt
        .iter()
        .map(|c| serde_json::json!({ "digest": c.digest, "message": c.message }))
        .collect();
    corrupt.extend(
        r.not_blobs.iter().map(|e| serde_json::json!({ "digest": null, "message": e.to_string() })),
    );
    if json {
        print_json(&serde_json::json!({
            "blobs_checked": r.blobs_checked,
            "bytes_checked": r.bytes_checked,
            "corrupt": corrupt,
            "missing": r.missing,
            "unreferenced": r.unreferenced,
        }))?;
    } else {
        for c in &r.corrupt {
            println!("corrupt      {}: {}", c.digest, c.message);
        }
        for e in &r.not_blobs {
            println!("corrupt      {e}");
        }
        for m in &r.missing {
            println!("missing      {} (referenced by {})", m.digest, m.referenced_by.join(", "));
        }
        for u in &r.unreferenced {
            println!("unreferenced {} ({})", u.digest, units::human(u.size));
        }
        println!(
            "{} blobs checked ({}): {} corrupt, {} missing, {} unreferenced",
            r.blobs_checked,
            units::human(r.bytes_checked),
            corrupt.len(),
            r.missing.len(),
            r.unreferenced.len()
        );
    }
    Ok(ExitCode::from(u8::from(!r.is_clean())))
}
