#!/usr/bin/env python3
"""Where a frontend's single-instance reads spent their time between two calls of this script.

Reads medvault_frontend_get_stage_seconds{stage} (and get_latency_seconds) from the frontend's
/metrics, keeps the sums and counts in STATE, and prints the mean per read of each stage since the
previous call with the same STATE (nothing on the first call):

  bench/get_stages.py http://127.0.0.1:PORT/metrics STATE
  ... reads ...
  bench/get_stages.py http://127.0.0.1:PORT/metrics STATE   # "stages ms/read: lookup 0.41 ..."
"""
import json
import os
import re
import sys
import urllib.request

STAGES = ("lookup", "fetch", "key", "decrypt", "send")


def scrape(url):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'medvault_frontend_get_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)', line)
        if m:
            out["%s_%s" % (m.group(2), m.group(1))] = float(m.group(3))
        m = re.match(r'medvault_frontend_get_latency_seconds_(sum|count) (\S+)', line)
        if m:
            out["latency_%s" % m.group(1)] = float(m.group(2))
    return out


def main():
    url, state = sys.argv[1], sys.argv[2]
    now = scrape(url)
    if os.path.exists(state):
        with open(state) as f:
            before = json.load(f)
        reads = now.get("lookup_count", 0) - before.get("lookup_count", 0)
        if reads > 0:
            parts = []
            for s in STAGES + ("latency",):
                ms = 1000 * (now.get(s + "_sum", 0) - before.get(s + "_sum", 0)) / reads
                parts.append("%s %.2f" % (s if s != "latency" else "of a read's", ms))
            print("stages ms/read over %d reads: %s" % (reads, ", ".join(parts)))
    with open(state, "w") as f:
        json.dump(now, f)


if __name__ == "__main__":
    main()
