# Sourced by the container scripts: podman as this project runs it.
#
# runc, not crun: crun refuses a host whose cgroups are in hybrid mode. cgroupfs, not systemd:
# there may be no systemd to ask. Limits on open files and processes are given explicitly, at or
# below the host's hard limits: podman's defaults ask for more than some hosts allow.

pm() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

# --ulimit flags no higher than this shell's hard limits.
pm_ulimits() {
  local nofile nproc
  nofile="$(ulimit -Hn)"; [[ "$nofile" == unlimited || "$nofile" -gt 65536 ]] && nofile=65536
  nproc="$(ulimit -Hu)"; [[ "$nproc" == unlimited || "$nproc" -gt 4096 ]] && nproc=4096
  echo "--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc"
}

# Installs podman, runc and mmdebstrap from the distribution when they are missing (root only).
pm_require() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  ((${#missing[@]} == 0)) && return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "missing ${missing[*]}; install them (Debian: apt-get install -y podman runc mmdebstrap) and run again as root" >&2
    return 1
  fi
  echo "installing ${missing[*]} ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
}
