#!/usr/bin/python3
"""The scale benchmark's Orthanc side (bench/scale): ingests the same synthetic instances as
scale_bench (bench/scale_data.py), each a tiny DICOM file (16x16 pixels: the metadata-only
equivalent), by REST POST /instances, and at each checkpoint pauses and measures POST /tools/find
(Level Study, Limit = page size, Expand) for the same query shapes and parameters.

  scale_orthanc.py run URL [--checkpoints 25000,50000,100000] [--max N] [--concurrency 8]
                           [--queries 200] [--page-size 100] [--seed 1] [--json-out F]
                           [--watch-pid PID] [--watch-dir DIR]
  scale_orthanc.py dump N [--seed 1]   encode the first N instances, parse them back with pydicom
                                       and print their tags as `scale_bench --dump_tags=N` does

Each interval's files are encoded before its clock starts (so the figure is Orthanc's, not this
client's); one keep-alive HTTP/1.1 connection per thread. Prints a JSON line per checkpoint.
"""
import argparse
import http.client
import io
import json
import os
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_data  # noqa: E402
from http_load import pct, run_pool  # noqa: E402

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLEMENTATION_UID = "2.25.4242"
LONG_VRS = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"}


def element(group, elem, vr, value):
    if isinstance(value, str):
        value = value.encode("ascii")
        if len(value) % 2:
            value += b"\0" if vr == b"UI" else b" "
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def encode(t):
    """A DICOM Part 10 file (explicit VR little endian) with t's tags and 16x16 16-bit pixels."""
    meta = b"".join([
        element(0x0002, 0x0001, b"OB", b"\0\1"),
        element(0x0002, 0x0002, b"UI", t["sop_class_uid"]),
        element(0x0002, 0x0003, b"UI", t["sop_instance_uid"]),
        element(0x0002, 0x0010, b"UI", EXPLICIT_VR_LE),
        element(0x0002, 0x0012, b"UI", IMPLEMENTATION_UID),
    ])
    us = lambda v: struct.pack("<H", v)  # noqa: E731
    body = b"".join([
        element(0x0008, 0x0016, b"UI", t["sop_class_uid"]),
        element(0x0008, 0x0018, b"UI", t["sop_instance_uid"]),
        element(0x0008, 0x0020, b"DA", t["study_date"]),
        element(0x0008, 0x0030, b"TM", t["study_time"]),
        element(0x0008, 0x0050, b"SH", t["accession_number"]),
        element(0x0008, 0x0060, b"CS", t["modality"]),
        element(0x0008, 0x1030, b"LO", t["study_description"]),
        element(0x0008, 0x103E, b"LO", t["series_description"]),
        element(0x0010, 0x0010, b"PN", t["patient_name"]),
        element(0x0010, 0x0020, b"LO", t["patient_id"]),
        element(0x0010, 0x0030, b"DA", t["patient_birth_date"]),
        element(0x0010, 0x0040, b"CS", t["patient_sex"]),
        element(0x0020, 0x000D, b"UI", t["study_uid"]),
        element(0x0020, 0x000E, b"UI", t["series_uid"]),
        element(0x0020, 0x0011, b"IS", str(t["series_number"])),
        element(0x0020, 0x0013, b"IS", str(t["instance_number"])),
        element(0x0028, 0x0002, b"US", us(1)),
        element(0x0028, 0x0004, b"CS", "MONOCHROME2"),
        element(0x0028, 0x0010, b"US", us(16)),
        element(0x0028, 0x0011, b"US", us(16)),
        element(0x0028, 0x0100, b"US", us(16)),
        element(0x0028, 0x0101, b"US", us(16)),
        element(0x0028, 0x0102, b"US", us(15)),
        element(0x0028, 0x0103, b"US", us(0)),
        element(0x7FE0, 0x0010, b"OW", os.urandom(16 * 16 * 2)),
    ])
    return (b"\0" * 128 + b"DICM" + element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta))) + meta + body)


FIELDS = ["patient_id", "patient_name", "patient_birth_date", "patient_sex", "study_uid", "study_date",
          "study_time", "study_description", "accession_number", "series_uid", "modality",
          "series_description", "series_number", "sop_instance_uid", "sop_class_uid", "instance_number"]
KEYWORDS = ["PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
            "StudyTime", "StudyDescription", "AccessionNumber", "SeriesInstanceUID", "Modality",
            "SeriesDescription", "SeriesNumber", "SOPInstanceUID", "SOPClassUID", "InstanceNumber"]


def dump(a):
    import pydicom
    data = scale_data.Dataset(a.seed)
    data.reserve(a.n)
    for n in range(a.n):
        ds = pydicom.dcmread(io.BytesIO(encode(data.tags(n))))
        print("\t".join(str(ds.get(k, "")) for k in KEYWORDS))
    studies = data.studies_covering(a.n)
    for shape, name in enumerate(scale_data.QUERY_SHAPES):
        for j in range(5):
            q = scale_data.make_query(a.seed, shape, a.n, studies, j)
            print("query %s %d: %s" % (name, j, " ".join(
                "%s=%s" % (k, q.get(k, "")) for k in ("patient_id", "study_date_from", "study_date_to", "modality"))))
    return 0


def orthanc_query(q):
    """StudyQuery fields as Orthanc's /tools/find Query."""
    if "patient_id" in q:
        return {"PatientID": q["patient_id"]}
    if "study_date_from" in q:
        return {"StudyDate": "%s-%s" % (q["study_date_from"], q["study_date_to"])}
    if "modality" in q:
        return {"ModalitiesInStudy": q["modality"]}
    return {}


def watch(pid, directory):
    """(RSS MB of pid, MB of files under directory, 1-minute load average)"""
    rss = size = 0.0
    if pid:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024 / 1e6
    if directory:
        for root, _, files in os.walk(directory):
            for name in files:
                try:
                    size += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass
    return rss, size / 1e6, float(open("/proc/loadavg").read().split()[0])


def ingest(url, files, first, concurrency):
    """POSTs files (instances first..) with `concurrency` threads; (counts, seconds, sorted
    latencies in ms, first error)."""
    def call(conn, i):
        conn.request("POST", "/instances", body=files[i], headers={"Content-Type": "application/dicom"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            return None, "HTTP %d: %s" % (r.status, body[:200])
        return json.loads(body).get("Status"), None

    def progress(done):
        print("scale_orthanc: %d instances posted, %.1f/s since the last checkpoint" % (
            first + done, done / (time.perf_counter() - start)), file=sys.stderr)

    start = time.perf_counter()
    results = run_pool(url, len(files), concurrency, call, progress)
    seconds = time.perf_counter() - start
    counts, errors = {"ok": 0, "already": 0, "failed": 0}, []
    for _, value, error in results:
        status, error = value if value else (None, error)
        counts["already" if status == "AlreadyStored" else "ok" if status else "failed"] += 1
        if error and not errors:
            errors.append(error)
    return counts, seconds, sorted(dt * 1e3 for dt, _, _ in results), (errors[0] if errors else "")


def measure(u, a, data, instances):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    studies = data.studies_covering(instances)
    out = {}
    for shape, name in enumerate(scale_data.QUERY_SHAPES):
        lat, results, failed = [], 0, 0
        for j in range(a.queries):
            body = json.dumps({"Level": "Study", "Limit": a.page_size, "Expand": True,
                               "Query": orthanc_query(scale_data.make_query(a.seed, shape, instances, studies, j))})
            t0 = time.perf_counter()
            conn.request("POST", "/tools/find", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            reply = r.read()
            dt = (time.perf_counter() - t0) * 1e3
            if r.status != 200:
                if failed == 0:
                    print("scale_orthanc: find failed: HTTP %d %s" % (r.status, reply[:200]), file=sys.stderr)
                failed += 1
                continue
            lat.append(dt)
            results += len(json.loads(reply))
        lat.sort()
        out[name] = {"p50_ms": pct(lat, .5), "p99_ms": pct(lat, .99),
                     "mean_results": results / len(lat) if lat else 0.0, "failed": failed}
    conn.close()
    return out


def run(a):
    u = urllib.parse.urlparse(a.url)
    checkpoints = sorted({int(x) for x in a.checkpoints.split(",") if x and (not a.max or int(x) <= a.max)} |
                         ({a.max} if a.max else set()))
    data = scale_data.Dataset(a.seed)
    data.reserve(checkpoints[-1])
    done, failures = 0, 0
    for target in checkpoints:
        files = [encode(data.tags(n)) for n in range(done, target)]  # untimed
        counts, seconds, lat, err = ingest(a.url, files, done, a.concurrency)
        del files
        if err:
            print("scale_orthanc: first ingest error: %s" % err, file=sys.stderr)
        find = measure(u, a, data, target)
        rss, size, load = watch(a.watch_pid, a.watch_dir)
        failures += counts["failed"] + sum(f["failed"] for f in find.values())
        line = json.dumps({
            "system": "orthanc", "instances": target, "studies": data.studies_covering(target),
            "interval_instances": target - done, "interval_seconds": seconds,
            "per_s": (counts["ok"] + counts["already"]) / seconds, "post_p50_ms": pct(lat, .5),
            "post_p99_ms": pct(lat, .99), "ok": counts["ok"], "already_stored": counts["already"],
            "failed": counts["failed"], "concurrency": a.concurrency, "queries": a.queries,
            "page_size": a.page_size, "rss_mb": rss, "data_mb": size, "load_average": load, "find": find})
        print(line, flush=True)
        if a.json_out:
            with open(a.json_out, "a") as f:
                f.write(line + "\n")
        done = target
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("run")
    r.add_argument("url")
    r.add_argument("--checkpoints", default="25000,50000,100000")
    r.add_argument("--max", type=int, default=0)
    r.add_argument("--concurrency", type=int, default=8)
    r.add_argument("--queries", type=int, default=200)
    r.add_argument("--page-size", type=int, default=100)
    r.add_argument("--json-out", default="")
    r.add_argument("--watch-pid", default="")
    r.add_argument("--watch-dir", default="")
    d = sub.add_parser("dump")
    d.add_argument("n", type=int)
    for p in (r, d):
        p.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    return dump(a) if a.mode == "dump" else run(a)


if __name__ == "__main__":
    sys.exit(main())
