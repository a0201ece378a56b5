//! A TCP proxy in front of the broker whose connections a test can cut and restore, to lose
//! the bus connection mid-stream the way a network failure or broker restart would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct ChaosProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_cut, accept_links) = (cut.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                if accept_cut.load(Ordering::SeqCst) {
                    continue; // dropped at once: the broker is "unreachable"
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream.as_str()).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_links.lock().expect("links").push(link);
            }
        });
        Self { addr, cut, links, accept }
    }

    /// Drops every open connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// The broker URL through this proxy.
    pub fn url(&self, broker_url: &str) -> String {
        let rest = broker_url.split_once('@').map_or("", |(_, rest)| rest);
        let (_, path) = rest.split_once('/').unwrap_or((rest, "%2f"));
        let credentials = broker_url.trim_start_matches("amqp://").split_once('@').map_or("guest:guest", |(c, _)| c);
        format!("amqp://{credentials}@{}/{path}", self.addr)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// host:port of an amqp:// URL.
pub fn broker_addr(url: &str) -> String {
    let rest = url.split_once('@').map_or_else(|| url.trim_start_matches("amqp://"), |(_, rest)| rest);
    let host_port = rest.split('/').next().unwrap_or("127.0.0.1:5672");
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}
