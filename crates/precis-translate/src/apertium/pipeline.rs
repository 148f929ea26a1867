//! One Apertium pipeline: every program of a mode spawned directly (no shell), chained by pipes,
//! all in null-flush mode, fed by a writer thread and drained by a reader thread so that the
//! owner can wait on a deadline and kill the processes, which unblocks both threads.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// The programs of a mode, each as argv, in pipe order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipelineSpec {
    pub commands: Vec<Vec<String>>,
}

/// Builds the null-flush pipeline of a mode file with Apertium's own `apertium-wblank-mode -z`,
/// which also inserts the word-bound-blank programs our placeholders rely on.
pub(crate) fn pipeline_spec(mode_file: &Path) -> Result<PipelineSpec, String> {
    let output = Command::new("apertium-wblank-mode")
        .arg("-z")
        .arg(mode_file)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run apertium-wblank-mode ({error}); is apertium installed? Run the project's setup script"))?;
    if !output.status.success() {
        return Err(format!(
            "apertium-wblank-mode failed on {} ({}): {}",
            mode_file.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_pipeline(&String::from_utf8_lossy(&output.stdout))
}

/// Splits a mode's shell pipeline into argv lists. `$1` is the generator's option (`-g`: mark
/// unknown words, which we then strip and report), `$2` the tagger's extra options (none).
pub(crate) fn parse_pipeline(pipeline: &str) -> Result<PipelineSpec, String> {
    let tokens = shlex::split(pipeline.trim())
        .ok_or_else(|| format!("cannot parse the mode pipeline {pipeline:?}"))?;
    let mut commands: Vec<Vec<String>> = vec![Vec::new()];
    for token in tokens {
        match token.as_str() {
            "|" => commands.push(Vec::new()),
            "$1" => push_argument(&mut commands, "-g".to_string()),
            "$2" => {}
            _ if token.starts_with('$') => {
                return Err(format!(
                    "unexpected shell variable {token} in mode pipeline"
                ))
            }
            _ => push_argument(&mut commands, token),
        }
    }
    if commands.iter().any(Vec::is_empty) {
        return Err(format!("empty command in mode pipeline {pipeline:?}"));
    }
    Ok(PipelineSpec { commands })
}

fn push_argument(commands: &mut [Vec<String>], argument: String) {
    if let Some(last) = commands.last_mut() {
        last.push(argument);
    }
}

enum ReadEvent {
    Segment(Vec<u8>),
    Closed(String),
}

/// Why an exchange with the pipeline did not complete.
#[derive(Debug)]
pub(crate) enum ExchangeFailure {
    TimedOut,
    Died(String),
}

/// Running processes of one pipeline. Dropping it kills them.
pub(crate) struct RunningPipeline {
    children: Vec<Child>,
    input: Sender<Vec<u8>>,
    output: Receiver<ReadEvent>,
}

impl RunningPipeline {
    pub(crate) fn spawn(spec: &PipelineSpec) -> Result<Self, String> {
        let mut children: Vec<Child> = Vec::with_capacity(spec.commands.len());
        let mut previous_stdout: Option<ChildStdout> = None;
        for argv in &spec.commands {
            let Some((program, arguments)) = argv.split_first() else {
                continue;
            };
            let stdin = match previous_stdout.take() {
                Some(stdout) => Stdio::from(stdout),
                None => Stdio::piped(),
            };
            let spawned = Command::new(program)
                .args(arguments)
                // Apertium's case handling needs a UTF-8 locale, whatever the service runs with.
                .env("LC_ALL", "C.UTF-8")
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    previous_stdout = child.stdout.take();
                    children.push(child);
                }
                Err(error) => {
                    kill_all(&mut children);
                    return Err(format!("cannot start {program}: {error}"));
                }
            }
        }
        let (Some(stdin), Some(stdout)) = (
            children.first_mut().and_then(|child| child.stdin.take()),
            previous_stdout,
        ) else {
            kill_all(&mut children);
            return Err("pipeline has no programs".to_string());
        };

        let (input, writer_jobs) = crossbeam_channel::unbounded::<Vec<u8>>();
        let (reader_events, output) = crossbeam_channel::unbounded::<ReadEvent>();
        let spawn_threads = thread::Builder::new()
            .name("apertium-writer".to_string())
            .spawn(move || {
                let mut stdin = stdin;
                for blob in writer_jobs {
                    if stdin.write_all(&blob).and_then(|()| stdin.flush()).is_err() {
                        // The pipeline died or was killed; the owner learns it from the reader.
                        break;
                    }
                }
            })
            .and_then(|_| {
                thread::Builder::new()
                    .name("apertium-reader".to_string())
                    .spawn(move || read_segments(stdout, reader_events))
            });
        if let Err(error) = spawn_threads {
            kill_all(&mut children);
            return Err(format!("cannot start pipeline threads: {error}"));
        }
        Ok(RunningPipeline {
            children,
            input,
            output,
        })
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// False once any program of the pipeline has exited (crashed, killed).
    pub(crate) fn is_alive(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Sends every segment (null-terminated, all at once so every program stays busy) and
    /// collects one output segment per input, in order, before `deadline`.
    pub(crate) fn exchange(
        &mut self,
        segments: &[String],
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, ExchangeFailure> {
        let mut blob = Vec::with_capacity(segments.iter().map(|s| s.len() + 1).sum());
        for segment in segments {
            blob.extend_from_slice(segment.as_bytes());
            blob.push(0);
        }
        self.input
            .send(blob)
            .map_err(|_| ExchangeFailure::Died("pipeline input closed".to_string()))?;
        let mut outputs = Vec::with_capacity(segments.len());
        while outputs.len() < segments.len() {
            // `recv_deadline` still hands out queued messages after the deadline, so a pipeline
            // that keeps producing would never time out without this check.
            if Instant::now() >= deadline {
                return Err(ExchangeFailure::TimedOut);
            }
            match self.output.recv_deadline(deadline) {
                Ok(ReadEvent::Segment(bytes)) => outputs.push(bytes),
                Ok(ReadEvent::Closed(detail)) => return Err(ExchangeFailure::Died(detail)),
                Err(RecvTimeoutError::Timeout) => return Err(ExchangeFailure::TimedOut),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ExchangeFailure::Died("pipeline output closed".to_string()))
                }
            }
        }
        Ok(outputs)
    }
}

impl Drop for RunningPipeline {
    fn drop(&mut self) {
        kill_all(&mut self.children);
    }
}

fn kill_all(children: &mut Vec<Child>) {
    for child in children.iter_mut() {
        // Already exited is fine: we only want none left running.
        let _ = child.kill();
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
    children.clear();
}

fn read_segments(stdout: ChildStdout, events: Sender<ReadEvent>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    loop {
        let mut segment = Vec::new();
        match reader.read_until(0, &mut segment) {
            Ok(0) => {
                let _ = events.send(ReadEvent::Closed("pipeline output ended".to_string()));
                return;
            }
            Ok(_) => {
                if segment.last() == Some(&0) {
                    segment.pop();
                } else {
                    // End of output in the middle of a segment: the pipeline died.
                    let _ = events.send(ReadEvent::Closed("pipeline output ended".to_string()));
                    return;
                }
                if events.send(ReadEvent::Segment(segment)).is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = events.send(ReadEvent::Closed(format!(
                    "reading pipeline output: {error}"
                )));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mode_pipeline_into_commands() {
        let spec = parse_pipeline(
            "lt-proc -z '/data/x y/a.bin' | apertium-tagger -z -g $2 'b.prob' | lt-proc -z $1 'c.bin'\n",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            spec.commands,
            vec![
                vec!["lt-proc", "-z", "/data/x y/a.bin"],
                vec!["apertium-tagger", "-z", "-g", "b.prob"],
                vec!["lt-proc", "-z", "-g", "c.bin"],
            ]
        );
    }

    #[test]
    fn rejects_broken_pipelines() {
        assert!(parse_pipeline("a | | b").is_err());
        assert!(parse_pipeline("a 'unclosed").is_err());
        assert!(parse_pipeline("a $HOME").is_err());
    }
}
