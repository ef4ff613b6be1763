#!/bin/sh
# netns_static.sh SPILLWAY - a deployment across three network namespaces joined by veth
# pairs: a coordinator (CURVE keys, static provisioner) on one, an agent on each of the others,
# as `spillway coordinator` and `spillway agent` would run on three machines. Checks that
#   - without keys, a coordinator on 0.0.0.0 refuses to start (exit 2, naming --listen);
#   - an agent whose key is allowed for site b cannot join as site a (exit 2, REJECT naming
#     the key's sites; the coordinator logs the refusal);
#   - the run completes with both sites and both agents exit 0 when it ends (issue 13: they
#     waited for the silent coordinator and exited 1).
# Needs root and iproute2 (`ip netns`): without them the test is skipped (exit 77), and fails
# under CI=true. Namespaces, links and files are removed at the end. Run from the repository
# root (the agents read corpus/ from there).
set -eu
bin=$1
skip() {
  echo "netns_static: $1" >&2
  [ "${CI:-}" = true ] && exit 1
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null 2>&1 || skip "needs iproute2 (ip)"
[ -x "$bin" ] || skip "no spillway binary at $bin"
tag=sw$$
dir=$(mktemp -d /tmp/sw-netns-XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for n in c a b; do ip netns del "$tag-$n" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
for n in c a b; do
  ip netns add "$tag-$n" || skip "ip netns add failed"
  ip -n "$tag-$n" link set lo up
done
# c <-> a on 10.213.1.0/30, c <-> b on 10.213.2.0/30 (private to these namespaces)
k=1
for n in a b; do
  ip link add "$tag-c$n" type veth peer name "$tag-${n}c"
  ip link set "$tag-c$n" netns "$tag-c"
  ip link set "$tag-${n}c" netns "$tag-$n"
  ip -n "$tag-c" addr add "10.213.$k.1/30" dev "$tag-c$n"
  ip -n "$tag-$n" addr add "10.213.$k.2/30" dev "$tag-${n}c"
  ip -n "$tag-c" link set "$tag-c$n" up
  ip -n "$tag-$n" link set "$tag-${n}c" up
  k=$((k + 1))
done

cat >"$dir/s.yaml" <<YAML
name: netns
trace: {file: $(pwd)/traces/mci_2026-01-11.csv, start: 2026-01-11T17:00:00Z, end: 2026-01-11T19:00:00Z}
policy: {kind: always_on}
rounds: {min_duration_s: 600, startup_s: 0, return_s: 0, aggregate_s: 0}
model: {tokens: 1.0e6, log_interval_s: 60}
exec: {time_compression: 600, preset: tiny, batch: 2, seq: 32, threads: 1}
sites:
  - {name: a, region: CAISO_NORTH, provision_s: 60, drain_s: 0}
  - {name: b, region: SPP_TX, provision_s: 60, drain_s: 0}
YAML
"$bin" keygen -o "$dir/ck" --name coordinator >/dev/null
"$bin" keygen -o "$dir/ka" >/dev/null
"$bin" keygen -o "$dir/kb" >/dev/null
mkdir "$dir/ck/authorized"
cp "$dir/ka/agent.pub" "$dir/ck/authorized/a.pub"
cp "$dir/kb/agent.pub" "$dir/ck/authorized/b.pub"
cp "$dir/ck/coordinator.pub" "$dir/ka/"
cp "$dir/ck/coordinator.pub" "$dir/kb/"

fail() {
  echo "netns_static: FAILED: $1" >&2
  for f in "$dir"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
  exit 1
}

# plaintext on a public address: refused before anything is written
set +e
ip netns exec "$tag-c" "$bin" coordinator "$dir/s.yaml" --listen tcp://0.0.0.0:5555 \
  --provisioner static -o "$dir/plain.h5" 2>"$dir/plain.log"
rc=$?
set -e
[ $rc -eq 2 ] || fail "plaintext coordinator on 0.0.0.0: exit $rc, expected 2"
grep -q -- "--insecure" "$dir/plain.log" || fail "the refusal does not name --insecure"
[ ! -e "$dir/plain.h5.run" ] || fail "a refused start left its run folder"

ip netns exec "$tag-c" "$bin" coordinator "$dir/s.yaml" --listen tcp://0.0.0.0:5555 \
  --keys "$dir/ck" --provisioner static -o "$dir/r.h5" --heartbeat-timeout 3 \
  >"$dir/coord.log" 2>&1 &
coord=$!
pids="$coord"
# an impostor: key b, site a, on b's link
set +e
ip netns exec "$tag-b" "$bin" agent --coordinator tcp://10.213.2.1:5555 --site a \
  --keys "$dir/kb" >"$dir/impostor.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "impostor agent: exit $rc, expected 2"
grep -q "may act as b, not as 'a'" "$dir/impostor.log" || fail "the impostor's REJECT"
ip netns exec "$tag-a" "$bin" agent --coordinator tcp://10.213.1.1:5555 --site a \
  --keys "$dir/ka" >"$dir/agent-a.log" 2>&1 &
pa=$!
ip netns exec "$tag-b" "$bin" agent --coordinator tcp://10.213.2.1:5555 --site b \
  --keys "$dir/kb" >"$dir/agent-b.log" 2>&1 &
pb=$!
pids="$coord $pa $pb"
set +e
wait $coord
rc_c=$?
wait $pa
rc_a=$?
wait $pb
rc_b=$?
set -e
pids=""
[ $rc_c -eq 0 ] || fail "coordinator: exit $rc_c"
[ $rc_a -eq 0 ] || fail "agent a: exit $rc_a, expected 0 at the end of the run"
[ $rc_b -eq 0 ] || fail "agent b: exit $rc_b, expected 0 at the end of the run"
[ -s "$dir/r.h5" ] || fail "no report"
grep -q "join of 'a' refused: key .* may act as b" "$dir/coord.log" || fail "refusal not logged"
grep -q "site a joined" "$dir/coord.log" || fail "site a never joined"
grep -q "site b joined" "$dir/coord.log" || fail "site b never joined"
echo "netns_static: ok (plaintext refused, impostor refused, run completed, agents exited 0)"
