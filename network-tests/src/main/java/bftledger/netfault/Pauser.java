package bftledger.netfault;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * SIGSTOP / SIGCONT / SIGKILL for processes this JVM started (a paused replica keeps its sockets
 * open but answers nothing, unlike a dead one). The JDK cannot send SIGSTOP or SIGCONT, so those
 * go through kill(1); SIGKILL is {@link ProcessHandle#destroyForcibly()}.
 *
 * <p>Only descendants of this JVM are accepted: a pid the test did not start, or one already
 * reaped and possibly reused, is refused rather than signalled. {@link #close()} resumes every
 * process still paused, so a failed test never leaves a stopped process behind.
 *
 * <p>Signals go to the one pid given. A process started through {@code NetnsNetwork.exec} is the
 * command itself (ip netns exec does not fork); a node launched through a shell wrapper should
 * {@code exec} its JVM, or the caller should pass the JVM's handle from {@code descendants()}.
 */
public final class Pauser implements AutoCloseable {
    /** Bound on waiting for the kernel to report a stop or continue. */
    static final Duration STATE_TIMEOUT = Duration.ofSeconds(10);
    private static final long POLL_MILLIS = 2;

    private final Set<ProcessHandle> paused = new LinkedHashSet<>();

    /** Stops the process (SIGSTOP) and returns once every one of its threads is stopped. */
    public synchronized void pause(ProcessHandle process) throws IOException {
        requireOwnLiveDescendant(process);
        signal("STOP", process);
        paused.add(process);
        awaitState(process, true);
    }

    /** Continues a process stopped by {@link #pause}; returns once it is running again. */
    public synchronized void resume(ProcessHandle process) throws IOException {
        requireOwnLiveDescendant(process);
        signal("CONT", process);
        paused.remove(process);
        awaitState(process, false);
    }

    /** SIGKILL, then waits (bounded) until the process has exited. */
    public synchronized void kill9(ProcessHandle process) throws IOException {
        requireOwnLiveDescendant(process);
        process.destroyForcibly();
        paused.remove(process);
        try {
            process.onExit().get(STATE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for pid " + process.pid() + " to die", e);
        } catch (Exception e) {
            throw new IOException("pid " + process.pid() + " still alive " + STATE_TIMEOUT + " after SIGKILL", e);
        }
    }

    public void pause(Process process) throws IOException {
        pause(process.toHandle());
    }

    public void resume(Process process) throws IOException {
        resume(process.toHandle());
    }

    public void kill9(Process process) throws IOException {
        kill9(process.toHandle());
    }

    /** True when every thread of the process is in the stopped state (T in /proc). */
    public static boolean isStopped(ProcessHandle process) throws IOException {
        Path tasks = Path.of("/proc", Long.toString(process.pid()), "task");
        boolean any = false;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
            for (Path task : ds) {
                char state;
                try {
                    state = state(Files.readString(task.resolve("stat")));
                } catch (NoSuchFileException threadExited) {
                    continue;
                }
                any = true;
                if (state != 'T' && state != 't') {
                    return false;
                }
            }
        } catch (NoSuchFileException e) {
            return false;
        }
        return any;
    }

    /** Resumes every process still paused through this instance. */
    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (ProcessHandle p : paused) {
            if (!p.isAlive()) {
                continue;
            }
            try {
                signal("CONT", p);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        paused.clear();
        if (first != null) {
            throw first;
        }
    }

    private static char state(String stat) {
        // "pid (comm) S ...": comm may hold spaces and parentheses, so read after the last ')'.
        int close = stat.lastIndexOf(')');
        return stat.charAt(close + 2);
    }

    private static void requireOwnLiveDescendant(ProcessHandle process) {
        if (!process.isAlive()) {
            throw new IllegalArgumentException("pid " + process.pid() + " is not alive");
        }
        boolean ours = ProcessHandle.current().descendants().anyMatch(p -> p.equals(process));
        if (!ours) {
            throw new IllegalArgumentException("pid " + process.pid() + " was not started by this JVM; refusing to signal it");
        }
    }

    private static void signal(String signal, ProcessHandle process) throws IOException {
        Process kill = new ProcessBuilder("kill", "-s", signal, Long.toString(process.pid()))
                .redirectErrorStream(true)
                .start();
        try {
            if (!kill.waitFor(STATE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                kill.destroyForcibly();
                throw new IOException("kill -s " + signal + " " + process.pid() + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted sending SIG" + signal, e);
        }
        if (kill.exitValue() != 0) {
            String out = new String(kill.getInputStream().readAllBytes()).strip();
            throw new IOException("kill -s " + signal + " " + process.pid() + " failed: " + out);
        }
    }

    /*
     * Stopping is asynchronous: kill(2) returns before every thread has reached the stop. There is
     * no notification for it, so poll /proc with a short interval under a deadline.
     */
    private static void awaitState(ProcessHandle process, boolean stopped) throws IOException {
        long deadline = System.nanoTime() + STATE_TIMEOUT.toNanos();
        while (isStopped(process) != stopped) {
            if (!process.isAlive()) {
                throw new IOException("pid " + process.pid() + " exited while waiting for it to " + (stopped ? "stop" : "continue"));
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("pid " + process.pid() + " did not " + (stopped ? "stop" : "continue") + " within " + STATE_TIMEOUT);
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }
}
