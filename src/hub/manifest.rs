//! `precis-manifest.json`: what a pulled directory holds and where it came from. Written last
//! by a pull; its presence makes the directory a pulled model that the catalog serves.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PulledRole, RemoteFile};

pub const MANIFEST_FILE: &str = "precis-manifest.json";
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The repository id, OWNER/NAME: the model's id in precis.
    pub id: String,
    pub hub: String,
    /// As asked for (branch, tag or commit)…
    pub revision: String,
    /// …and the commit it pointed at.
    pub commit: String,
    pub model_type: String,
    #[serde(flatten)]
    pub role: PulledRole,
    /// Every file fetched, with the size and hash the hub listed.
    pub files: Vec<FileRecord>,
    pub weights: WeightsRecord,
    pub pulled_at_unix: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    #[serde(flatten)]
    pub file: RemoteFile,
    /// False for the original weights, removed once converted.
    pub kept: bool,
    /// Set when precis rewrote the file for rust-bert (config.json of some Marian models): its
    /// size on disk. The hub's size and hash above are what was downloaded and checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_size: Option<u64>,
}

/// rust-bert's weights file, made from the repository's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsRecord {
    pub path: String,
    pub size: u64,
    pub converted_from: String,
}

pub fn write(dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(MANIFEST_FILE), text + "\n")
}

/// The manifest of a pulled directory, or why it cannot be read.
pub fn read(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|error| {
        format!(
            "{} is not a precis manifest ({error}); remove the directory and pull the model again",
            path.display()
        )
    })?;
    if manifest.format != FORMAT {
        return Err(format!(
            "{} has manifest format {}, this precis reads {FORMAT}; pull the model again",
            path.display(),
            manifest.format
        ));
    }
    Ok(manifest)
}

/// Checks that every file the manifest lists is there with its size (hashes were checked at
/// pull time; sizes catch a truncated or deleted file at start-up without reading gigabytes).
pub fn check_complete(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    let expected = manifest
        .files
        .iter()
        .filter(|record| record.kept)
        .map(|record| {
            (
                record.file.path.as_str(),
                record.local_size.unwrap_or(record.file.size),
            )
        })
        .chain(std::iter::once((
            manifest.weights.path.as_str(),
            manifest.weights.size,
        )));
    for (path, size) in expected {
        match std::fs::metadata(dir.join(path)) {
            Err(_) => return Err(format!("{path} is missing")),
            Ok(meta) if meta.len() != size => {
                return Err(format!(
                    "{path} has {} bytes, the manifest says {size}",
                    meta.len()
                ))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}
