# Sourced by localnet.sh, bench.sh and aot-cache.sh: which JVM runs the nodes, and its AOT cache.
#
# The jar is built for Java 17 and runs on any newer JVM. On JDK 25 or newer a node can start
# from an AOT cache (JEPs 483, 514, 515): the classes a node loads, already parsed and linked,
# and the method profiles of a training run, so its JIT compiles the hot code as soon as the
# load arrives instead of after minutes of profiling on shared cores (docs/performance.md,
# "Warm-up"). scripts/aot-cache.sh makes the cache; nodes use it when it is newer than the jar.
#
# The nodes run on BFTLEDGER_NODE_JAVA when it is set (a java binary); else on the first JDK 25
# or newer among `java` on PATH and /usr/lib/jvm/*; else on `java`, without a cache.
# BFTLEDGER_NODE_AOT_CACHE=off runs them without the cache (to measure what it gives).

# The major version of the java binary $1 ("17", "25"), or empty when it does not run.
java_major() {
  "$1" -version 2>&1 | awk -F'"' '/ version "/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}

# Whether the AOT cache $1 exists and was made after $jar was built (a cache of another jar is
# refused by the JVM).
aot_fresh() { [[ -f "$1" && "$1" -nt "$jar" ]]; }

# Sets node_java (the binary), node_java_major, node_aot (the cache file, which may not exist
# yet; empty below JDK 25) and node_jvm_opts (flags for that JVM, the cache's among them when it
# is there and newer than $jar); and the same for scripts/bench.sh's load generator, which runs
# on the same JVM (bench_aot, bench_jvm_opts). Needs $root and $jar.
node_jvm_select() {
  node_java=""
  if [[ -n "${BFTLEDGER_NODE_JAVA:-}" ]]; then
    node_java="$BFTLEDGER_NODE_JAVA"
  else
    local candidate major
    for candidate in "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
      [[ -x "$candidate" ]] || continue
      major="$(java_major "$candidate")"
      if [[ -n "$major" && "$major" -ge 25 ]]; then
        node_java="$candidate"
        break
      fi
    done
    [[ -n "$node_java" ]] || node_java=java
  fi
  node_java_major="$(java_major "$node_java")"
  if [[ -z "$node_java_major" ]]; then
    echo "cannot run the node JVM '$node_java' (BFTLEDGER_NODE_JAVA?)" >&2
    return 1
  fi
  node_aot=""
  bench_aot=""
  node_jvm_opts=()
  bench_jvm_opts=()
  if [[ "$node_java_major" -ge 25 ]]; then
    node_aot="$root/node/target/aot/node-java$node_java_major.aot"
    bench_aot="$root/node/target/aot/bench-java$node_java_major.aot"
    # The jar's native libraries (netty's epoll, LMDB through jnr-ffi) and its Unsafe use are
    # allowed as on JDK 17, without a warning at every start.
    node_jvm_opts+=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
    bench_jvm_opts+=("${node_jvm_opts[@]}")
    if [[ "${BFTLEDGER_NODE_AOT_CACHE:-on}" != off ]]; then
      aot_fresh "$node_aot" && node_jvm_opts+=("-XX:AOTCache=$node_aot")
      aot_fresh "$bench_aot" && bench_jvm_opts+=("-XX:AOTCache=$bench_aot")
    fi
  fi
  return 0
}

# The load generator's JVM flags (scripts/bench.sh; the AOT training run uses the same).
bench_jvm_base_opts=(-Xmx512m -XX:+UseParallelGC -XX:ParallelGCThreads=1
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED)

# The node's JVM flags on any version. The heap is scripts/bftledger's with a larger young
# generation: a node's live set is small (~20-30 MB after a young collection) and it allocates
# ~120 MB/s at full load, so a 192 MB young generation halves the collections and their CPU (VM
# Thread 3.4 against 7.5 us per transaction, 4 nodes, scripts/bench.sh --duration 60) without
# longer pauses. Four compiler threads rather than the two one processor gets: a fresh node's
# core-thread methods reach C2 only after thousands of per-call gRPC methods, and until they do
# the primary's core thread bounds the commit rate; with more of the shared CPU for compiling
# while it matters, 90% of the steady rate came after 46-55 s of load instead of 62-71 s
# (docs/performance.md, "Warm-up"); idle compiler threads cost nothing later. The opens are
# for lmdbjava.
node_jvm_base_opts=(-Xmx384m -Xmn192m -XX:+UseSerialGC -XX:ActiveProcessorCount=1 -XX:CICompilerCount=4
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED)
