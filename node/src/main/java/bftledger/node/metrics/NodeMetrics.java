package bftledger.node.metrics;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The node's metrics in one Prometheus registry, served at {@code /metrics} by the JDK's HTTP
 * server on one thread. Names carry the unit last, as Prometheus expects.
 */
public final class NodeMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicLong height = new AtomicLong();
    private final AtomicLong view = new AtomicLong();
    private final AtomicLong evidence = new AtomicLong();
    private final Counter committedTransactions;
    private final Counter viewChanges;
    private final Timer commitLatency;
    private final ConcurrentHashMap<String, Counter> rejected = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> dropped = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> shed = new ConcurrentHashMap<>();
    private HttpServer http;

    public NodeMetrics(int replica) {
        registry.config().commonTags("replica", Integer.toString(replica));
        Gauge.builder("bftledger_height", height, AtomicLong::get).description("height of the latest durable block").register(registry);
        Gauge.builder("bftledger_view", view, AtomicLong::get).description("current PBFT view").register(registry);
        Gauge.builder("bftledger_evidence", evidence, AtomicLong::get).description("evidence records held").register(registry);
        committedTransactions = Counter.builder("bftledger_committed_transactions").description("transactions in durable blocks").register(registry);
        viewChanges = Counter.builder("bftledger_view_changes").description("views entered after the first").register(registry);
        commitLatency = Timer.builder("bftledger_commit_latency").description("submit to durable commit, as seen by this replica")
                .publishPercentiles(0.5, 0.9, 0.99).distributionStatisticExpiry(Duration.ofMinutes(1)).register(registry);
    }

    public void setHeight(long h) {
        height.set(h);
    }

    public void setView(long v) {
        if (v > view.getAndSet(v)) {
            viewChanges.increment();
        }
    }

    public void setEvidence(long count) {
        evidence.set(count);
    }

    public void committed(int transactions) {
        committedTransactions.increment(transactions);
    }

    public void commitLatency(Duration d) {
        commitLatency.record(d);
    }

    /** A message or request refused, by reason (bad signature, not a member, too large, ...). */
    public void rejected(String reason) {
        rejected.computeIfAbsent(reason, r -> Counter.builder("bftledger_rejected_messages").tag("reason", r)
                .description("inbound messages and requests refused, by reason").register(registry)).increment();
    }

    /** A message dropped at a full queue, by queue name. */
    public void dropped(String queue) {
        dropped.computeIfAbsent(queue, q -> Counter.builder("bftledger_dropped_messages").tag("queue", q)
                .description("messages dropped at a full queue").register(registry)).increment();
    }

    /** A client or peer call refused at admission, by lane and reason (rate, in-flight cap, no quorum, ...). */
    public void shed(String lane, String reason) {
        shed(lane, reason, 1);
    }

    /** {@code count} calls (or, in lane "connection", connections) refused at admission. */
    public void shed(String lane, String reason, int count) {
        shed.computeIfAbsent(lane + "/" + reason, k -> Counter.builder("bftledger_shed_requests").tag("lane", lane)
                .tag("reason", reason).description("calls refused at admission, by lane and reason; lane \"connection\":"
                        + " client connections refused or closed").register(registry)).increment(count);
    }

    /** A timer of one stage of a block's way through the node (see the node's CoreStages): count, sum and max, no percentiles. */
    public Timer stageTimer(String stage) {
        return Timer.builder("bftledger_block_stage").tag("stage", stage)
                .description("time per stage: order (own vote to committed), execute (to durable), replies (durable to every"
                        + " waiting client answered), per block; wal and steps (the core thread's durable appends and PBFT"
                        + " steps), per group of events")
                .register(registry);
    }

    /** A gauge without tags. */
    public void gauge(String name, String description, Supplier<Number> reading) {
        Gauge.builder(name, reading).description(description).register(registry);
    }

    /** A gauge with one tag, for per-peer and per-lane figures. */
    public void gauge(String name, String description, String tag, String value, Supplier<Number> reading) {
        Gauge.builder(name, reading).tag(tag, value).description(description).register(registry);
    }

    /**
     * A monotonically increasing count kept by {@code source} (exported as a counter). The
     * registry holds {@code source} weakly: pass the long-lived object, not a lambda over it.
     */
    public <T> void counter(String name, String description, T source, java.util.function.ToDoubleFunction<T> reading) {
        io.micrometer.core.instrument.FunctionCounter.builder(name, source, reading).description(description).register(registry);
    }

    public void queueDepth(String queue, Supplier<Number> depth) {
        Gauge.builder("bftledger_queue_depth", depth).tag("queue", queue).description("items waiting in a queue").register(registry);
    }

    public String scrape() {
        return registry.scrape();
    }

    /** Serves {@code /metrics} on {@code host:port}; port 0 picks a free port. Returns the bound port. */
    public int serve(String host, int port) throws IOException {
        http = HttpServer.create(new InetSocketAddress(host, port), 16);
        http.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        }));
        http.createContext("/metrics", exchange -> {
            byte[] body = scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        http.start();
        return http.getAddress().getPort();
    }

    @Override
    public void close() {
        if (http != null) {
            http.stop(0);
        }
        registry.close();
    }
}
