#!/usr/bin/python3
"""Turns bench/scale's JSON lines (scale_bench and scale_orthanc.py, one per checkpoint) into the
markdown results: ingest rate and FindStudies latency per checkpoint, side by side where both
systems have a checkpoint, with ratios between figures of the same run only."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import f, machine, orthanc_config_block, report_args  # noqa: E402

SHAPES = [("patient", "PatientID"), ("date", "StudyDate, 1 year"), ("modality", "ModalitiesInStudy"),
          ("all", "none")]


def load(path):
    out = {"medvault": {}, "orthanc": {}}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            out[r["system"]][r["instances"]] = r
    return out


def pair(r, a, b, d=1):
    return "%s / %s" % (f(r.get(a), d), f(r.get(b), d)) if r else "—"


def ratio(a, b):
    return (f(a / b, 2) + "×") if a and b else "—"


def main():
    a = report_args()
    runs = load(a.jsonl)
    mv, orth = runs["medvault"], runs["orthanc"]
    points = sorted(set(mv) | set(orth))
    out = []
    w = out.append
    w("# Scale: medvault to %s instances, Orthanc to %s (one run of bench/scale)\n" % (
        f(max(mv, default=0), 0), f(max(orth, default=0), 0)))
    if a.smoke == "1":
        w("**Smoke run: tiny counts, the figures mean nothing.**\n")
    any_mv = next(iter(mv.values()), {})
    any_or = next(iter(orth.values()), {})
    w("Machine: %s. medvault: metadata only (CommitInstance straight to the metaserver group: 3 replicas, "
      "Raft, RocksDB, mutual TLS; no chunk data, repair off), %s concurrent commits. Orthanc: the same "
      "instances as 16×16-pixel DICOM files by REST POST /instances, %s threads, SQLite index. Rates are "
      "over the interval since the previous checkpoint; ratios are medvault ÷ Orthanc at the same count. The "
      "machine is shared: the load average at each checkpoint says how busy it was.\n" % (
          machine(), any_mv.get("concurrency", "?"), any_or.get("concurrency", "?")))

    w("## Ingest\n")
    w("| instances | studies | medvault instances/s | commit p50 / p99 ms | Orthanc instances/s | "
      "POST p50 / p99 ms | medvault ÷ Orthanc | load avg medvault / Orthanc |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in points:
        m, o = mv.get(n, {}), orth.get(n, {})
        w("| %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            f(n, 0), f((m or o).get("studies"), 0), f(m.get("per_s")), pair(m, "commit_p50_ms", "commit_p99_ms"),
            f(o.get("per_s")), pair(o, "post_p50_ms", "post_p99_ms"), ratio(m.get("per_s"), o.get("per_s")),
            f(m.get("load_average")), f(o.get("load_average"))))
    w("")

    w("## FindStudies / tools/find: one page of %s studies, p50 / p99 ms over %s queries per shape\n" % (
        any_mv.get("page_size", any_or.get("page_size", "?")), any_mv.get("queries", any_or.get("queries", "?"))))
    w("\"results\" is the mean number of studies per answer, which must agree where both systems hold the "
      "same instances (the same queries on the same data).\n")
    w("| instances | filter | medvault (public API) | medvault metaserver | Orthanc | p50 medvault ÷ Orthanc | "
      "results medvault / Orthanc |")
    w("|---:|---|---:|---:|---:|---:|---:|")
    mismatches = []
    for n in points:
        m, o = mv.get(n, {}), orth.get(n, {})
        for shape, what in SHAPES:
            mf = m.get("find", {}).get(shape, {})
            mm = m.get("find_meta", {}).get(shape, {})
            of = o.get("find", {}).get(shape, {})
            res = "%s / %s" % (f(mf.get("mean_results")), f(of.get("mean_results")))
            if mf and of and abs(mf["mean_results"] - of["mean_results"]) > 1e-3:
                mismatches.append("%s at %d" % (shape, n))
                res += " **≠**"
            w("| %s | %s | %s | %s | %s | %s | %s |" % (
                f(n, 0), what, pair(mf, "p50_ms", "p99_ms", 2), pair(mm, "p50_ms", "p99_ms", 2),
                pair(of, "p50_ms", "p99_ms", 2), ratio(mf.get("p50_ms"), of.get("p50_ms")), res))
    w("")

    w("## Growth: figure at the largest checkpoint ÷ at the smallest (1.00× = flat)\n")
    w("| figure | medvault (%s → %s) | Orthanc (%s → %s) |" % (
        f(min(mv, default=0), 0), f(max(mv, default=0), 0), f(min(orth, default=0), 0), f(max(orth, default=0), 0)))
    w("|---|---:|---:|")

    def growth(series, get):
        if len(series) < 2:
            return "—"
        first, last = get(series[min(series)]), get(series[max(series)])
        return ratio(last, first)
    w("| ingest rate | %s | %s |" % (growth(mv, lambda r: r.get("per_s")), growth(orth, lambda r: r.get("per_s"))))
    for shape, what in SHAPES:
        get = lambda r, s=shape: r.get("find", {}).get(s, {}).get("p50_ms")  # noqa: E731
        w("| find p50, %s | %s | %s |" % (what, growth(mv, get), growth(orth, get)))
    w("")

    w("## Footprint at the largest checkpoint\n")
    w("| | instances | RSS MB | data on disk MB | bytes per instance |")
    w("|---|---:|---:|---:|---:|")
    for name, series in (("medvault metaserver (largest replica)", mv), ("Orthanc (storage + index)", orth)):
        if series:
            r = series[max(series)]
            w("| %s | %s | %s | %s | %s |" % (name, f(r["instances"], 0), f(r.get("rss_mb"), 0), f(r.get("data_mb"), 0),
                                              f(r.get("data_mb", 0) * 1e6 / r["instances"], 0)))
    w("")

    failed = ["%s %s: %d ingest failed" % (s, f(n, 0), r["failed"]) for s in runs for n, r in runs[s].items()
              if r.get("failed")]
    failed += ["%s %s: %d %s queries failed" % (s, f(n, 0), q["failed"], shape) for s in runs
               for n, r in runs[s].items() for key in ("find", "find_meta")
               for shape, q in r.get(key, {}).items() if q.get("failed")]
    if failed:
        w("**Failures:** " + ", ".join(failed) + "\n")
    if mismatches:
        w("**Result counts differ:** " + ", ".join(mismatches) + "\n")
    print("\n".join(out + orthanc_config_block(a.orthanc_config)))


if __name__ == "__main__":
    main()
