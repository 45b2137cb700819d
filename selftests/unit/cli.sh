#!/bin/bash
# The command line as README.md documents it: every flag the README names is
# in `xlb agent --help`, every command in `xlb --help`, and inspection of a
# pin directory that does not exist fails with a clear message.
set -u
cd "$(dirname "$0")/../.."
XLB=build/xlb
failed=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; failed=1; }

help=$("$XLB" agent --help 2>&1)
missing=
for flag in $(grep -o -- '`--[a-z-]*' README.md | tr -d '`' | sort -u); do
	grep -q -- "$flag" <<<"$help" || missing="$missing $flag"
done
[ -z "$missing" ] && pass cli_readme_flags_in_agent_help ||
	fail cli_readme_flags_in_agent_help "not in 'xlb agent --help':$missing"

help=$("$XLB" --help 2>&1)
missing=
for cmd in agent services backends conntrack stats cleanup; do
	grep -qw "$cmd" <<<"$help" || missing="$missing $cmd"
done
[ -z "$missing" ] && pass cli_commands_in_help || fail cli_commands_in_help "missing:$missing"

out=$("$XLB" services --bpffs /sys/fs/bpf/xlb-no-such-dir-$$ 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "open pinned map" <<<"$out"; then
	pass cli_missing_pins_clear_error
else
	fail cli_missing_pins_clear_error "rc $rc: $out"
fi

"$XLB" agent --no-such-flag >/dev/null 2>&1
[ $? -eq 2 ] && pass cli_unknown_flag_exit_2 || fail cli_unknown_flag_exit_2 "exit status not 2"
exit $failed
