//! A small filesystem of a test's own, to find out what SRS does when the disk fills up: a
//! tmpfs mounted for the test (CI runs as root) and unmounted when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. "8m"); fails loudly without the right to mount.
    pub fn mount(size: &str) -> Self {
        let mount = tempfile::tempdir().expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "this test mounts a small tmpfs and needs root (as CI runs it)");
        Self { mount }
    }

    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Writes a file until the filesystem is full; removing it frees the space again.
    pub fn fill(&self) -> PathBuf {
        let path = self.mount.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.mount.path()).status();
    }
}
