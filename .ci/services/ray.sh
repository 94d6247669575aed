#!/usr/bin/env bash
# Start a throwaway two-node Ray cluster on this machine for tests/engine (idempotent):
# a head node (`ray start --head`) and one more worker node process, one CPU each. The
# address goes to ${XDG_CACHE_HOME:-~/.cache}/curate/ray-ci.json, which
# tests/engine/test_ray.py reads (RAY_ADDRESS, when set, wins). Stop it with `ray stop`.
#
# RAY_AUTH_MODE=disabled turns Ray 2.60's token authentication off for this cluster only:
# it listens on this machine and lives for one CI run. A real cluster keeps token
# authentication on (see docs/scale.md: the client sets the cluster's token).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -c "import ray.data" 2>/dev/null || python -m pip install -q -e '.[ray]'
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
port=${CURATE_CI_RAY_PORT:-6390}
state="${XDG_CACHE_HOME:-$HOME/.cache}/curate/ray-ci.json"
mkdir -p "$(dirname "$state")"
start=$(date +%s)
if ! ray status --address "127.0.0.1:$port" >/dev/null 2>&1; then
  ray start --head --port="$port" --num-cpus=1 --include-dashboard=false >/dev/null
  ray start --address="127.0.0.1:$port" --num-cpus=1 >/dev/null
fi
# wait until both nodes have joined
for _ in $(seq 60); do
  nodes=$(python - "$port" <<'PY'
import sys, ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", logging_level="ERROR", log_to_driver=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
PY
)
  [ "$nodes" -ge 2 ] && break
  sleep 1
done
[ "$nodes" -ge 2 ] || { echo "ray: only $nodes node(s) joined" >&2; exit 1; }
printf '{"address": "127.0.0.1:%s", "auth_mode": "disabled", "nodes": %s}\n' "$port" "$nodes" > "$state"
echo "ray: $nodes-node cluster at 127.0.0.1:$port after $(( $(date +%s) - start )) s ($state)"
