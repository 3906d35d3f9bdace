#!/usr/bin/env bash
# Serve the app from N identical Streamlit replicas behind HAProxy, on this machine.
#
#   deploy/replicas.sh N [PORT]
#
# Replicas listen on 127.0.0.1, ports PORT+1 ... PORT+N, in hosted mode; HAProxy listens on PORT
# (default 8501) with deploy/haproxy.cfg, rewritten for those N replicas in a temporary folder.
# Runs in the foreground; Ctrl-C or SIGTERM stops the proxy and every replica.
# PYTHON: the interpreter with the app's requirements (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: deploy/replicas.sh N [PORT]   (N replicas behind HAProxy on PORT, default 8501)"
replicas=${1:-}
port=${2:-8501}
[[ $replicas =~ ^[1-9][0-9]*$ && $port =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "haproxy not found: apt-get install -y haproxy" >&2; exit 1; }
python=${PYTHON:-python3}

# Threads: one Streamlit server on C cores trains max(1, C//4) runs at once, sharing the cores less
# one (kept for the server's own event loop and scripts) among them (ui/runner.py, engine/device.py).
# Each replica gets that policy for its share of the machine, C//N cores, so N replicas never
# start more training threads than there are cores. On 2 cores, 2 replicas train one run each with
# one thread, as one server alone does; with two threads each, four would fight over two cores, and
# the small-kernel pages slow down several times when a thread loses its core (engine/device.py).
cores=$(nproc)
share=$(( cores / replicas > 1 ? cores / replicas : 1 ))
workers=$(( share / 4 > 1 ? share / 4 : 1 ))
threads=$(( (share - 1) / workers > 1 ? (share - 1) / workers : 1 ))

workdir=$(mktemp -d)
pids=()
stop() {
    trap - INT TERM EXIT
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$workdir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The repository's config with this run's port and one `server` line per replica, checked first.
servers=""
for i in $(seq 1 "$replicas"); do
    servers+="    server r$i 127.0.0.1:$(( port + i )) cookie r$i"$'\n'
done
awk -v port="$port" -v servers="$servers" '
    /^[ \t]*bind / { print "    bind :" port; next }
    /^[ \t]*server / { if (!done) printf "%s", servers; done = 1; next }
    { print }' deploy/haproxy.cfg > "$workdir/haproxy.cfg"
haproxy -c -q -f "$workdir/haproxy.cfg"
for p in $(seq "$port" $(( port + replicas ))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is already in use" >&2
        exit 1
    fi
done

# Replicas share one server.cookieSecret, as Streamlit asks of replicas (its signed cookies).
STREAMLIT_SERVER_COOKIE_SECRET=${STREAMLIT_SERVER_COOKIE_SECRET:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
export STREAMLIT_SERVER_COOKIE_SECRET
for i in $(seq 1 "$replicas"); do
    PTLAB_HOSTED=1 PTLAB_THREADS=$threads PTLAB_WORKERS=$workers \
        "$python" -m streamlit run streamlit_app.py --server.headless true --server.address 127.0.0.1 \
        --server.port $(( port + i )) --browser.gatherUsageStats false --server.fileWatcherType none \
        > "$workdir/replica-$i.log" 2>&1 &
    pids+=($!)
done

# Every replica must answer its health endpoint before the proxy takes visitors.
healthy() {
    "$python" -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).read() != b"ok")' "http://127.0.0.1:$1/_stcore/health" 2>/dev/null
}
deadline=$(( SECONDS + 180 ))
for i in $(seq 1 "$replicas"); do
    until healthy $(( port + i )); do
        if ! kill -0 "${pids[i - 1]}" 2>/dev/null || (( SECONDS > deadline )); then
            echo "replica $i did not start:" >&2
            cat "$workdir/replica-$i.log" >&2
            exit 1
        fi
        sleep 0.5
    done
done

echo "$replicas replicas on ports $(( port + 1 ))-$(( port + replicas )) ($workers run(s) at once," \
     "$threads training thread(s) each), behind HAProxy on http://localhost:$port"
haproxy -db -f "$workdir/haproxy.cfg" &
pids+=($!)
wait "${pids[-1]}"
