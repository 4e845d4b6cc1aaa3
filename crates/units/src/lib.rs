//! Sizes exactly as container tools print them.
//!
//! docker, podman and crictl print sizes with docker/go-units' `HumanSizeWithPrecision`
//! (decimal units, Go's `%.*g`); ctr prints binary units with one decimal through
//! containerd's `progress.Bytes` (go-units `CustomSize("%02.1f %s", n, 1024, …)`). These
//! functions reproduce them to the character, including go-units' exponent quirk
//! (`999_999` bytes with precision 3 is `1e+03kB`). [`human`] is ocisize's own format, which
//! never uses an exponent.
//!
//! ```
//! assert_eq!(ocisize_units::docker(2_314_054), "2.31MB");
//! assert_eq!(ocisize_units::docker_df(2_314_054), "2.31MB"); // docker/cli >= 24.0
//! assert_eq!(ocisize_units::docker_df_v20(2_314_054), "2.314MB"); // docker/cli 20.10-23.0
//! assert_eq!(ocisize_units::docker_df_shared(2_314_054), "2.314MB");
//! assert_eq!(ocisize_units::podman(2_351_026), "2.35 MB");
//! assert_eq!(ocisize_units::ctr(2_350_093), "2.2 MiB");
//! assert_eq!(ocisize_units::docker(999_999), "1e+03kB");
//! assert_eq!(ocisize_units::human(999_999), "1.00 MB");
//! ```
#![deny(missing_docs)]

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `getSizeAndUnit`: divide by `base` while the value is at least `base` and
/// larger units remain.
fn size_and_unit(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i + 1 < units.len() {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// Go's `fmt.Sprintf("%.*g", precision, x)` for finite non-negative `x`.
///
/// Go rounds to `precision` significant digits, drops trailing zeros, and uses the
/// exponent form `d.ddde+XX` when the decimal exponent after rounding is below -4 or at
/// least the precision (strconv `FormatFloat` with `'g'`).
pub fn go_format_g(x: f64, precision: usize) -> String {
    let p = precision.max(1);
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return if x.is_nan() { "NaN".into() } else { "+Inf".into() };
    }
    // Rust's `{:e}` with a precision rounds the exact binary value to nearest, ties to
    // even, as Go's strconv does.
    let e = format!("{:.*e}", p - 1, x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i64;
    let dp = exp + 1;
    let mut eprec = p as i64;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let digit = |i: i64| -> char {
        usize::try_from(i).ok().and_then(|i| digits.get(i)).map_or('0', |&d| d as char)
    };
    if exp < -4 || exp >= eprec {
        let prec = (p as i64).min(nd);
        let mut s = String::new();
        s.push(digit(0));
        if prec > 1 {
            s.push('.');
            for i in 1..prec {
                s.push(digit(i));
            }
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.abs()));
        s
    } else {
        let prec = if p as i64 > dp { nd } else { p as i64 };
        let decimals = (prec - dp).max(0);
        let mut s = String::new();
        if dp > 0 {
            for i in 0..dp {
                s.push(digit(i));
            }
        } else {
            s.push('0');
        }
        if decimals > 0 {
            s.push('.');
            for i in 0..decimals {
                s.push(digit(dp + i));
            }
        }
        s
    }
}

/// docker/go-units `HumanSizeWithPrecision(size, precision)`.
pub fn go_human_size_with_precision(size: f64, precision: usize) -> String {
    let (v, unit) = size_and_unit(size, 1000.0, &DECIMAL);
    format!("{}{unit}", go_format_g(v, precision))
}

/// docker/go-units `HumanSize(size)`: precision 4.
pub fn go_human_size(size: f64) -> String {
    go_human_size_with_precision(size, 4)
}

/// The SIZE column of `docker images` (`HumanSizeWithPrecision(n, 3)`): `2.31MB`.
pub fn docker(size: u64) -> String {
    go_human_size_with_precision(size as f64, 3)
}

/// The SIZE column of the images section of `docker system df -v`, as docker/cli 24.0 and
/// later print it: `HumanSizeWithPrecision(n, 3)`, the same as `docker images` (`2.31MB`).
///
/// The verbose images table (`defaultDiskUsageImageTableFormat` in docker/cli
/// `cli/command/formatter/disk_usage.go`) names `{{.Size}}`, which `imageContext.Size` in
/// `cli/command/formatter/image.go` formats with precision 3. It named `{{.VirtualSize}}`
/// (`HumanSize`, precision 4) until docker/cli PR #4242; [`docker_df_v20`] is that form.
pub fn docker_df(size: u64) -> String {
    go_human_size_with_precision(size as f64, 3)
}

/// The SIZE column of the images section of `docker system df -v` as docker/cli 20.10 to
/// 23.0 print it: `{{.VirtualSize}}`, go-units `HumanSize` (precision 4): `2.314MB`.
pub fn docker_df_v20(size: u64) -> String {
    go_human_size(size as f64)
}

/// The SHARED SIZE column of `docker system df -v` (`imageContext.SharedSize`: `HumanSize`,
/// precision 4, in every docker/cli version since 1.13): `2.314MB`.
pub fn docker_df_shared(size: u64) -> String {
    go_human_size(size as f64)
}

/// The UNIQUE SIZE column of `docker system df -v` (`imageContext.UniqueSize`: `HumanSize`
/// of size minus shared size, precision 4, in every docker/cli version): `2.314MB`.
pub fn docker_df_unique(size: u64) -> String {
    go_human_size(size as f64)
}

/// The SIZE column of `crictl images` (`HumanSizeWithPrecision(n, 3)`): `2.35MB`.
pub fn crictl(size: u64) -> String {
    go_human_size_with_precision(size as f64, 3)
}

/// The SIZE column of `podman images`: `HumanSizeWithPrecision(n, 3)` with a space inserted
/// after the last digit (podman's `imageReporter.Size`): `2.35 MB`.
pub fn podman(size: u64) -> String {
    let s = go_human_size_with_precision(size as f64, 3);
    match s.rfind(|c: char| c.is_ascii_digit()) {
        Some(i) => format!("{} {}", &s[..=i], &s[i + 1..]),
        None => s,
    }
}

/// The SIZE column of `ctr images ls` (containerd `progress.Bytes`): binary units, one
/// decimal, `2.2 MiB`, `893.0 B`.
pub fn ctr(size: u64) -> String {
    let (v, unit) = size_and_unit(size as f64, 1024.0, &BINARY);
    // Go's "%02.1f": at least two characters, zero-padded; one decimal always gives three.
    format!("{v:.1} {unit}")
}

/// ctr's SIZE column of `ctr content ls` (`HumanSize`, precision 4): `1.996MB`.
pub fn ctr_content(size: u64) -> String {
    go_human_size(size as f64)
}

/// ocisize's own human format: decimal units, three significant digits, never an exponent
/// (`999_999` is `1.00 MB`, not go-units' `1e+03kB`).
pub fn human(size: u64) -> String {
    scaled(size, 1000.0, &DECIMAL)
}

/// ocisize's binary format: `2.24 MiB`.
pub fn human_binary(size: u64) -> String {
    scaled(size, 1024.0, &BINARY)
}

fn scaled(size: u64, base: f64, units: &[&'static str]) -> String {
    if size < base as u64 {
        return format!("{size} B");
    }
    let mut v = size as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    // Round to three significant digits first, so 999.6 kB becomes 1.00 MB, not 1000 kB.
    let decimals = |v: f64| {
        if v >= 100.0 {
            0
        } else if v >= 10.0 {
            1
        } else {
            2
        }
    };
    let mut text = format!("{:.*}", decimals(v), v);
    if text.parse::<f64>().unwrap_or(v) >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
        text = format!("{:.*}", decimals(v), v);
    }
    format!("{text} {}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_edge_cases() {
        let cases: &[(f64, usize, &str)] = &[
            (0.0, 3, "0"),
            (1.0, 3, "1"),
            (2.0, 3, "2"),
            (20.0, 3, "20"),
            (999.0, 3, "999"),
            (999.4, 3, "999"),
            (999.5, 3, "1e+03"),
            (1000.0, 3, "1e+03"),
            (2.314054, 3, "2.31"),
            (2.314054, 4, "2.314"),
            (1.164, 4, "1.164"),
            (1.54, 4, "1.54"),
            (347.136, 4, "347.1"),
            (3.072, 4, "3.072"),
            (1.0, 4, "1"),
            (0.00001234, 3, "1.23e-05"),
            (123456.0, 3, "1.23e+05"),
        ];
        for &(x, p, want) in cases {
            assert_eq!(go_format_g(x, p), want, "%.{p}g of {x}");
        }
    }

    /// Pairs from testdata/corpus/reference.json: docker inspect .Size → docker images SIZE,
    /// podman inspect .Size → podman images SIZE, ctr content ls exact bytes → SIZE,
    /// CRI size → ctr images ls SIZE.
    #[test]
    fn real_tool_output() {
        assert_eq!(docker(2_314_054), "2.31MB");
        assert_eq!(docker_df_v20(2_351_026), "2.351MB");
        assert_eq!(podman(2_351_026), "2.35 MB");
        assert_eq!(ctr(2_350_093), "2.2 MiB");
        assert_eq!(ctr(1_158_417), "1.1 MiB");
        assert_eq!(ctr(1_158_923), "1.1 MiB");
        for (bytes, printed) in [
            (1_996_288, "1.996MB"),
            (3072, "3.072kB"),
            (1164, "1.164kB"),
            (347_136, "347.1kB"),
            (1540, "1.54kB"),
            (893, "893B"),
        ] {
            assert_eq!(ctr_content(bytes), printed);
        }
    }

    /// `docker system df -v`, images section: SIZE with precision 3 (docker/cli >= 24.0),
    /// precision 4 (20.10 to 23.0); SHARED SIZE and UNIQUE SIZE with precision 4 in both.
    /// The strings are Go 1.19's `fmt.Sprintf("%.*g%s", p, v, unit)` after go-units'
    /// `getSizeAndUnit`, run on these byte counts; they include `%g`'s boundaries: where
    /// rounding reaches the next power of ten (`9.999kB` / `10kB`), where the exponent form
    /// starts (`999.5` with 3 digits is `1e+03`, with 4 digits `1000` still fits), exact
    /// binary ties (1.125 rounds to even, 1.375 up) and `u64::MAX`.
    #[test]
    fn docker_system_df_columns() {
        let cases: &[(u64, &str, &str)] = &[
            (0, "0B", "0B"),
            (1, "1B", "1B"),
            (999, "999B", "999B"),
            (1000, "1kB", "1kB"),
            (1121, "1.12kB", "1.121kB"),
            (1125, "1.12kB", "1.125kB"),
            (1135, "1.14kB", "1.135kB"),
            (1375, "1.38kB", "1.375kB"),
            (1500, "1.5kB", "1.5kB"),
            (9995, "9.99kB", "9.995kB"),
            (9999, "10kB", "9.999kB"),
            (10_000, "10kB", "10kB"),
            (99_949, "99.9kB", "99.95kB"),
            (99_950, "100kB", "99.95kB"),
            (99_994, "100kB", "99.99kB"),
            (99_995, "100kB", "100kB"),
            (999_499, "999kB", "999.5kB"),
            (999_500, "1e+03kB", "999.5kB"),
            (999_949, "1e+03kB", "999.9kB"),
            (999_950, "1e+03kB", "1000kB"),
            (999_999, "1e+03kB", "1000kB"),
            (1_000_000, "1MB", "1MB"),
            (1_000_500, "1MB", "1MB"),
            (1_005_000, "1MB", "1.005MB"),
            (2_314_054, "2.31MB", "2.314MB"),
            (4_097_152, "4.1MB", "4.097MB"),
            (4_100_000, "4.1MB", "4.1MB"),
            (12_345_678, "12.3MB", "12.35MB"),
            (123_456_789, "123MB", "123.5MB"),
            (999_500_000, "1e+03MB", "999.5MB"),
            (u64::MAX, "18.4EB", "18.45EB"),
        ];
        for &(n, p3, p4) in cases {
            assert_eq!(docker_df(n), p3, "docker_df({n})");
            assert_eq!(docker(n), p3, "docker({n}): df SIZE and docker images agree since 24.0");
            assert_eq!(docker_df_v20(n), p4, "docker_df_v20({n})");
            assert_eq!(docker_df_shared(n), p4, "docker_df_shared({n})");
            assert_eq!(docker_df_unique(n), p4, "docker_df_unique({n})");
        }
    }

    /// edge/reference.json: dockerd 20.10.24 (vfs) sized edge.skopeo.docker-archive.tar at
    /// 1,121 bytes; `docker images` printed `1.12kB` and the 20.10 client's
    /// `docker system df -v` SIZE printed `1.121kB`.
    #[test]
    fn docker_20_10_printed_the_edge_image() {
        assert_eq!(docker(1121), "1.12kB");
        assert_eq!(docker_df_v20(1121), "1.121kB");
        assert_eq!(docker_df(1121), "1.12kB");
    }

    #[test]
    fn go_units_exponent_quirk_is_reproduced_and_ours_avoids_it() {
        assert_eq!(docker(999_999), "1e+03kB");
        assert_eq!(podman(999_999), "1e+03 kB");
        assert_eq!(human(999_999), "1.00 MB");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1000), "1.00 kB");
        assert_eq!(human(2_350_093), "2.35 MB");
        assert_eq!(human_binary(2_350_093), "2.24 MiB");
        assert_eq!(human(u64::MAX), "18.4 EB");
        assert_eq!(docker(u64::MAX), "18.4EB");
    }

    proptest::proptest! {
        #[test]
        fn human_never_uses_an_exponent(n in proptest::num::u64::ANY) {
            let s = human(n);
            proptest::prop_assert!(!s.contains('e'), "{}", s);
            let (num, unit) = s.split_once(' ').unwrap();
            let idx = DECIMAL.iter().position(|u| *u == unit).unwrap();
            let back = num.parse::<f64>().unwrap() * 1000f64.powi(idx as i32);
            let rel = (back - n as f64).abs() / (n as f64).max(1.0);
            proptest::prop_assert!(rel < 0.006, "{} -> {} ({})", n, s, rel);
        }
    }
}
