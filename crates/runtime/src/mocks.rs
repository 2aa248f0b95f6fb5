//! The mock configuration file a runtime answers `StartExecution` on `stateMachine:NAME#CASE`
//! from (Step Functions Local's format, [`stepwise_asl::mock`]): loaded when the runtime is
//! built, read again whenever the file's modification time or size changes, so a test suite
//! can rewrite it between tests without restarting the server. A file that does not load is
//! refused with the place inside it and what is wrong; a running server keeps serving and reports
//! the problem to the start that needs the file.

use crate::{Error, Invalid};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use stepwise_asl::mock::{ExecutionMocks, MockConfig};

/// A mock configuration file, reloaded when it changes.
#[derive(Debug)]
pub struct MockFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    config: Arc<MockConfig>,
}

impl MockFile {
    /// Loads `path` (an error names the file, the JSON pointer inside it and what is wrong).
    pub fn open(path: &Path) -> Result<MockFile, Error> {
        let (stamp, config) = read(path)?;
        Ok(MockFile { path: path.to_path_buf(), loaded: Mutex::new(Loaded { stamp, config: Arc::new(config) }) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration as the file is now (read again if it changed since the last time).
    pub fn current(&self) -> Result<Arc<MockConfig>, Error> {
        let now = stamp(&self.path);
        let mut loaded = self.loaded.lock().map_err(|_| Error::storage("the mock configuration", "lock poisoned"))?;
        if now != loaded.stamp || now.is_none() {
            let (stamp, config) = read(&self.path)?;
            *loaded = Loaded { stamp, config: Arc::new(config) };
        }
        Ok(loaded.config.clone())
    }

    /// Test case `case` of the machine `machine` as an execution carries it; `InvalidName` when
    /// the file does not define it.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<ExecutionMocks, Error> {
        let config = self.current()?;
        match config.test_case(machine, case) {
            Some(tc) => Ok(tc.for_execution(case)),
            None => Err(Error::invalid(
                Invalid::Name,
                format!(
                    "Invalid Name: test case '{case}' of state machine '{machine}' is not defined in the mock configuration {}",
                    self.path.display()
                ),
            )),
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn read(path: &Path) -> Result<(Option<(SystemTime, u64)>, MockConfig), Error> {
    let stamp = stamp(path);
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(Invalid::Parameter, format!("the mock configuration {} cannot be read: {e}", path.display()))
    })?;
    let config = MockConfig::parse(&text)
        .map_err(|e| Error::invalid(Invalid::Parameter, format!("{} ({})", e, path.display())))?;
    Ok((stamp, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_when_the_file_changes_and_refuses_a_bad_one() {
        let dir = std::env::temp_dir().join(format!("stepwise-mocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mocks.json");
        let file = |ret: &str| {
            format!(
                r#"{{"StateMachines": {{"M": {{"TestCases": {{"Happy": {{"T": "R"}}}}}}}},
                   "MockedResponses": {{"R": {{"0": {{"Return": {ret}}}}}}}}}"#
            )
        };
        std::fs::write(&path, file("1")).expect("write");
        let mocks = MockFile::open(&path).expect("loads");
        let mut tc = mocks.test_case("M", "Happy").expect("case");
        assert_eq!(tc.next_call("T"), Some(stepwise_asl::mock::MockOutcome::Return(1.into())));
        assert_eq!(mocks.test_case("M", "Sad").map_err(|e| e.code()).err(), Some("InvalidName"));

        std::fs::write(&path, file("22")).expect("write");
        let mut tc = mocks.test_case("M", "Happy").expect("case");
        assert_eq!(tc.next_call("T"), Some(stepwise_asl::mock::MockOutcome::Return(22.into())));

        std::fs::write(&path, r#"{"MockedResponses": {"R": {"0": {"Throw": {"Cause": "x"}}}}}"#).expect("write");
        let e = mocks.test_case("M", "Happy").expect_err("refused");
        assert!(e.to_string().contains("/MockedResponses/R/0/Throw/Error"), "{e}");
        assert!(MockFile::open(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
