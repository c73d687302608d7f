//! The emulator's side of the face worker, and the protocol both sides speak on the worker's stdin and stdout:
//! frames of a 4-byte big-endian length and a body. The emulator sends an image's bytes; the worker answers
//! with one JSON `Reply`. dlib lives in the worker so that the emulator (and everything that links it) builds
//! without dlib, and a machine without it still runs the deterministic engine.

use super::Analysed;
use crate::error::{AwsError, Result};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// No frame is larger: the emulator's largest accepted image (15 MB from S3) with room to spare.
pub const MAX_FRAME: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Sent once, when the models are loaded.
    Ready,
    Faces(Vec<Analysed>),
    /// The image cannot be analysed; `too_large` tells ImageTooLarge from InvalidImageFormat.
    Refused {
        too_large: bool,
        message: String,
    },
}

pub fn write_frame(out: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| {
            std::io::Error::other(format!("a frame of {} bytes is too large", body.len()))
        })?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// The next frame, or `None` at a clean end of input.
pub fn read_frame(input: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a frame of {len} bytes is too large"
        )));
    }
    let mut body = vec![0; len];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the face worker {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("the face worker {program} stopped before it was ready ({detail}); its errors are in the emulator's log")]
    NotReady { program: PathBuf, detail: String },
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn start(program: &Path, models: &Path) -> std::result::Result<Self, WorkerError> {
        let mut child = Command::new(program)
            .arg("--models")
            .arg(models)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| WorkerError::Spawn {
                program: program.to_path_buf(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(WorkerError::NotReady {
                program: program.to_path_buf(),
                detail: "no pipes".into(),
            });
        };
        let mut running = Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        match running.reply() {
            Ok(Reply::Ready) => Ok(running),
            Ok(other) => Err(WorkerError::NotReady {
                program: program.to_path_buf(),
                detail: format!("it said {other:?} first"),
            }),
            Err(e) => Err(WorkerError::NotReady {
                program: program.to_path_buf(),
                detail: e.to_string(),
            }),
        }
    }

    fn reply(&mut self) -> std::io::Result<Reply> {
        let frame = read_frame(&mut self.stdout)?
            .ok_or_else(|| std::io::Error::other("the worker closed its output"))?;
        serde_json::from_slice(&frame).map_err(std::io::Error::other)
    }

    fn ask(&mut self, image: &[u8]) -> std::io::Result<Reply> {
        write_frame(&mut self.stdin, image)?;
        self.reply()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One worker process, one image at a time (dlib's detector is not thread-safe, and two cores gain little from
/// two). A worker that dies is started again for the next call.
pub struct FaceWorker {
    program: PathBuf,
    models: PathBuf,
    running: Mutex<Option<Running>>,
}

impl FaceWorker {
    /// Starts the worker and waits until its models are loaded, so a broken installation shows at start.
    pub fn start(program: &Path, models: &Path) -> std::result::Result<Self, WorkerError> {
        let running = Running::start(program, models)?;
        Ok(FaceWorker {
            program: program.to_path_buf(),
            models: models.to_path_buf(),
            running: Mutex::new(Some(running)),
        })
    }

    pub fn analyse(&self, image: &[u8]) -> Result<Vec<Analysed>> {
        let mut slot = self
            .running
            .lock()
            .map_err(|_| AwsError::internal("the face worker's lock is poisoned"))?;
        let mut last = String::new();
        for _ in 0..2 {
            if slot.is_none() {
                match Running::start(&self.program, &self.models) {
                    Ok(r) => *slot = Some(r),
                    Err(e) => return Err(AwsError::internal(e.to_string())),
                }
            }
            let Some(running) = slot.as_mut() else {
                continue;
            };
            match running.ask(image) {
                Ok(Reply::Faces(faces)) => return Ok(faces),
                Ok(Reply::Refused { too_large, message }) => {
                    let kind = if too_large {
                        "ImageTooLargeException"
                    } else {
                        "InvalidImageFormatException"
                    };
                    return Err(AwsError::new(kind, message));
                }
                Ok(Reply::Ready) => last = "the worker said Ready twice".into(),
                Err(e) => last = e.to_string(),
            }
            tracing::warn!(error = %last, "the face worker failed; starting it again");
            *slot = None;
        }
        Err(AwsError::internal(format!(
            "the face worker failed twice: {last}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, b"hello").expect("write");
        write_frame(&mut buffer, b"").expect("write");
        let mut input = buffer.as_slice();
        assert_eq!(
            read_frame(&mut input).expect("read"),
            Some(b"hello".to_vec())
        );
        assert_eq!(read_frame(&mut input).expect("read"), Some(Vec::new()));
        assert_eq!(read_frame(&mut input).expect("read"), None);
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(read_frame(&mut huge.as_slice()).is_err());
    }

    #[test]
    fn a_missing_worker_is_named_in_the_error() {
        let err = FaceWorker::start(Path::new("/nonexistent/riv-face-engine"), Path::new("/tmp"))
            .err()
            .expect("cannot start");
        assert!(
            err.to_string().contains("/nonexistent/riv-face-engine"),
            "{err}"
        );
    }
}
