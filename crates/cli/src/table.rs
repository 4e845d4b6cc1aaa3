//! Human output: a summary table, the figures as each tool prints them, layers, problems.

use std::io::{self, Write};

use ocisize::units::human;
use ocisize::{ChangeKind, DiffReport, FileState, FileWaste, ImageReport, Report, Severity};

fn opt(v: Option<u64>) -> String {
    v.map(human).unwrap_or_else(|| "?".into())
}

fn name_of(i: &ImageReport) -> String {
    i.familiar_names
        .first()
        .cloned()
        .or_else(|| i.ref_names.first().map(|t| format!("{t} (ref.name)")))
        .unwrap_or_else(|| "<none>".into())
}

/// Write one report as a table.
pub fn write_report<W: Write>(w: &mut W, r: &Report, layers: bool) -> io::Result<()> {
    writeln!(w, "{} ({}, compression {})", r.source.path, r.source.format, r.source.compression)?;
    let header = [
        "IMAGE",
        "ID",
        "PLATFORM",
        "LAYERS",
        "COMPRESSED",
        "UNCOMPRESSED",
        "DOCKER",
        "PODMAN",
        "CONTAINERD",
        "VERIFIED",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for i in &r.images {
        rows.push(vec![
            name_of(i),
            i.image_id.map(|d| d.short()).unwrap_or_else(|| "?".into()),
            i.platform.clone().unwrap_or_else(|| "?".into()),
            i.layers.len().to_string(),
            opt(i.sizes.compressed),
            opt(i.sizes.uncompressed),
            opt(i.sizes.docker_vfs),
            opt(i.sizes.podman),
            opt(i.sizes.containerd),
            if i.verified { "yes".into() } else { "NO".into() },
        ]);
    }
    write_rows(w, &rows)?;
    for i in &r.images {
        writeln!(w)?;
        writeln!(w, "{} {}", name_of(i), i.platform.as_deref().unwrap_or(""))?;
        for n in &i.names {
            writeln!(w, "  name            {n}")?;
        }
        if let Some(d) = i.image_id {
            writeln!(w, "  image id        {d}")?;
        }
        if let Some(d) = i.manifest_digest {
            writeln!(w, "  manifest        {d}")?;
        }
        if let Some(d) = i.index_digest {
            writeln!(w, "  index           {d}")?;
        }
        // Shown where a runtime lists the image by a manifest it writes itself (a legacy
        // docker-archive), which is in no file of the source.
        let top = i.index_digest.or(i.manifest_digest);
        let listed = [
            ("ctr images ls  ", i.runtime_digests.containerd),
            ("podman digest  ", i.runtime_digests.podman),
        ];
        for (label, d) in listed {
            if let Some(d) = d.filter(|d| Some(*d) != top) {
                writeln!(w, "  {label} {d}")?;
            }
        }
        let p = &i.printed;
        let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "?".into());
        writeln!(
            w,
            "  as printed by   docker images {} | docker system df -v {} (docker 20.10: {}) | podman images {} | ctr images ls {} | crictl images {}",
            show(&p.docker), show(&p.docker_df), show(&p.docker_df_v20), show(&p.podman),
            show(&p.ctr), show(&p.crictl)
        )?;
        writeln!(
            w,
            "  exact bytes     docker (vfs) {} | docker (overlay2) {} | podman {} | containerd {} | compressed {} | uncompressed {}",
            exact(i.sizes.docker_vfs), exact(i.sizes.docker_overlay2), exact(i.sizes.podman),
            exact(i.sizes.containerd), exact(i.sizes.compressed), exact(i.sizes.uncompressed)
        )?;
        if let Some(f) = &i.files {
            write_files(w, f)?;
        }
        if layers {
            let mut rows = vec![[
                "LAYER",
                "COMPRESSION",
                "COMPRESSED",
                "UNCOMPRESSED",
                "FILES",
                "DIRS",
                "LINKS",
                "WHITEOUTS",
                "DIFF ID",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()];
            for l in &i.layers {
                let f = l.files.clone().unwrap_or_default();
                rows.push(vec![
                    l.digest.map(|d| d.short()).unwrap_or_else(|| "?".into()),
                    l.compression.map(|c| c.name().to_string()).unwrap_or_else(|| "?".into()),
                    opt(l.compressed_size),
                    opt(l.uncompressed_size),
                    f.files.to_string(),
                    f.dirs.to_string(),
                    (f.symlinks + f.hardlinks).to_string(),
                    (f.whiteouts + f.opaque_dirs).to_string(),
                    l.diff_id.map(|d| d.short()).unwrap_or_else(|| "?".into()),
                ]);
            }
            let mut buf = Vec::new();
            write_rows(&mut buf, &rows)?;
            for line in String::from_utf8_lossy(&buf).lines() {
                writeln!(w, "  {line}")?;
            }
        }
    }
    write_artifacts(w, r)?;
    write_problems(w, &r.problems)
}

/// `--files`: one short section per image.
fn write_files<W: Write>(w: &mut W, f: &FileWaste) -> io::Result<()> {
    writeln!(
        w,
        "  files           wasted {} ({} bytes in {} hidden copies, of {} written) | dive efficiency {:.4}% | dive wasted {}",
        human(f.wasted_bytes),
        f.wasted_bytes,
        f.hidden_copies,
        human(f.written_bytes),
        f.efficiency.0 * 100.0,
        human(f.dive_wasted_bytes)
    )?;
    if f.top.is_empty() {
        return Ok(());
    }
    let mut rows = vec![["WASTED", "COPIES", "PATH"].iter().map(|s| s.to_string()).collect()];
    for t in &f.top {
        rows.push(vec![human(t.wasted_bytes), t.copies.to_string(), format!("/{}", t.path)]);
    }
    indented(w, &rows)
}

fn indented<W: Write>(w: &mut W, rows: &[Vec<String>]) -> io::Result<()> {
    let mut buf = Vec::new();
    write_rows(&mut buf, rows)?;
    for line in String::from_utf8_lossy(&buf).lines() {
        writeln!(w, "  {line}")?;
    }
    Ok(())
}

/// `ocisize diff`: both images, their layers, then the file changes.
pub fn write_diff<W: Write>(w: &mut W, d: &DiffReport) -> io::Result<()> {
    for (label, i) in [("A", &d.a), ("B", &d.b)] {
        writeln!(
            w,
            "{label}  {} {} {} ({} layers{})",
            i.source,
            i.name.as_deref().unwrap_or("<none>"),
            i.platform.as_deref().unwrap_or("?"),
            i.layers,
            if i.verified { "" } else { ", NOT verified" }
        )?;
    }
    let l = &d.layers;
    writeln!(
        w,
        "\nlayers: {} in common ({} shared from the base), {} only in A, {} only in B",
        l.common.len(),
        l.common_prefix,
        l.only_a.len(),
        l.only_b.len()
    )?;
    let mut rows = vec![["", "DIFF ID", "UNCOMPRESSED"].iter().map(|s| s.to_string()).collect()];
    for (mark, v) in [("=", &l.common), ("A", &l.only_a), ("B", &l.only_b)] {
        for x in v.iter() {
            rows.push(vec![mark.into(), x.diff_id.to_string(), opt(x.uncompressed_size)]);
        }
    }
    indented(w, &rows)?;
    match &d.files {
        None => writeln!(w, "\nfiles: unknown (a layer could not be read)")?,
        Some(f) => {
            writeln!(
                w,
                "\nfiles: {} added ({}), {} removed ({}), {} modified ({:+} bytes; {} in content only), {} unchanged",
                f.added,
                human(f.added_bytes),
                f.removed,
                human(f.removed_bytes),
                f.modified,
                f.modified_delta_bytes,
                f.content_modified,
                f.unchanged
            )?;
            for c in &f.changes {
                let state = |s: &Option<FileState>| match s {
                    Some(s) => match &s.link {
                        Some(l) => format!("{} -> {l}", s.kind),
                        None => format!("{} {}", s.kind, s.size),
                    },
                    None => String::new(),
                };
                let (mark, what) = match c.change {
                    ChangeKind::Added => ("+", state(&c.b)),
                    ChangeKind::Removed => ("-", state(&c.a)),
                    ChangeKind::Modified => {
                        let why: Vec<&str> = c.reasons.iter().map(|r| r.name()).collect();
                        let (a, b) = (state(&c.a), state(&c.b));
                        ("~", format!("{a} => {b} ({})", why.join(", ")))
                    }
                };
                writeln!(w, "  {mark} /{}  {what}", c.path)?;
            }
            if f.truncated {
                writeln!(w, "  … more changes not listed (--max-changes)")?;
            }
        }
    }
    write_problems(w, &d.problems)
}

fn write_problems<W: Write>(w: &mut W, problems: &[ocisize::Problem]) -> io::Result<()> {
    if !problems.is_empty() {
        writeln!(w)?;
        for p in problems {
            let sev = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let at = match (&p.file, &p.member) {
                (Some(f), Some(m)) => format!("{f}: {m}: "),
                (Some(f), None) => format!("{f}: "),
                _ => String::new(),
            };
            writeln!(w, "{sev} [{}]: {at}{}", p.kind, p.message)?;
        }
    }
    Ok(())
}

fn write_artifacts<W: Write>(w: &mut W, r: &Report) -> io::Result<()> {
    if r.artifacts.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    let mut rows = vec![["ARTIFACT", "TYPE", "REFERS TO", "BLOBS", "SIZE", "VERIFIED"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    for a in &r.artifacts {
        let refers = match (a.refers_to_image, a.refers_to) {
            (Some(id), _) => format!("image {}", id.short()),
            (None, Some(d)) => format!("{} (not here)", d.short()),
            (None, None) => "-".into(),
        };
        rows.push(vec![
            a.manifest_digest.short(),
            a.artifact_type.as_ref().map_or_else(|| "?".into(), ToString::to_string),
            refers,
            a.blobs.len().to_string(),
            opt(a.size),
            if a.verified { "yes".into() } else { "NO".into() },
        ]);
    }
    write_rows(w, &rows)
}

fn exact(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

pub(crate) fn write_rows<W: Write>(w: &mut W, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}
