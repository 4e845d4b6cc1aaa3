//! Tar header fields: octal and GNU base-256 numbers, NUL-terminated strings.

pub(crate) fn octal(field: &[u8]) -> Option<u64> {
    // Octal digits, possibly led by spaces and ended by NUL or space (GNU, BSD and Go accept
    // both). A field of only NULs/spaces is zero.
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&c| c == b' ')
        .take_while(|&c| c != 0 && c != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for c in s {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// A numeric field: octal, or GNU base-256 when the high bit of the first byte is set.
pub(crate) fn numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(&b) if b & 0x80 != 0 => {
            if b & 0x40 != 0 {
                return None; // negative
            }
            let mut v: u64 = u64::from(b & 0x3f);
            for &c in &field[1..] {
                v = v.checked_mul(256)?.checked_add(u64::from(c))?;
            }
            Some(v)
        }
        _ => octal(field),
    }
}

pub(crate) fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}
