//! Small durable-file helpers: private files (0600), atomic replacement with fsync.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Create `path` with mode 0600 and `contents`; fails if it exists. Synced before returning.
pub(crate) fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Replace `path` atomically: write a temporary file beside it (0600), fsync it, rename it
/// over `path`, fsync the directory. A crash leaves either the old or the new contents.
pub(crate) fn replace_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    create_private(&tmp, contents)?;
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}
