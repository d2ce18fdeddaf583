//! Real processes for deployment tests: server binaries and nginx on 127.0.0.1, each killed
//! when its guard drops, so a failing test leaves nothing running.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// Waits until something accepts connections at `address` (at most 20 s).
pub fn wait_listening(address: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} is not listening at {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed on drop; its output goes to a log file for post-mortems.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Starts `program` with `args`, its stdout and stderr appended to `log`.
    pub fn spawn(program: &Path, args: &[String], log: PathBuf) -> Process {
        let out = std::fs::File::create(&log).expect("create log file");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", program.display()));
        Process { child, log }
    }

    /// Kills the process at once (SIGKILL: no goodbye to its clients) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!(
            "longpoll-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&path).expect("create scratch dir");
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The nginx binary: `$NGINX`, else `nginx` on the PATH or in /usr/sbin. Panics with what to
/// install when there is none (`scripts/test` installs it; the test never skips).
pub fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGINX") {
        return path.into();
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|path| path.is_file())
        .expect("nginx is not installed: run scripts/install-test-deps (Debian: apt-get install nginx-light)")
}

/// nginx in the foreground, single process, serving `site` (the contents of an
/// `http { }`-level config) with every path under a scratch directory.
pub struct Nginx {
    pub address: SocketAddr,
    process: Process,
    dir: ScratchDir,
}

impl Nginx {
    /// Starts nginx with `site`, in which `listen` is the address it must listen on.
    pub fn start(site: &str, listen: SocketAddr) -> Nginx {
        let dir = ScratchDir::new("nginx");
        let root = dir.0.display().to_string();
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             error_log {root}/error.log warn;\n\
             pid {root}/nginx.pid;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {root}/body;\n\
             proxy_temp_path {root}/proxy;\n\
             fastcgi_temp_path {root}/fastcgi;\n\
             uwsgi_temp_path {root}/uwsgi;\n\
             scgi_temp_path {root}/scgi;\n\
             include {root}/site.conf;\n\
             }}\n"
        );
        std::fs::write(dir.0.join("site.conf"), site).expect("write site.conf");
        std::fs::write(dir.0.join("nginx.conf"), config).expect("write nginx.conf");
        let args = [
            "-p".to_owned(),
            root.clone(),
            "-e".to_owned(),
            format!("{root}/error.log"),
            "-c".to_owned(),
            format!("{root}/nginx.conf"),
        ];
        let mut process = Process::spawn(&nginx_binary(), &args, dir.0.join("nginx.out"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
            if !process.is_running() || Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
                let out = std::fs::read_to_string(&process.log).unwrap_or_default();
                panic!("nginx did not start:\n{out}\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            address: listen,
            process,
            dir,
        }
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.process.kill();
    }
}
