//! Where a notebook's journal lives, and who is making a change.

use std::path::{Path, PathBuf};

/// `PYSHEETS_JOURNAL` set to one of these turns the journal off (benchmarks, replays).
const OFF: [&str; 4] = ["off", "0", "none", "false"];

/// Where the journal is: a file, or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    File {
        path: PathBuf,
        /// The notebook's path, when the frontend or server told it.
        notebook: Option<String>,
    },
    Off,
}

/// The rules, in order: `PYSHEETS_JOURNAL` (a path, or `off`); the notebook jupyter_server
/// names in `JPY_SESSION_NAME`; the one VS Code names in `__vsc_ipynb_file__`
/// (`vscode_file`); else `.pysheets/kernel.journal.jsonl` in the working directory. Beside a
/// notebook, the journal is `.pysheets/<notebook file name>.journal.jsonl` in its folder.
pub fn choose(
    env_journal: Option<&str>,
    session_name: Option<&str>,
    vscode_file: Option<&str>,
    cwd: &Path,
) -> Place {
    if let Some(setting) = env_journal.map(str::trim).filter(|s| !s.is_empty()) {
        if OFF.contains(&setting.to_ascii_lowercase().as_str()) {
            return Place::Off;
        }
        return Place::File {
            path: cwd.join(setting),
            notebook: session_name.or(vscode_file).map(String::from),
        };
    }
    let notebook = session_name
        .or(vscode_file)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let Some(notebook) = notebook else {
        return Place::File {
            path: cwd.join(".pysheets").join("kernel.journal.jsonl"),
            notebook: None,
        };
    };
    let as_path = Path::new(notebook);
    let name = as_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernel".into());
    // jupyter_server gives the path relative to its root and starts the kernel in the
    // notebook's folder: a relative path's folder is the working directory.
    let folder = match as_path.parent() {
        Some(parent) if as_path.is_absolute() => parent.to_path_buf(),
        _ => cwd.to_path_buf(),
    };
    Place::File {
        path: folder
            .join(".pysheets")
            .join(format!("{name}.journal.jsonl")),
        notebook: Some(notebook.to_string()),
    }
}

/// Who a request comes from: the header's `username` when the frontend filled it in, else
/// `JUPYTERHUB_USER`, else the OS user.
pub fn user(header_username: &str, hub_user: Option<&str>, os_user: &str) -> String {
    let from_header = header_username.trim();
    // Not names of people: jupyter_client's default when it knows nothing better is the
    // literal "username"; VS Code's raw kernels send a random UUID per connection.
    let says_nothing = from_header.is_empty()
        || from_header == "username"
        || uuid::Uuid::parse_str(from_header).is_ok();
    if !says_nothing {
        return from_header.to_string();
    }
    match hub_user.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => os_user.to_string(),
    }
}

/// The OS user running the kernel.
pub fn os_user() -> String {
    let uid = unsafe { libc::geteuid() };
    // SAFETY: getpwuid returns a pointer into static storage or null; it is read at once.
    let from_passwd = unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr((*pw).pw_name)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    };
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: Place) -> (PathBuf, Option<String>) {
        match p {
            Place::File { path, notebook } => (path, notebook),
            Place::Off => panic!("off"),
        }
    }

    #[test]
    fn the_environment_wins_and_can_turn_it_off() {
        let cwd = Path::new("/w");
        assert_eq!(choose(Some("off"), Some("a.ipynb"), None, cwd), Place::Off);
        assert_eq!(choose(Some("OFF"), None, None, cwd), Place::Off);
        let (path, nb) = file(choose(Some("/j/x.jsonl"), Some("a.ipynb"), None, cwd));
        assert_eq!(path, PathBuf::from("/j/x.jsonl"));
        assert_eq!(nb.as_deref(), Some("a.ipynb"));
        let (path, _) = file(choose(Some("rel.jsonl"), None, None, cwd));
        assert_eq!(path, PathBuf::from("/w/rel.jsonl"));
    }

    #[test]
    fn beside_the_notebook() {
        let cwd = Path::new("/w/sub");
        let (path, nb) = file(choose(None, Some("sub/budget.ipynb"), None, cwd));
        assert_eq!(
            path,
            PathBuf::from("/w/sub/.pysheets/budget.ipynb.journal.jsonl")
        );
        assert_eq!(nb.as_deref(), Some("sub/budget.ipynb"));
        let (path, _) = file(choose(None, None, Some("/home/u/My Docs/n.ipynb"), cwd));
        assert_eq!(
            path,
            PathBuf::from("/home/u/My Docs/.pysheets/n.ipynb.journal.jsonl")
        );
        let (path, nb) = file(choose(None, None, None, cwd));
        assert_eq!(path, PathBuf::from("/w/sub/.pysheets/kernel.journal.jsonl"));
        assert_eq!(nb, None);
    }

    #[test]
    fn who_changed_it() {
        assert_eq!(user("alice", Some("hub"), "root"), "alice");
        assert_eq!(user("", Some("hub"), "root"), "hub");
        assert_eq!(user("username", None, "root"), "root");
        assert_eq!(user(" ", Some(""), "root"), "root");
        assert_eq!(
            user("0aa4d90d-2b03-4d3e-a68f-dee0fb7b43b5", Some("hub"), "root"),
            "hub"
        );
        assert!(!os_user().is_empty());
    }
}
