#!/usr/bin/env bash
# Deterministic PBFT simulations with Byzantine replicas (network-tests, bftledger.sim.SimulateMain).
#
#   scripts/simulate.sh --seeds N [--first-seed S] [--strategy NAME] [--nodes N] [--threads T] [--storage-faults] [--membership]
#   scripts/simulate.sh --seed S [--strategy NAME] [--nodes N] [--storage-faults] [--membership]   # replay one run with its trace
#   scripts/simulate.sh --list-strategies
#
# Compiles network-tests and what it needs (only when a source changed since the last build),
# then runs from target/classes. Ends with "N passed, M failed"; exit status 1 if any run failed.
# --storage-faults: the WAL of every crashed replica the fault budget (f) allows is corrupted,
# torn, lost or replaced by an older copy before it restarts; it must rejoin without a second vote.
# --membership: every run changes its validator set one to three times (add, remove, replace, rotate
# a key; sizes 4..7) with Byzantine replicas in every set; without it a quarter of the default runs do.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
classpath_file="network-tests/target/simulate.classpath"

needs_build() {
    [[ -f "$classpath_file" && -f network-tests/target/classes/bftledger/sim/SimulateMain.class ]] || return 0
    # Any main source or pom newer than the last build means rebuild.
    [[ -n "$(find pom.xml crypto pbft ledger network-tests -newer "$classpath_file" \
        \( -name '*.java' -o -name 'pom.xml' -o -name '*.proto' \) -not -path '*/target/*' -not -path '*/src/test/*' \
        -print -quit 2>/dev/null)" ]]
}

if needs_build; then
    echo "simulate.sh: building network-tests ..." >&2
    mkdir -p network-tests/target
    build=(mvn -B -q -pl network-tests -am compile dependency:build-classpath
        "-Dmdep.outputFile=$root/$classpath_file")
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    # Offline first (the usual case on a machine that has built before), then online.
    if ! "${build[@]}" -o >"$log" 2>&1 && ! "${build[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "simulate.sh: build failed" >&2
        exit 2
    fi
    rm -f "$log"
    trap - EXIT
fi

exec java -Xmx768m -XX:+UseParallelGC \
    -cp "network-tests/target/classes:$(cat "$classpath_file")" \
    bftledger.sim.SimulateMain "$@"
