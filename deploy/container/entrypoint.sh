#!/bin/sh
# The image's entry point: the JVM sized from the container's memory limit, then the bftledger
# command line (`node start --config ...`, `status ...`), or the adversary launcher when the first
# argument is `byzantine` (byzantine image only). `jvm-settings` prints the heap the JVM chose
# under these flags and this container's limit.
#
#   BFTLEDGER_HEAP_PERCENT   share of the container's memory for the Java heap (default 60; the
#                            rest is LMDB's page cache, thread stacks, Netty's direct buffers)
#   BFTLEDGER_JAVA_OPTS      more JVM flags
set -eu
jar=/opt/bftledger/bftledger.jar
run="-jar"
if [ "${1:-}" = jvm-settings ]; then
  shift
  run="-XshowSettings:vm"
  jar="-version"
fi
if [ "${1:-}" = byzantine ]; then
  shift
  jar=/opt/bftledger/bftledger-byzantine.jar
  [ -f "$jar" ] || { echo "this image has no adversary launcher; build the byzantine target" >&2; exit 2; }
fi
# shellcheck disable=SC2086
exec java -XX:MaxRAMPercentage="${BFTLEDGER_HEAP_PERCENT:-60}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
  -Djava.io.tmpdir=/tmp \
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  ${BFTLEDGER_JAVA_OPTS:-} "$run" "$jar" "$@"
