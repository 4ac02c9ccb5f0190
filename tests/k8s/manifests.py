"""Shared helpers of the deploy/k8s checks: rendering overlays, loading rendered objects, walking
pod templates. Used by the check scripts beside it (each is one ctest test)."""
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
OVERLAYS = ["dev", "production"]
WORKLOAD_KINDS = ("StatefulSet", "Deployment")


class Failures:
    """Collects failed checks; report() prints them and exits 1 if there were any."""

    def __init__(self, what):
        self.what = what
        self.items = []
        self.checked = 0

    def check(self, ok, message):
        self.checked += 1
        if not ok:
            self.items.append(message)
        return ok

    def report(self):
        for item in self.items:
            print("FAIL", item)
        print(f"{self.what}: {self.checked} checks, {len(self.items)} failed")
        sys.exit(1 if self.items or self.checked == 0 else 0)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def rendered(rendered_dir, overlay):
    return load(os.path.join(rendered_dir, overlay + ".yaml"))


def workloads(objects):
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def find(objects, kind, name):
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    return None


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels", {})


def containers(workload, init=True):
    spec = pod_spec(workload)
    out = list(spec.get("containers", []))
    if init:
        out = list(spec.get("initContainers", [])) + out
    return out


def selects(selector, labels):
    """Whether a label selector (matchLabels / matchExpressions, or a plain map) matches labels."""
    if selector is None:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = selector.get("matchLabels", {})
    else:
        match_labels = selector  # a Service's selector
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def flag_args(args):
    """{flag name: value or True} of --name=value / --name arguments."""
    out = {}
    for a in args:
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            out[name] = value if eq else True
    return out


def expand(value, env):
    """Kubernetes' $(VAR) expansion of command and args from the container's env."""
    for name, v in env.items():
        value = value.replace(f"$({name})", v)
    return value


def container_env(container, objects, fields=None):
    """The container's env as strings: literal values, ConfigMap keys from the rendered objects, and
    the downward API's fields from `fields` ({fieldPath: value}; by default placeholders: POD_NAME
    as pod-0, NODE_NAME as node-0)."""
    fields = fields or {"metadata.name": "pod-0", "spec.nodeName": "node-0"}
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        source = e.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = find(objects, "ConfigMap", ref["name"])
            if cm is not None and ref["key"] in cm.get("data", {}):
                env[e["name"]] = cm["data"][ref["key"]]
        elif "fieldRef" in source:
            env[e["name"]] = fields.get(source["fieldRef"]["fieldPath"], "field")
    return env


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)
