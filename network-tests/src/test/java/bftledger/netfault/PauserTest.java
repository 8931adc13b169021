package bftledger.netfault;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Pauser on a Probe JVM in this namespace: needs no root. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PauserTest {
    private ProbeProcess probe;
    private Pauser pauser;

    @BeforeEach
    void start() throws IOException {
        probe = ProbeProcess.startLocal(0, 0);
        pauser = new Pauser();
    }

    @AfterEach
    void stop() throws IOException {
        try {
            pauser.close();
        } finally {
            probe.close();
        }
    }

    private Socket connect() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), probe.tcpPort()), 20_000);
        return s;
    }

    @Test
    void pausedProcessAnswersNothingUntilResumed() throws Exception {
        try (Socket s = connect()) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write('a');
            assertEquals('a', s.getInputStream().read());

            pauser.pause(probe.process);
            assertTrue(Pauser.isStopped(probe.process.toHandle()));
            // The kernel still holds the socket, but nobody in the process reads it.
            s.getOutputStream().write('b');
            s.setSoTimeout(300);
            assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());

            pauser.resume(probe.process);
            assertFalse(Pauser.isStopped(probe.process.toHandle()));
            s.setSoTimeout(20_000);
            assertEquals('b', s.getInputStream().read());
        }
        assertEquals("PID " + probe.process.pid(), probe.command("pid"));
    }

    @Test
    void kill9EndsEvenAPausedProcess() throws Exception {
        pauser.pause(probe.process);
        pauser.kill9(probe.process);
        assertFalse(probe.process.isAlive());
        assertEquals(137, probe.process.exitValue(), "128 + SIGKILL");
    }

    @Test
    void closeResumesWhatIsStillPaused() throws Exception {
        pauser.pause(probe.process);
        pauser.close();
        assertFalse(Pauser.isStopped(probe.process.toHandle()));
        try (Socket s = connect()) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(new byte[] {1, 2});
            assertArrayEquals(new byte[] {1, 2}, s.getInputStream().readNBytes(2));
        }
    }

    @Test
    void refusesProcessesThisJvmDidNotStart() {
        assertThrows(IllegalArgumentException.class, () -> pauser.pause(ProcessHandle.current()));
        ProcessHandle.of(1).ifPresent(init ->
                assertThrows(IllegalArgumentException.class, () -> pauser.kill9(init)));
    }
}
