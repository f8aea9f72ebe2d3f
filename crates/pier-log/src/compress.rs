//! Gzipping a rotated file a slice at a time, so the writer's caller (the
//! shim's event loop) never stalls for a whole file.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::files::{self, FileId};
use crate::LogError;

/// A rotated file being compressed to `<plain>.gz` through
/// `<plain>.gz.tmp`; on completion the tmp file is renamed and `plain`
/// removed. Dropped unfinished, it removes the tmp file and leaves `plain`.
#[derive(Debug)]
pub(crate) struct Compression {
    plain: PathBuf,
    tmp: PathBuf,
    gz: PathBuf,
    src: File,
    enc: Option<flate2::write::GzEncoder<File>>,
    buf: Vec<u8>,
}

impl Compression {
    pub(crate) fn start(plain: &Path) -> Result<Compression, LogError> {
        let err = |source| LogError::Compress {
            path: plain.to_path_buf(),
            source,
        };
        let src = File::open(plain).map_err(err)?;
        let id = FileId::of(&src).map_err(err)?;
        let len = src.metadata().map_err(err)?.len();
        let last = files::last_time(&src, len).map_or(String::new(), |t| format!(" last={t}"));
        let gz = with_suffix(plain, ".gz");
        let tmp = with_suffix(plain, ".gz.tmp");
        let out = File::create(&tmp).map_err(err)?;
        let enc = flate2::GzBuilder::new()
            .comment(format!(
                "pier-log dev={} ino={} birth={}{last}",
                id.dev, id.ino, id.birth
            ))
            .write(out, flate2::Compression::fast());
        Ok(Compression {
            plain: plain.to_path_buf(),
            tmp,
            gz,
            src,
            enc: Some(enc),
            buf: vec![0; 64 * 1024],
        })
    }

    /// Compresses up to `budget` more bytes; true once the file is done.
    pub(crate) fn step(&mut self, budget: usize) -> Result<bool, LogError> {
        let result = self.step_io(budget);
        result.map_err(|source| LogError::Compress {
            path: self.plain.clone(),
            source,
        })
    }

    fn step_io(&mut self, budget: usize) -> io::Result<bool> {
        let mut done = 0;
        while done < budget {
            let n = match self.src.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let Some(enc) = self.enc.as_mut() else {
                return Ok(true);
            };
            if n == 0 {
                let Some(enc) = self.enc.take() else {
                    return Ok(true);
                };
                enc.finish()?.sync_all()?;
                std::fs::rename(&self.tmp, &self.gz)?;
                std::fs::remove_file(&self.plain)?;
                return Ok(true);
            }
            enc.write_all(&self.buf[..n])?;
            done += n;
        }
        Ok(false)
    }

    /// Runs to completion.
    pub(crate) fn finish(mut self) -> Result<(), LogError> {
        while !self.step(usize::MAX)? {}
        Ok(())
    }
}

impl Drop for Compression {
    fn drop(&mut self) {
        if self.enc.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
