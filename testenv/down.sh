#!/usr/bin/env bash
# testenv/down.sh stops the daemons testenv/up.sh started: only the pids it
# recorded in $MW_TESTENV_DIR/pids, and only while each pid still runs the
# executable that was recorded with it. Configs, logs and delivered mail stay.
set -Euo pipefail
exec </dev/null

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RUN=${MW_TESTENV_DIR:-$REPO/testenv/run}
[ -d "$RUN/pids" ] || exit 0

# PostgreSQL shuts down through pg_ctl (fast: sessions are ended, the
# cluster is checkpointed); its pid file then stops nothing.
if [ -s "$RUN/postgres/bin" ] && [ -s "$RUN/postgres/data/postmaster.pid" ]; then
	runuser -u postgres -- "$(cat "$RUN/postgres/bin")/pg_ctl" -D "$RUN/postgres/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
fi

stopped=()
for f in "$RUN"/pids/*; do
	[ -e "$f" ] || continue
	read -r pid exe <"$f" || true
	if [ -n "${pid:-}" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
		kill -TERM "$pid" 2>/dev/null && stopped+=("$pid:$exe")
	fi
	rm -f "$f"
done
# Wait (bounded) for them to exit; then KILL what is left, still by pid.
for s in "${stopped[@]}"; do
	pid=${s%%:*} exe=${s#*:}
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || break
		sleep 0.1
	done
	if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	printf 'testenv: stopped %s (%s)\n' "$pid" "${exe##*/}" >&2
done
# Wine's server for the test prefix (it exits on its own a few seconds
# after the last Windows process; -k ends it now). The prefix is kept.
if [ -x /usr/lib/wine/wineserver ] && [ -d "$RUN/wine/prefix" ]; then
	WINEPREFIX=$RUN/wine/prefix /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
fi
# The SoftHSM token is files, not a daemon: remove it (it holds test keys).
rm -rf "$RUN/softhsm"
rm -f "$RUN/env"
