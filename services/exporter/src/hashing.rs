//! A file writer that counts and SHA-256-hashes what passes through it, so the manifest's
//! sizes and checksums cost no second read of the files.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};

pub struct HashingWriter {
    file: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashingWriter {
    pub fn new(file: File) -> Self {
        Self { file: BufWriter::with_capacity(1 << 20, file), hasher: Sha256::new(), bytes: 0 }
    }

    /// Flushes and returns the file, the byte count and the lower-case hex SHA-256.
    pub fn finish(mut self) -> std::io::Result<(File, u64, String)> {
        self.file.flush()?;
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        Ok((file, self.bytes, hex::encode(self.hasher.finalize())))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The size and lower-case hex SHA-256 of a file, read in 1 MiB pieces.
pub fn sha256_of_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex::encode(hasher.finalize())))
}
