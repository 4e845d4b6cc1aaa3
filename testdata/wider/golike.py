"""Byte-level helpers that write what Go's encoding/json and archive/tar write.

Used by gen.py to produce, byte for byte, the archives and documents of tools that are not
packaged here (crane/kaniko, moby 25, oras, helm, cosign, buildkit). Every one of those tools
is written in Go and serialises with these two packages, so matching them is what makes a
scripted fixture identical to the tool's output:

- encoding/json `Marshal`: compact, struct fields in declaration order (the callers build
  dicts in that order), map keys sorted, `omitempty` fields left out by the caller, `[]byte`
  as standard base64, `<`, `>`, `&` escaped as `\\u003c` etc. (never present here, asserted).
  `MarshalIndent(v, "", indent)` puts `": "` after keys and one element per line, which is
  what `json.dumps(indent=..., separators=(",", ": "))` prints for non-empty containers;
  Go prints empty containers as `[]` / `{}`, as Python does.
- json.Encoder.Encode: Marshal plus a trailing newline.
- archive/tar `Writer` (Go 1.x, FormatUnknown → USTAR when every field fits, as here): a
  512-byte header per entry (numeric fields octal, zero padded, NUL terminated; checksum
  six octal digits, NUL, space), the body padded to 512, and `Close` writing two zero blocks
  and nothing else (no 10 KiB record padding, unlike Python's tarfile).
"""

import hashlib
import json


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def digest(b: bytes) -> str:
    return "sha256:" + sha256(b)


def _check(s: str) -> str:
    # Go's HTML-safe escaping would differ from Python's output for these characters.
    assert not any(c in s for c in "<>&\u2028\u2029"), s
    assert s.isascii(), s
    return s


def marshal(obj) -> bytes:
    """encoding/json.Marshal"""
    return _check(json.dumps(obj, separators=(",", ":"))).encode()


def marshal_indent(obj, indent: str) -> bytes:
    """encoding/json.MarshalIndent(obj, "", indent)"""
    return _check(json.dumps(obj, indent=len(indent), separators=(",", ": "))).encode()


def encode(obj) -> bytes:
    """json.NewEncoder(w).Encode(obj)"""
    return marshal(obj) + b"\n"


def sorted_map(d: dict) -> dict:
    """A Go map: encoding/json writes its keys in sorted order."""
    return {k: d[k] for k in sorted(d)}


def _octal(value: int, width: int) -> bytes:
    # archive/tar formatOctal: zero padded to width-1 digits, then NUL.
    s = format(value, "o")
    assert len(s) < width, (value, width)
    return s.rjust(width - 1, "0").encode() + b"\0"


def _field(s: str, width: int) -> bytes:
    b = s.encode()
    assert len(b) <= width, s
    return b + b"\0" * (width - len(b))


def tar_header(name, size, mode, typeflag=b"0", mtime=0, uname="", gname="", linkname=""):
    """One USTAR header as archive/tar's Writer.WriteHeader writes it."""
    h = bytearray(512)
    h[0:100] = _field(name, 100)
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)  # uid
    h[116:124] = _octal(0, 8)  # gid
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:257] = _field(linkname, 100)
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[265:297] = _field(uname, 32)
    h[297:329] = _field(gname, 32)
    h[329:337] = _octal(0, 8)  # devmajor
    h[337:345] = _octal(0, 8)  # devminor
    chksum = sum(h)
    h[148:155] = _octal(chksum, 7)
    h[155:156] = b" "
    return bytes(h)


class TarWriter:
    """archive/tar.Writer over a file: add() = WriteHeader + Write, close() = Close."""

    def __init__(self, path):
        self.f = open(path, "wb")

    def add(self, name, data: bytes, **hdr):
        self.f.write(tar_header(name, len(data), **hdr))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 512))

    def add_dir(self, name, **hdr):
        self.f.write(tar_header(name, 0, typeflag=b"5", **hdr))

    def close(self):
        self.f.write(b"\0" * 1024)
        self.f.close()


def read_tar_members(path):
    """(header bytes, name, body) for every entry of a plain tar, in order."""
    out = []
    data = open(path, "rb").read()
    off = 0
    while off + 512 <= len(data):
        h = data[off : off + 512]
        if h == b"\0" * 512:
            break
        name = h[0:100].rstrip(b"\0").decode()
        size = int(h[124:136].strip(b"\0 ") or b"0", 8)
        out.append((h, name, data[off + 512 : off + 512 + size]))
        off += 512 + (size + 511) // 512 * 512
    return out


def reheader(h: bytes, name: str, size: int) -> bytes:
    """The same USTAR header with another name and size (checksum recomputed)."""
    b = bytearray(h)
    b[0:100] = _field(name, 100)
    b[124:136] = _octal(size, 12)
    b[148:156] = b" " * 8
    b[148:155] = _octal(sum(b), 7)
    b[155:156] = b" "
    return bytes(b)
