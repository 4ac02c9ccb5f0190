#!/usr/bin/python3
"""Every container of the rendered overlays runs a real binary with flags it accepts, on the ports
its Services, probes, annotations and peers name, with files where its volumes put them:

- each --flag of command/args (after $(VAR) expansion) is one `BINARY --helpfull` lists, and the
  binary itself accepts the whole command line (run with --version appended: absl parses and checks
  every flag and value, then exits 0), with the flag file the init step writes;
- the flags the init step writes (medvault-pod-flags) are flags of the binary that reads them;
- --listen / --metrics_listen / --health_listen / --dicom_port / --http_port are the container's
  grpc / metrics / health / dicom / https ports, on every interface, every container port is bound by one of them, the
  metrics port is the prometheus.io/port annotation; every Service's targetPort is a port of the
  pods it selects;
- probes are native gRPC probes of the container's health port (--health_listen);
- --tls_*, --data_dir, --kek_dir, --audit_signing_key, --client_scopes_file, --dicom_access_file and --flagfile
  lie under a volume mount of
  the right kind (Secret with that key, PVC, emptyDir written by an init container, ConfigMap key).

  flags.py RENDERED_DIR BIN_DIR
"""
import os
import re
import sys
import tempfile

from manifests import (K8S, OVERLAYS, Failures, by_kind, container_env, containers, expand, flag_args,
                       pod_labels, pod_spec, rendered, run, selects, workloads)

POD_FLAGS = os.path.join(K8S, "image", "medvault-pod-flags")
# Flags that bind a port: (flag, the container port's name, the flag giving the host when the value
# is a bare port number).
PORT_FLAGS = (("listen", "grpc", None), ("metrics_listen", "metrics", None), ("health_listen", "health", None),
              ("dicom_port", "dicom", "dicom_host"), ("http_port", "https", "listen"))
BUILTIN = {"flagfile", "fromenv", "tryfromenv", "undefok", "help", "helpfull", "helpshort", "version"}


def accepted_flags(binary):
    r = run([binary, "--helpfull"])
    return set(re.findall(r"^\s+--([a-z0-9_]+) \(", r.stdout + r.stderr, re.M)) | BUILTIN


def pod_flag_lines(mode):
    """The flags medvault-pod-flags writes in `mode`, from its source."""
    with open(POD_FLAGS) as f:
        text = f.read()
    block = re.search(rf"^  {mode}\)\n(.*?)\n    ;;", text, re.M | re.S)
    return set(re.findall(r'echo "--([a-z_]+)', block.group(1))) if block else set()


def mount_for(path, container):
    best = None
    for m in container.get("volumeMounts", []):
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/"):
            if best is None or len(m["mountPath"]) > len(best["mountPath"]):
                best = m
    return best


def check_path(f, where, flag, path, container, spec, want):
    m = mount_for(path, container)
    if not f.check(m is not None, f"{where}: --{flag}={path} is on no volume mount"):
        return
    volume = next((v for v in spec.get("volumes", []) if v["name"] == m["name"]), None)
    claims = [t["metadata"]["name"] for t in spec.get("_claims", [])]
    rel = os.path.relpath(path, m["mountPath"])
    if want == "secret":
        ok = volume is not None and "secret" in volume and rel in spec["_secret_keys"].get(
            volume["secret"]["secretName"], {rel})
        f.check(ok, f"{where}: --{flag}={path} is not a key of a mounted Secret")
    elif want == "configmap":
        ok = volume is not None and "configMap" in volume and rel in spec["_cm_keys"].get(
            volume["configMap"]["name"], set())
        f.check(ok, f"{where}: --{flag}={path} is not a key of a mounted ConfigMap")
    elif want == "pvc":
        f.check(m["name"] in claims, f"{where}: --{flag}={path} is not on the pod's own volume (PVC)")
    elif want == "init":
        writers = [c for c in spec.get("initContainers", []) if any(
            x["name"] == m["name"] and not x.get("readOnly") for x in c.get("volumeMounts", []))]
        f.check(volume is not None and "emptyDir" in volume and writers,
                f"{where}: --{flag}={path} is not on an emptyDir an init container writes")


def check_container(f, where, c, w, objects, bins, tmp):
    spec = pod_spec(w)
    env = container_env(c, objects)
    cmd = [expand(x, env) for x in c.get("command", []) + c.get("args", [])]
    binary = os.path.basename(cmd[0])
    if binary == "medvault-pod-flags":
        f.check(cmd[0] == "/usr/local/bin/medvault-pod-flags" and cmd[1] in ("raft", "zone", "keks"),
                f"{where}: runs medvault-pod-flags {cmd[1:]}")
        return
    path = os.path.join(bins, binary)
    if not f.check(cmd[0] == f"/usr/local/bin/{binary}" and os.path.exists(path),
                   f"{where}: command {cmd[0]} is not a medvault binary"):
        return
    known = accepted_flags(path)
    flags = flag_args(cmd[1:])
    for name in flags:
        f.check(name in known, f"{where}: {binary} has no flag --{name}")
    f.check(not any("$(" in x for x in cmd), f"{where}: unexpanded variable in {cmd}")
    # The flags the init step writes into --flagfile.
    local = list(cmd[1:])
    if "flagfile" in flags:
        mode = next(x["args"][0] for x in spec.get("initContainers", []) if x["name"] == "pod-flags")
        for name in pod_flag_lines(mode):
            f.check(name in known, f"{where}: medvault-pod-flags {mode} writes --{name}, {binary} has no such flag")
        flagfile = os.path.join(tmp, "pod.flags")
        r = run([POD_FLAGS, mode, flagfile], env={"POD_NAME": f"{w['metadata']['name']}-1",
                                                   "RAFT_BOOTSTRAP": "true", "PATH": os.environ["PATH"]})
        if mode == "zone":  # needs the API; write what it writes for a node in zone-a
            with open(flagfile, "w") as out:
                out.write("--failure_domain=zone-a\n")
        else:
            f.check(r.returncode == 0, f"{where}: medvault-pod-flags {mode} failed: {r.stderr}")
        local = [f"--flagfile={flagfile}" if x.startswith("--flagfile=") else x for x in local]
    r = run([path] + local + ["--version"])
    f.check(r.returncode == 0, f"{where}: {binary} refuses its command line: {r.stderr.strip()}")
    # Ports: each flag that binds one is the container port of that name, on every interface (the
    # kubelet and Services reach the pod's IP), and every container port is bound by its flag.
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    bound = set()
    for flag, port, host_flag in PORT_FLAGS:
        if flag not in flags:
            continue
        value = str(flags[flag])
        bound.add(port)
        f.check(value.rsplit(":", 1)[-1] == str(ports.get(port)),
                f"{where}: --{flag}={value} is not the container's {port} port {ports.get(port)}")
        host = value.rsplit(":", 1)[0] if ":" in value else str(flags.get(host_flag, "")).rsplit(":", 1)[0]
        f.check(host in ("0.0.0.0", "[::]"), f"{where}: --{flag} listens on {host!r}, which the pod's "
                f"IP does not reach (want 0.0.0.0)")
    for port in ports:
        f.check(port in bound, f"{where}: container port {port} is bound by no flag of {binary}")
    annotations = w["spec"]["template"]["metadata"].get("annotations", {})
    f.check(annotations.get("prometheus.io/port") == str(ports.get("metrics")),
            f"{where}: prometheus.io/port is not the metrics port")
    # Files.
    for flag, want in (("tls_ca", "secret"), ("tls_cert", "secret"), ("tls_key", "secret"),
                       ("data_dir", "pvc"), ("kek_dir", "init"), ("flagfile", "init"),
                       ("audit_signing_key", "init"),
                       ("client_scopes_file", "configmap"), ("dicom_access_file", "configmap")):
        if flag in flags:
            check_path(f, where, flag, flags[flag], c, spec, want)
    # The key service's shred log: on a volume claim of its own, not the data volume (which the
    # backups copy), so a restore can re-destroy the keys destroyed after its backup.
    if binary == "keyservice" and f.check("shred_log" in flags, f"{where}: keyservice without --shred_log"):
        check_path(f, where, "shred_log", flags["shred_log"], c, spec, "pvc")
        data, shred = mount_for(flags.get("data_dir", "/"), c), mount_for(flags["shred_log"], c)
        f.check(data is None or shred is None or data["name"] != shred["name"],
                f"{where}: --shred_log is on the data volume {data and data['name']}")
    # The chunk layout is not pinned: a volume keeps the layout it holds chunks in across an upgrade
    # (a pinned other layout refuses to start) and a new volume gets the binary's default (pack).
    if binary == "chunkserver":
        f.check("chunk_store" not in flags, f"{where}: pins --chunk_store={flags.get('chunk_store')}, "
                "which a volume of the other layout refuses")
    # Probes: the kubelet's native gRPC probe (plaintext) of this container's health port, which
    # --health_listen binds; the whole server's state (no service name).
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc = c.get(probe, {}).get("grpc")
        if not f.check(grpc is not None, f"{where}: {probe} is not a gRPC probe"):
            continue
        f.check(grpc.get("port") == ports.get("health") and "health_listen" in flags,
                f"{where}: {probe} asks port {grpc.get('port')}, not the health port "
                f"{ports.get('health')} that --health_listen binds")
        f.check(not grpc.get("service"), f"{where}: {probe} asks for service {grpc.get('service')!r}, "
                "the health port answers for the whole server (\"\")")

def main():
    rendered_dir, bins = sys.argv[1], sys.argv[2]
    f = Failures("flags")
    dev_secrets = {s["metadata"]["name"]: set(s["data"]) for s in
                   by_kind(rendered(rendered_dir, "dev-secrets"), "Secret")}
    with tempfile.TemporaryDirectory() as tmp:
        for overlay in OVERLAYS:
            objects = rendered(rendered_dir, overlay)
            # Keys of the Secrets the pods mount: the development ones, or what cert-manager writes.
            secret_keys = dict(dev_secrets)
            for cert in by_kind(objects, "Certificate"):
                secret_keys[cert["spec"]["secretName"]] = {"ca.crt", "tls.crt", "tls.key"}
            cm_keys = {m["metadata"]["name"]: set(m.get("data", {})) for m in by_kind(objects, "ConfigMap")}
            for w in workloads(objects):
                spec = pod_spec(w)
                spec["_claims"] = w["spec"].get("volumeClaimTemplates", [])
                spec["_secret_keys"], spec["_cm_keys"] = secret_keys, cm_keys
                for v in spec.get("volumes", []):
                    if "secret" in v:
                        f.check(v["secret"]["secretName"] in secret_keys or v["secret"]["secretName"] == "medvault-keks",
                                f"{overlay}: Secret {v['secret']['secretName']} comes from nowhere")
                for c in containers(w):
                    check_container(f, f"{overlay}: {w['metadata']['name']}/{c['name']}", c, w, objects, bins, tmp)
            for svc in by_kind(objects, "Service"):
                pods = [w for w in workloads(objects) if selects(svc["spec"]["selector"], pod_labels(w))]
                f.check(len(pods) == 1, f"{overlay}: Service {svc['metadata']['name']} selects {len(pods)} workloads")
                for p in svc["spec"]["ports"]:
                    names = {q["name"]: q["containerPort"] for w in pods for c in pod_spec(w)["containers"]
                             for q in c.get("ports", [])}
                    f.check(p["targetPort"] in names or p["targetPort"] in names.values(),
                            f"{overlay}: Service {svc['metadata']['name']} port {p['name']} targets "
                            f"{p['targetPort']}, which its pods do not have")
    f.report()


if __name__ == "__main__":
    main()
