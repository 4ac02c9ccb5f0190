#!/usr/bin/env bash
# Keeps the README's first command true: scripts/cluster up starts every service healthy with data
# under one directory and loads the sample studies; status reports them; the CLI finds and reads
# them back; down stops everything and a second up restarts on the same data. Every gRPC port
# speaks mutual TLS only, with certificates made once under DATA/tls and reused on restart.
# MEDVAULT_BIN_DIR (set by ctest) picks the binaries of the build tree under test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$(mktemp -d /tmp/medvault-cluster-test-XXXXXX)"
# scripts/cluster takes a block of ports from MEDVAULT_PORT_BASE (gRPC and doors at base..base+39,
# metrics at base+2000..base+2039), not single free ports: pick a base below the kernel's ephemeral
# range whose whole block is free now (bound without SO_REUSEPORT, so a port any process holds,
# another engineer's cluster included, fails the check), starting at a random place so that two
# runs at once rarely try the same block. gRPC binds with SO_REUSEPORT: a block in use would be
# shared silently rather than refused, hence the check.
free_port_base() {
  /usr/bin/python3 - <<'PY'
import random, socket
def free(base):
    socks = []
    try:
        for p in list(range(base, base + 40)) + list(range(base + 2000, base + 2040)):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()
bases = list(range(20000, 28000, 50))
random.shuffle(bases)
print(next(b for b in bases if free(b)))
PY
}
export MEDVAULT_PORT_BASE="${MEDVAULT_PORT_BASE:-$(free_port_base)}"
export MEDVAULT_FRONTEND="127.0.0.1:$MEDVAULT_PORT_BASE"
export MEDVAULT_TLS_DIR="$DATA/tls"
CLI="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}/medvault"
cleanup() { "$ROOT/scripts/cluster" down --data "$DATA" >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out="$("$ROOT/scripts/cluster" up --data "$DATA")"
echo "$out"
grep -q "medvault is up" <<<"$out" || fail "up did not report success"
grep -Eq "^[0-9]+ stored|  [0-9]+ stored" <<<"$out" || fail "samples were not loaded"
[ "$(stat -c %a "$DATA/keyservice/keks/1")" = 600 ] || fail "master key file is not mode 0600"
[ "$(stat -c %a "$DATA/keyservice/keks")" = 700 ] || fail "master key directory is not mode 0700"
[ "$(stat -c %a "$DATA")" = 700 ] || fail "data directory is not private (mode 0700)"
[ -z "$(find "$DATA" -perm -o=r ! -type l | head -1)" ] || fail "world-readable files under $DATA"
[ "$(stat -c %a "$DATA/tls")" = 700 ] || fail "tls directory is not mode 0700"
for name in ca keyservice metaserver frontend client chunkserver-0 chunkserver-1 chunkserver-2; do
  [ -s "$DATA/tls/$name.crt" ] || fail "no certificate $name.crt"
  [ "$(stat -c %a "$DATA/tls/$name.key")" = 600 ] || fail "$name.key is not mode 0600"
done
openssl x509 -in "$DATA/tls/keyservice.crt" -noout -ext subjectAltName | grep -q "DNS:keyservice" ||
  fail "the keyservice certificate does not name the keyservice"
certs_before="$(cat "$DATA"/tls/*.crt | sha256sum)"
"$ROOT/scripts/cluster" status --data "$DATA" || fail "status reports an unhealthy service"

studies="$("$CLI" find --json)"  # the client certificate from MEDVAULT_TLS_DIR
count="$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$studies")"
[ "$count" -gt 10 ] || fail "expected the sample studies, found $count"

# Read one sample back byte-exact.
src=/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm
uid="$(dcmdump +P SOPInstanceUID "$src" | sed -n 's/.*\[\(.*\)\].*/\1/p')"
"$CLI" get --instance "$uid" -o "$DATA/back.dcm"
cmp "$src" "$DATA/back.dcm" || fail "CT_small.dcm did not read back byte-exact"
dcmdump "$DATA/back.dcm" >/dev/null || fail "DCMTK cannot read the returned file"

# The DIMSE door answers DCMTK's echoscu on base + 4 as MEDVAULT, and up printed it.
grep -q "DIMSE (DICOM): 127.0.0.1:$((MEDVAULT_PORT_BASE + 4)), AE title MEDVAULT" <<<"$out" ||
  fail "up did not print the DIMSE endpoint"
echoscu -aec MEDVAULT 127.0.0.1 "$((MEDVAULT_PORT_BASE + 4))" || fail "the DIMSE door did not answer C-ECHO"
# DICOMweb on base + 5, printed by up, with the client certificate exactly as the README says:
# the sample CT comes back byte-exact through WADO-URI, and QIDO-RS lists the sample studies.
web="https://127.0.0.1:$((MEDVAULT_PORT_BASE + 5))/dicomweb"
grep -q "DICOMweb: $web/" <<<"$out" || fail "up did not print the DICOMweb address"
WEB=(--cacert "$DATA/tls/ca.crt" --cert "$DATA/tls/client.crt" --key "$DATA/tls/client.key" -sS -f)
series="$(dcmdump +P SeriesInstanceUID "$src" | sed -n 's/.*\[\(.*\)\].*/\1/p')"
study0="$(dcmdump +P StudyInstanceUID "$src" | sed -n 's/.*\[\(.*\)\].*/\1/p')"
curl "${WEB[@]}" -o "$DATA/web.dcm" \
  "$web/wado?requestType=WADO&studyUID=$study0&seriesUID=$series&objectUID=$uid" ||
  fail "WADO-URI failed"
cmp "$src" "$DATA/web.dcm" || fail "CT_small.dcm did not read back byte-exact through DICOMweb"
curl "${WEB[@]}" "$web/studies" | grep -q "\"$study0\"" || fail "QIDO-RS did not list the sample study"

# Plaintext is refused on every gRPC port; so is a client without the cluster's certificate.
if "$CLI" --insecure_plaintext find >/dev/null 2>&1; then fail "the frontend answered plaintext"; fi
for port in 0 10 20 30; do
  if "$CLI" --insecure_plaintext health "127.0.0.1:$((MEDVAULT_PORT_BASE + port))" >/dev/null 2>&1; then
    fail "port $((MEDVAULT_PORT_BASE + port)) answered plaintext"
  fi
done
if MEDVAULT_TLS_DIR="$DATA/no-such-dir" "$CLI" find >/dev/null 2>&1; then
  fail "the CLI ran without a client certificate"
fi

# Scopes: the read-only client reads but may not delete; the operator verbs work for `client`.
RO=(--tls_ca "$DATA/tls/ca.crt" --tls_cert "$DATA/tls/client-readonly.crt" --tls_key "$DATA/tls/client-readonly.key")
"$CLI" "${RO[@]}" get --instance "$uid" -o "$DATA/ro.dcm" || fail "the read-only client could not read"
study="$(dcmdump +P StudyInstanceUID "$src" | sed -n 's/.*\[\(.*\)\].*/\1/p')"
if err="$("$CLI" "${RO[@]}" rm --study "$study" 2>&1)"; then fail "the read-only client deleted a study"; fi
grep -q PERMISSION_DENIED <<<"$err" || fail "read-only delete did not say PERMISSION_DENIED: $err"
"$CLI" kek status | grep -q "active KEK version: 1" || fail "kek status did not show version 1"
"$CLI" audit --limit 5 | grep -q " generate caller=frontend/frontend" || fail "the audit log shows no generation"
verified="$("$CLI" audit verify --sign)" || fail "audit verify failed: $verified"
grep -q "audit log OK: .* [1-9][0-9]* signed heads" <<<"$verified" || fail "audit verify: no signed head: $verified"

"$ROOT/scripts/cluster" down --data "$DATA"
if "$ROOT/scripts/cluster" status --data "$DATA" >/dev/null; then fail "status says up after down"; fi

# Restart on the same data: nothing lost, samples not loaded twice.
out="$("$ROOT/scripts/cluster" up --data "$DATA")"
grep -q "loading sample" <<<"$out" && fail "samples loaded twice"
[ "$(cat "$DATA"/tls/*.crt | sha256sum)" = "$certs_before" ] || fail "certificates were remade on restart"
again="$("$CLI" find --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
[ "$again" = "$count" ] || fail "study count changed across restart: $count -> $again"
"$CLI" get --instance "$uid" -o "$DATA/back2.dcm"
cmp "$src" "$DATA/back2.dcm" || fail "read after restart differs"
echo "cluster script test: 1 passed, 0 failed"
