#!/usr/bin/python3
"""Concurrent HTTP client for Orthanc's side of the harness (bench/run), reporting the same figures
as load_gen (instances/s, MB/s, latency p50/p90/p99/max) as one JSON line.

  http_load.py put URL --inputs DIR[,DIR] --concurrency N --ids-out F   POST each file to URL/instances
  http_load.py get URL --ids F --concurrency N --kind file|wado         GET each instance back

One persistent HTTP/1.1 connection per worker thread (Orthanc keeps connections alive). Put writes
"<orthanc id> <study uid> <series uid> <sop uid> <size>" per stored instance; get reads it back
and fetches /instances/{id}/file or, with --kind wado, WADO-RS
/dicom-web/studies/{study}/series/{series}/instances/{sop} as multipart/related application/dicom.
Python's GIL bounds this client near a few hundred MB/s, so the figures are a floor for Orthanc.
"""
import argparse
import http.client
import ssl
import json
import os
import sys
import threading
import time
import urllib.parse


def files_of(spec):
    out = []
    for part in filter(None, spec.split(",")):
        if os.path.isdir(part):
            out += sorted(os.path.join(part, n) for n in os.listdir(part)
                          if os.path.isfile(os.path.join(part, n)))
        else:
            out.append(part)
    return out


def pct(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(p * (len(sorted_ms) - 1) + 0.5))]


def connection_to(u):
    """A function that opens a keep-alive connection to the parsed URL `u`: plain HTTP, or HTTPS
    for an https URL (the bench's self-signed TLS front: the certificate is not checked)."""
    if u.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return lambda: http.client.HTTPSConnection(u.hostname, u.port, timeout=600, context=context)
    return lambda: http.client.HTTPConnection(u.hostname, u.port, timeout=600)


def run_pool(url, n, concurrency, call, progress=None):
    """Runs call(conn, i) for every i in range(n) on `concurrency` threads, each with its own
    keep-alive HTTP/1.1 connection to `url`, reopened after a connection error. Returns
    [(seconds, value, error)] in completion order: call's return value, or None and the text of the
    OSError/HTTPException it raised. `progress(done)`, when given, is called every 10 s."""
    u = urllib.parse.urlparse(url)
    connect = connection_to(u)
    lock = threading.Lock()
    nxt, running, results = [0], [max(1, concurrency)], []
    all_done = threading.Event()

    def worker():
        conn = connect()
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            t0 = time.perf_counter()
            try:
                value, error = call(conn, i), None
            except (OSError, http.client.HTTPException) as e:
                value, error = None, str(e)
                conn.close()
                conn = connect()
            dt = time.perf_counter() - t0
            with lock:
                results.append((dt, value, error))
        conn.close()
        with lock:
            running[0] -= 1
            if running[0] == 0:
                all_done.set()

    threads = [threading.Thread(target=worker) for _ in range(running[0])]
    for t in threads:
        t.start()
    while not all_done.wait(10):
        if progress:
            with lock:
                done = len(results)
            progress(done)
    for t in threads:
        t.join()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["put", "get"])
    ap.add_argument("url")
    ap.add_argument("--inputs", default="")
    ap.add_argument("--ids", default="")
    ap.add_argument("--ids-out", default="")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--kind", choices=["file", "wado"], default="file")
    ap.add_argument("--label", default="")
    ap.add_argument("--json-out", default="")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)

    if a.mode == "put":
        items = [open(f, "rb").read() for f in files_of(a.inputs)]
    else:
        items = [line.split() for line in open(a.ids) if line.strip()]
    if not items:
        sys.exit("http_load: nothing to do")

    def call(conn, i):
        """(ok, bytes, Orthanc's answer or error text)"""
        if a.mode == "put":
            conn.request("POST", "/instances", body=items[i], headers={"Content-Type": "application/dicom"})
            r = conn.getresponse()
            body = r.read()
            ok = r.status == 200
            return ok, len(items[i]), json.loads(body) if ok else body[:200]
        oid, study, series, sop = items[i][:4]
        if a.kind == "file":
            conn.request("GET", "/instances/%s/file" % oid)
        else:
            conn.request("GET", "/dicom-web/studies/%s/series/%s/instances/%s" % (study, series, sop),
                         headers={"Accept": 'multipart/related; type="application/dicom"'})
        r = conn.getresponse()
        body = r.read()
        ok = r.status == 200
        return ok, len(body), None if ok else body[:200]

    start = time.perf_counter()
    # (ok, seconds, bytes, answer or error)
    results = [(v[0], dt, v[1], v[2]) if v else (False, dt, 0, err)
               for dt, v, err in run_pool(a.url, len(items), a.concurrency, call)]
    wall = time.perf_counter() - start

    good = [r for r in results if r[0]]
    failed = [r for r in results if not r[0]]
    lat = sorted(r[1] * 1e3 for r in good)
    nbytes = sum(r[2] for r in good)
    already = sum(1 for r in good if a.mode == "put" and r[3].get("Status") == "AlreadyStored")
    fig = {"label": a.label or a.mode, "mode": a.mode, "concurrency": a.concurrency, "ok": len(good),
           "failed": len(failed), "already_stored": already, "bytes": nbytes, "seconds": wall,
           "per_s": len(good) / wall, "mb_s": nbytes / wall / 1e6, "p50_ms": pct(lat, .5),
           "p90_ms": pct(lat, .9), "p99_ms": pct(lat, .99), "max_ms": lat[-1] if lat else 0.0}
    print("%s: %d ok (%d already stored), %d failed, %.1f MB in %.2f s: %.1f instances/s, %.1f MB/s; "
          "latency ms p50 %.1f p90 %.1f p99 %.1f max %.1f (concurrency %d)" % (
              fig["label"], fig["ok"], already, fig["failed"], nbytes / 1e6, wall, fig["per_s"],
              fig["mb_s"], fig["p50_ms"], fig["p90_ms"], fig["p99_ms"], fig["max_ms"], a.concurrency))
    if failed:
        print("http_load: first error: %s" % (failed[0][3],), file=sys.stderr)
    if a.json_out:
        with open(a.json_out, "a") as f:
            f.write(json.dumps(fig) + "\n")
    if a.mode == "put" and a.ids_out:
        # Untimed: the DICOM UIDs WADO-RS needs, from Orthanc's own index.
        conn = connection_to(u)()
        with open(a.ids_out, "w") as f:
            for r in good:
                conn.request("GET", "/instances/%s/simplified-tags" % r[3]["ID"])
                tags = json.loads(conn.getresponse().read())
                f.write("%s %s %s %s %d\n" % (r[3]["ID"], tags["StudyInstanceUID"],
                                              tags["SeriesInstanceUID"], tags["SOPInstanceUID"], r[2]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
