//! Optional API keys: `authorization: Bearer <key>` on every `precis.v1.Precis` call.
use std::path::Path;

use http::HeaderMap;

/// The keys a server accepts; empty means no key is needed.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ApiKeys {
    // Never print the keys themselves.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "ApiKeys({} keys)", self.keys.len())
    }
}

impl ApiKeys {
    /// Keys from a comma-separated list and from a file of one key per line (`#` comments).
    pub fn load(inline: Option<&str>, file: Option<&Path>) -> anyhow::Result<Self> {
        let mut keys: Vec<Vec<u8>> = inline
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(|key| key.as_bytes().to_vec())
            .collect();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|error| {
                anyhow::anyhow!("cannot read the API keys file {}: {error}", path.display())
            })?;
            let from_file: Vec<Vec<u8>> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(|key| key.as_bytes().to_vec())
                .collect();
            if from_file.is_empty() {
                // An empty file would silently turn authentication off.
                anyhow::bail!("the API keys file {} holds no key", path.display());
            }
            keys.extend(from_file);
        }
        Ok(Self { keys })
    }

    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Checks the `authorization` header; the error says what is wrong, never which keys exist.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        if !self.is_enabled() {
            return Ok(());
        }
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err("this server needs an API key: send `authorization: Bearer <key>`");
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, key) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .ok_or("the authorization header must be `Bearer <key>`")?;
        // Compare against every key, without stopping early, so timing tells nothing.
        let matched = self.keys.iter().fold(false, |found, key| {
            found | constant_time_eq(key, presented.as_bytes())
        });
        if matched {
            Ok(())
        } else {
            Err("the API key is not valid")
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn no_keys_means_open() {
        let keys = ApiKeys::load(None, None).unwrap();
        assert!(keys.check(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn bearer_keys_from_the_list_and_the_file() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# newsroom keys\nfile-key\n\n").unwrap();
        let keys = ApiKeys::load(Some("alpha, beta"), Some(file.path())).unwrap();
        assert!(keys.check(&headers("Bearer beta")).is_ok());
        assert!(keys.check(&headers("bearer file-key")).is_ok());
        assert_eq!(
            keys.check(&headers("Bearer gamma")),
            Err("the API key is not valid")
        );
        assert!(keys.check(&headers("beta")).is_err());
        assert!(keys.check(&HeaderMap::new()).is_err());
    }

    #[test]
    fn an_empty_keys_file_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# nothing\n").unwrap();
        let error = ApiKeys::load(None, Some(file.path())).unwrap_err();
        assert!(error.to_string().contains("holds no key"), "{error}");
    }
}
