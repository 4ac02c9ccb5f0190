#!/usr/bin/python3
"""Times QIDO-RS study searches, one at a time over one keep-alive connection (bench/qido_10k.sh).

  qido_query.py --label L --url https://127.0.0.1:P/dicomweb --queries queries.tsv
                [--cacert CA --cert CRT --key KEY] [--json_out FILE]

For every line "<class>\t<query string>\t<expected count>" of queries.tsv, GETs
URL/studies?<query string> with Accept: application/dicom+json, times it (request sent to body
read), and counts the studies answered. Prints one JSON line per class: p50/p99/max in ms, the
number of queries and how many answers had a count other than expected.
"""
import argparse
import http.client
import json
import ssl
import statistics
import sys
import time
import urllib.parse


def connect(url, a):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=a.cacert)
        ctx.check_hostname = False  # the cluster's certificate names the service, not 127.0.0.1
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60), u.path
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60), u.path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--label", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--cacert")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--json_out")
    a = p.parse_args()
    conn, base = connect(a.url, a)
    by_class = {}
    for line in open(a.queries):
        cls, qs, want = line.rstrip("\n").split("\t")
        start = time.perf_counter()
        conn.request("GET", base + "/studies?" + qs, headers={"Accept": "application/dicom+json"})
        r = conn.getresponse()
        body = r.read()
        took = time.perf_counter() - start
        if r.status not in (200, 204):
            sys.exit("qido_query.py: %s answered %d to %s" % (a.label, r.status, qs))
        got = len(json.loads(body)) if body.strip() else 0
        t, bad = by_class.setdefault(cls, ([], []))
        t.append(took * 1000)
        if got != int(want):
            bad.append("%s: %d, not %s" % (qs, got, want))
    out = open(a.json_out, "a") if a.json_out else None
    for cls, (t, bad) in by_class.items():
        s = sorted(t)
        row = {"label": a.label, "class": cls, "queries": len(s), "p50_ms": statistics.median(s),
               "p99_ms": s[min(len(s) - 1, int(0.99 * len(s)))], "max_ms": s[-1],
               "wrong_counts": len(bad), "first_wrong": bad[0] if bad else ""}
        print(json.dumps(row))
        if out:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
