//! Go's encodings as containerd stores them: `encoding/binary` varints and
//! `time.Time.MarshalBinary` timestamps.

use std::fmt;

/// Why a stored value could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a complete varint of at most ten bytes, or more than 64 bits.
    #[error("not a varint: {len} bytes")]
    Varint {
        /// The value's length.
        len: usize,
    },
    /// A size or count that is negative.
    #[error("negative value {0}")]
    Negative(i64),
    /// Not a Go `time.Time` binary encoding (version 1 or 2).
    #[error("not a Go binary timestamp: {len} bytes, version {version}")]
    Timestamp {
        /// The value's length.
        len: usize,
        /// The first byte (the encoding version).
        version: u8,
    },
    /// A name, label or string value that is not UTF-8.
    #[error("not UTF-8")]
    Utf8,
    /// A digest that does not parse.
    #[error("invalid digest: {0}")]
    Digest(#[from] ocisize_digest::ParseError),
    /// A field containerd always writes is missing.
    #[error("missing")]
    Missing,
    /// A value where a bucket belongs, or a bucket where a value belongs.
    #[error("a {found} where a {expected} belongs")]
    Shape {
        /// "bucket" or "value".
        expected: &'static str,
        /// "bucket" or "value".
        found: &'static str,
    },
}

/// Go's `binary.Uvarint`: LEB128, at most ten bytes, and the whole value must be used.
pub fn uvarint(v: &[u8]) -> Result<u64, DecodeError> {
    let err = DecodeError::Varint { len: v.len() };
    let mut x: u64 = 0;
    for (i, &b) in v.iter().enumerate() {
        if i == 9 && b > 1 {
            return Err(err); // more than 64 bits
        }
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return if i + 1 == v.len() { Ok(x) } else { Err(err) };
        }
        if i == 9 {
            break;
        }
    }
    Err(err)
}

/// Go's `binary.Varint`: zigzag over [`uvarint`].
pub fn varint(v: &[u8]) -> Result<i64, DecodeError> {
    let u = uvarint(v)?;
    let x = (u >> 1) as i64;
    Ok(if u & 1 != 0 { !x } else { x })
}

/// A non-negative Go `binary.Varint` (containerd's sizes and inode counts).
pub fn size(v: &[u8]) -> Result<u64, DecodeError> {
    let n = varint(v)?;
    u64::try_from(n).map_err(|_| DecodeError::Negative(n))
}

/// A timestamp as Go's `time.Time` keeps it: an instant and the zone offset it was
/// recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
    /// The zone offset east of UTC in seconds; `None` for UTC itself.
    pub offset_seconds: Option<i32>,
}

/// Seconds from 0001-01-01 (Go's internal epoch) to 1970-01-01 (Go `time.go`,
/// `unixToInternal`).
const UNIX_TO_INTERNAL: i64 = 62_135_596_800;

impl Timestamp {
    /// Decode Go's `time.Time.MarshalBinary`: version byte (1, or 2 with seconds in the
    /// offset), seconds since year 1 (`i64` big-endian), nanoseconds (`i32`), zone offset
    /// in minutes (`i16`, -1 for UTC), and for version 2 the offset's seconds (`i8`).
    pub fn from_go_binary(v: &[u8]) -> Result<Timestamp, DecodeError> {
        let version = v.first().copied().unwrap_or(0);
        let err = DecodeError::Timestamp { len: v.len(), version };
        let want = match version {
            1 => 15,
            2 => 16,
            _ => return Err(err),
        };
        if v.len() != want {
            return Err(err);
        }
        let mut sec = [0u8; 8];
        sec.copy_from_slice(&v[1..9]);
        let mut nsec = [0u8; 4];
        nsec.copy_from_slice(&v[9..13]);
        let nanos = u32::from_be_bytes(nsec);
        if nanos >= 1_000_000_000 {
            return Err(err);
        }
        let offset_min = i16::from_be_bytes([v[13], v[14]]);
        let offset_seconds = match offset_min {
            -1 => None,
            m => {
                let extra = if version == 2 { i32::from(v[15] as i8) } else { 0 };
                Some(i32::from(m) * 60 + extra)
            }
        };
        let unix_seconds = i64::from_be_bytes(sec).checked_sub(UNIX_TO_INTERNAL).ok_or(err)?;
        Ok(Timestamp { unix_seconds, nanos, offset_seconds })
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 with nanoseconds and trailing zeros trimmed, as Go's `time.RFC3339Nano` (and
/// so `ctr snapshots info`) prints it, in the zone it was recorded in.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = i64::from(self.offset_seconds.unwrap_or(0));
        let local = self.unix_seconds.saturating_add(offset);
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, mo, d) = civil_from_days(days);
        let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        match self.offset_seconds {
            None => f.write_str("Z"),
            Some(o) => {
                let sign = if o < 0 { '-' } else { '+' };
                let o = o.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Go's `binary.PutUvarint`.
    fn put_uvarint(mut x: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while x >= 0x80 {
            out.push(x as u8 | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
        out
    }

    #[test]
    fn go_varints() {
        // binary.PutVarint(814) and PutUvarint(9), as in the fixture.
        assert_eq!(varint(&[0xdc, 0x0c]), Ok(814));
        assert_eq!(varint(&[0x01]), Ok(-1));
        assert_eq!(size(&[0x01]), Err(DecodeError::Negative(-1)));
        assert_eq!(uvarint(&[0x09]), Ok(9));
        assert_eq!(uvarint(&[]), Err(DecodeError::Varint { len: 0 }));
        assert_eq!(uvarint(&[0x80]), Err(DecodeError::Varint { len: 1 }));
        assert_eq!(uvarint(&[0x01, 0x00]), Err(DecodeError::Varint { len: 2 }), "trailing byte");
        let max = put_uvarint(u64::MAX);
        assert_eq!(uvarint(&max), Ok(u64::MAX));
        let mut over = max.clone();
        over[9] = 2;
        assert!(uvarint(&over).is_err());
        assert!(uvarint(&[0xff; 11]).is_err());
    }

    proptest! {
        #[test]
        fn uvarint_round_trips(x in any::<u64>()) {
            prop_assert_eq!(uvarint(&put_uvarint(x)), Ok(x));
        }

        #[test]
        fn varint_round_trips(x in any::<i64>()) {
            let zigzag = ((x << 1) ^ (x >> 63)) as u64;
            prop_assert_eq!(varint(&put_uvarint(zigzag)), Ok(x));
        }

        #[test]
        fn decoders_never_panic(v in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = (uvarint(&v), varint(&v), Timestamp::from_go_binary(&v));
        }
    }

    #[test]
    fn go_binary_timestamps() {
        // time.Date(2026, 12, 1, 9, 32, 6, 418746915, time.UTC).MarshalBinary()
        let v = [1, 0, 0, 0, 0x0e, 0xe2, 0xa0, 0x8b, 0x16, 0x18, 0xf5, 0x92, 0x23, 0xff, 0xff];
        let t = Timestamp::from_go_binary(&v).unwrap();
        assert_eq!((t.unix_seconds, t.nanos, t.offset_seconds), (1_796_117_526, 418_746_915, None));
        assert_eq!(t.to_string(), "2026-12-01T09:32:06.418746915Z");
        let epoch = Timestamp { unix_seconds: 0, nanos: 0, offset_seconds: None };
        assert_eq!(epoch.to_string(), "1970-01-01T00:00:00Z");
        let t = Timestamp { unix_seconds: 951_782_400, nanos: 500_000_000, offset_seconds: None };
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.5Z");
        let t =
            Timestamp { unix_seconds: 0, nanos: 1, offset_seconds: Some(-(5 * 3600 + 30 * 60)) };
        assert_eq!(t.to_string(), "1969-12-31T18:30:00.000000001-05:30");
        assert!(Timestamp::from_go_binary(&v[..14]).is_err());
        let mut v3 = v;
        v3[0] = 3;
        assert!(Timestamp::from_go_binary(&v3).is_err());
    }
}
