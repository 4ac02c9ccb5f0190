#!/usr/bin/python3
"""Every metric the alert rules and the Grafana dashboard name is one the services really export:
starts a local cluster (scripts/cluster, real binaries on loopback), stores and reads one real DICOM
file, makes one refused call, scrapes every /metrics endpoint and checks each medvault_* name in
deploy/k8s/monitoring/medvault-alerts.yaml and grafana-dashboard.json against the scraped names.
Also checks that each alert has a runbook entry in docs/operations.md, and that prometheusrule.yaml
carries the same rules (sync-rules --check).

  metrics.py BIN_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

from manifests import K8S, ROOT, Failures, run

MONITORING = os.path.join(K8S, "monitoring")
SAMPLE = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
# Names that are not medvault's: Prometheus' own.
FOREIGN = {"up"}
FOREIGN_PREFIXES = ()
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class LocalCluster:
    """A local cluster (scripts/cluster: real binaries on loopback, mutual TLS) under `tmp`, on a
    port block of its own. `extra_env` adds scripts/cluster settings (MEDVAULT_*_FLAGS)."""

    def __init__(self, bins, tmp, **extra_env):
        self.bins = bins
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.base = str(21000 + (os.getpid() % 400) * 50)
        self.script = os.path.join(ROOT, "scripts", "cluster")
        # The key service's census (KEK activation times) every second instead of every 30.
        self.env = dict(os.environ, MEDVAULT_BIN_DIR=bins, MEDVAULT_PORT_BASE=self.base,
                        MEDVAULT_TLS_DIR=f"{self.data}/tls", MEDVAULT_KEYSERVICE_FLAGS="--rewrap_interval_ms=1000")
        self.env.update(extra_env)

    def up_with_traffic(self, f):
        """Starts the cluster, stores, finds and reads one real DICOM file and makes one refused
        call (so every counter has its series). Returns `scripts/cluster up`'s output; reports and
        exits when the cluster does not start."""
        r = run([self.script, "up", "--data", self.data, "--no-samples"], env=self.env, timeout=180)
        if not f.check(r.returncode == 0, f"scripts/cluster up failed: {r.stdout[-2000:]} {r.stderr[-2000:]}"):
            f.report()
        up = r.stdout
        cli = [os.path.join(self.bins, "medvault"), f"--frontend=127.0.0.1:{self.base}"]
        for args in (["put", SAMPLE], ["find"], ["get", "--instance", "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
                                                 "-o", os.path.join(self.tmp, "out.dcm")]):
            r = run(cli + args, env=self.env, timeout=60)
            f.check(r.returncode == 0, f"medvault {args[0]} failed: {r.stderr.strip()}")
        # A refused call (read-only client deleting) fills the refusal counters.
        tls = f"{self.data}/tls"
        r = run(cli + [f"--tls_ca={tls}/ca.crt", f"--tls_cert={tls}/client-readonly.crt",
                       f"--tls_key={tls}/client-readonly.key", "rm", "--instance", "1.2.3"], env=self.env, timeout=60)
        f.check(r.returncode != 0, "a read-only client was allowed to delete")
        return up

    def status(self):
        return run([self.script, "status", "--data", self.data], env=self.env, timeout=60).stdout

    def down(self):
        subprocess.run([self.script, "down", "--data", self.data], env=self.env, capture_output=True, timeout=120)


def queries():
    """(where, PromQL) of every alert rule and dashboard panel."""
    out = []
    with open(os.path.join(MONITORING, "medvault-alerts.yaml")) as f:
        for group in yaml.safe_load(f)["groups"]:
            for rule in group["rules"]:
                out.append((f"alert {rule.get('alert', rule.get('record'))}", rule["expr"]))
    with open(os.path.join(MONITORING, "grafana-dashboard.json")) as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"dashboard panel '{panel['title']}'", target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            out.append((f"dashboard variable {var['name']}", var["query"]))
    return out


def metric_names(expr):
    """Metric names a PromQL expression selects (identifiers followed by { [ or ) or end, not
    functions, keywords or label names)."""
    expr = re.sub(r"label_values\(([^,()]+),[^)]*\)", r"\1", expr)  # Grafana: label_values(metric, label)
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        if m.group(2):  # a function call
            continue
        name = m.group(1)
        if name in ("and", "or", "unless", "bool", "offset", "le", "inf", "Inf", "NaN"):
            continue
        if re.fullmatch(r"\d+[smhdwy]?", name):
            continue
        names.add(name)
    return names


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names.add(name)
            if kind == "histogram":
                names.update(name + s for s in HISTOGRAM_SUFFIXES)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


def main():
    bins = sys.argv[1]
    f = Failures("metrics")
    r = run([os.path.join(MONITORING, "sync-rules"), "--check"])
    f.check(r.returncode == 0, f"prometheusrule.yaml: {r.stderr.strip() or r.stdout.strip()}")
    with open(os.path.join(ROOT, "docs", "operations.md")) as doc:
        runbook = doc.read()
    with open(os.path.join(MONITORING, "medvault-alerts.yaml")) as rules:
        for group in yaml.safe_load(rules)["groups"]:
            for rule in group["rules"]:
                name = rule["alert"]
                f.check(re.search(rf"^#+ {name}$", runbook, re.M) is not None,
                        f"alert {name} has no runbook section '### {name}' in docs/operations.md")
                f.check(rule["annotations"].get("runbook_url") == f"docs/operations.md#{name.lower()}",
                        f"alert {name}'s runbook_url does not point at its section")

    tmp = tempfile.mkdtemp(prefix="medvault-k8s-metrics-")
    cluster = LocalCluster(bins, tmp)
    try:
        up = cluster.up_with_traffic(f)
        urls = re.findall(r"(http://127\.0\.0\.1:\d+/metrics)", up)
        wanted = {name for _, expr in queries() for name in metric_names(expr)
                  if name not in FOREIGN and not name.startswith(FOREIGN_PREFIXES)}
        # Some series appear only after a periodic pass (the key service's census): scrape until
        # every name is there, for at most 30 s.
        deadline = time.monotonic() + 30
        while True:
            exported = set()
            for url in urls:
                exported |= scrape(url)
            if wanted <= exported or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        f.check(len(urls) >= 4 and any(n.startswith("medvault_frontend_") for n in exported),
                f"scraped {len(urls)} endpoints: {urls}")
        for where, expr in queries():
            for name in metric_names(expr):
                if name in FOREIGN or name.startswith(FOREIGN_PREFIXES):
                    continue
                f.check(name in exported, f"{where} names {name}, which no medvault service exports")
        print(f"{len(exported)} metric names scraped from {len(urls)} endpoints")
    finally:
        cluster.down()
        shutil.rmtree(tmp, ignore_errors=True)
    f.report()


if __name__ == "__main__":
    main()
