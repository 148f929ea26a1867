//! The hub's HTTP API, as Hugging Face serves it: the repository listing and file downloads
//! (with Range to resume), and the checks of a downloaded file against the listing.
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha1::Digest as _;

use super::{Checksum, HubError, RemoteFile};

/// How often a download that keeps making progress may be resumed within one pull.
const MAX_RESUMES: usize = 20;
/// Consecutive attempts that bring no new byte before a download gives up.
const MAX_FRUITLESS_ATTEMPTS: usize = 3;

/// One blocking HTTP client for one hub.
pub struct HubClient {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

/// What the hub says a revision of a repository holds.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The commit the revision points at: every file is fetched from it.
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

impl HubClient {
    pub fn new(
        base: &str,
        token: Option<String>,
        connect_timeout: Duration,
    ) -> Result<Self, HubError> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(connect_timeout)
            // A whole request, body included: a stalled transfer ends and is resumed.
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("precis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| HubError::Unreachable {
                url: base.into(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.filter(|token| !token.is_empty()),
            http,
        })
    }

    fn get(&self, url: &str) -> reqwest::blocking::RequestBuilder {
        let request = self.http.get(url);
        match &self.token {
            // reqwest drops this header when a redirect leaves the hub's host.
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::blocking::Response, HubError> {
        request.send().map_err(|error| HubError::Unreachable {
            url: url.into(),
            reason: describe(&error),
        })
    }

    fn json(&self, url: &str, repo: &str, revision: &str) -> Result<serde_json::Value, HubError> {
        let response = self.send(self.get(url), url)?;
        let response = check_status(response, url, repo, revision)?;
        let body = response.text().map_err(|error| HubError::Unreachable {
            url: url.into(),
            reason: describe(&error),
        })?;
        serde_json::from_str(&body).map_err(|error| HubError::BadListing {
            url: url.into(),
            reason: format!("not JSON ({error})"),
        })
    }

    /// The commit of `revision` and every file of the repository at it, with sizes and hashes.
    pub fn listing(&self, repo: &str, revision: &str) -> Result<Listing, HubError> {
        let url = format!("{}/api/models/{repo}/revision/{revision}", self.base);
        let info = self.json(&url, repo, revision)?;
        let commit = info
            .get("sha")
            .and_then(|sha| sha.as_str())
            .filter(|sha| !sha.is_empty() && sha.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| HubError::BadListing {
                url: url.clone(),
                reason: "no commit \"sha\"".into(),
            })?
            .to_string();
        let url = format!(
            "{}/api/models/{repo}/tree/{commit}?recursive=true",
            self.base
        );
        let tree = self.json(&url, repo, revision)?;
        let entries = tree.as_array().ok_or_else(|| HubError::BadListing {
            url: url.clone(),
            reason: "the tree is not a list".into(),
        })?;
        let mut files = Vec::new();
        for entry in entries {
            if entry.get("type").and_then(|t| t.as_str()) != Some("file") {
                continue;
            }
            files.push(remote_file(entry).map_err(|reason| HubError::BadListing {
                url: url.clone(),
                reason,
            })?);
        }
        Ok(Listing { commit, files })
    }

    /// Downloads `file` into `partial`, resuming from the bytes already there (HTTP Range),
    /// and again after a dropped connection as long as bytes keep arriving.
    pub fn download(
        &self,
        repo: &str,
        commit: &str,
        file: &RemoteFile,
        partial: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), HubError> {
        let url = format!("{}/{repo}/resolve/{commit}/{}", self.base, file.path);
        let io = |error: std::io::Error| super::io_error(partial, &error);
        let mut have = std::fs::metadata(partial).map_or(0, |m| m.len());
        if have > file.size {
            std::fs::remove_file(partial).map_err(io)?;
            have = 0;
        }
        let mut fruitless = 0;
        let mut last_error = String::new();
        for _ in 0..MAX_RESUMES {
            if have == file.size {
                return Ok(());
            }
            let before = have;
            match self.transfer(&url, repo, commit, partial, have, progress) {
                Ok(now) => have = now,
                Err(Transfer::Fatal(error)) => return Err(error),
                Err(Transfer::Dropped { have: now, reason }) => {
                    tracing::warn!(file = %file.path, bytes = now, %reason, "download interrupted; resuming");
                    have = now;
                    last_error = reason;
                }
            }
            if have > file.size {
                // More bytes than listed: verification will say so.
                return Ok(());
            }
            fruitless = if have == before { fruitless + 1 } else { 0 };
            if fruitless >= MAX_FRUITLESS_ATTEMPTS {
                break;
            }
        }
        if have == file.size {
            return Ok(());
        }
        Err(HubError::Interrupted {
            repo: repo.into(),
            file: file.path.clone(),
            done: have,
            size: file.size,
            reason: if last_error.is_empty() {
                "the hub sent less than the listed size".into()
            } else {
                last_error
            },
            partial: partial.to_path_buf(),
        })
    }

    /// One request: appends to `partial` from byte `have`; returns the bytes now held.
    fn transfer(
        &self,
        url: &str,
        repo: &str,
        commit: &str,
        partial: &Path,
        have: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Transfer> {
        let mut request = self.get(url);
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let response = match request.send() {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Err(Transfer::Fatal(HubError::Unreachable {
                    url: url.into(),
                    reason: describe(&error),
                }))
            }
            Err(error) => {
                return Err(Transfer::Dropped {
                    have,
                    reason: describe(&error),
                })
            }
        };
        let status = response.status().as_u16();
        let resumed = status == 206 && have > 0;
        if status == 416 || (status == 206 && !content_range_starts_at(&response, have)) {
            // The partial file does not fit what the hub has: start over.
            let _ = std::fs::remove_file(partial);
            return Err(Transfer::Dropped {
                have: 0,
                reason: format!("HTTP {status} for a resumed download; starting over"),
            });
        }
        let mut response = check_status(response, url, repo, commit).map_err(Transfer::Fatal)?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(partial)
            .map_err(|e| Transfer::Fatal(super::io_error(partial, &e)))?;
        let mut have = if resumed { have } else { 0 };
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = match response.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    flush(&mut out, partial).map_err(Transfer::Fatal)?;
                    return Err(Transfer::Dropped {
                        have,
                        reason: error.to_string(),
                    });
                }
            };
            out.write_all(&buffer[..read])
                .map_err(|e| Transfer::Fatal(super::io_error(partial, &e)))?;
            have += read as u64;
            progress(have);
        }
        flush(&mut out, partial).map_err(Transfer::Fatal)?;
        Ok(have)
    }
}

enum Transfer {
    /// Worth resuming: the bytes held so far.
    Dropped {
        have: u64,
        reason: String,
    },
    Fatal(HubError),
}

fn flush(out: &mut std::fs::File, path: &Path) -> Result<(), HubError> {
    out.flush()
        .and_then(|()| out.sync_data())
        .map_err(|e| super::io_error(path, &e))
}

fn content_range_starts_at(response: &reqwest::blocking::Response, start: u64) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("bytes "))
        .and_then(|range| range.split('-').next())
        .and_then(|first| first.trim().parse::<u64>().ok())
        == Some(start)
}

fn check_status(
    response: reqwest::blocking::Response,
    url: &str,
    repo: &str,
    revision: &str,
) -> Result<reqwest::blocking::Response, HubError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let code = status.as_u16();
    Err(match code {
        401 | 403 => HubError::Denied {
            url: url.into(),
            repo: repo.into(),
            status: code,
        },
        404 => HubError::NotFound {
            url: url.into(),
            repo: repo.into(),
            revision: revision.into(),
        },
        _ => {
            let body: String = response
                .text()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            HubError::Http {
                url: url.into(),
                status: code,
                detail: if body.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.trim())
                },
            }
        }
    })
}

/// An entry of the tree listing: `{"type":"file","path","size","oid","lfs":{"oid","size"}}`.
fn remote_file(entry: &serde_json::Value) -> Result<RemoteFile, String> {
    let path = entry
        .get("path")
        .and_then(|p| p.as_str())
        .ok_or("a file without \"path\"")?;
    if path.split('/').any(|part| part.is_empty() || part == "..") {
        return Err(format!("an unsafe file path {path:?}"));
    }
    let hex = |value: Option<&serde_json::Value>, length: usize| {
        value
            .and_then(|v| v.as_str())
            .filter(|v| v.len() == length && v.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
    };
    let (size, checksum) = match entry.get("lfs").filter(|lfs| !lfs.is_null()) {
        Some(lfs) => (
            lfs.get("size").and_then(|s| s.as_u64()),
            hex(lfs.get("oid"), 64).map(Checksum::Sha256),
        ),
        None => (
            entry.get("size").and_then(|s| s.as_u64()),
            hex(entry.get("oid"), 40).map(Checksum::GitBlobSha1),
        ),
    };
    Ok(RemoteFile {
        path: path.into(),
        size: size.ok_or_else(|| format!("{path} has no size"))?,
        checksum: checksum.ok_or_else(|| format!("{path} has no sha256 or git blob id"))?,
    })
}

/// Checks a downloaded file's size and hash against the listing; the reason when it differs.
pub fn verify(path: &Path, file: &RemoteFile) -> Result<(), String> {
    let size = std::fs::metadata(path)
        .map_err(|error| format!("cannot read it ({error})"))?
        .len();
    if size != file.size {
        return Err(format!("{size} bytes arrived, the hub lists {}", file.size));
    }
    let mut input = std::fs::File::open(path).map_err(|error| error.to_string())?;
    let mut buffer = vec![0u8; 1 << 20];
    let (expected, actual, what) = match &file.checksum {
        Checksum::Sha256(expected) => {
            let mut hasher = sha2::Sha256::new();
            hash_into(&mut input, &mut buffer, |chunk| hasher.update(chunk))?;
            (expected, hex(&hasher.finalize()), "sha256")
        }
        Checksum::GitBlobSha1(expected) => {
            let mut hasher = sha1::Sha1::new();
            hasher.update(format!("blob {size}\0").as_bytes());
            hash_into(&mut input, &mut buffer, |chunk| hasher.update(chunk))?;
            (expected, hex(&hasher.finalize()), "git blob id")
        }
    };
    if &actual == expected {
        Ok(())
    } else {
        Err(format!("its {what} is {actual}, the hub lists {expected}"))
    }
}

fn hash_into(
    input: &mut std::fs::File,
    buffer: &mut [u8],
    mut update: impl FnMut(&[u8]),
) -> Result<(), String> {
    loop {
        match input.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => update(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// reqwest's error with its causes ("error sending request: … Connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_is_checked_against_its_git_blob_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n").unwrap();
        // `printf 'hello\n' | git hash-object --stdin`
        let file = RemoteFile {
            path: "f".into(),
            size: 6,
            checksum: Checksum::GitBlobSha1("ce013625030ba8dba906f756967f9e9ca394464a".into()),
        };
        assert_eq!(verify(&path, &file), Ok(()));
        std::fs::write(&path, b"hellO\n").unwrap();
        let error = verify(&path, &file).unwrap_err();
        assert!(error.contains("git blob id"), "{error}");
    }

    #[test]
    fn a_large_file_is_checked_against_its_sha256_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let mut file = RemoteFile {
            path: "f".into(),
            size: 3,
            checksum: Checksum::Sha256(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            ),
        };
        assert_eq!(verify(&path, &file), Ok(()));
        file.size = 4;
        assert!(verify(&path, &file)
            .unwrap_err()
            .contains("3 bytes arrived"));
    }

    #[test]
    fn tree_entries_give_lfs_sha256_or_the_blob_id() {
        let lfs = serde_json::json!({"type": "file", "path": "model.safetensors", "size": 134,
            "oid": "0000000000000000000000000000000000000000",
            "lfs": {"oid": "A".repeat(64), "size": 9000, "pointerSize": 134}});
        let file = remote_file(&lfs).unwrap();
        assert_eq!(file.size, 9000);
        assert_eq!(file.checksum, Checksum::Sha256("a".repeat(64)));
        let small = serde_json::json!({"type": "file", "path": "config.json", "size": 12,
            "oid": "b".repeat(40)});
        assert_eq!(
            remote_file(&small).unwrap().checksum,
            Checksum::GitBlobSha1("b".repeat(40))
        );
        let unsafe_path = serde_json::json!({"path": "../x", "size": 1, "oid": "b".repeat(40)});
        assert!(remote_file(&unsafe_path).is_err());
    }
}
