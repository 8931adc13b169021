#!/usr/bin/env bash
# Kubernetes material for a validator network made by `bftledger init`: one kustomization per
# validator (its ConfigMap with node.properties, its Secret with node.key, tls.crt, tls.key) on
# an environment overlay, the genesis ConfigMap, the disruption budget set to the network's f,
# and a top kustomization to render or apply.
#
#   deploy/kubernetes/generate.sh --network DIR --out DIR [--environment local|production]
#                                 [--namespace NS] [--image IMAGE]
#   kubectl kustomize OUT          (or: kubectl apply -k OUT)
#
# The network must be made for it: validator i's genesis address is <name>-validator:7100, the
# Service this material creates for it (<name> is its genesis name, node<i> from init), e.g.
#   bftledger init --dir k8snet --addresses node0-validator:7100,node1-validator:7100,node2-validator:7100,node3-validator:7100
# OUT holds private keys (Secrets): keep it out of version control; the CA key (DIR/ca) is not in it.
# Defaults: --environment local, --namespace bftledger, --image localhost/bftledger:<version>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
network=""
out=""
environment="local"
namespace="bftledger"
image=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --network) network="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --environment) environment="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
[[ -n "$network" && -n "$out" ]] || { echo "--network and --out are required; see $0 --help" >&2; exit 2; }
[[ -d "$here/overlays/$environment" ]] || { echo "no environment '$environment' (overlays: $(ls "$here/overlays" | tr '\n' ' '))" >&2; exit 2; }
[[ -f "$network/genesis.json" ]] || { echo "$network/genesis.json is missing: --network must be a directory made by bftledger init" >&2; exit 1; }
if [[ -z "$image" ]]; then
  image="localhost/bftledger:$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -n 1)"
fi
image_name="${image%:*}"
image_tag="${image##*:}"
[[ "$image_name" != "$image" && "$image_tag" != */* ]] || { echo "--image must be NAME:TAG, got '$image'" >&2; exit 2; }

# Validators as genesis.json lists them: one "address name" line each, in replica order.
mapfile -t validators < <(tr -d '\n' <"$network/genesis.json" | grep -o '"address" *: *"[^"]*", *"name" *: *"[^"]*"' \
  | sed 's/"address" *: *"\([^"]*\)", *"name" *: *"\([^"]*\)"/\1 \2/')
n=${#validators[@]}
((n >= 4 && (n - 1) % 3 == 0)) || { echo "genesis lists $n validators with address and name; expected 3f+1 >= 4" >&2; exit 1; }
f=$(((n - 1) / 3))
for ((i = 0; i < n; i++)); do
  read -r address name <<<"${validators[$i]}"
  host="${address%:*}"
  if [[ "${address##*:}" != 7100 || ( "$host" != "$name-validator" && "$host" != "$name-validator."* ) ]]; then
    echo "validator $i's genesis address is $address; the Service for it is $name-validator:7100." >&2
    echo "Make the network with: bftledger init --addresses node0-validator:7100,node1-validator:7100,..." >&2
    exit 1
  fi
  [[ -f "$network/node$i/tls/tls.crt" ]] || { echo "$network/node$i/tls/ is missing: the network was made with --plaintext; Kubernetes validators run TLS" >&2; exit 1; }
done

b64() { base64 -w0 <"$1"; }
rel="$(realpath --relative-to="$(mkdir -p "$out" && cd "$out" && pwd)" "$here/overlays/$environment")"
rm -rf "${out:?}"/node* "$out"/*.yaml

# The container's paths: data, signing mark, config, genesis, TLS and key mounts of base/validator/statefulset.yaml.
node_properties() {
  sed -e '/^listen\.host=/d' -e '/^listen\.port=/d' -e '/^metrics\.port=/d' -e '/^health\.port=/d' \
    -e '/^data\.dir=/d' -e '/^signing\.mark\.file=/d' -e '/^key\.file=/d' -e '/^genesis\.file=/d' -e '/^tls\./d' "$1"
  cat <<PROPS
listen.host=0.0.0.0
listen.port=7100
metrics.port=9100
health.port=7200
data.dir=/var/lib/bftledger
signing.mark.file=/var/lib/bftledger-signing/signing-mark
key.file=/etc/bftledger/keys/node.key
genesis.file=/etc/bftledger/genesis/genesis.bin
tls.cert.file=/etc/bftledger/tls/tls.crt
tls.key.file=/etc/bftledger/tls/tls.key
PROPS
}

bases=()
for ((i = 0; i < n; i++)); do
  read -r address name <<<"${validators[$i]}"
  mkdir -p "$out/$name"
  bases+=("- $name")
  cat >"$out/$name/kustomization.yaml" <<YAML
# Validator $i ($name), genesis address $address.
namePrefix: $name-
commonLabels:
  bftledger.io/validator: $name
bases:
- ../$rel/validator
resources:
- config.yaml
- keys.yaml
YAML
  {
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  node.properties: |\n'
    node_properties "$network/node$i/node.properties" | sed 's/^/    /'
  } >"$out/$name/config.yaml"
  cat >"$out/$name/keys.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: keys
type: Opaque
data:
  node.key: $(b64 "$network/node$i/node.key")
  tls.crt: $(b64 "$network/node$i/tls/tls.crt")
  tls.key: $(b64 "$network/node$i/tls/tls.key")
YAML
done

cat >"$out/genesis.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: bftledger-genesis
binaryData:
  genesis.bin: $(b64 "$network/genesis.bin")
YAML
cat >"$out/poddisruptionbudget.yaml" <<YAML
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: validators
spec:
  maxUnavailable: $f
YAML
{
  echo "# Validator network from $network ($n validators, f = $f), environment $environment."
  echo "namespace: $namespace"
  echo "bases:"
  printf '%s\n' "${bases[@]}"
  echo "- $rel/network"
  echo "resources:"
  echo "- genesis.yaml"
  echo "patchesStrategicMerge:"
  echo "- poddisruptionbudget.yaml"
  echo "images:"
  echo "- name: bftledger"
  echo "  newName: $image_name"
  echo "  newTag: \"$image_tag\""
} >"$out/kustomization.yaml"
echo "wrote $out for $n validators (f = $f, environment $environment, namespace $namespace, image $image)"
echo "render: kubectl kustomize $out    apply: kubectl create namespace $namespace && kubectl apply -k $out"
