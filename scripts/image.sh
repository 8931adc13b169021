#!/usr/bin/env bash
# The bftledger container image, built without a Docker daemon or a registry.
#
#   scripts/image.sh build [--save FILE]   base if missing, then the images (jars built if missing)
#   scripts/image.sh base                  only the base
#
# Base (localhost/bftledger-base:jre17-<recipe hash>): a Debian root filesystem of this host's
# release with openjdk-17-jre-headless, made by mmdebstrap from the host's own APT sources and
# imported into podman; a user bftledger (uid/gid 10001) owns /var/lib/bftledger and
# /var/lib/bftledger-signing. Built once and
# kept; a change of the recipe below makes a new tag.
# Images, from deploy/container/Containerfile on that base:
#   localhost/bftledger:<version>            the node and CLI (also tagged :latest)
#   localhost/bftledger-byzantine:<version>  the same plus the adversary launcher (demos, tests)
# --save writes the node image as an OCI archive (for `podman load` / `ctr import` elsewhere).
# Needs root and podman, runc, mmdebstrap (installed from the distribution when missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/podman.sh
source "$root/scripts/lib/podman.sh"

cmd="${1:-build}"
[[ $# -gt 0 ]] && shift
save=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --save) save="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done

version="$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -n 1)"
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
packages="openjdk-17-jre-headless"
# What the base is made of; its hash names the base image, so a changed recipe builds a new one.
recipe="variant=essential suite=$suite include=$packages user=10001 excludes=doc,locale signing-dir v2"
base_tag="localhost/bftledger-base:jre17-$(sha256sum <<<"$recipe" | cut -c1-8)"

apt_sources() {
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s "$f" ]] && { echo "$f"; return; }
  done
  echo "no APT sources on this host (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)" >&2
  return 1
}

build_base() {
  if pm image exists "$base_tag"; then
    echo "base $base_tag present"
    return
  fi
  [[ -n "$suite" ]] || { echo "cannot tell this host's Debian release from /etc/os-release" >&2; exit 1; }
  local tmp sources
  sources="$(apt_sources)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "building base $base_tag: Debian $suite + $packages (mmdebstrap, a few minutes) ..."
  mmdebstrap --quiet --variant=essential --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='echo "bftledger:x:10001:10001:bftledger:/var/lib/bftledger:/usr/sbin/nologin" >>"$1/etc/passwd"' \
    --customize-hook='echo "bftledger:x:10001:" >>"$1/etc/group"' \
    --customize-hook='mkdir -p "$1/var/lib/bftledger" "$1/var/lib/bftledger-signing" "$1/etc/bftledger"' \
    --customize-hook='chown 10001:10001 "$1/var/lib/bftledger" "$1/var/lib/bftledger-signing"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$suite" "$tmp/rootfs.tar" "$sources" </dev/null
  pm import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' "$tmp/rootfs.tar" "$base_tag" >/dev/null
  echo "base $base_tag built"
}

build_images() {
  local node_jar="$root/node/target/bftledger.jar" byz_jar="$root/network-tests/target/bftledger-byzantine.jar"
  if [[ ! -f "$node_jar" || ! -f "$byz_jar" ]]; then
    echo "building the jars ..."
    (cd "$root" && mvn -B -q -pl network-tests -am package -DskipTests)
  fi
  local ctx
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' RETURN
  cp "$root/deploy/container/Containerfile" "$root/deploy/container/entrypoint.sh" "$node_jar" "$byz_jar" "$ctx/"
  pm build --quiet --build-arg "BASE=$base_tag" --target node \
    -t "localhost/bftledger:$version" -t localhost/bftledger:latest -f "$ctx/Containerfile" "$ctx" >/dev/null
  pm build --quiet --build-arg "BASE=$base_tag" --target byzantine \
    -t "localhost/bftledger-byzantine:$version" -t localhost/bftledger-byzantine:latest -f "$ctx/Containerfile" "$ctx" >/dev/null
  echo "built localhost/bftledger:$version and localhost/bftledger-byzantine:$version"
  if [[ -n "$save" ]]; then
    rm -f "$save"
    pm save --quiet --format oci-archive -o "$save" "localhost/bftledger:$version"
    echo "saved localhost/bftledger:$version to $save"
  fi
}

pm_require
case "$cmd" in
  base) build_base ;;
  build) build_base; build_images ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
