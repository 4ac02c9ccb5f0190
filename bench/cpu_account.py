#!/usr/bin/env python3
"""Runs a command and accounts for the CPU it cost: the machine's idle and iowait share over the
run (/proc/stat), CPU-seconds per service of the cluster whose processes have MATCH in their command
line (/proc/PID/stat, summed by process name), and the command's own CPU (the client).

  bench/cpu_account.py --label L --match DIR [--json_out F] -- COMMAND [ARGS...]

Prints one summary line and appends one JSON line {"label": "L-cpu", ...} to F. Linux only.
"""
import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def machine():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def services(match):
    """{pid: (name, CPU seconds)} of every process whose command line contains `match`, and of
    their children (nginx's workers, whose titles do not carry the configuration's path)."""
    out, stats = {}, {}
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                matched = match.encode() in f.read()
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        stats[pid] = (matched, fields[1], name, (int(fields[11]) + int(fields[12])) / TICK)
    for pid, (matched, ppid, name, cpu) in stats.items():
        if matched or (ppid in stats and stats[ppid][0] and ppid != me):
            out[pid] = (name, cpu)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--label", required=True)
    p.add_argument("--match", required=True)
    p.add_argument("--json_out")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    s0, m0, t0 = services(a.match), machine(), time.monotonic()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = subprocess.call(cmd)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1, m1, wall = services(a.match), machine(), time.monotonic() - t0
    d = [y - x for x, y in zip(m0, m1)]
    total = sum(d) or 1
    cpu = collections.Counter()
    for pid, (name, secs) in s1.items():
        cpu[name] += secs - s0.get(pid, (name, 0.0))[1]
    client = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    rec = {"label": a.label + "-cpu", "wall_s": round(wall, 2), "idle_pct": round(100 * d[3] / total, 1),
           "iowait_pct": round(100 * d[4] / total, 1), "client_cpu_s": round(client, 2),
           "services_cpu_s": {k: round(v, 2) for k, v in cpu.most_common()}}
    print("%s: wall %.1f s, machine idle %.0f%% iowait %.0f%%, CPU-s: %s, client %.1f" % (
        rec["label"], wall, rec["idle_pct"], rec["iowait_pct"],
        ", ".join("%s %.1f" % kv for kv in cpu.most_common()), client))
    if a.json_out:
        with open(a.json_out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
