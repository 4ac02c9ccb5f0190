#!/usr/bin/python3
"""Debian's Prometheus against a live local cluster (issue 17): starts a cluster (scripts/cluster,
real binaries on loopback, mutual TLS), stores and reads one real DICOM file and makes one refused
call, then runs Prometheus (bound to 127.0.0.1) with
  - a scrape config generated from the shipped deploy/k8s/monitoring/prometheus-scrape.yaml: its
    relabel_configs unchanged, its kubernetes_sd_configs replaced by static targets carrying the
    __meta_kubernetes_* labels pod discovery would give each local process (annotations, app
    labels, pod name, namespace), so the shipped relabelling makes job/namespace/pod;
  - the shipped rules file, copied with the `for:` of MedvaultChunkServerDown cut to 0s (test-only:
    the shipped 1m would make the test wait a minute for nothing).
Scrape and evaluation intervals are 1 s (test-only). It waits (polling Prometheus' HTTP API,
bounded) until every target is up, checks that every query of every Grafana dashboard panel returns
data, then kills one chunk server and waits until /api/v1/alerts shows MedvaultChunkServerDown
firing.

  prometheus_live.py BIN_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

from manifests import K8S, Failures, run
from metrics import LocalCluster

MONITORING = os.path.join(K8S, "monitoring")
NAMESPACE = "medvault"
FAST_ALERT = "MedvaultChunkServerDown"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what, fn, timeout):
    """Calls fn() until it returns something truthy, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = fn()
        except OSError:  # Prometheus not listening yet
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what}")


def api(base, path, **params):
    url = f"{base}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def services(status_text):
    """(name, pid, metrics host:port) of each process in `scripts/cluster status` output."""
    out = []
    for line in status_text.splitlines()[1:]:
        cols = line.split()
        if len(cols) == 5:
            out.append((cols[0], cols[1], cols[4].removeprefix("http://").removesuffix("/metrics")))
    return out


def scrape_config(procs, interval):
    """The shipped scrape config with static targets standing in for Kubernetes pod discovery."""
    with open(os.path.join(MONITORING, "prometheus-scrape.yaml")) as f:
        shipped = yaml.safe_load(f)
    static = []
    for name, _, address in procs:
        host, port = address.rsplit(":", 1)
        static.append({
            # The pod IP with its gRPC port, as discovery gives it; the annotation moves it to
            # the metrics port.
            "targets": [f"{host}:1"],
            "labels": {
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
                "__meta_kubernetes_pod_annotation_prometheus_io_port": port,
                "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
                "__meta_kubernetes_pod_label_app_kubernetes_io_part_of": "medvault",
                "__meta_kubernetes_pod_label_app_kubernetes_io_name": name.split("-")[0],
                "__meta_kubernetes_namespace": NAMESPACE,
                "__meta_kubernetes_pod_name": name,
            },
        })
    jobs = []
    for job in shipped["scrape_configs"]:
        job = dict(job)
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = static
        job["scrape_interval"] = interval
        jobs.append(job)
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": ["rules.yaml"], "scrape_configs": jobs}


def test_rules():
    with open(os.path.join(MONITORING, "medvault-alerts.yaml")) as f:
        rules = yaml.safe_load(f)
    found = False
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == FAST_ALERT:
                rule["for"] = "0s"
                found = True
    if not found:
        raise SystemExit(f"{FAST_ALERT} is not in medvault-alerts.yaml")
    return rules


def panel_queries():
    with open(os.path.join(MONITORING, "grafana-dashboard.json")) as f:
        dashboard = json.load(f)
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"].replace("$namespace", NAMESPACE)))
    return out


def main():
    bins = sys.argv[1]
    f = Failures("prometheus_live")
    tmp = tempfile.mkdtemp(prefix="medvault-prometheus-")
    # Test-only: a silent chunk server is down after 3 s, not 10.
    cluster = LocalCluster(bins, tmp, MEDVAULT_METASERVER_FLAGS="--down_after_ms=3000")
    prometheus = None
    try:
        cluster.up_with_traffic(f)
        procs = services(cluster.status())
        f.check(len(procs) >= 7, f"cluster status lists {len(procs)} processes")
        prom_dir = os.path.join(tmp, "prometheus")
        os.makedirs(prom_dir)
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as out:
            yaml.safe_dump(scrape_config(procs, "1s"), out)
        with open(os.path.join(prom_dir, "rules.yaml"), "w") as out:
            yaml.safe_dump(test_rules(), out)
        r = run(["promtool", "check", "config", os.path.join(prom_dir, "prometheus.yml")])
        if not f.check(r.returncode == 0, f"generated config: {r.stdout} {r.stderr}"):
            f.report()

        web = f"127.0.0.1:{free_port()}"
        url = f"http://{web}"
        log = open(os.path.join(prom_dir, "prometheus.log"), "w")
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={prom_dir}/prometheus.yml", f"--storage.tsdb.path={prom_dir}/tsdb",
             f"--web.listen-address={web}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=prom_dir)

        def all_up():
            active = api(url, "/api/v1/targets")["activeTargets"]
            up = [t for t in active if t["health"] == "up"]
            return len(active) == len(procs) and len(up) == len(active) and active
        try:
            targets = poll("every target up", all_up, 60)
            jobs = sorted({t["labels"]["job"] for t in targets})
            f.check(jobs == ["chunkserver", "frontend", "keyservice", "metaserver"], f"jobs {jobs}")
            f.check(all(t["labels"].get("namespace") == NAMESPACE and t["labels"].get("pod") for t in targets),
                    "the shipped relabelling did not set namespace and pod")
        except TimeoutError as e:
            active = api(url, "/api/v1/targets")["activeTargets"]
            f.check(False, f"{e}: {[(t['scrapeUrl'], t['health'], t['lastError']) for t in active]}")
            f.report()

        # Every dashboard panel's every query returns data (rates need two scrapes: polled).
        pending = panel_queries()
        deadline = time.monotonic() + 45
        while pending and time.monotonic() < deadline:
            pending = [(t, q) for t, q in pending if not api(url, "/api/v1/query", query=q)["result"]]
            if pending:
                time.sleep(0.5)
        for title, query in pending:
            f.check(False, f"dashboard panel '{title}': no data for {query}")
        f.check(True, "dashboard queries")

        # No chunk server alert while all are up; then kill one.
        def alerts(state):
            return [a for a in api(url, "/api/v1/alerts")["alerts"]
                    if a["labels"]["alertname"] == FAST_ALERT and a["state"] == state]
        f.check(not alerts("firing") and not alerts("pending"), f"{FAST_ALERT} before any server died")
        victim = next((p for p in procs if p[0].startswith("chunkserver-")), None)
        os.kill(int(victim[1]), 9)
        try:
            firing = poll(f"{FAST_ALERT} firing", lambda: alerts("firing"), 60)
            f.check(firing[0]["labels"].get("namespace") == NAMESPACE, f"alert labels {firing[0]['labels']}")
            print(f"{FAST_ALERT} firing: {firing[0]['annotations']['summary']}")
        except TimeoutError as e:
            f.check(False, str(e))
    finally:
        if prometheus is not None:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prometheus.kill()
        cluster.down()
        shutil.rmtree(tmp, ignore_errors=True)
    f.report()


if __name__ == "__main__":
    main()
