//! A terminal for tests: a private tmux server (`tmux -L <unique>`) running
//! one command; keys go in with send-keys, the screen comes back with
//! capture-pane. The server is killed when the guard drops.

use std::process::Command;
use std::time::Duration;

use pier_testkit::wait_until;

pub struct Tmux {
    socket: String,
    /// The server's socket file, removed on drop.
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    /// Start `shell_cmd` (run by `sh -c`) in a 120x30 window.
    pub fn start(shell_cmd: &str) -> Tmux {
        let socket = format!(
            "pier-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut t = Tmux {
            socket,
            socket_path: None,
        };
        let st = t
            .cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "30"])
            .arg(shell_cmd)
            .status()
            .expect("run tmux (apt-get install tmux)");
        assert!(st.success(), "tmux new-session failed");
        // Keep the pane (and its last screen) after the command exits.
        let _ = t.cmd().args(["set-option", "-g", "remain-on-exit", "on"]).status();
        t.socket_path = t
            .cmd()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket);
        c
    }

    /// Type text (tmux key names allowed: `Enter`, `C-p`).
    pub fn keys(&self, keys: &[&str]) {
        let st = self.cmd().arg("send-keys").args(keys).status().expect("tmux send-keys");
        assert!(st.success(), "tmux send-keys {keys:?}");
    }

    /// Type literal text.
    pub fn type_text(&self, text: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-l", text])
            .status()
            .expect("tmux send-keys");
        assert!(st.success(), "tmux send-keys -l {text:?}");
    }

    pub fn resize(&self, width: u16, height: u16) {
        let _ = self
            .cmd()
            .args(["resize-window", "-x", &width.to_string(), "-y", &height.to_string()])
            .status();
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen contains `text`; the screen, or a panic with it.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
        let mut s = String::new();
        let seen = wait_until(Duration::from_secs(secs), || {
            s = self.screen();
            s.contains(text)
        });
        assert!(seen, "waited {secs}s for {text:?}; screen:\n{s}");
        s
    }

    /// Wait until the program in the pane has put its terminal in raw mode
    /// (a CLI does once its attach session is up).
    pub fn wait_raw(&self, secs: u64) {
        let tty = self
            .cmd()
            .args(["display-message", "-p", "#{pane_tty}"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .expect("tmux display-message");
        let mut settings = String::new();
        let raw = wait_until(Duration::from_secs(secs), || {
            settings = Command::new("stty")
                .args(["-F", &tty, "-a"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            settings.split_whitespace().any(|w| w == "-icanon")
        });
        assert!(
            raw,
            "{tty} not in raw mode after {secs}s: {settings}\nscreen:\n{}",
            self.screen()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}
