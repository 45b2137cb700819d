#!/bin/sh
# Install the Debian packages xlb's build, tests and demo need, if missing.
set -eu
pkgs="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcurl4-openssl-dev
libcjson-dev libyaml-dev libmicrohttpd-dev iproute2 iputils-ping ethtool
python3 python3-yaml socat nftables iptables conntrack kubectl prometheus
util-linux procps curl tcpdump"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# kubectl and prometheus are optional extras; install the rest even without them.
apt-get install -y -qq --no-install-recommends $missing ||
	apt-get install -y -qq --no-install-recommends \
		$(echo "$missing" | tr ' ' '\n' | grep -vx -e kubectl -e prometheus)
