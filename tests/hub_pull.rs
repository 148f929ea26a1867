//! `precis models pull` end to end against a test hub on loopback: a small HTTP server started
//! here on 127.0.0.1:0 that serves, in the Hugging Face hub's URL layout and listing API
//! (revision, tree with sizes, git blob ids and LFS sha256, resolve with Range), the tiny
//! repositories scripts/make_test_models.py writes under test-models/hub/. Their weights are
//! RANDOM: the translations below check mechanics (pull → convert → register → serve), never
//! quality, and are never presented as results.
mod common;
mod grpc_support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use precis::config::RuntimeSettings;
use precis::hub::{manifest, HubError, PullOptions, PullOutcome, PulledRole};
use precis::pipeline::Pipeline;
use precis::validate::{validate_translate, Limits, TranslateInput};
use sha1::Digest as _;

const MARIAN_REPO: &str = "Helsinki-NLP/opus-mt-en-de";

/// How the test hub misbehaves for one file.
#[derive(Debug, Clone)]
enum Fault {
    /// The first response sends this many bytes of the body, then closes the connection.
    DropOnceAfter(usize),
    /// Every response starting at or beyond this offset closes without sending a byte.
    StallFrom(usize),
    /// The body has one byte changed (the listing keeps the true hash).
    Corrupt,
    /// The listing claims this size.
    ListedSize(u64),
    /// The body trickles out (for the concurrent-pull test).
    Slow,
}

#[derive(Default)]
struct HubState {
    /// repository id → (commit, path → content)
    repos: HashMap<String, (String, BTreeMap<String, Vec<u8>>)>,
    faults: HashMap<(String, String), Fault>,
    /// Gated repositories: the token their requests must carry as `Bearer`.
    tokens: HashMap<String, String>,
    /// (path of the request, its Range header)
    requests: Vec<(String, Option<String>)>,
}

struct TestHub {
    address: SocketAddr,
    state: Arc<Mutex<HubState>>,
}

impl TestHub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(HubState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve_one(stream, &state);
                });
            }
        });
        Self { address, state }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves `repo` with the files of the factory's hub directory `name`.
    fn add_factory_repo(&self, repo: &str, name: &str) {
        self.add_factory_repo_in("hub", repo, name);
    }

    /// Serves `repo` with the files of `tree/name` in the test-models directory.
    fn add_factory_repo_in(&self, tree: &str, repo: &str, name: &str) {
        self.add_repo(repo, factory_files(tree, name));
    }

    fn add_repo(&self, repo: &str, files: BTreeMap<String, Vec<u8>>) {
        let commit = hex(&sha1::Sha1::digest(repo.as_bytes()));
        self.state
            .lock()
            .unwrap()
            .repos
            .insert(repo.into(), (commit, files));
    }

    fn fault(&self, repo: &str, path: &str, fault: Option<Fault>) {
        let mut state = self.state.lock().unwrap();
        let key = (repo.to_string(), path.to_string());
        match fault {
            Some(fault) => state.faults.insert(key, fault),
            None => state.faults.remove(&key),
        };
    }

    fn requests_for(&self, suffix: &str) -> Vec<Option<String>> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, range)| range.clone())
            .collect()
    }
}

/// `hub/` is written by scripts/make_test_models.py, `hub-many/` by
/// scripts/make_many_to_many_models.py, `hub-xlmr/` by scripts/make_xlmr_embedder_models.py
/// (all run by scripts/setup).
fn factory_repo_in(tree: &str, name: &str) -> PathBuf {
    let dir = std::env::var_os("PRECIS_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| precis::config::default_models_dir().with_file_name("test-models"))
        .join(tree)
        .join(name);
    assert!(
        dir.join("config.json").is_file(),
        "test hub repository {} is missing: run scripts/setup (scripts/make_test_models.py, scripts/make_many_to_many_models.py, scripts/make_xlmr_embedder_models.py)",
        dir.display()
    );
    dir
}

/// The files of a factory repository by their path in it (`1_Pooling/config.json`).
fn factory_files(tree: &str, name: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{path}/"), files);
            } else {
                files.insert(path, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(&factory_repo_in(tree, name), "", &mut files);
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Binary files go to LFS on the hub (sha256 listed); the rest are git blobs.
fn is_lfs(path: &str) -> bool {
    [".safetensors", ".bin", ".spm", ".ot"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

fn serve_one(mut stream: TcpStream, state: &Mutex<HubState>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let path = target.split('?').next().unwrap_or("").to_string();
    state
        .lock()
        .unwrap()
        .requests
        .push((path.clone(), range.clone()));
    let respond =
        |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| -> std::io::Result<()> {
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                body.len()
            )?;
            stream.write_all(body)
        };
    let guard = state.lock().unwrap();
    let gated = guard.tokens.iter().find(|(repo, _)| {
        path.starts_with(&format!("/api/models/{repo}/")) || path.starts_with(&format!("/{repo}/"))
    });
    if let Some((_, token)) = gated {
        if authorization.as_deref() != Some(format!("Bearer {token}").as_str()) {
            drop(guard);
            return respond(&mut stream, "401 Unauthorized", "", &b"{}"[..]);
        }
    }
    // /api/models/{owner}/{name}/revision/{rev} and /api/models/{owner}/{name}/tree/{rev}
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let repo = parts.iter().take(2).copied().collect::<Vec<_>>().join("/");
        let Some((commit, files)) = guard.repos.get(&repo) else {
            drop(guard);
            return respond(
                &mut stream,
                "404 Not Found",
                "",
                &b"{\"error\":\"Repository not found\"}"[..],
            );
        };
        let body = match parts.get(2) {
            Some(&"revision") => serde_json::json!({
                "id": repo, "sha": commit,
                "siblings": files.keys().map(|f| serde_json::json!({"rfilename": f})).collect::<Vec<_>>(),
            }),
            Some(&"tree") => {
                let entries: Vec<serde_json::Value> = files
                    .iter()
                    .map(|(file, content)| {
                        let listed = match guard.faults.get(&(repo.clone(), file.clone())) {
                            Some(Fault::ListedSize(size)) => *size,
                            _ => content.len() as u64,
                        };
                        let mut blob = sha1::Sha1::new();
                        blob.update(format!("blob {}\0", content.len()).as_bytes());
                        blob.update(content);
                        let mut entry = serde_json::json!({
                            "type": "file", "path": file, "size": content.len(),
                            "oid": hex(&blob.finalize()),
                        });
                        if is_lfs(file) {
                            entry["size"] = serde_json::json!(listed);
                            entry["lfs"] = serde_json::json!({
                                "oid": hex(&sha2::Sha256::digest(content)),
                                "size": listed, "pointerSize": 134,
                            });
                        }
                        entry
                    })
                    .collect();
                serde_json::json!(entries)
            }
            _ => serde_json::json!({}),
        };
        drop(guard);
        return respond(
            &mut stream,
            "200 OK",
            "Content-Type: application/json\r\n",
            body.to_string().as_bytes(),
        );
    }
    // /{owner}/{name}/resolve/{rev}/{path}
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    let (repo, file) = match parts.as_slice() {
        [owner, name, "resolve", _, file] => (format!("{owner}/{name}"), file.to_string()),
        _ => {
            drop(guard);
            return respond(&mut stream, "404 Not Found", "", &b""[..]);
        }
    };
    let Some(content) = guard
        .repos
        .get(&repo)
        .and_then(|(_, files)| files.get(&file))
        .cloned()
    else {
        drop(guard);
        return respond(&mut stream, "404 Not Found", "", &b"Entry not found"[..]);
    };
    let fault = guard.faults.get(&(repo.clone(), file.clone())).cloned();
    drop(guard);
    let mut content = content;
    if let Some(Fault::Corrupt) = fault {
        let middle = content.len() / 2;
        content[middle] ^= 0xff;
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
        .unwrap_or(0)
        .min(content.len());
    let total = content.len();
    let body = &content[start..];
    let (status, extra) = if range.is_some() {
        (
            "206 Partial Content",
            format!(
                "Content-Range: bytes {start}-{}/{total}\r\n",
                total.saturating_sub(1)
            ),
        )
    } else {
        ("200 OK", String::new())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )?;
    match fault {
        Some(Fault::DropOnceAfter(bytes)) => {
            state
                .lock()
                .unwrap()
                .faults
                .remove(&(repo.clone(), file.clone()));
            stream.write_all(&body[..bytes.min(body.len())])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::StallFrom(offset)) if start >= offset => {
            stream.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::StallFrom(offset)) => {
            stream.write_all(&body[..(offset - start).min(body.len())])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::Slow) => {
            for chunk in body.chunks(32 * 1024) {
                stream.write_all(chunk)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(40));
            }
            Ok(())
        }
        _ => stream.write_all(body),
    }
}

fn options(hub: &TestHub) -> PullOptions {
    PullOptions {
        progress: false,
        ..PullOptions::new(hub.url())
    }
}

/// The service's settings over `models_dir`: an empty catalog and no Apertium, so that only
/// the pulled models are there.
fn settings(models_dir: &Path) -> RuntimeSettings {
    let catalog = models_dir.join("empty-catalog.toml");
    std::fs::write(&catalog, "# nothing but what was pulled\n").unwrap();
    RuntimeSettings {
        models_dir: Some(models_dir.into()),
        config: Some(catalog),
        apertium_dir: models_dir.join("no-apertium"),
        ..common::runtime_settings_without_models()
    }
}

fn translate(pipeline: &Pipeline, text: &str) -> precis::translate::Translation {
    translate_pair(pipeline, text, "en", "de")
}

fn translate_pair(
    pipeline: &Pipeline,
    text: &str,
    source: &str,
    target: &str,
) -> precis::translate::Translation {
    let request = validate_translate(
        TranslateInput {
            texts: vec![text.to_string()],
            source_language: source.into(),
            target_language: target.into(),
        },
        &Limits::default(),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut translated = runtime.block_on(pipeline.translate(request, None)).unwrap();
    let text = translated.texts.remove(0);
    text.translation
        .unwrap_or_else(|| panic!("not translated: {:?}", text.error))
}

/// Entries of a directory whose names do not start with a dot (staging and locks do).
fn visible_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && name != "empty-catalog.toml")
        .collect();
    names.sort();
    names
}

#[test]
fn a_marian_repository_is_pulled_converted_registered_and_translates_in_the_service() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    let models = tempfile::tempdir().unwrap();

    let outcome = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    let directory = models.path().join("Helsinki-NLP--opus-mt-en-de");
    assert_eq!(
        outcome,
        PullOutcome::Pulled {
            directory: directory.clone(),
            role: PulledRole::Translation {
                source: "en".into(),
                target: "de".into()
            }
        }
    );
    // Converted in Rust; the original weights are not kept; nothing half-written is left.
    assert!(directory.join("rust_model.ot").is_file());
    assert!(!directory.join("model.safetensors").exists());
    assert_eq!(
        visible_entries(models.path()),
        ["Helsinki-NLP--opus-mt-en-de"]
    );
    assert!(!models
        .path()
        .join(".Helsinki-NLP--opus-mt-en-de.pulling")
        .exists());
    let record = manifest::read(&directory).unwrap();
    assert_eq!(record.id, MARIAN_REPO);
    assert_eq!(record.hub, hub.url());
    assert_eq!(record.revision, "main");
    assert_eq!(record.commit.len(), 40);
    assert_eq!(record.model_type, "marian");
    assert_eq!(record.weights.converted_from, "model.safetensors");
    let weights = record
        .files
        .iter()
        .find(|f| f.file.path == "model.safetensors")
        .unwrap();
    assert!(!weights.kept);
    assert!(matches!(
        weights.file.checksum,
        precis::hub::Checksum::Sha256(_)
    ));
    let config = record
        .files
        .iter()
        .find(|f| f.file.path == "config.json")
        .unwrap();
    assert!(matches!(
        config.file.checksum,
        precis::hub::Checksum::GitBlobSha1(_)
    ));

    // The next start serves it without a catalog edit.
    let (pipeline, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == MARIAN_REPO).unwrap();
    assert!(
        status.ready && status.pulled && status.test_model,
        "{status:?}"
    );
    let translation = translate(
        &pipeline,
        "The minister said the talks would resume on Monday.",
    );
    assert!(
        translation
            .engines
            .iter()
            .any(|e| e.contains("opus-mt-en-de")),
        "{:?}",
        translation.engines
    );
    assert!(!translation.text.trim().is_empty());
    // Random weights: the text is meaningless and only printed as a mechanics check.
    println!(
        "mechanics only (random weights): en→de through {:?} gave {} characters",
        translation.engines,
        translation.text.len()
    );

    // A second pull finds it installed and fetches nothing.
    let before = hub.requests_for("model.safetensors").len();
    let again = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    assert!(
        matches!(again, PullOutcome::AlreadyInstalled { .. }),
        "{again:?}"
    );
    assert_eq!(hub.requests_for("model.safetensors").len(), before);

    // `models rm` removes it; a second rm says it is not there.
    let removed = precis::hub::remove(MARIAN_REPO, models.path()).unwrap();
    assert_eq!(removed, directory);
    assert!(visible_entries(models.path()).is_empty());
    let error = precis::hub::remove(MARIAN_REPO, models.path()).unwrap_err();
    assert!(matches!(error, HubError::NotInstalled { .. }), "{error}");
}

#[test]
fn a_pytorch_bin_repository_is_converted_in_rust_to_the_same_weights() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.add_factory_repo("test-org/opus-mt-en-de", "tiny-marian-en-es-bin");
    // As transformers saves a Marian config today: without the two keys rust-bert's BART
    // modules read (the factory writes them; older hub configs have them too).
    {
        let mut state = hub.state.lock().unwrap();
        let files = &mut state.repos.get_mut("test-org/opus-mt-en-de").unwrap().1;
        let mut config: serde_json::Value = serde_json::from_slice(&files["config.json"]).unwrap();
        let object = config.as_object_mut().unwrap();
        assert!(object.remove("static_position_embeddings").is_some());
        assert!(object.remove("normalize_embedding").is_some());
        files.insert("config.json".into(), config.to_string().into_bytes());
    }
    let from_safetensors = tempfile::tempdir().unwrap();
    let from_bin = tempfile::tempdir().unwrap();
    precis::hub::pull(MARIAN_REPO, from_safetensors.path(), &options(&hub)).unwrap();
    precis::hub::pull("test-org/opus-mt-en-de", from_bin.path(), &options(&hub)).unwrap();
    let bin_dir = from_bin.path().join("test-org--opus-mt-en-de");
    let record = manifest::read(&bin_dir).unwrap();
    assert_eq!(record.weights.converted_from, "pytorch_model.bin");
    // config.json was completed for rust-bert; the manifest keeps the hub's hash and the new size.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bin_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["static_position_embeddings"], true);
    assert_eq!(config["normalize_embedding"], false);
    let config_record = record
        .files
        .iter()
        .find(|f| f.file.path == "config.json")
        .unwrap();
    assert_eq!(
        config_record.local_size,
        Some(
            std::fs::metadata(bin_dir.join("config.json"))
                .unwrap()
                .len()
        )
    );
    assert_eq!(manifest::check_complete(&bin_dir, &record), Ok(()));

    // The .bin lacks the sinusoidal position tables (as transformers saves Marian): the
    // conversion recomputes them. Every tensor rust-bert reads must equal the safetensors one.
    let load = |dir: &Path| -> BTreeMap<String, tch::Tensor> {
        tch::Tensor::load_multi(dir.join("rust_model.ot"))
            .unwrap()
            .into_iter()
            .collect()
    };
    let reference = load(&from_safetensors.path().join("Helsinki-NLP--opus-mt-en-de"));
    let converted = load(&bin_dir);
    assert!(reference.contains_key("model.encoder.embed_positions.weight"));
    for (name, tensor) in &reference {
        let other = converted
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the converted .bin"));
        assert_eq!(tensor.size(), other.size(), "{name}");
        let difference = (tensor - other).abs().max().double_value(&[]);
        assert!(difference < 1e-5, "{name} differs by {difference}");
    }

    // Both serve the same translations (mechanics: same weights, same output).
    let text = "The talks will resume on Monday, the minister said.";
    let (a, _) = Pipeline::load(&settings(from_safetensors.path())).unwrap();
    let (b, _) = Pipeline::load(&settings(from_bin.path())).unwrap();
    assert_eq!(translate(&a, text).text, translate(&b, text).text);
}

#[test]
fn a_corrupt_download_fails_with_the_fix_and_the_next_pull_succeeds() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.fault(MARIAN_REPO, "model.safetensors", Some(Fault::Corrupt));
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HubError::Corrupt { .. }), "{message}");
    for expected in ["model.safetensors", "sha256", "run the pull again"] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
    assert!(
        visible_entries(models.path()).is_empty(),
        "no model directory"
    );
    let staging = models.path().join(".Helsinki-NLP--opus-mt-en-de.pulling");
    assert!(
        !staging.join("model.safetensors.part").exists(),
        "bad bytes deleted"
    );

    hub.fault(MARIAN_REPO, "model.safetensors", None);
    let outcome = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    assert!(matches!(outcome, PullOutcome::Pulled { .. }));
    // The files checked the first time are not fetched again.
    assert_eq!(hub.requests_for("/vocab.json").len(), 1);
}

#[test]
fn an_unsupported_architecture_is_named_before_any_weights_are_fetched() {
    let hub = TestHub::start();
    let mut files = BTreeMap::new();
    files.insert(
        "config.json".to_string(),
        br#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}"#.to_vec(),
    );
    files.insert("model.safetensors".to_string(), vec![0u8; 4096]);
    hub.add_repo("openai-community/gpt2", files);
    let models = tempfile::tempdir().unwrap();
    let error =
        precis::hub::pull("openai-community/gpt2", models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HubError::Unsupported { .. }), "{message}");
    for expected in [
        "'gpt2'",
        "GPT2LMHeadModel",
        "marian",
        "bart",
        "pegasus",
        "bert",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
    assert!(hub.requests_for("model.safetensors").is_empty());
    assert!(visible_entries(models.path()).is_empty());
}

#[test]
fn a_connection_dropped_mid_file_is_resumed_with_a_range_request() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.fault(
        MARIAN_REPO,
        "model.safetensors",
        Some(Fault::DropOnceAfter(100_000)),
    );
    let models = tempfile::tempdir().unwrap();
    precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    assert_eq!(
        hub.requests_for("model.safetensors"),
        [None, Some("bytes=100000-".to_string())]
    );
}

#[test]
fn a_pull_cut_short_says_so_and_the_next_one_resumes_from_the_kept_bytes() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.fault(
        MARIAN_REPO,
        "model.safetensors",
        Some(Fault::StallFrom(200_000)),
    );
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, HubError::Interrupted { done: 200_000, .. }),
        "{message}"
    );
    assert!(
        message.contains("Run the pull again: it resumes"),
        "{message}"
    );
    assert!(visible_entries(models.path()).is_empty());

    hub.fault(MARIAN_REPO, "model.safetensors", None);
    precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    let last = hub.requests_for("model.safetensors").pop().unwrap();
    assert_eq!(last.as_deref(), Some("bytes=200000-"));
}

#[test]
fn no_network_fails_fast_with_the_fix() {
    // A port that was just free: nothing listens, the connection is refused.
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let models = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let error = precis::hub::pull(
        MARIAN_REPO,
        models.path(),
        &PullOptions {
            progress: false,
            ..PullOptions::new(format!("http://{address}"))
        },
    )
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60));
    let message = error.to_string();
    assert!(matches!(error, HubError::Unreachable { .. }), "{message}");
    for expected in [
        "cannot reach the model hub",
        &address.to_string(),
        "--hub-url",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
    assert!(visible_entries(models.path()).is_empty());
}

#[test]
fn a_model_larger_than_the_free_space_is_refused_before_downloading() {
    // Simulated through the listing: the hub says the weights are 1 EB, more than any disk.
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.fault(
        MARIAN_REPO,
        "model.safetensors",
        Some(Fault::ListedSize(1 << 60)),
    );
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HubError::NoSpace { .. }), "{message}");
    assert!(
        message.contains("not enough space") && message.contains("--models-dir"),
        "{message}"
    );
    assert!(hub.requests_for("model.safetensors").is_empty());
    assert!(visible_entries(models.path()).is_empty());
}

#[test]
fn two_pulls_of_the_same_model_at_once_download_it_once() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.fault(MARIAN_REPO, "model.safetensors", Some(Fault::Slow));
    let models = tempfile::tempdir().unwrap();
    let pull = |hub_url: String, dir: PathBuf| {
        std::thread::spawn(move || {
            precis::hub::pull(
                MARIAN_REPO,
                &dir,
                &PullOptions {
                    progress: false,
                    ..PullOptions::new(hub_url)
                },
            )
        })
    };
    let first = pull(hub.url(), models.path().into());
    // The second starts once the first is downloading the weights, so it meets the lock.
    let waited = Instant::now();
    while hub.requests_for("model.safetensors").is_empty() {
        assert!(
            waited.elapsed() < common::PATIENCE,
            "the first pull never fetched the weights"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = pull(hub.url(), models.path().into());
    let mut outcomes = [
        first.join().unwrap().unwrap(),
        second.join().unwrap().unwrap(),
    ];
    outcomes.sort_by_key(|o| matches!(o, PullOutcome::AlreadyInstalled { .. }));
    assert!(
        matches!(outcomes[0], PullOutcome::Pulled { .. }),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], PullOutcome::AlreadyInstalled { .. }),
        "{outcomes:?}"
    );
    assert_eq!(hub.requests_for("model.safetensors").len(), 1);
    let directory = models.path().join("Helsinki-NLP--opus-mt-en-de");
    let record = manifest::read(&directory).unwrap();
    assert_eq!(manifest::check_complete(&directory, &record), Ok(()));
}

#[test]
fn an_incomplete_or_wrong_architecture_pulled_directory_is_reported_and_the_rest_starts() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.add_factory_repo("test-org/tiny-bart-cnn", "tiny-bart");
    let models = tempfile::tempdir().unwrap();
    precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap();
    let outcome =
        precis::hub::pull("test-org/tiny-bart-cnn", models.path(), &options(&hub)).unwrap();
    assert!(matches!(
        outcome,
        PullOutcome::Pulled { role: PulledRole::Summarization { ref languages }, .. } if languages == &["en"]
    ));
    let marian = models.path().join("Helsinki-NLP--opus-mt-en-de");

    // Wrong architecture: config.json says bert (same length, so the manifest's sizes hold).
    let config_path = marian.join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let edited = config.replacen("\"marian\"", "\"bert\"  ", 1);
    assert_ne!(config, edited);
    std::fs::write(&config_path, &edited).unwrap();
    let (pipeline, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == MARIAN_REPO).unwrap();
    let error = status.error.clone().unwrap_or_default();
    assert!(!status.ready && status.pulled, "{status:?}");
    assert!(
        error.contains("bert") && error.contains("translation"),
        "{error}"
    );
    // The summarizer pulled beside it is served.
    let bart = statuses
        .iter()
        .find(|s| s.id == "test-org/tiny-bart-cnn")
        .unwrap();
    assert!(bart.ready && bart.pulled, "{bart:?}");
    assert!(pipeline.capabilities().translation_pairs.is_empty());
    drop(pipeline);

    // Incomplete: a tokenizer file deleted.
    std::fs::write(&config_path, &config).unwrap();
    std::fs::remove_file(marian.join("vocab.json")).unwrap();
    let (_, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == MARIAN_REPO).unwrap();
    let error = status.error.clone().unwrap_or_default();
    assert!(!status.ready && status.pulled, "{status:?}");
    for expected in [
        "incomplete",
        "vocab.json",
        "precis models rm Helsinki-NLP/opus-mt-en-de",
    ] {
        assert!(error.contains(expected), "{expected:?} missing: {error}");
    }

    // `models list` says the same, and exits 0: the service would start without it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(["models", "list", "--models-dir"])
        .arg(models.path())
        .arg("--config")
        .arg(models.path().join("empty-catalog.toml"))
        .arg("--apertium-dir")
        .arg(models.path().join("no-apertium"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.lines().any(|line| line.contains(MARIAN_REPO)
            && line.contains("NOT READY")
            && line.contains("vocab.json")),
        "{stdout}"
    );
}

#[test]
fn the_cli_pulls_from_the_hub_url_and_translates_with_the_pulled_model() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    let models = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(["models", "pull", MARIAN_REPO, "--models-dir"])
        .arg(models.path())
        .env("HF_ENDPOINT", hub.url())
        .env_remove("PRECIS_HUB_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pulled Helsinki-NLP/opus-mt-en-de"),
        "{stdout}"
    );
    assert!(stdout.contains("translation en->de"), "{stdout}");

    let catalog = models.path().join("empty-catalog.toml");
    std::fs::write(&catalog, "").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_precis"))
        .args([
            "translate",
            "--from",
            "en",
            "--to",
            "de",
            "--json",
            "--models-dir",
        ])
        .arg(models.path())
        .arg("--config")
        .arg(&catalog)
        .arg("--apertium-dir")
        .arg(models.path().join("no-apertium"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"The minister said the talks would resume.")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let engines = json["texts"][0]["translation"]["engines"].to_string();
    assert!(engines.contains("opus-mt-en-de"), "{stdout}");
}

#[test]
fn a_bad_repository_id_and_a_missing_repository_say_what_to_check() {
    let hub = TestHub::start();
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull("../etc", models.path(), &options(&hub)).unwrap_err();
    assert!(error.to_string().contains("OWNER/NAME"), "{error}");
    let error = precis::hub::pull("nobody/nothing", models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HubError::NotFound { .. }), "{message}");
    assert!(
        message.contains("nobody/nothing") && message.contains("404"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_pull_installs_the_model_before_loading_and_translates_over_grpc() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    let models = tempfile::tempdir().unwrap();
    // The warm-up digest needs an embedding model: the installed MiniLM, by absolute path, so
    // that the models directory holds only what this test pulls.
    let catalog = models.path().join("catalog.toml");
    let minilm = common::models_dir().join("all-MiniLM-L6-v2");
    std::fs::write(
        &catalog,
        format!(
            "[embeddings]\nid = \"all-MiniLM-L6-v2\"\npath = {:?}\nengine = \"rust-bert\"\nlanguages = [\"en\"]\n",
            minilm.display().to_string()
        ),
    )
    .unwrap();
    let no_apertium = models.path().join("no-apertium");
    let hub_url = hub.url();
    let args = [
        "--pull",
        MARIAN_REPO,
        "--hub-url",
        hub_url.as_str(),
        "--models-dir",
        models.path().to_str().unwrap(),
        "--config",
        catalog.to_str().unwrap(),
        "--apertium-dir",
        no_apertium.to_str().unwrap(),
    ];
    let (_replica, connection, _health) = grpc_support::process::start_serving(&args).await;
    assert!(models
        .path()
        .join("Helsinki-NLP--opus-mt-en-de")
        .join(manifest::MANIFEST_FILE)
        .is_file());
    let response = connection
        .precis()
        .translate(connection.request(precis::proto::TranslateRequest {
            texts: vec!["The minister said the talks would resume.".into()],
            source_language: "en".into(),
            target_language: "de".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let translation = response.translations[0].translation.clone().unwrap();
    // Random weights: only the route and the presence of output are checked.
    assert!(
        translation
            .engines
            .iter()
            .any(|e| e.contains("opus-mt-en-de")),
        "{:?}",
        translation.engines
    );
    assert!(!translation.text.trim().is_empty());
}

#[test]
fn a_sentence_transformers_bert_repository_is_pulled_as_an_embedder() {
    // The real all-MiniLM-L6-v2 that scripts/setup installs is laid out as its hub repository
    // (plus the rust_model.ot setup converted, and an ONNX export): the test hub serves the
    // repository's own files, and the pull must convert them to the same weights.
    let installed = common::models_dir().join("all-MiniLM-L6-v2");
    let mut files = BTreeMap::new();
    for name in [
        "config.json",
        "vocab.txt",
        "modules.json",
        "tokenizer_config.json",
        "sentence_bert_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "1_Pooling/config.json",
        "model.safetensors",
    ] {
        files.insert(
            name.to_string(),
            std::fs::read(installed.join(name)).unwrap(),
        );
    }
    let hub = TestHub::start();
    let repo = "sentence-transformers/all-MiniLM-L6-v2";
    hub.add_repo(repo, files);
    let models = tempfile::tempdir().unwrap();
    let outcome = precis::hub::pull(repo, models.path(), &options(&hub)).unwrap();
    assert!(
        matches!(&outcome, PullOutcome::Pulled { role: PulledRole::SentenceEmbeddings { languages }, .. } if languages == &["en"]),
        "{outcome:?}"
    );
    let pulled = models
        .path()
        .join("sentence-transformers--all-MiniLM-L6-v2");
    assert!(pulled.join("1_Pooling").join("config.json").is_file());

    let load = |path: &Path| -> BTreeMap<String, tch::Tensor> {
        tch::Tensor::load_multi(path).unwrap().into_iter().collect()
    };
    let reference = load(&installed.join("rust_model.ot"));
    let converted = load(&pulled.join("rust_model.ot"));
    assert_eq!(
        reference.keys().collect::<Vec<_>>(),
        converted.keys().collect::<Vec<_>>()
    );
    for (name, tensor) in &reference {
        assert!(tensor.equal(&converted[name]), "{name} differs");
    }

    let (_, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == repo).unwrap();
    assert!(status.ready && status.pulled, "{status:?}");
    assert_eq!(status.role, precis::runtime::ModelRole::SentenceEmbeddings);
}

#[test]
fn a_gated_repository_needs_the_token_which_is_sent_as_bearer() {
    let hub = TestHub::start();
    hub.add_factory_repo(MARIAN_REPO, "tiny-marian-en-es");
    hub.state
        .lock()
        .unwrap()
        .tokens
        .insert(MARIAN_REPO.into(), "hf_test_token".into());
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(MARIAN_REPO, models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, HubError::Denied { status: 401, .. }),
        "{message}"
    );
    assert!(
        message.contains("gated or private") && message.contains("HF_TOKEN"),
        "{message}"
    );
    let with_token = PullOptions {
        token: Some("hf_test_token".into()),
        ..options(&hub)
    };
    let outcome = precis::hub::pull(MARIAN_REPO, models.path(), &with_token).unwrap();
    assert!(matches!(outcome, PullOutcome::Pulled { .. }), "{outcome:?}");
    // The token is never written into the model's directory.
    let manifest_text = std::fs::read_to_string(
        models
            .path()
            .join("Helsinki-NLP--opus-mt-en-de")
            .join(manifest::MANIFEST_FILE),
    )
    .unwrap();
    assert!(!manifest_text.contains("hf_test_token"));
}

/// The repository the `--to X` warning suggests: pulling it must add the pair.
const M2M100_REPO: &str = precis::translate::MANY_TO_MANY_SUGGESTION;

/// The directed pairs of `languages`, each as (source, target).
fn directed_pairs(languages: &[String]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for source in languages {
        for target in languages {
            if source != target {
                pairs.push((source.clone(), target.clone()));
            }
        }
    }
    pairs
}

/// Pulls `repo` (served from the factory's `hub-many/NAME`), checks the manifest and the
/// languages, starts the service over it and translates through it in several directions:
/// every directed pair of its languages must be a direct neural route of the one model.
/// Returns the languages, the manifest and the models directory.
fn pull_and_serve_many_to_many(
    repo: &str,
    factory_name: &str,
    model_type: &str,
    weights_file: &str,
) -> (Vec<String>, manifest::Manifest, tempfile::TempDir) {
    let hub = TestHub::start();
    hub.add_factory_repo_in("hub-many", repo, factory_name);
    let models = tempfile::tempdir().unwrap();

    let outcome = precis::hub::pull(repo, models.path(), &options(&hub)).unwrap();
    let directory = models.path().join(precis::hub::directory_name(repo));
    let PullOutcome::Pulled {
        directory: pulled,
        role: PulledRole::ManyToManyTranslation { languages },
    } = outcome
    else {
        panic!("not a many-to-many translation model: {outcome:?}");
    };
    assert_eq!(pulled, directory);
    // From the tokenizer, the ones precis translates (rust-bert names them).
    for expected in ["ar", "de", "en", "es", "fr", "it", "pt", "ru", "uk", "zh"] {
        assert!(
            languages.contains(&expected.to_string()),
            "{expected}: {languages:?}"
        );
    }
    assert!(
        languages.iter().all(|code| code.len() == 2),
        "{languages:?}"
    );
    assert!(languages.windows(2).all(|w| w[0] < w[1]), "{languages:?}");
    // The languages were read before the weights were fetched.
    let order: Vec<String> = hub
        .state
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|(path, _)| path.clone())
        .filter(|path| path.contains("/resolve/"))
        .collect();
    let position = |file: &str| order.iter().position(|path| path.ends_with(file)).unwrap();
    assert!(position("sentencepiece.bpe.model") < position(weights_file));
    assert!(position("tokenizer_config.json") < position(weights_file));

    assert!(directory.join("rust_model.ot").is_file());
    assert!(!directory.join(weights_file).exists());
    let record = manifest::read(&directory).unwrap();
    assert_eq!(record.model_type, model_type);
    assert_eq!(record.weights.converted_from, weights_file);
    assert_eq!(
        record.role,
        PulledRole::ManyToManyTranslation {
            languages: languages.clone()
        }
    );
    let manifest_text = std::fs::read_to_string(directory.join(manifest::MANIFEST_FILE)).unwrap();
    assert!(
        manifest_text.contains("\"role\": \"many_to_many_translation\""),
        "{manifest_text}"
    );

    // The next start serves every directed pair as a direct neural route of one model.
    let (pipeline, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == repo).unwrap();
    assert!(
        status.ready && status.pulled && status.test_model,
        "{status:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| s.id == repo).count(),
        1,
        "one model, loaded once"
    );
    // A pulled model names no engine, so the many-to-many families run on torch-bart.
    let engine = format!("torch-bart/{repo}");
    let capabilities = pipeline.capabilities();
    let pairs = directed_pairs(&languages);
    assert_eq!(pairs.len(), languages.len() * (languages.len() - 1));
    for (source, target) in &pairs {
        let reachable = capabilities
            .translation_routes
            .iter()
            .find(|r| {
                let hops = &r.route.hops;
                hops.first().map(|h| &h.pair.source) == Some(source)
                    && hops.last().map(|h| &h.pair.target) == Some(target)
            })
            .unwrap_or_else(|| panic!("{source}->{target} is not reachable"));
        assert_eq!(
            reachable.kind,
            precis_translate::RouteKind::Direct,
            "{source}->{target}"
        );
        assert_eq!(reachable.route.hops[0].engine_id, engine);
        assert_eq!(
            reachable.route.hops[0].engine_kind,
            precis_translate::EngineKind::Neural
        );
    }
    let direct = capabilities
        .translation_routes
        .iter()
        .filter(|r| r.kind == precis_translate::RouteKind::Direct)
        .count();
    assert_eq!(
        direct,
        pairs.len(),
        "only the model's pairs: no Apertium here"
    );

    // Translate through the pulled model, in several directions (random weights: mechanics
    // only, the text is never looked at beyond being produced).
    for (source, target) in [("en", "de"), ("de", "fr"), ("es", "en"), ("fr", "zh")] {
        let translation = translate_pair(
            &pipeline,
            "The minister said the talks would resume on Monday.",
            source,
            target,
        );
        assert_eq!(
            translation.engines,
            std::slice::from_ref(&engine),
            "{source}->{target}"
        );
        // The quality signal applies to these routes as to every other.
        let quality = translation
            .quality
            .as_ref()
            .unwrap_or_else(|| panic!("{source}->{target}: no quality score"));
        assert_eq!(quality.route_hops, 1, "{source}->{target}");
        assert!(
            (0.0..=1.0).contains(&quality.score),
            "{source}->{target}: {quality:?}"
        );
        println!(
            "mechanics only (random weights): {source}→{target} through {:?} gave {} characters, score {:.2}",
            translation.engines,
            translation.text.len(),
            quality.score
        );
    }
    (languages, record, models)
}

#[test]
fn an_m2m100_repository_is_pulled_with_its_languages_and_serves_every_pair_in_the_service() {
    let (languages, _, _) =
        pull_and_serve_many_to_many(M2M100_REPO, "tiny-m2m100", "m2m_100", "model.safetensors");
    // Three-letter M2M100 codes (ast, ceb, ilo) have no ISO 639-1 code precis uses.
    assert!(!languages.contains(&"ast".to_string()));
}

#[test]
fn an_nllb_repository_with_only_pytorch_weights_is_pulled_converted_and_serves_every_pair() {
    let (languages, record, models) = pull_and_serve_many_to_many(
        "facebook/nllb-200-distilled-600M",
        "tiny-nllb",
        "m2m_100",
        "pytorch_model.bin",
    );
    // NLLB's Galician and Catalan tokens (glg_Latn, cat_Latn) are among its 200 languages.
    assert!(languages.contains(&"gl".to_string()), "{languages:?}");
    // tokenizer.json was rewritten for rust_tokenizers (its language tokens added to the
    // vocabulary): the manifest keeps the hub's size and hash, and the size on disk.
    let tokenizer = record
        .files
        .iter()
        .find(|f| f.file.path == "tokenizer.json")
        .unwrap();
    assert!(tokenizer.kept);
    let on_disk = std::fs::read(
        models
            .path()
            .join("facebook--nllb-200-distilled-600M")
            .join("tokenizer.json"),
    )
    .unwrap();
    assert_eq!(tokenizer.local_size, Some(on_disk.len() as u64));
    let on_disk: serde_json::Value = serde_json::from_slice(&on_disk).unwrap();
    for token in ["eng_Latn", "fra_Latn", "<s>", "</s>"] {
        assert!(
            on_disk["model"]["vocab"][token].is_u64(),
            "{token} not in model.vocab"
        );
    }
}

#[test]
fn an_m2m100_repository_whose_language_list_rust_bert_cannot_number_is_refused_before_its_weights()
{
    let hub = TestHub::start();
    let mut files = BTreeMap::new();
    let dir = factory_repo_in("hub-many", "tiny-m2m100");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(entry.path()).unwrap());
    }
    // transformers' other M2M100 list (WMT21's 8 languages) numbers its tokens differently.
    let mut tokenizer: serde_json::Value =
        serde_json::from_slice(&files["tokenizer_config.json"]).unwrap();
    tokenizer["language_codes"] = "wmt21".into();
    files.insert(
        "tokenizer_config.json".into(),
        serde_json::to_vec(&tokenizer).unwrap(),
    );
    hub.add_repo("facebook/wmt21-dense-24-wide-en-x", files);
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(
        "facebook/wmt21-dense-24-wide-en-x",
        models.path(),
        &options(&hub),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, HubError::Unusable { .. }) && message.contains("wmt21"),
        "{message}"
    );
    assert!(hub.requests_for("model.safetensors").is_empty());
    assert!(visible_entries(models.path()).is_empty());
}

#[test]
fn an_mbart50_repository_is_pulled_with_its_languages_and_serves_every_pair() {
    let (languages, _, _) = pull_and_serve_many_to_many(
        "facebook/mbart-large-50-many-to-many-mmt",
        "tiny-mbart50",
        "mbart",
        "model.safetensors",
    );
    // mBART-50 has Galician but no Catalan.
    assert!(languages.contains(&"gl".to_string()), "{languages:?}");
    assert!(!languages.contains(&"ca".to_string()), "{languages:?}");
}

#[test]
fn an_mbart_repository_without_mbart50_language_tokens_is_refused_before_its_weights() {
    let hub = TestHub::start();
    let mut files = BTreeMap::new();
    let dir = factory_repo_in("hub-many", "tiny-mbart50");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(entry.path()).unwrap());
    }
    // mBART-25 (pretrained, not a many-to-many translator) has another tokenizer.
    for file in ["tokenizer_config.json", "config.json"] {
        let mut json: serde_json::Value = serde_json::from_slice(&files[file]).unwrap();
        json["tokenizer_class"] = "MBartTokenizer".into();
        files.insert(file.into(), serde_json::to_vec(&json).unwrap());
    }
    hub.add_repo("facebook/mbart-large-cc25", files);
    let models = tempfile::tempdir().unwrap();
    let error =
        precis::hub::pull("facebook/mbart-large-cc25", models.path(), &options(&hub)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, HubError::Unusable { .. }) && message.contains("MBart-50"),
        "{message}"
    );
    assert!(hub.requests_for("model.safetensors").is_empty());
    assert!(visible_entries(models.path()).is_empty());
}

#[test]
fn sharded_weights_are_pulled_merged_and_translate_as_the_single_file_model() {
    const SHARDED: &str = "test-org/m2m100-sharded";
    let hub = TestHub::start();
    hub.add_factory_repo_in("hub-many", M2M100_REPO, "tiny-m2m100");
    hub.add_factory_repo_in("hub-many", SHARDED, "tiny-m2m100-sharded");
    let single = tempfile::tempdir().unwrap();
    let sharded = tempfile::tempdir().unwrap();
    precis::hub::pull(M2M100_REPO, single.path(), &options(&hub)).unwrap();
    precis::hub::pull(SHARDED, sharded.path(), &options(&hub)).unwrap();

    let directory = sharded.path().join("test-org--m2m100-sharded");
    let record = manifest::read(&directory).unwrap();
    let shards = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
    assert_eq!(record.weights.converted_from, shards.join(", "));
    for shard in shards {
        assert!(!directory.join(shard).exists(), "{shard} kept");
        let entry = record.files.iter().find(|f| f.file.path == shard).unwrap();
        assert!(!entry.kept);
    }
    let index = record
        .files
        .iter()
        .find(|f| f.file.path == "model.safetensors.index.json")
        .unwrap();
    assert!(index.kept);

    // The shards merged are the single file's tensors, every one.
    let load = |dir: &Path| -> BTreeMap<String, tch::Tensor> {
        tch::Tensor::load_multi(dir.join("rust_model.ot"))
            .unwrap()
            .into_iter()
            .collect()
    };
    let reference = load(&single.path().join("facebook--m2m100_418M"));
    let merged = load(&directory);
    assert_eq!(
        reference.keys().collect::<Vec<_>>(),
        merged.keys().collect::<Vec<_>>()
    );
    for (name, tensor) in &reference {
        assert!(tensor.equal(&merged[name]), "{name} differs");
    }

    // Same weights, same (random, meaningless) output.
    let (from_single, _) = Pipeline::load(&settings(single.path())).unwrap();
    let (from_shards, statuses) = Pipeline::load(&settings(sharded.path())).unwrap();
    assert!(
        statuses.iter().any(|s| s.id == SHARDED && s.ready),
        "{statuses:?}"
    );
    let text = "The minister said the talks would resume on Monday.";
    for (source, target) in [("en", "fr"), ("de", "es")] {
        assert_eq!(
            translate_pair(&from_single, text, source, target).text,
            translate_pair(&from_shards, text, source, target).text,
            "{source}->{target}"
        );
    }
}

/// What sentence-transformers computed for a factory embedder repository
/// (scripts/make_xlmr_embedder_models.py writes it beside the repository).
#[derive(serde::Deserialize)]
struct EmbedderOracle {
    prompt: String,
    texts: Vec<String>,
    token_ids: Vec<Vec<i64>>,
    embeddings: Vec<Vec<f32>>,
}

fn embedder_oracle(name: &str) -> EmbedderOracle {
    let path = factory_repo_in("hub-xlmr", name).with_extension("reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{} is missing ({error}): run scripts/setup (scripts/make_xlmr_embedder_models.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// Short articles the team wrote, by language.
const ENGLISH_ARTICLE: &str =
    "The city council approved a new budget for public transport on Tuesday. \
    The plan adds twelve bus lines and extends the tram network to the northern districts. \
    Fares will stay the same for the next two years, the mayor said. \
    Work on the first tram extension starts in March and should end in 2028. \
    Opposition members criticised the cost of the project during the debate.";
const SPANISH_ARTICLE: &str =
    "El ayuntamiento aprobó el martes un nuevo presupuesto para el transporte público. \
    El plan añade doce líneas de autobús y lleva el tranvía hasta los barrios del norte. \
    Las tarifas no cambiarán durante los próximos dos años, según la alcaldesa. \
    Las obras de la primera ampliación del tranvía empezarán en marzo y terminarán en 2028. \
    La oposición criticó el coste del proyecto durante el debate.";
const PORTUGUESE_ARTICLE: &str =
    "A câmara municipal aprovou na terça-feira um novo orçamento para os transportes públicos. \
    O plano acrescenta doze linhas de autocarro e leva o elétrico até aos bairros do norte. \
    Os preços dos bilhetes não vão mudar nos próximos dois anos, disse a presidente. \
    As obras da primeira extensão do elétrico começam em março e devem terminar em 2028. \
    A oposição criticou o custo do projeto durante o debate.";

/// A Digest of `article`, ranked by embeddings; checks the detected language and the spans.
fn digest_summary(
    pipeline: &Pipeline,
    article: &str,
    language: &str,
) -> precis::summarize::Summary {
    use precis::summarize::extractive::SummaryLength;
    use precis::validate::{validate_digest, DigestInput};
    let request = validate_digest(
        DigestInput {
            text: article.to_string(),
            summary_length: Some(SummaryLength::Sentences(2)),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let digest = runtime.block_on(pipeline.digest(&request, None)).unwrap();
    assert_eq!(digest.language.iso639_1, language);
    let summary = digest.summary.expect("a summary");
    for sentence in &summary.sentences {
        assert_eq!(
            &article[sentence.span.start..sentence.span.end],
            sentence.text
        );
    }
    summary
}

/// Pulls the factory embedder `name` as `repo`, checks what was installed and that it embeds
/// as sentence-transformers does, starts the service with it and digests an article. RANDOM
/// weights: the summary is a mechanics check (ranked by this model, exact spans), never a
/// result.
fn pull_embedder_and_rank(repo: &str, name: &str, model_type: &str, prefix: &str) {
    let hub = TestHub::start();
    hub.add_factory_repo_in("hub-xlmr", repo, name);
    let models = tempfile::tempdir().unwrap();
    let outcome = precis::hub::pull(repo, models.path(), &options(&hub)).unwrap();
    // The card lists multilingual, en, es, fr, de: the ISO 639-1 codes are kept.
    let languages: Vec<String> = ["en", "es", "fr", "de"].map(String::from).to_vec();
    assert!(
        matches!(&outcome, PullOutcome::Pulled { role: PulledRole::SentenceEmbeddings { languages: got }, .. } if got == &languages),
        "{outcome:?}"
    );
    let pulled = models.path().join(precis::hub::directory_name(repo));
    for file in [
        "config.json",
        "rust_model.ot",
        "sentencepiece.bpe.model",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer_config.json",
        "1_Pooling/config.json",
        "text_input.json",
    ] {
        assert!(pulled.join(file).is_file(), "{file} missing");
    }
    assert!(!pulled.join("model.safetensors").exists());
    let text_input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pulled.join("text_input.json")).unwrap()).unwrap();
    assert_eq!(
        text_input,
        serde_json::json!({"prefix": prefix, "collapse_spaces": true, "fold_whitespace": true})
    );
    let record = manifest::read(&pulled).unwrap();
    assert_eq!(record.model_type, model_type);
    assert_eq!(
        record.role,
        PulledRole::SentenceEmbeddings {
            languages: languages.clone()
        }
    );
    // Every fetched file was checked against the listing, and the hub's weights were converted
    // to the same tensors.
    let served = factory_files("hub-xlmr", name);
    for entry in &record.files {
        assert_eq!(entry.file.size, served[&entry.file.path].len() as u64);
    }
    let original: BTreeMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(factory_repo_in("hub-xlmr", name).join("model.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    let converted: BTreeMap<String, tch::Tensor> =
        tch::Tensor::load_multi(pulled.join("rust_model.ot"))
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        converted.keys().collect::<Vec<_>>()
    );
    for (tensor_name, tensor) in &original {
        assert!(
            tensor.equal(&converted[tensor_name]),
            "{tensor_name} differs"
        );
    }

    // The tokenizer, the prefix and the pooling against sentence-transformers on the same repo.
    let oracle = embedder_oracle(name);
    assert_eq!(oracle.prompt, prefix);
    let spec = precis::runtime::ModelSpec {
        id: repo.into(),
        role: precis::runtime::ModelRole::SentenceEmbeddings,
        location: precis::runtime::ModelLocation::Directory(pulled.clone()),
    };
    let mut engine = common::load_embeddings(&spec).unwrap();
    for (text, expected) in oracle.texts.iter().zip(&oracle.token_ids) {
        assert_eq!(&engine.token_ids(text), expected, "token ids of {text:?}");
    }
    use precis::runtime::ModelEngine;
    let ours = engine
        .run_batch(vec![oracle.texts.clone()])
        .pop()
        .unwrap()
        .unwrap();
    let mut worst = (1.0f32, 0.0f32);
    for ((text, ours), theirs) in oracle.texts.iter().zip(&ours).zip(&oracle.embeddings) {
        assert_eq!(ours.len(), theirs.len());
        let cosine = precis::runtime::embeddings::cosine(ours, theirs);
        let max_difference = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            cosine >= 0.99999 && max_difference <= 1e-4,
            "{text:?}: cosine {cosine}, largest difference {max_difference}"
        );
        worst = (worst.0.min(cosine), worst.1.max(max_difference));
    }
    println!(
        "{repo}: {} texts, lowest cosine to sentence-transformers {:.7}, largest difference {:.2e}",
        oracle.texts.len(),
        worst.0,
        worst.1
    );
    drop(engine);

    // Served at the next start: the Digest ranks with it and names it.
    let (pipeline, statuses) = Pipeline::load(&settings(models.path())).unwrap();
    let status = statuses.iter().find(|s| s.id == repo).unwrap();
    assert!(status.ready && status.pulled, "{status:?}");
    for (article, language) in [(ENGLISH_ARTICLE, "en"), (SPANISH_ARTICLE, "es")] {
        let summary = digest_summary(&pipeline, article, language);
        assert_ranked_by(&summary, repo);
    }
}

fn assert_ranked_by(summary: &precis::summarize::Summary, model: &str) {
    assert_eq!(
        summary.ranking,
        precis::summarize::extractive::Ranking::Embeddings
    );
    assert_eq!(summary.engine, model);
    // Random weights embed every sentence alike, so the redundancy check may keep only one.
    assert!(
        (1..=2).contains(&summary.sentences.len()),
        "{:?}",
        summary.sentences
    );
}

#[test]
fn a_pulled_embedder_ranks_its_languages_ahead_of_the_catalog_s_further_embedders() {
    // The catalog lists another embedder (the BERT one, pulled elsewhere) for en, es and pt, as
    // the default catalog lists multilingual-e5-small for about a hundred languages; the pulled
    // XLM-R model's card says en, es, fr, de. Mechanics only (random weights).
    let hub = TestHub::start();
    hub.add_factory_repo_in(
        "hub-xlmr",
        "test-org/tiny-xlmr-embedder",
        "tiny-xlmr-embedder",
    );
    hub.add_factory_repo_in(
        "hub-xlmr",
        "test-org/tiny-bert-spm-embedder",
        "tiny-bert-spm-embedder",
    );
    let elsewhere = tempfile::tempdir().unwrap();
    precis::hub::pull(
        "test-org/tiny-bert-spm-embedder",
        elsewhere.path(),
        &options(&hub),
    )
    .unwrap();
    let models = tempfile::tempdir().unwrap();
    precis::hub::pull("test-org/tiny-xlmr-embedder", models.path(), &options(&hub)).unwrap();
    let catalog = models.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            "[[more_embeddings]]\nid = \"catalog-embedder\"\npath = {:?}\nengine = \"rust-bert\"\nlanguages = [\"en\", \"es\", \"pt\"]\n",
            elsewhere.path().join("test-org--tiny-bert-spm-embedder")
        ),
    )
    .unwrap();
    let settings = RuntimeSettings {
        config: Some(catalog),
        ..settings(models.path())
    };
    let (pipeline, statuses) = Pipeline::load(&settings).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");
    for (article, language, model) in [
        (ENGLISH_ARTICLE, "en", "test-org/tiny-xlmr-embedder"),
        (SPANISH_ARTICLE, "es", "test-org/tiny-xlmr-embedder"),
        (PORTUGUESE_ARTICLE, "pt", "catalog-embedder"),
    ] {
        assert_ranked_by(&digest_summary(&pipeline, article, language), model);
    }
}

#[test]
fn an_xlmr_sentence_transformers_repository_is_pulled_embeds_as_sentence_transformers_and_ranks_a_digest(
) {
    pull_embedder_and_rank(
        "test-org/tiny-xlmr-embedder",
        "tiny-xlmr-embedder",
        "xlm-roberta",
        "query: ",
    );
}

#[test]
fn a_bert_repository_with_xlmr_s_sentencepiece_tokenizer_is_pulled_and_embeds_as_sentence_transformers(
) {
    // multilingual-e5-small's and paraphrase-multilingual-MiniLM-L12-v2's layout: BERT layers,
    // XLM-R's tokenizer; this one pools the CLS token and has no prompt.
    pull_embedder_and_rank(
        "test-org/tiny-bert-spm-embedder",
        "tiny-bert-spm-embedder",
        "bert",
        "",
    );
}

#[test]
fn xlmr_embedders_precis_cannot_serve_are_refused_before_their_weights() {
    let repo = "test-org/tiny-xlmr-embedder";
    let original = factory_files("hub-xlmr", "tiny-xlmr-embedder");
    let bpe_model = factory_files("hub-many", "tiny-m2m100")["sentencepiece.bpe.model"].clone();
    type Change = fn(&mut BTreeMap<String, Vec<u8>>, &[u8]);
    let cases: [(&str, Change, &[&str]); 6] = [
        (
            "no pooling configuration",
            |files, _| {
                files.remove("1_Pooling/config.json");
            },
            &["no 1_Pooling/config.json", "sentence-transformers layout"],
        ),
        (
            "no modules.json",
            |files, _| {
                files.remove("modules.json");
            },
            &["no modules.json", "sentence-transformers layout"],
        ),
        (
            "a BPE SentencePiece model",
            |files, bpe| {
                files.insert("sentencepiece.bpe.model".into(), bpe.to_vec());
            },
            &["sentencepiece.bpe.model", "BPE", "unigram"],
        ),
        (
            "a tokenizer file that is not SentencePiece",
            |files, _| {
                files.insert(
                    "sentencepiece.bpe.model".into(),
                    b"{\"not\": \"a model\"}".to_vec(),
                );
            },
            &["not a SentencePiece model", "sentence-transformers layout"],
        ),
        (
            "only tokenizer.json",
            |files, _| {
                files.remove("sentencepiece.bpe.model");
                files.insert("tokenizer.json".into(), b"{}".to_vec());
            },
            &["no tokenizer precis reads", "tokenizer.json alone"],
        ),
        (
            "a Dense module",
            |files, _| {
                let modules = br#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                    {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#;
                files.insert("modules.json".into(), modules.to_vec());
            },
            &["sentence_transformers.models.Dense", "Normalize"],
        ),
    ];
    for (case, change, expected) in cases {
        let hub = TestHub::start();
        let mut files = original.clone();
        change(&mut files, &bpe_model);
        hub.add_repo(repo, files);
        let models = tempfile::tempdir().unwrap();
        let error = precis::hub::pull(repo, models.path(), &options(&hub)).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, HubError::Unusable { .. }),
            "{case}: {error:?}"
        );
        for part in expected {
            assert!(message.contains(part), "{case}: {part:?} not in {message}");
        }
        assert!(
            hub.requests_for("model.safetensors").is_empty(),
            "{case}: weights were fetched"
        );
        assert!(visible_entries(models.path()).is_empty(), "{case}");
    }

    // A card naming no language: refused with the fix, then served for what --language says.
    let hub = TestHub::start();
    let mut files = original.clone();
    files.insert("README.md".into(), b"# no front matter\n".to_vec());
    hub.add_repo(repo, files);
    let models = tempfile::tempdir().unwrap();
    let error = precis::hub::pull(repo, models.path(), &options(&hub)).unwrap_err();
    assert!(error.to_string().contains("--language"), "{error}");
    assert!(hub.requests_for("model.safetensors").is_empty());
    let outcome = precis::hub::pull(
        repo,
        models.path(),
        &PullOptions {
            languages: vec!["pt".into()],
            prompt: Some("passage: ".into()),
            ..options(&hub)
        },
    )
    .unwrap();
    assert!(
        matches!(&outcome, PullOutcome::Pulled { role: PulledRole::SentenceEmbeddings { languages }, .. } if languages == &["pt"]),
        "{outcome:?}"
    );
    // --prompt overrides the repository's "query: ".
    let text_input = std::fs::read_to_string(
        models
            .path()
            .join(precis::hub::directory_name(repo))
            .join("text_input.json"),
    )
    .unwrap();
    assert!(
        text_input.contains(r#""prefix":"passage: ""#),
        "{text_input}"
    );
}
