//! `ocisize du`: the image stores of this node together, the images held more than once,
//! and what removing the extra copies would free.

use std::io::{self, Write};
use std::process::ExitCode;

use ocisize::du::{DuOptions, DuReport, DuSource, Keep, PodmanRule, StoreKind};
use ocisize::units;

/// The arguments of `ocisize du`.
#[derive(Debug, clap::Args)]
pub struct DuArgs {
    /// Stores: `docker-root:DIR`, `containerd-root:DIR`, `containers-storage:DIR`, or any
    /// source `inspect` reads (archives, OCI layouts, ocisize stores). None: every
    /// well-known root that exists on this host.
    #[arg(value_name = "SOURCE")]
    sources: Vec<String>,
    /// The copy of a duplicated image to keep: `docker`, `containerd`, `podman` or a store's
    /// path (default: the copy whose removal frees the most).
    #[arg(long, value_name = "docker|containerd|podman|PATH")]
    keep: Option<String>,
    /// The podman rule for containers-storage figures (default: from the store).
    #[arg(long, value_name = "4|5", value_parser = ["4", "5"])]
    podman_rule: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `ocisize du`.
pub fn run(args: &DuArgs) -> anyhow::Result<ExitCode> {
    let sources: Vec<DuSource> = match crate::parse_all(&args.sources) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let mut options = DuOptions::default();
    options.keep = args.keep.as_deref().map(|k| k.parse::<Keep>()).transpose()?;
    options.podman_rule = match args.podman_rule.as_deref() {
        Some("4") => Some(PodmanRule::V4),
        Some(_) => Some(PodmanRule::V5),
        None => None,
    };
    let report = match ocisize::du(&sources, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ocisize: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    crate::emit(args.json, &report, write_table)?;
    Ok(ExitCode::SUCCESS)
}

fn kind_name(k: StoreKind) -> &'static str {
    match k {
        StoreKind::Docker => "docker",
        StoreKind::Containerd => "containerd",
        StoreKind::ContainersStorage => "containers-storage",
        StoreKind::OcisizeStore => "ocisize-store",
        StoreKind::Archive => "archive",
        _ => "oci-layout",
    }
}

/// A size as the store's runtime prints it.
fn printed(k: StoreKind, n: u64) -> String {
    match k {
        StoreKind::Docker => units::docker(n),
        StoreKind::ContainersStorage => units::podman(n),
        // `ctr images ls`, then `crictl images` (the kubelet's namespace shows both).
        StoreKind::Containerd => format!("{} / {}", units::ctr(n), units::crictl(n)),
        _ => units::ctr(n),
    }
}

fn write_table<W: Write>(w: &mut W, r: &DuReport) -> io::Result<()> {
    if r.stores.is_empty() {
        writeln!(w, "no image stores found")?;
    }
    for s in &r.stores {
        let ns = s.namespace.as_deref().map(|n| format!(" namespace {n}")).unwrap_or_default();
        let du = s.disk_usage.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        writeln!(
            w,
            "{} {}{ns} ({}): size {} ({}), disk usage {du}",
            kind_name(s.kind),
            s.path.display(),
            s.driver,
            s.size,
            printed(s.kind, s.size),
        )?;
        let mut rows = vec![vec![
            "NAME".to_owned(),
            "IMAGE ID".into(),
            "SIZE".into(),
            "PRINTED".into(),
            "SHARED".into(),
            "UNIQUE".into(),
            "FREES".into(),
        ]];
        for i in &s.images {
            let name = i.names.first().cloned().unwrap_or_else(|| "<none>".into());
            rows.push(vec![
                name,
                i.image_id.hex().chars().take(12).collect(),
                i.size.to_string(),
                printed(s.kind, i.size),
                i.shared_size.to_string(),
                i.unique_size.to_string(),
                i.frees.to_string(),
            ]);
        }
        rows_out(w, &rows)?;
        writeln!(w)?;
    }
    if !r.duplicates.is_empty() {
        writeln!(w, "DUPLICATES")?;
        for d in &r.duplicates {
            let names = if d.names.is_empty() { "<none>".into() } else { d.names.join(", ") };
            writeln!(
                w,
                "  {} {names}: reclaimable {}{}",
                d.image_id,
                d.reclaimable,
                together(d.reclaimable, d.reclaimable_together)
            )?;
            for c in &d.copies {
                let ns = c.namespace.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
                let kept = if c.kept { " kept" } else { "" };
                writeln!(w, "    {}{ns}: frees {}{kept}", c.path.display(), c.frees)?;
            }
        }
        writeln!(w)?;
    }
    writeln!(w, "disk usage {} ({})", r.disk_usage, units::docker(r.disk_usage))?;
    writeln!(
        w,
        "reclaimable {} ({}){}",
        r.reclaimable,
        units::docker(r.reclaimable),
        together(r.reclaimable, r.reclaimable_together)
    )
}

/// `, together N (X)` when removing the copies together frees more than each alone.
fn together(alone: u64, together: u64) -> String {
    if together == alone {
        String::new()
    } else {
        format!(", {together} ({}) removing them together", units::docker(together))
    }
}

fn rows_out<W: Write>(w: &mut W, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(s, n)| format!("{s:<n$}")).collect();
        writeln!(w, "  {}", line.join("  ").trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::together;

    #[test]
    fn the_together_figure_shows_only_when_it_differs() {
        assert_eq!(together(4_874_240, 4_874_240), "");
        assert_eq!(together(4_874_240, 7_224_333), ", 7224333 (7.22MB) removing them together");
    }
}
