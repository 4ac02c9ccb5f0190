# Shell helpers of the Orthanc harnesses (bench/run, bench/scale); source it, after `set -euo
# pipefail`, with ROOT (the repository) and BIN (the binaries) set.

# Stops with the build command when one of the named binaries is missing from BIN.
bench_require_binaries() {
  local b
  for b in "$@"; do
    if [ ! -x "$BIN/$b" ]; then
      echo "$(basename "$0"): $BIN/$b is missing; build with the bench component:" >&2
      echo "  cmake -S . -B build -DMEDVAULT_COMPONENTS=\"keyservice;chunkserver;metaserver;frontend;cli;bench\" && cmake --build build" >&2
      exit 2
    fi
  done
}

# Outside the namespace: installs Orthanc if missing (needs the network), then re-executes the
# calling script ("$0" with the given arguments) inside a private network namespace, where only
# loopback exists: Orthanc binds 0.0.0.0 and must not be reachable from outside. Inside (second
# call): brings loopback up and puts Orthanc on PATH. Needs root (or user namespaces).
bench_enter_netns() {
  if [ -z "${MEDVAULT_BENCH_NETNS:-}" ]; then
    if ! command -v Orthanc >/dev/null && [ -x /usr/sbin/Orthanc ]; then PATH="$PATH:/usr/sbin"; fi
    if ! command -v Orthanc >/dev/null || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
      echo "$(basename "$0"): Orthanc or its DICOMweb plugin is missing; scripts/install-deps installs them"
      "$ROOT/scripts/install-deps" >/dev/null ||
        echo "$(basename "$0"): could not install orthanc; its rows will be skipped" >&2
    fi
    export MEDVAULT_BENCH_NETNS=1
    if unshare -n true 2>/dev/null; then exec unshare -n -- "$0" "$@"; fi
    if unshare -rn true 2>/dev/null; then exec unshare -rn -- "$0" "$@"; fi
    echo "$(basename "$0"): cannot create a private network namespace (unshare -n needs root); Orthanc binds" >&2
    echo "  0.0.0.0 and must not be reachable from outside, so not running" >&2
    exit 2
  fi
  ip link set lo up
  PATH="$PATH:/usr/sbin"
  HAVE_ORTHANC=1
  command -v Orthanc >/dev/null || { HAVE_ORTHANC=0; echo "$(basename "$0"): Orthanc not installed: skipping its rows" >&2; }
  DICOMWEB_SO="$(dpkg -L orthanc-dicomweb 2>/dev/null | grep -m1 'plugins/libOrthancDicomWeb.so$' || true)"
}

# Starts Orthanc with fresh, empty storage in ORTHANC_DIR on ORTHANC_HTTP and ORTHANC_DICOM and
# waits until it answers; sets ORTHANC_PID. The configuration is the harness's: SQLite index,
# StorageCompression off, SyncStorageArea on, 50 HTTP threads, DICOMweb when installed, plus
# ORTHANC_EXTRA_JSON when set (more top-level members, each followed by a comma).
orthanc_up() {
  local dir="$ORTHANC_DIR"
  orthanc_down
  rm -rf "$dir"; mkdir -p "$dir/storage" "$dir/plugins"
  [ -n "$DICOMWEB_SO" ] && ln -sf "$DICOMWEB_SO" "$dir/plugins/"
  cat >"$dir/orthanc.json" <<EOF
{
  "Name": "medvault-bench",
  "StorageDirectory": "$dir/storage",
  "IndexDirectory": "$dir/storage",
  "StorageCompression": false,
  "SyncStorageArea": true,
  "Plugins": ["$dir/plugins"],
  "HttpPort": $ORTHANC_HTTP,
  "DicomPort": $ORTHANC_DICOM,
  "DicomAet": "ORTHANC",
  "RemoteAccessAllowed": true,
  "AuthenticationEnabled": false,
  "HttpServerEnabled": true,
  "KeepAlive": true,
  "TcpNoDelay": true,
  "HttpThreadsCount": 50,
  "DicomThreadsCount": 4,
  "ConcurrentJobs": 2,
  "OverwriteInstances": false,
  "DicomCheckCalledAet": false,
  "UnknownSopClassAccepted": true,
  "StableAge": 60,
  ${ORTHANC_EXTRA_JSON:-}
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true }
}
EOF
  Orthanc "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
  ORTHANC_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$ORTHANC_HTTP/system" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): Orthanc did not start; see $dir/orthanc.log" >&2
  tail -20 "$dir/orthanc.log" >&2
  return 1
}

orthanc_down() {
  orthanc_tls_down
  if [ -n "${ORTHANC_PID:-}" ]; then
    kill "$ORTHANC_PID" 2>/dev/null || true
    wait "$ORTHANC_PID" 2>/dev/null || true
    ORTHANC_PID=""
  fi
}

# Orthanc over HTTPS, the way medvault's DICOMweb door is always served: nginx (Debian's
# nginx-light; Orthanc 1.10.1's own HTTPS resets every connection with Debian's OpenSSL 3)
# terminates TLS 1.3 on ORTHANC_TLS_PORT with a fresh self-signed P-256 certificate and passes
# requests over kept-alive connections to Orthanc's plain HTTP port, unbuffered. Returns 1 (and
# says so) when nginx is not installed: `apt-get install nginx-light`.
orthanc_tls_up() {
  local dir="$ORTHANC_DIR/tls" nginx
  nginx="$(command -v nginx || true)"
  [ -n "$nginx" ] || { echo "$(basename "$0"): nginx missing (apt-get install nginx-light): no Orthanc-over-HTTPS rows" >&2; return 1; }
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  cat >"$dir/nginx.conf" <<EOF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  upstream orthanc { server 127.0.0.1:$ORTHANC_HTTP; keepalive 64; }
  server {
    listen 127.0.0.1:$ORTHANC_TLS_PORT ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.3;
    client_max_body_size 0;
    location / {
      proxy_pass http://orthanc;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
EOF
  "$nginx" -c "$dir/nginx.conf" -e "$dir/error.log" || return 1
  for _ in $(seq 50); do
    curl -sfk "https://127.0.0.1:$ORTHANC_TLS_PORT/system" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): nginx in front of Orthanc did not answer; see $dir/error.log" >&2
  return 1
}
orthanc_tls_down() {
  local pidfile="${ORTHANC_DIR:-/nonexistent}/tls/nginx.pid"
  if [ -s "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 50); do [ -e "$pidfile" ] || break; sleep 0.1; done
  fi
}

# The common start of a bench that runs medvault's local cluster beside Orthanc: needs the service
# binaries and storescu, enters the private network namespace (bench_enter_netns re-runs the script
# there with ARGS), and sets WORK (a fresh directory under MEDVAULT_BENCH_TMP, default build/),
# JSON, CLUSTER, ORTHANC_DIR, ORTHANC_PID, an EXIT trap that stops both systems and removes WORK,
# and log(). Expects ROOT, BIN and MV_PORT_BASE.
#   bench_side_by_side_begin NAME "${ARGS[@]}"   (NAME names WORK)
bench_side_by_side_begin() {
  local name="$1"; shift
  bench_require_binaries keyservice metaserver chunkserver frontend
  bench_enter_netns "$@"
  command -v storescu >/dev/null || { echo "$(basename "$0"): storescu missing" >&2; exit 2; }
  local tmpbase="${MEDVAULT_BENCH_TMP:-$ROOT/build}"
  mkdir -p "$tmpbase"
  WORK="$(mktemp -d "$tmpbase/bench-$name.XXXXXX")"
  JSON="$WORK/results.jsonl"
  CLUSTER="$WORK/cluster"
  ORTHANC_DIR="$WORK/orthanc"
  ORTHANC_PID=""
  trap bench_side_by_side_end EXIT
}
bench_side_by_side_end() {
  set +e
  orthanc_down
  MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null 2>&1
  rm -rf "$WORK"
}
log() { echo "== $*" >&2; }

# The Study Instance UID of the first file (by name) in DIR.
bench_study_uid() {
  /usr/bin/python3 -c 'import pydicom,sys,os; d=sys.argv[1]; f=sorted(os.listdir(d))[0]; print(pydicom.dcmread(os.path.join(d,f), stop_before_pixels=True).StudyInstanceUID)' "$1"
}

# Stores every file under DIR with DCMTK's storescu over 4 associations at once (the files split
# round-robin) to AE at 127.0.0.1:PORT; stops the calling script when one fails. Needs WORK.
#   bench_store_dir DIR AE PORT
bench_store_dir() {
  find "$1" -type f | sort | split -n r/4 - "$WORK/part."
  local pids=() rc=0 part p
  for part in "$WORK"/part.*; do xargs -a "$part" storescu -aec "$2" 127.0.0.1 "$3" 2>>"$WORK/store.log" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  rm -f "$WORK"/part.*
  [ $rc = 0 ] || { echo "$(basename "$0"): storescu failed:" >&2; tail -5 "$WORK/store.log" >&2; exit 1; }
}
