#!/bin/bash
# tools/deploy/xlb.yaml: the objects parse, the DaemonSet has what a
# kube-proxy replacement needs, and the agent accepts its config file.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; failed=1; }

if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "SKIP: deploy_manifest: needs python3-yaml"
	exit 0
fi
out=$(python3 - "$tmp/config.yaml" <<'PY' 2>&1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open("tools/deploy/xlb.yaml")) if d]
kinds = {d["kind"]: d for d in docs}
for k in ("ServiceAccount", "ClusterRoleBinding", "ConfigMap", "DaemonSet"):
    assert k in kinds, f"no {k}"
pod = kinds["DaemonSet"]["spec"]["template"]["spec"]
c = pod["containers"][0]
assert pod["hostNetwork"] is True, "hostNetwork"
assert c["securityContext"]["privileged"] is True, "privileged"
assert any(e["name"] == "NODE_NAME" for e in c["env"]), "NODE_NAME"
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
assert mounts["/sys/fs/bpf"]["mountPropagation"] == "Bidirectional", "bpffs propagation"
assert "/sys/fs/cgroup" in mounts, "cgroup mount"
assert mounts["/boot"].get("readOnly") is True, "read-only /boot (kernel config)"
assert c["livenessProbe"]["httpGet"]["path"] == "/livez", "livez probe"
cfg = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "xlb-config"][0]
open(sys.argv[1], "w").write(cfg["data"]["config.yaml"])
PY
)
[ -z "$out" ] && pass deploy_manifest_shape || fail deploy_manifest_shape "$out"

# --help stops after the flags are parsed, so this checks the config alone.
out=$(build/xlb agent --config "$tmp/config.yaml" --help 2>&1 >/dev/null)
[ $? -eq 0 ] && [ -z "$out" ] && pass deploy_config_accepted_by_agent ||
	fail deploy_config_accepted_by_agent "$out"
exit $failed
