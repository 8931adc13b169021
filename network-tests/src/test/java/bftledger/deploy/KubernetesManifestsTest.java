package bftledger.deploy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import bftledger.ledger.ChainGenesis;
import bftledger.node.cli.Main;
import bftledger.node.config.GenesisFile;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifests as a cluster would receive them: a network from {@code init}, its
 * material from {@code deploy/kubernetes/generate.sh}, rendered by {@code kubectl kustomize}
 * (the same renderer {@code kubectl apply -k} uses), then checked: every validator has its own
 * volume, probes and key; its Service is named by its genesis address; the disruption budget
 * allows f validators down; genesis comes from one ConfigMap. CI installs kubectl (.ci/run);
 * elsewhere the test is skipped, saying so, when kubectl is missing.
 */
class KubernetesManifestsTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void kubectl() {
        if (!Commands.available("kubectl", "version", "--client")) {
            if (System.getenv("CI") != null) {
                fail("kubectl is missing in CI; .ci/run installs it (Debian package kubernetes-client)");
            }
            System.out.println("KubernetesManifestsTest skipped: no kubectl on PATH (Debian: apt-get install kubernetes-client)");
            Assumptions.abort("no kubectl on PATH");
        }
    }

    private Path init(String name, int n) {
        Path dir = tmp.resolve(name);
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            addresses.add("node" + i + "-validator:7100");
        }
        assertEquals(0, Main.run("init", "--nodes", Integer.toString(n), "--dir", dir.toString(), "--metrics-base-port", "0",
                "--addresses", String.join(",", addresses)));
        return dir;
    }

    private List<Map<String, Object>> render(Path network, String environment, String namespace) throws Exception {
        Path out = tmp.resolve(network.getFileName() + "-" + environment);
        Commands.ok(Commands.root(), 60, List.of("bash", "deploy/kubernetes/generate.sh", "--network", network.toString(),
                "--out", out.toString(), "--environment", environment, "--namespace", namespace));
        Commands.Result rendered = Commands.run(Commands.root(), 120, List.of("kubectl", "kustomize", out.toString()));
        assertEquals(0, rendered.exitCode(), rendered.output());
        String yaml = rendered.output().lines().filter(l -> !l.startsWith("# Warning:")).reduce("", (a, b) -> a + b + "\n");
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(yaml)) {
            if (doc != null) {
                docs.add(map(doc));
            }
        }
        return docs;
    }

    @Test
    void everyValidatorHasItsVolumeProbesKeyAndService() throws Exception {
        Path net = init("net", 4);
        List<Map<String, Object>> docs = render(net, "local", "bftledger-test");
        checkNetwork(net, docs, "bftledger-test");
        assertTrue(find(docs, "ServiceMonitor").isEmpty(), "the local environment has no Prometheus Operator");
    }

    @Test
    void productionSpreadsValidatorsAndBudgetsFOfSeven() throws Exception {
        Path net = init("net7", 7);
        List<Map<String, Object>> docs = render(net, "production", "ledger");
        checkNetwork(net, docs, "ledger");
        assertEquals(1, find(docs, "ServiceMonitor").size());
        for (Map<String, Object> sts : find(docs, "StatefulSet")) {
            Map<String, Object> pod = map(get(sts, "spec", "template", "spec"));
            assertNotNull(get(pod, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
                    name(sts) + " must keep validators on separate machines");
        }
    }

    @Test
    void aNetworkNotAddressedByItsServicesIsRefused() throws Exception {
        Path net = tmp.resolve("loopback");
        assertEquals(0, Main.run("init", "--dir", net.toString(), "--metrics-base-port", "0"));
        Commands.Result r = Commands.run(Commands.root(), 60, List.of("bash", "deploy/kubernetes/generate.sh", "--network",
                net.toString(), "--out", tmp.resolve("out").toString()));
        assertEquals(1, r.exitCode(), r.output());
        assertTrue(r.output().contains("node0-validator:7100"), r.output());
        assertFalse(Files.exists(tmp.resolve("out").resolve("kustomization.yaml")));
    }

    private static void checkNetwork(Path net, List<Map<String, Object>> docs, String namespace) throws Exception {
        ChainGenesis genesis = GenesisFile.read(net.resolve("genesis.bin"));
        int n = genesis.n();
        List<Map<String, Object>> statefulSets = find(docs, "StatefulSet");
        assertEquals(n, statefulSets.size(), "one StatefulSet per validator");
        for (Map<String, Object> doc : docs) {
            assertEquals(namespace, get(doc, "metadata", "namespace"), name(doc) + " is in the network's namespace");
        }
        Map<String, Object> genesisMap = one(docs, "ConfigMap", "bftledger-genesis");
        assertArrayEquals(genesis.bytes(), Base64.getDecoder().decode((String) get(genesisMap, "binaryData", "genesis.bin")),
                "the genesis ConfigMap holds genesis.bin byte for byte");
        for (int i = 0; i < n; i++) {
            String address = genesis.genesis().getValidators(i).getAddress();
            String host = address.substring(0, address.lastIndexOf(':'));
            Map<String, Object> service = one(docs, "Service", host);
            assertTrue(list(get(service, "spec", "ports")).stream().anyMatch(p -> Integer.valueOf(7100).equals(map(p).get("port"))),
                    host + " serves the genesis port");
            Map<String, Object> sts = one(docs, "StatefulSet", "node" + i + "-validator");
            Map<String, Object> labels = map(get(sts, "spec", "template", "metadata", "labels"));
            Map<String, Object> selector = map(get(service, "spec", "selector"));
            assertTrue(labels.entrySet().containsAll(selector.entrySet()), host + " selects validator " + i + "'s pod");
            for (Map<String, Object> other : statefulSets) {
                if (other != sts) {
                    assertFalse(map(get(other, "spec", "template", "metadata", "labels")).entrySet().containsAll(selector.entrySet()),
                            host + " must not also select " + name(other));
                }
            }
            assertEquals(1, get(sts, "spec", "replicas"));
            checkPod(net, docs, sts, i);
        }
        Map<String, Object> pdb = one(docs, "PodDisruptionBudget", "validators");
        assertEquals(genesis.f(), get(pdb, "spec", "maxUnavailable"), "never more than f validators down");
        Map<String, Object> pdbSelector = map(get(pdb, "spec", "selector", "matchLabels"));
        for (Map<String, Object> sts : statefulSets) {
            assertTrue(map(get(sts, "spec", "template", "metadata", "labels")).entrySet().containsAll(pdbSelector.entrySet()),
                    "the budget covers " + name(sts));
        }
        Map<String, Object> policy = one(docs, "NetworkPolicy", "validators");
        assertTrue(map(get(statefulSets.get(0), "spec", "template", "metadata", "labels")).entrySet()
                .containsAll(map(get(policy, "spec", "podSelector", "matchLabels")).entrySet()), "the policy selects the validators");
    }

    private static void checkPod(Path net, List<Map<String, Object>> docs, Map<String, Object> sts, int i) throws Exception {
        String who = name(sts);
        List<Object> claims = list(get(sts, "spec", "volumeClaimTemplates"));
        assertEquals(List.of("data", "signing"), claims.stream().map(c -> get(map(c), "metadata", "name")).toList(),
                who + " keeps its signing mark on a claim apart from its data");
        for (Object claim : claims) {
            assertNotNull(get(map(claim), "spec", "resources", "requests", "storage"), who + " asks for storage");
        }
        Map<String, Object> pod = map(get(sts, "spec", "template", "spec"));
        assertEquals(Boolean.TRUE, get(pod, "securityContext", "runAsNonRoot"), who);
        assertEquals("true", get(sts, "spec", "template", "metadata", "annotations", "prometheus.io/scrape"), who);
        Map<String, Object> node = list(pod.get("containers")).stream().map(KubernetesManifestsTest::map)
                .filter(c -> "node".equals(c.get("name"))).findFirst().orElseThrow();
        assertEquals(Boolean.TRUE, get(node, "securityContext", "readOnlyRootFilesystem"), who);
        assertEquals(7200, get(node, "readinessProbe", "grpc", "port"), who + " readiness is gRPC health");
        assertEquals(7200, get(node, "livenessProbe", "grpc", "port"), who + " liveness is gRPC health");
        assertTrue(list(node.get("volumeMounts")).stream().map(KubernetesManifestsTest::map)
                .anyMatch(m -> "data".equals(m.get("name")) && "/var/lib/bftledger".equals(m.get("mountPath"))), who + " keeps its data on its volume");
        assertTrue(list(node.get("volumeMounts")).stream().map(KubernetesManifestsTest::map)
                .anyMatch(m -> "signing".equals(m.get("name")) && "/var/lib/bftledger-signing".equals(m.get("mountPath"))), who);
        Map<String, Object> volumes = new java.util.HashMap<>();
        for (Object v : list(pod.get("volumes"))) {
            volumes.put((String) map(v).get("name"), v);
        }
        String secretName = (String) get(map(volumes.get("tls")), "secret", "secretName");
        assertEquals(secretName, get(map(volumes.get("node-key")), "secret", "secretName"));
        Map<String, Object> secret = one(docs, "Secret", secretName);
        Path nodeDir = net.resolve("node" + i);
        assertArrayEquals(Files.readAllBytes(nodeDir.resolve("node.key")), decode(secret, "node.key"), who + " gets its own key");
        assertArrayEquals(Files.readAllBytes(nodeDir.resolve("tls/tls.crt")), decode(secret, "tls.crt"), who);
        assertArrayEquals(Files.readAllBytes(nodeDir.resolve("tls/tls.key")), decode(secret, "tls.key"), who);
        assertEquals("bftledger-genesis", get(map(volumes.get("genesis")), "configMap", "name"));
        Map<String, Object> config = one(docs, "ConfigMap", (String) get(map(volumes.get("config")), "configMap", "name"));
        Properties p = new Properties();
        p.load(new StringReader((String) get(config, "data", "node.properties")));
        assertEquals(Integer.toString(i), p.getProperty("replica"), who + " runs replica " + i);
        assertEquals("7200", p.getProperty("health.port"));
        assertEquals("/var/lib/bftledger", p.getProperty("data.dir"));
        assertEquals("/var/lib/bftledger-signing/signing-mark", p.getProperty("signing.mark.file"), who + " marks on its signing claim");
    }

    private static byte[] decode(Map<String, Object> secret, String key) {
        return Base64.getDecoder().decode((String) get(secret, "data", key));
    }

    private static List<Map<String, Object>> find(List<Map<String, Object>> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    }

    private static Map<String, Object> one(List<Map<String, Object>> docs, String kind, String name) {
        List<Map<String, Object>> found = find(docs, kind).stream().filter(d -> name.equals(name(d))).toList();
        assertEquals(1, found.size(), "one " + kind + " named " + name + " in the rendered manifests");
        return found.get(0);
    }

    private static String name(Map<String, Object> doc) {
        return (String) get(doc, "metadata", "name");
    }

    private static Object get(Map<String, Object> doc, String... path) {
        Object at = doc;
        for (String key : path) {
            if (!(at instanceof Map<?, ?> m)) {
                return null;
            }
            at = m.get(key);
        }
        return at;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertTrue(o instanceof Map, "expected a mapping, got " + o);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        assertTrue(o instanceof List, "expected a list, got " + o);
        return (List<Object>) o;
    }
}
