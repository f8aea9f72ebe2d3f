//! Detects how a layer stream is compressed (by magic number) and returns
//! the uncompressed stream.

use std::io::{self, BufReader, Cursor, Read};

use flate2::read::MultiGzDecoder;

use crate::error::ImageError;

/// The compressions a layer stream may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

const MAGIC_LEN: usize = 6;
/// Bodies often arrive in small reads (an HTTP body bridged from async);
/// tar reads 512-byte headers, so buffer in front of everything.
const BODY_BUF: usize = 64 * 1024;

/// Pure: which compression the first bytes announce.
pub(crate) fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else {
        Compression::None
    }
}

/// Reads the magic number off `body` and wraps it in the right decoder
/// (gzip and zstd are supported, as in OCI layers).
pub(crate) fn decompressed<'a, R: Read + 'a>(body: R) -> Result<Box<dyn Read + 'a>, ImageError> {
    let mut body = BufReader::with_capacity(BODY_BUF, body);
    let mut head = [0u8; MAGIC_LEN];
    let mut got = 0;
    while got < MAGIC_LEN {
        match body.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ImageError::invalid_archive(format!("read body: {e}"))),
        }
    }
    if got == 0 {
        return Err(ImageError::invalid_archive("empty body"));
    }
    let compression = detect(&head[..got]);
    let stream = Cursor::new(head[..got].to_vec()).chain(body);
    match compression {
        Compression::None => Ok(Box::new(stream)),
        Compression::Gzip => Ok(Box::new(MultiGzDecoder::new(stream))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(stream)
                .map_err(|e| ImageError::invalid_archive(format!("zstd: {e}")))?;
            Ok(Box::new(decoder))
        }
        other => Err(ImageError::invalid_archive(format!(
            "unsupported compression {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_magic_numbers() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(detect(b"\xfd7zXZ\x00"), Compression::Xz);
        assert_eq!(detect(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(detect(b"etc/"), Compression::None);
        assert_eq!(detect(b""), Compression::None);
    }

    #[test]
    fn gunzips_and_passes_plain_through() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello world").expect("write");
        let bytes = gz.finish().expect("finish");
        let mut out = String::new();
        decompressed(&bytes[..])
            .expect("gzip")
            .read_to_string(&mut out)
            .expect("read");
        assert_eq!(out, "hello world");
        let mut out = String::new();
        decompressed(&b"abc"[..])
            .expect("plain")
            .read_to_string(&mut out)
            .expect("read");
        assert_eq!(out, "abc");
        assert!(matches!(decompressed(&b""[..]), Err(ImageError::InvalidArchive { .. })));
    }
}
