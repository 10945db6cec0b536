package io.pgsource.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback that a test controls, to cut the network path between pgsource and a server and
 * restore it: {@link #cut()} closes every open connection and refuses new ones (a refused connect, as from a
 * host whose service is down); {@link #restore()} accepts again. Each accepted connection is pumped by two daemon
 * threads, one per direction.
 */
public final class TcpProxy implements AutoCloseable {
    private final String targetHost;
    private final int targetPort;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final AtomicLong accepted = new AtomicLong();
    private volatile ServerSocket server;
    private volatile int port;
    private volatile boolean closed;
    private volatile Thread acceptor;

    private TcpProxy(String targetHost, int targetPort) {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
    }

    /** Starts a proxy on a free loopback port that forwards to {@code targetHost:targetPort}. */
    public static TcpProxy start(String targetHost, int targetPort) throws IOException {
        TcpProxy proxy = new TcpProxy(targetHost, targetPort);
        proxy.listen(0);
        return proxy;
    }

    public String host() {
        return "127.0.0.1";
    }

    /** The local port; it stays the same across {@link #cut()} and {@link #restore()}. */
    public int port() {
        return port;
    }

    /** Connections accepted so far (a reconnect shows as a new one). */
    public long accepted() {
        return accepted.get();
    }

    /** Closes the listening socket and every open connection: clients see a reset, then refused connects. */
    public synchronized void cut() {
        ServerSocket listening = server;
        server = null;
        closeQuietly(listening);
        // a connection the acceptor took while the socket closed must not outlive the cut: Java closes a listening socket
        // that a thread is accepting on only once that thread is out of accept, which can return one more connection
        Thread a = acceptor;
        if (a != null) {
            try {
                a.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        open.forEach(TcpProxy::closeQuietly);
        open.clear();
    }

    /** Listens again on the same port. */
    public synchronized void restore() throws IOException {
        if (server == null && !closed) {
            listen(port);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        cut();
    }

    private void listen(int wanted) throws IOException {
        ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), wanted));
        server = socket;
        port = socket.getLocalPort();
        Thread t = new Thread(() -> accept(socket), "tcp-proxy-accept-" + port);
        t.setDaemon(true);
        acceptor = t;
        t.start();
    }

    private void accept(ServerSocket socket) {
        while (!socket.isClosed()) {
            try {
                Socket client = socket.accept();
                if (server != socket) {
                    closeQuietly(client); // accepted while cut() closed the socket: refused, as after the cut
                    return;
                }
                Socket upstream;
                try {
                    upstream = new Socket(targetHost, targetPort);
                } catch (IOException e) {
                    closeQuietly(client);
                    continue;
                }
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                open.add(client);
                open.add(upstream);
                accepted.incrementAndGet();
                pump(client, upstream);
                pump(upstream, client);
            } catch (IOException e) {
                return; // the listening socket was closed by cut() or close()
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                }
            } catch (IOException e) {
                // one side closed or was cut: close both below
            } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
            }
        }, "tcp-proxy-pump-" + port);
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing is best effort: the point is that the path is gone
            }
        }
    }
}
