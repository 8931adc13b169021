package bftledger.netfault;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * A tiny process the namespace tests run on each host, using only the JDK: a TCP echo server and
 * a UDP receiver that remembers tokens, driven by one-line commands on stdin, one answer line each.
 *
 * <pre>
 *   args: TCP_PORT UDP_PORT            (0 = any free port)
 *   prints: READY tcpPort udpPort
 *   tcp HOST PORT TIMEOUT_MS           -> OK | FAIL reason      (connect, send, read the echo)
 *   udp HOST PORT PREFIX COUNT         -> SENT COUNT            (datagrams "PREFIX-i"; locally dropped ones count)
 *   count PREFIX EXPECTED TIMEOUT_MS   -> COUNT n               (waits until n >= EXPECTED or timeout)
 *   pid                                -> PID n
 * </pre>
 * Exits when stdin closes, so it never outlives the test that started it.
 */
public final class Probe {
    private static final int TOKENS_MAX = 100_000;
    private static final Set<String> tokens = new HashSet<>();

    private Probe() {}

    public static void main(String[] args) throws Exception {
        TcpEcho echo = new TcpEcho(new InetSocketAddress(Integer.parseInt(args[0])));
        DatagramSocket udp = new DatagramSocket(Integer.parseInt(args[1]));
        Thread receiver = new Thread(() -> receive(udp), "udp-receive");
        receiver.setDaemon(true);
        receiver.start();
        System.out.println("READY " + echo.port() + " " + udp.getLocalPort());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            System.out.println(handle(line.trim().split("\\s+")));
            System.out.flush();
        }
        echo.close();
        udp.close();
    }

    private static String handle(String[] f) {
        try {
            switch (f[0]) {
                case "tcp":
                    return tcp(f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3]));
                case "udp": {
                    int count = Integer.parseInt(f[4]);
                    try (DatagramSocket s = new DatagramSocket()) {
                        InetAddress to = InetAddress.getByName(f[1]);
                        for (int i = 0; i < count; i++) {
                            byte[] b = (f[3] + "-" + i).getBytes(StandardCharsets.UTF_8);
                            try {
                                s.send(new DatagramPacket(b, b.length, to, Integer.parseInt(f[2])));
                            } catch (IOException droppedLocally) {
                                // An OUTPUT DROP rule makes send fail with EPERM: the datagram is lost, as intended.
                            }
                        }
                    }
                    return "SENT " + count;
                }
                case "count":
                    return "COUNT " + awaitCount(f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]));
                case "pid":
                    return "PID " + ProcessHandle.current().pid();
                default:
                    return "FAIL unknown command " + Arrays.toString(f);
            }
        } catch (Exception e) {
            return "FAIL " + e;
        }
    }

    private static String tcp(String host, int port, int timeoutMillis) {
        byte[] ping = ("ping-" + System.nanoTime() + "\n").getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), timeoutMillis);
            s.setSoTimeout(timeoutMillis);
            OutputStream out = s.getOutputStream();
            out.write(ping);
            out.flush();
            InputStream in = s.getInputStream();
            byte[] back = in.readNBytes(ping.length);
            return Arrays.equals(ping, back) ? "OK" : "FAIL echo differs: " + new String(back, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "FAIL " + e;
        }
    }

    private static void receive(DatagramSocket udp) {
        byte[] buf = new byte[512];
        while (!udp.isClosed()) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                udp.receive(p);
            } catch (IOException e) {
                return;
            }
            String token = new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
            synchronized (tokens) {
                if (tokens.size() < TOKENS_MAX) {
                    tokens.add(token);
                }
                tokens.notifyAll();
            }
        }
    }

    private static int awaitCount(String prefix, int expected, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        synchronized (tokens) {
            while (true) {
                int n = (int) tokens.stream().filter(t -> t.startsWith(prefix + "-")).count();
                long left = deadline - System.nanoTime();
                if (n >= expected || left <= 0) {
                    return n;
                }
                tokens.wait(Math.max(1, left / 1_000_000L));
            }
        }
    }
}
