#!/usr/bin/python3
"""Turns bench/run's JSON lines into the markdown results table, with every ratio taken between
figures of the same run (never against numbers from elsewhere)."""
import argparse
import json
import os
import platform
import subprocess
import time


def load(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            out[r["label"]] = r
    return out


def f(v, d=1):
    if v is not None and 0 < abs(v) < 1 and d < 3:
        d = 3  # rates of large objects (0.03 instances/s) must not print as 0.0
    return "—" if v is None else ("{:,.%df}" % d).format(v)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    disk = subprocess.run(["sh", "-c", "df --output=source . | tail -1"], capture_output=True,
                          text=True).stdout.strip()
    return "%d cores (%s), %s, disk %s, kernel %s" % (os.cpu_count(), cpu,
                                                     time.strftime("%Y-%m-%d %H:%M"), disk,
                                                     platform.release())


def orthanc_config_block(path):
    """The Orthanc configuration of the run as a collapsed markdown block; [] without one."""
    if not path or not os.path.exists(path):
        return []
    return ["<details><summary>Orthanc configuration</summary>\n\n```json\n%s```\n</details>\n" % open(path).read()]


def report_args():
    """The arguments of both report scripts: the JSON lines, the Orthanc configuration, smoke."""
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--orthanc-config", default="")
    ap.add_argument("--smoke", default="0")
    return ap.parse_args()


def main():
    a = report_args()
    r = load(a.jsonl)
    g = lambda label, key: r.get(label, {}).get(key)
    out = []
    w = out.append
    w("# medvault vs Orthanc vs the machine (one run of bench/run)\n")
    if a.smoke == "1":
        w("**Smoke run: tiny counts, the figures mean nothing.**\n")
    w("Machine: %s. medvault: 3 key service + 3 metaserver replicas, 3 chunk servers, 3 encrypted "
      "replicas of every chunk, mutual TLS. Orthanc: one plaintext copy, SQLite index, "
      "SyncStorageArea on. Every ratio is between figures of this run.\n" % machine())

    w("## Bounds\n")
    w("| bound | MB/s |")
    w("|---|---:|")
    w("| AES-256-GCM, one core, 1 MiB chunks | %s |" % f(g("aes", "mb_s"), 0))
    for lab, what in (("bound_ct", "CT slices written 3× with fdatasync, 4 writers"),
                      ("bound_ct16", "CT slices written 3× with fdatasync, 16 writers"),
                      ("bound_mg", "large objects written 3× with fdatasync, 1 writer"),
                      ("bound_mg_near", "the same, just before medvault's large-object ingest"),
                      ("bound_tomo", "tomosynthesis object written 3× with fdatasync"),
                      ("bound_tomo_near", "the same, just before medvault's tomosynthesis ingest")):
        if lab in r:
            w("| %s (%s instances/s) | %s |" % (what, f(g(lab, "per_s")), f(g(lab, "mb_s"))))
    w("")

    w("## Ingest\n")
    w("Large objects are divided by the mean of their two bound measurements (above).\n")
    w("| workload | method | conc. | instances/s | MB/s | p50 ms | p99 ms | × Orthanc best | × 3×fsync bound |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = {
        "ct": [("mv_grpc_ct", "medvault gRPC (load_gen)", 4), ("mv_grpc_ct16", "medvault gRPC (load_gen)", 16),
               ("mv_cli_ct", "medvault CLI put --jobs 4", 4),
               ("or_rest_ct", "Orthanc REST POST /instances", 4), ("or_rest_ct16", "Orthanc REST POST /instances", 16),
               ("or_scu1_ct", "Orthanc storescu, 1 assoc", 1), ("or_scu4_ct", "Orthanc storescu, 4 assoc", 4)],
        "mix": [("mv_grpc_mix", "medvault gRPC (load_gen)", 4), ("mv_cli_mix", "medvault CLI put --jobs 4", 4),
                ("or_rest_mix", "Orthanc REST POST /instances", 4), ("or_scu1_mix", "Orthanc storescu, 1 assoc", 1),
                ("or_scu4_mix", "Orthanc storescu, 4 assoc", 4)],
        "mg": [("mv_grpc_mg", "medvault gRPC (load_gen)", 1), ("or_rest_mg", "Orthanc REST POST /instances", 1)],
        "tomo": [("mv_grpc_tomo", "medvault gRPC (load_gen)", 1), ("or_rest_tomo", "Orthanc REST POST /instances", 1)],
    }
    names = {"ct": "CT 512×512 slices", "mix": "MR 256×256 + PDF reports", "mg": "large (~50 MB)",
             "tomo": "tomosynthesis (~1 GB)"}
    bounds = {"ct": "bound_ct", "mg": "bound_mg", "tomo": "bound_tomo"}
    for wl, lst in rows.items():
        present = [x for x in lst if x[0] in r]
        if not present:
            continue
        best = max((g(l, "per_s") for l, _, _ in present if l.startswith("or_")), default=None)
        for lab, what, conc in present:
            # Each medvault row against the bound with as many writers (16 where measured).
            bound = g(bounds.get(wl, "") + ("16" if conc == 16 and wl == "ct" else ""), "mb_s")
            near = g(bounds.get(wl, "") + "_near", "mb_s")
            if bound and near:
                bound = (bound + near) / 2  # large objects: the mean of the two measurements
            ratio = g(lab, "per_s") / best if best else None
            fb = g(lab, "mb_s") / bound if bound and lab.startswith("mv_") else None
            w("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                names[wl], what, conc, f(g(lab, "per_s")), f(g(lab, "mb_s")), f(g(lab, "p50_ms")),
                f(g(lab, "p99_ms")), f(ratio, 2) + "×" if ratio else "—", f(fb, 2) if fb else "—"))
    w("")

    w("## Retrieval of the CT study (every slice once; per-instance latency)\n")
    w("| conc. | medvault MB/s | p50 ms | p99 ms | Orthanc file MB/s | p50 ms | p99 ms | WADO-RS MB/s | p50 ms | p99 ms | medvault MB/s × Orthanc best | p50 × Orthanc best |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in (1, 4, 16):
        m, o, d = "mv_get_c%d" % c, "or_get_c%d" % c, "or_wado_c%d" % c
        ors = [x for x in (o, d) if x in r]
        best_mb = max((g(x, "mb_s") for x in ors), default=None)
        best_p50 = min((g(x, "p50_ms") for x in ors), default=None)
        w("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c, f(g(m, "mb_s")), f(g(m, "p50_ms")), f(g(m, "p99_ms")), f(g(o, "mb_s")), f(g(o, "p50_ms")),
            f(g(o, "p99_ms")), f(g(d, "mb_s")), f(g(d, "p50_ms")), f(g(d, "p99_ms")),
            f(g(m, "mb_s") / best_mb, 2) + "×" if best_mb and m in r else "—",
            f(g(m, "p50_ms") / best_p50, 2) + "×" if best_p50 and m in r else "—"))
    w("")
    if "mv_get_mg" in r:
        w("## Retrieval of the large objects (each once, one at a time)\n")
        w("| medvault MB/s | p50 ms | Orthanc file MB/s | p50 ms | medvault MB/s × Orthanc |")
        w("|---:|---:|---:|---:|---:|")
        o = g("or_get_mg", "mb_s")
        w("| %s | %s | %s | %s | %s |" % (f(g("mv_get_mg", "mb_s")), f(g("mv_get_mg", "p50_ms")), f(o),
                                          f(g("or_get_mg", "p50_ms")),
                                          f(g("mv_get_mg", "mb_s") / o, 2) + "×" if o else "—"))
        w("")
    failed = {k: v for k, v in r.items() if v.get("failed")}
    short = {k: v for k, v in r.items() if "stored" in v and v["stored"] != v["ok"]}
    if failed or short:
        w("**Failures:** " + ", ".join(["%s: %d failed" % (k, v["failed"]) for k, v in failed.items()] +
                                       ["%s: %d sent, %d stored" % (k, v["ok"], v["stored"]) for k, v in short.items()]) + "\n")
    print("\n".join(out + orthanc_config_block(a.orthanc_config)))


if __name__ == "__main__":
    main()
