//! A TCP forwarder that a test can switch off and on, to simulate a backend outage
//! (PostgreSQL or Redis going away and coming back) without touching the shared servers.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinSet,
};

/// Forwards connections from a local port to `target` while available.
#[derive(Debug, Clone)]
pub struct TcpProxy {
    address: SocketAddr,
    available: Arc<AtomicBool>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl TcpProxy {
    /// Starts forwarding `127.0.0.1:<free port>` to `target`.
    ///
    /// # Panics
    /// When no local port can be bound (a broken test machine).
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port for the test proxy");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let proxy = Self {
            address,
            available: Arc::new(AtomicBool::new(true)),
            connections: Arc::new(Mutex::new(JoinSet::new())),
        };
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !accepting.available.load(Ordering::SeqCst) {
                    drop(inbound); // refused: the "server" is down
                    continue;
                }
                accepting
                    .connections
                    .lock()
                    .await
                    .spawn(forward(inbound, target));
            }
        });
        proxy
    }

    /// The local address clients should connect to.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Simulates an outage: drops every open connection and refuses new ones.
    pub async fn go_down(&self) {
        self.available.store(false, Ordering::SeqCst);
        self.connections.lock().await.abort_all();
    }

    /// Ends the outage: new connections are forwarded again.
    pub fn come_back(&self) {
        self.available.store(true, Ordering::SeqCst);
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr) {
    if let Ok(mut outbound) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
