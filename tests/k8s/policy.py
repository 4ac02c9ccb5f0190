#!/usr/bin/python3
"""Policy checks over the rendered overlays (render.py's output): what every medvault workload must
have to be operable and safe, and that the NetworkPolicies allow exactly the callers
docs/security.md's who-may-call-whom table allows.

  policy.py RENDERED_DIR
"""
import os
import re
import sys

from manifests import (OVERLAYS, ROOT, Failures, by_kind, containers, find, pod_labels, pod_spec,
                       rendered, selects, workloads)

# The only container allowed to run as root: it hands the master-key files to the key service's
# user (a Secret volume's files belong to root), with CAP_CHOWN and nothing else.
ROOT_EXCEPTIONS = {("keyservice", "kek-files"): ["CHOWN"], ("keyservice", "audit-key-file"): ["CHOWN"]}
ROLES = {"key service": "keyservice", "metaserver": "metaserver", "chunk server": "chunkserver",
         "frontend": "frontend"}


def documented_callers():
    """{workload: set of caller workloads, or None for any client} from docs/security.md."""
    with open(os.path.join(ROOT, "docs", "security.md")) as f:
        text = f.read()
    allowed = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("| "):
            continue
        services, _, callers = cells
        targets = [ROLES[s] for s in (re.sub(r"`[^`]*`", "", x).strip() for x in services.split(","))
                   if s in ROLES]
        for target in targets:
            if callers.startswith("clients"):
                allowed[target] = None
            elif "their own role" in callers:
                allowed.setdefault(target, set()).add(target)
            else:
                names = set(re.findall(r"`([a-z]+)`", callers))
                allowed.setdefault(target, set()).update(names)
    return allowed


def check_workload(f, overlay, w, objects):
    name = w["metadata"]["name"]
    where = f"{overlay}: {w['kind']} {name}"
    spec = pod_spec(w)
    psc = spec.get("securityContext", {})
    f.check(psc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot is not true")
    f.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{where}: pod seccompProfile is not RuntimeDefault")
    for c in containers(w):
        cw = f"{where} container {c['name']}"
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                f.check(r in res.get(kind, {}), f"{cw}: no resources.{kind}.{r}")
        sc = c.get("securityContext", {})
        f.check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation is not false")
        f.check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem is not true")
        f.check("ALL" in sc.get("capabilities", {}).get("drop", []), f"{cw}: capabilities do not drop ALL")
        f.check(not sc.get("privileged"), f"{cw}: privileged")
        # A mount inside a read-only volume's mount needs a mount point the runtime cannot create.
        mounts = c.get("volumeMounts", [])
        for outer in mounts:
            for inner in mounts:
                nested = inner["mountPath"].startswith(outer["mountPath"].rstrip("/") + "/")
                f.check(not (outer.get("readOnly") and nested),
                        f"{cw}: {inner['mountPath']} is mounted inside the read-only {outer['mountPath']}")
        added = sc.get("capabilities", {}).get("add", [])
        exception = ROOT_EXCEPTIONS.get((name, c["name"]))
        if exception is None:
            f.check(not added, f"{cw}: adds capabilities {added}")
            f.check(sc.get("runAsNonRoot") is not False and sc.get("runAsUser", 1) != 0,
                    f"{cw}: runs as root")
        else:
            f.check(added == exception, f"{cw}: adds {added}, only {exception} is allowed")
    for c in spec["containers"]:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            f.check(probe in c, f"{where} container {c['name']}: no {probe}")
    for v in spec.get("volumes", []):
        if "secret" in v:
            f.check(v["secret"].get("defaultMode") == 0o400,
                    f"{where}: Secret volume {v['name']} has defaultMode {v['secret'].get('defaultMode')}, not 0400")
    # Spread: never two pods of a group on one node; across zones.
    affinity = spec.get("affinity", {}).get("podAntiAffinity", {})
    terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t["podAffinityTerm"] for t in affinity.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    f.check(any(t["topologyKey"] == "kubernetes.io/hostname" and selects(t["labelSelector"], pod_labels(w))
                for t in terms), f"{where}: no pod anti-affinity across nodes")
    f.check(any(t["topologyKey"] == "topology.kubernetes.io/zone" and selects(t["labelSelector"], pod_labels(w))
                for t in spec.get("topologySpreadConstraints", [])), f"{where}: no topology spread across zones")
    # Disruption budget and network policy select these pods.
    pdbs = [p for p in by_kind(objects, "PodDisruptionBudget") if selects(p["spec"]["selector"], pod_labels(w))]
    f.check(len(pdbs) == 1, f"{where}: {len(pdbs)} PodDisruptionBudgets select its pods, want 1")
    if w["kind"] == "StatefulSet":
        f.check(all(p["spec"].get("maxUnavailable") == 1 for p in pdbs),
                f"{where}: its PodDisruptionBudget is not maxUnavailable 1")
        f.check(w["spec"].get("podManagementPolicy") == "Parallel", f"{where}: podManagementPolicy is not Parallel")
        f.check(bool(w["spec"].get("volumeClaimTemplates")), f"{where}: no volumeClaimTemplates (a PVC per replica)")
        svc = find(objects, "Service", w["spec"].get("serviceName"))
        f.check(svc is not None and svc["spec"].get("clusterIP") == "None",
                f"{where}: serviceName is not a headless Service")
    specific = [p for p in by_kind(objects, "NetworkPolicy")
                if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == name
                and selects(p["spec"]["podSelector"], pod_labels(w))]
    f.check(len(specific) == 1, f"{where}: {len(specific)} NetworkPolicies for its pods, want 1")


def check_network(f, overlay, objects, allowed):
    names = {w["metadata"]["name"]: w for w in workloads(objects)}
    deny = [p for p in by_kind(objects, "NetworkPolicy") if not p["spec"].get("ingress")
            and "Ingress" in p["spec"].get("policyTypes", [])]
    f.check(any(all(selects(p["spec"]["podSelector"], pod_labels(w)) for w in names.values()) for p in deny),
            f"{overlay}: no default-deny ingress NetworkPolicy covering every workload")
    f.check(set(allowed) == set(names), f"{overlay}: docs/security.md names {sorted(allowed)}, "
            f"the manifests run {sorted(names)}")
    for target, callers in allowed.items():
        w = names.get(target)
        if w is None:
            continue
        grpc = [p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])
                if p["name"] == "grpc"]
        policy = next((p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == target), None)
        if not f.check(policy is not None and grpc, f"{overlay}: no NetworkPolicy {target} or no grpc port"):
            continue
        rules = [r for r in policy["spec"].get("ingress", [])
                 if any(p.get("port") == grpc[0] for p in r.get("ports", []))]
        if callers is None:
            f.check(any("from" not in r for r in rules), f"{overlay}: {target}'s gRPC port is not open to clients")
            continue
        got = set()
        for r in rules:
            f.check("from" in r, f"{overlay}: {target}'s gRPC port is open to everyone")
            for peer in r.get("from", []):
                f.check(set(peer) == {"podSelector"}, f"{overlay}: {target} admits a non-pod peer {peer}")
                got.update(x["metadata"]["name"] for x in names.values()
                           if selects(peer.get("podSelector"), pod_labels(x)))
        f.check(got == callers, f"{overlay}: NetworkPolicy {target} admits {sorted(got)} on gRPC, "
                f"docs/security.md allows {sorted(callers)}")


def check_service_ports(f, overlay, objects):
    """Every port a Service exposes is admitted by the NetworkPolicy of the pods it selects (else the
    default-deny policy drops it)."""
    for svc in by_kind(objects, "Service"):
        for w in workloads(objects):
            if not selects(svc["spec"]["selector"], pod_labels(w)):
                continue
            ports = {p["name"]: p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
            policy = next((p for p in by_kind(objects, "NetworkPolicy")
                           if p["metadata"]["name"] == w["metadata"]["name"]), None)
            admitted = {p.get("port") for r in (policy or {}).get("spec", {}).get("ingress", [])
                        for p in r.get("ports", [])}
            for p in svc["spec"]["ports"]:
                target = ports.get(p["targetPort"], p["targetPort"])
                f.check(target in admitted, f"{overlay}: Service {svc['metadata']['name']} port {p['name']} "
                        f"({target}) is admitted by no ingress rule of NetworkPolicy {w['metadata']['name']}")


def check_groups(f, overlay, objects):
    """The peer lists in medvault-cluster name exactly each group's pods and gRPC port."""
    cm = find(objects, "ConfigMap", "medvault-cluster")
    if not f.check(cm is not None, f"{overlay}: no ConfigMap medvault-cluster"):
        return
    for group, list_key in (("metaserver", "metaservers"), ("keyservice", "keyservices")):
        sts = find(objects, "StatefulSet", group)
        n = sts["spec"]["replicas"]
        port = next(p["containerPort"] for p in pod_spec(sts)["containers"][0]["ports"] if p["name"] == "grpc")
        svc = sts["spec"]["serviceName"]
        addrs = [f"{group}-{i}.{svc}:{port}" for i in range(n)]
        f.check(cm["data"][list_key] == ",".join(addrs), f"{overlay}: {list_key} is not the {n} pods of {group}")
        peers = ",".join(f"{i + 1}={a}" for i, a in enumerate(addrs))
        f.check(cm["data"][f"{group}-raft-peers"] == peers,
                f"{overlay}: {group}-raft-peers is not the {n} pods of {group} with ids ordinal+1")
        f.check(n in (3, 5), f"{overlay}: {group} has {n} replicas (3 or 5)")
    cs = find(objects, "StatefulSet", "chunkserver")
    init = [c for c in pod_spec(cs).get("initContainers", []) if c["name"] == "pod-flags"]
    f.check(bool(init) and init[0]["args"][0] == "zone",
            f"{overlay}: chunk servers do not take their failure domain from the node's zone")


def main():
    rendered_dir = sys.argv[1]
    f = Failures("policy")
    allowed = documented_callers()
    f.check(len(allowed) == 4, f"docs/security.md's table names {sorted(allowed)}, want the 4 services")
    for overlay in OVERLAYS:
        objects = rendered(rendered_dir, overlay)
        for w in workloads(objects):
            check_workload(f, overlay, w, objects)
        check_network(f, overlay, objects, allowed)
        check_service_ports(f, overlay, objects)
        check_groups(f, overlay, objects)
        kinds = {w["metadata"]["name"]: w["kind"] for w in workloads(objects)}
        f.check(kinds == {"metaserver": "StatefulSet", "keyservice": "StatefulSet",
                          "chunkserver": "StatefulSet", "frontend": "Deployment"},
                f"{overlay}: workloads are {kinds}")
        hpa = [h for h in by_kind(objects, "HorizontalPodAutoscaler")
               if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"}]
        f.check(len(hpa) == 1, f"{overlay}: no HorizontalPodAutoscaler for the frontend")
    f.report()


if __name__ == "__main__":
    main()
