#!/usr/bin/python3
"""The manifests come alive (issue 17, item 4): the rendered production overlay, run as local
processes the way a kubelet would run it, stores and reads a DICOM file and elects every leader.

Inside a private network and mount namespace (the script re-executes itself under `unshare`; it
must run as root), every pod of every StatefulSet and Deployment gets its own loopback address
(127.0.x.y) and every container its own root directory, entered with chroot:
- /usr from this machine (read-only; the image's Debian packages), /usr/local/bin holding the build
  tree's binaries and medvault-pod-flags as the image does, an /etc with the cluster's "DNS" (a
  hosts file naming every Service and every pod of a headless Service, short and qualified);
- every volumeMount at its mountPath: Secrets (development certificates and master key from
  overlays/dev/make-secrets, the way scripts/cluster makes them; mode defaultMode, group fsGroup,
  behind a ..data link as the kubelet writes them), ConfigMaps (from the rendered objects),
  projected service-account tokens (for a fake API server that knows each node's zone), emptyDirs
  and PVCs as directories; the root read-only when readOnlyRootFilesystem says so;
- the container's command, args and env exactly as rendered ($(VAR) expanded from env,
  ConfigMaps and the downward API), run as runAsUser/runAsGroup. The one translation: a bind
  address 0.0.0.0 ("every interface of the pod") becomes the pod's own address, since the pods
  share one network namespace here;
- init containers first, in order, each to a successful exit; then the main containers;
- ClusterIP Services as TCP proxies on their own addresses (port -> targetPort), headless ones as
  DNS names of their pods; the kubelet's gRPC probes asked on the probe's port of the pod's address.
Then: every startup and readiness probe passes, each Raft group has exactly one leader, the CLI,
in a client "pod", stores a pydicom file through the frontend Service's name and reads it back
byte for byte, DICOMweb lists its study through Service frontend-https, and the DIMSE door answers
through Service frontend-dicom (refusing the association, as the shipped access list says).

  alive.py RENDERED_DIR BIN_DIR        (MEDVAULT_ALIVE_MAX_PODS=N runs at most N pods of each
                                        workload, for machines too small for the whole overlay)
"""
import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

from manifests import (K8S, ROOT, Failures, by_kind, container_env, expand, find, pod_labels, pod_spec, rendered,
                       selects, workloads)

SAMPLE = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
NAMESPACE_FALLBACK = "default"
ZONES = ["zone-a", "zone-b", "zone-c"]
TOKEN = "alive-test-token"
BUDGET = 150  # seconds for the whole cluster to come up


def log(*args):
    print(*args, flush=True)


class Pod:
    def __init__(self, workload, name, addr, node, index):
        self.workload, self.name, self.addr, self.node, self.index = workload, name, addr, node, index
        self.spec = pod_spec(workload)
        self.procs = []


def pods_of(objects, limit):
    pods, net = [], 10
    for w in workloads(objects):
        n = w["spec"].get("replicas", 1)
        if limit:
            n = min(n, limit)
        for i in range(n):
            name = f"{w['metadata']['name']}-{i}" if w["kind"] == "StatefulSet" else \
                f"{w['metadata']['name']}-alive-{i}"
            pods.append(Pod(w, name, f"127.0.{net}.{i + 1}", f"node-{len(pods)}", i))
        net += 1
    return pods


# --- volumes ------------------------------------------------------------------------------------

def write_keys(directory, files, mode, gid):
    """Files as the kubelet writes a Secret/ConfigMap volume: in a ..data directory, each name a
    symbolic link into it, owned by root with group fsGroup (group-readable then)."""
    data = os.path.join(directory, "..data")
    os.makedirs(data)
    if gid is not None and mode & 0o400:
        mode |= 0o040
    for name, content in files.items():
        path = os.path.join(data, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(content)
        os.chown(path, 0, gid if gid is not None else 0)
        os.chmod(path, mode)
        top = name.split("/")[0]
        if not os.path.lexists(os.path.join(directory, top)):
            os.symlink(os.path.join("..data", top), os.path.join(directory, top))


def items(source, data):
    if "items" in source:
        return {i["path"]: data[i["key"]] for i in source["items"]}
    return dict(data)


def make_volumes(f, pod, pod_dir, objects, secrets, api_ca):
    spec, out = pod.spec, {}
    gid = spec.get("securityContext", {}).get("fsGroup")
    claims = {t["metadata"]["name"] for t in pod.workload["spec"].get("volumeClaimTemplates", [])}
    for claim in claims:
        path = os.path.join(pod_dir, "pvc", claim)
        os.makedirs(path)
        if gid is not None:
            os.chown(path, 0, gid)
            os.chmod(path, 0o2775)
        out[claim] = path
    cms = {m["metadata"]["name"]: {str(k): v.encode() for k, v in m.get("data", {}).items()}
           for m in by_kind(objects, "ConfigMap")}
    cms["kube-root-ca.crt"] = {"ca.crt": api_ca}
    for v in spec.get("volumes", []):
        path = os.path.join(pod_dir, "vol", v["name"])
        os.makedirs(path)
        out[v["name"]] = path
        if "emptyDir" in v:
            os.chmod(path, 0o777)
        elif "secret" in v:
            name = v["secret"]["secretName"]
            if f.check(name in secrets, f"{pod.name}: Secret {name} comes from nowhere"):
                write_keys(path, items(v["secret"], secrets[name]), v["secret"].get("defaultMode", 0o644), gid)
        elif "configMap" in v:
            name = v["configMap"]["name"]
            if f.check(name in cms, f"{pod.name}: ConfigMap {name} is not in the overlay"):
                write_keys(path, items(v["configMap"], cms[name]), v["configMap"].get("defaultMode", 0o644), gid)
        elif "projected" in v:
            files = {}
            for s in v["projected"]["sources"]:
                if "serviceAccountToken" in s:
                    files[s["serviceAccountToken"]["path"]] = TOKEN.encode()
                elif "configMap" in s:
                    files.update(items(s["configMap"], cms.get(s["configMap"]["name"], {})))
                elif "secret" in s:
                    files.update(items(s["secret"], secrets.get(s["secret"]["name"], {})))
            write_keys(path, files, v["projected"].get("defaultMode", 0o644), gid)
        else:
            f.check(False, f"{pod.name}: volume {v['name']} of a kind this test does not know")
    return out


# --- the container's root and process ------------------------------------------------------------

def make_root(root, hosts, uid, gid):
    for d in ("usr", "etc", "proc", "dev", "tmp", "run", "var"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), os.path.join(root, link))
    etc = os.path.join(root, "etc")
    with open(os.path.join(etc, "hosts"), "w") as out:
        out.write(hosts)
    with open(os.path.join(etc, "nsswitch.conf"), "w") as out:
        out.write("passwd: files\ngroup: files\nhosts: files\n")
    with open(os.path.join(etc, "resolv.conf"), "w") as out:
        out.write("options ndots:5\n")
    with open(os.path.join(etc, "passwd"), "w") as out:
        out.write(f"root:x:0:0::/:/bin/sh\nmedvault:x:{uid}:{gid}::/:/bin/sh\n")
    with open(os.path.join(etc, "group"), "w") as out:
        out.write(f"root:x:0:\nmedvault:x:{gid}:\n")
    shutil.copy("/etc/ld.so.cache", os.path.join(etc, "ld.so.cache"))


def launcher(root, mounts, binaries, read_only_root):
    """The shell that builds the container's view in its private mount namespace, then execs."""
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"  # noqa: E731
    lines = ["set -e", f"R={q(root)}", 'mount --bind "$R" "$R"',
             'mount --bind /usr "$R/usr"', 'mount -o remount,bind,ro "$R/usr"',
             'mount --rbind /proc "$R/proc"', 'mount --rbind /dev "$R/dev"',
             'mount -t tmpfs -o mode=0755 tmpfs "$R/usr/local/bin"']
    for name, path in binaries.items():
        lines += [f'touch "$R/usr/local/bin/{name}"', f'mount --bind {q(path)} "$R/usr/local/bin/{name}"']
    for mount_path, source, ro in mounts:
        lines += [f'mkdir -p "$R{mount_path}"', f'mount --bind {q(source)} "$R{mount_path}"']
        if ro:
            lines.append(f'mount -o remount,bind,ro "$R{mount_path}"')
    if read_only_root:
        lines.append('mount -o remount,bind,ro "$R"')
    lines.append('exec "$@"')
    return "\n".join(lines)


def pod_env(c, pod, objects, api):
    """What the kubelet gives the container: the image's PATH, HOSTNAME, the API's address, and its
    env with the downward API's fields of this pod."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": pod.name,
           "KUBERNETES_SERVICE_HOST": api[0], "KUBERNETES_SERVICE_PORT": str(api[1])}
    fields = {"metadata.name": pod.name, "spec.nodeName": pod.node, "status.podIP": pod.addr,
              "metadata.namespace": pod.workload["metadata"].get("namespace", NAMESPACE_FALLBACK)}
    env.update(container_env(c, objects, fields))
    return env


def start_container(c, pod, pod_dir, volumes, objects, hosts, binaries, api, wait):
    psc, csc = pod.spec.get("securityContext", {}), c.get("securityContext", {})
    uid = csc.get("runAsUser", psc.get("runAsUser", 0))
    gid = csc.get("runAsGroup", psc.get("runAsGroup", 0))
    groups = [g for g in [psc.get("fsGroup")] if g is not None]
    root = os.path.join(pod_dir, "roots", c["name"])
    os.makedirs(root)
    make_root(root, hosts, uid, gid)
    mounts = [(m["mountPath"], volumes[m["name"]], bool(m.get("readOnly"))) for m in c.get("volumeMounts", [])]
    env = pod_env(c, pod, objects, api)
    argv = [expand(x, env).replace("0.0.0.0", pod.addr) for x in c.get("command", []) + c.get("args", [])]
    script = launcher(root, mounts, binaries, bool(csc.get("readOnlyRootFilesystem")))
    userspec = ["--userspec", f"{uid}:{gid}"] + (["--groups", ",".join(map(str, groups))] if groups else [])
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "launcher",
           "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + ["chroot"] + userspec + [root] + argv
    logfile = open(os.path.join(pod_dir, f"{c['name']}.log"), "w")
    proc = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    pod.procs.append(proc)
    if wait:
        return proc.wait(timeout=60) == 0
    return True


# --- the cluster's network: DNS and Services ----------------------------------------------------

def names(name, namespace):
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]


def hosts_file(objects, pods, namespace, service_addrs):
    lines = ["127.0.0.1 localhost"]
    for svc in by_kind(objects, "Service"):
        selected = [p for p in pods if selects(svc["spec"]["selector"], pod_labels(p.workload))]
        if svc["spec"].get("clusterIP") == "None":
            for p in selected:
                lines.append(f"{p.addr} {p.name}.{svc['metadata']['name']} "
                             f"{' '.join(p.name + '.' + n for n in names(svc['metadata']['name'], namespace)[1:])}")
            for p in selected:
                lines.append(f"{p.addr} {' '.join(names(svc['metadata']['name'], namespace))}")
        else:
            lines.append(f"{service_addrs[svc['metadata']['name']]} {' '.join(names(svc['metadata']['name'], namespace))}")
    return "\n".join(lines) + "\n"


def proxy(listen, backends):
    """A ClusterIP Service's port: accepts on listen, forwards each connection to the next backend."""
    server = socket.create_server(listen)
    turn = [0]

    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def serve():
        while True:
            conn, _ = server.accept()
            backend = backends[turn[0] % len(backends)]
            turn[0] += 1
            try:
                upstream = socket.create_connection(backend, timeout=5)
                upstream.settimeout(None)
            except OSError:
                conn.close()
                continue
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def start_services(objects, pods, service_addrs):
    for svc in by_kind(objects, "Service"):
        if svc["spec"].get("clusterIP") == "None":
            continue
        selected = [p for p in pods if selects(svc["spec"]["selector"], pod_labels(p.workload))]
        for port in svc["spec"]["ports"]:
            backends = []
            for p in selected:
                for c in p.spec["containers"]:
                    for cp in c.get("ports", []):
                        if port.get("targetPort", port["port"]) in (cp["name"], cp["containerPort"]):
                            backends.append((p.addr, cp["containerPort"]))
            if backends:
                proxy((service_addrs[svc["metadata"]["name"]], port["port"]), backends)


def fake_api(tmp, nodes):
    """The Kubernetes API as the chunk servers' init step reads it: GET /api/v1/nodes/NAME."""
    sys.path.insert(0, os.path.dirname(__file__))
    import http.server
    from pod_flags_test import FakeApi, node
    import pod_flags_test
    pod_flags_test.TOKEN = TOKEN
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs"), os.path.join(tmp, "api-tls"), "apiserver"],
                   check=True, capture_output=True)
    FakeApi.nodes = {n: node(n, {"topology.kubernetes.io/zone": z}) for n, z in nodes.items()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tmp, "api-tls", "apiserver.crt"), os.path.join(tmp, "api-tls", "apiserver.key"))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(os.path.join(tmp, "api-tls", "ca.crt"), "rb") as ca:
        return server.server_address, ca.read()


# --- the checks -----------------------------------------------------------------------------------

def metric(addr, port, name):
    try:
        body = urllib.request.urlopen(f"http://{addr}:{port}/metrics", timeout=3).read().decode()
    except OSError:
        return None
    m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", body, re.M)
    return float(m.group(1)) if m else None


def run_main(rendered_dir, bins):
    f = Failures("alive")
    objects = rendered(rendered_dir, "production")
    namespace = next((o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")),
                     NAMESPACE_FALLBACK)
    pods = pods_of(objects, int(os.environ.get("MEDVAULT_ALIVE_MAX_PODS", "0")))
    log(f"alive: {len(pods)} pods: {', '.join(p.name for p in pods)}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = tempfile.mkdtemp(prefix="medvault-alive-")
    os.chmod(tmp, 0o755)
    try:
        # Secrets: the development ones, made as scripts/cluster makes them.
        r = subprocess.run([os.path.join(K8S, "overlays", "dev", "make-secrets"), os.path.join(tmp, "secrets")],
                           capture_output=True, text=True, check=True)
        secrets = {s["metadata"]["name"]: {str(k): base64.b64decode(v) for k, v in s["data"].items()}
                   for s in yaml.safe_load_all(r.stdout) if s}
        nodes = {p.node: ZONES[i % len(ZONES)] for i, p in enumerate(pods)}
        api, api_ca = fake_api(tmp, nodes)
        service_addrs = {s["metadata"]["name"]: f"127.0.200.{i + 1}"
                         for i, s in enumerate(by_kind(objects, "Service"))}
        hosts = hosts_file(objects, pods, namespace, service_addrs)
        start_services(objects, pods, service_addrs)
        binaries = {b: os.path.join(bins, b) for b in ("keyservice", "metaserver", "chunkserver", "frontend", "medvault")}
        binaries["medvault-pod-flags"] = os.path.join(K8S, "image", "medvault-pod-flags")

        def start_pod(pod):
            try:
                start_pod_or_raise(pod)
            except Exception as e:  # noqa: BLE001 (a thread: report, do not lose it)
                f.check(False, f"{pod.name}: {type(e).__name__}: {e}")

        def start_pod_or_raise(pod):
            pod_dir = os.path.join(tmp, "pods", pod.name)
            volumes = make_volumes(f, pod, pod_dir, objects, secrets, api_ca)
            for c in pod.spec.get("initContainers", []):
                ok = start_container(c, pod, pod_dir, volumes, objects, hosts, binaries, api, wait=True)
                if not f.check(ok, f"{pod.name}: init container {c['name']} failed "
                               f"({open(os.path.join(pod_dir, c['name'] + '.log')).read().strip()})"):
                    return
            for c in pod.spec["containers"]:
                start_container(c, pod, pod_dir, volumes, objects, hosts, binaries, api, wait=False)

        threads = [threading.Thread(target=start_pod, args=(p,)) for p in pods]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if f.items:
            f.report()

        # The kubelet's probes: startup, readiness and liveness (each asked until it passes) of every
        # container; a container that exits fails at once, as a crash loop would show.
        deadline = time.time() + BUDGET
        for p in pods:
            for c, proc in zip(p.spec["containers"], p.procs[-len(p.spec["containers"]):]):
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    port = c.get(probe, {}).get("grpc", {}).get("port")
                    if not f.check(port is not None, f"{p.name}/{c['name']}: {probe} is not a gRPC probe"):
                        continue
                    passed, out = False, ""
                    while not passed and proc.poll() is None and time.time() < deadline:
                        r = subprocess.run([os.path.join(bins, "medvault"), "--insecure_plaintext", "--timeout", "2",
                                            "health", "--wait", "2", f"{p.addr}:{port}"], capture_output=True, text=True)
                        passed, out = r.returncode == 0, (r.stdout + r.stderr).strip()
                    if proc.poll() is not None:
                        last = open(os.path.join(tmp, "pods", p.name, c["name"] + ".log")).read().strip()
                        f.check(False, f"{p.name}/{c['name']}: exited with {proc.returncode}: {last[-300:]}")
                        break
                    f.check(passed, f"{p.name}/{c['name']}: {probe} on port {port} fails: {out}")
        log("alive: probes done")

        # Every Raft group has exactly one leader.
        for group in ("metaserver", "keyservice"):
            members = [p for p in pods if p.workload["metadata"]["name"] == group]
            metrics_port = members[0].workload["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
            leaders, until = [], max(deadline, time.time() + 30)
            while time.time() < until:
                leaders = [p.name for p in members
                           if metric(p.addr, metrics_port, f"medvault_{group}_raft_is_leader") == 1]
                if len(leaders) == 1:
                    break
                time.sleep(0.5)
            f.check(len(leaders) == 1, f"{group}: leaders {leaders}")
            log(f"alive: {group} leader {leaders}")

        # The CLI, in a client pod, through the frontend Service's name and port.
        svc = find(objects, "Service", "frontend")
        port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc")
        client_dir = os.path.join(tmp, "pods", "client")
        data = os.path.join(client_dir, "data")
        os.makedirs(data)
        os.chmod(data, 0o777)
        shutil.copy(SAMPLE, os.path.join(data, "in.dcm"))
        tls = os.path.join(tmp, "secrets", "tls")
        client_tls = os.path.join(client_dir, "tls")
        os.makedirs(client_tls)
        for name in ("ca.crt", "client.crt", "client.key"):
            shutil.copy(os.path.join(tls, name), client_tls)
        import pydicom
        uid = str(pydicom.dcmread(SAMPLE).SOPInstanceUID)
        client = Pod({"metadata": {"name": "client"}, "spec": {"template": {"metadata": {}, "spec": {}}}},
                     "client", "127.0.250.1", "node-client", 0)
        cli = ["/usr/local/bin/medvault", f"--frontend=frontend:{port}", "--tls_ca=/etc/client/ca.crt",
               "--tls_cert=/etc/client/client.crt", "--tls_key=/etc/client/client.key"]
        for i, args in enumerate((["put", "/data/in.dcm"], ["get", "--instance", uid, "-o", "/data/out.dcm"])):
            c = {"name": f"cli-{i}", "command": cli + args,
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tls", "mountPath": "/etc/client"}]}
            ok = start_container(c, client, client_dir, {"data": data, "tls": client_tls}, objects, hosts, binaries,
                                 api, wait=True)
            f.check(ok, f"medvault {' '.join(args)} through Service frontend:{port} failed: "
                    f"{open(os.path.join(client_dir, c['name'] + '.log')).read().strip()}")
        out = os.path.join(data, "out.dcm")
        f.check(os.path.exists(out) and open(out, "rb").read() == open(SAMPLE, "rb").read(),
                "the instance read back through the Service differs from the one stored")
        log("alive: store and read back through the frontend Service checked")

        # The other doors, through their Services' names and ports: DICOMweb (HTTPS, the client's
        # certificate; the server's is checked against the name it carries, "frontend") finds the
        # study; the DIMSE door answers an association (and, as shipped, refuses every AE).
        https = find(objects, "Service", "frontend-https")["spec"]["ports"][0]["port"]
        dicom = find(objects, "Service", "frontend-dicom")["spec"]["ports"][0]["port"]
        checks = (
            (["/usr/bin/curl", "-sS", "-o", "/data/studies.json", "-w", "%{http_code}",
              "--connect-to", f"frontend:443:frontend-https:{https}", "--cacert", "/etc/client/ca.crt",
              "--cert", "/etc/client/client.crt", "--key", "/etc/client/client.key",
              "https://frontend/dicomweb/studies"], lambda rc, text: rc == 0 and text.strip() == "200"),
            (["/usr/bin/echoscu", "-aec", "MEDVAULT", "frontend-dicom", str(dicom)],
             lambda rc, text: "Association Rejected" in text),
        )
        for i, (argv, ok) in enumerate(checks):
            c = {"name": f"door-{i}", "command": argv,
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tls", "mountPath": "/etc/client"}]}
            start_container(c, client, client_dir, {"data": data, "tls": client_tls}, objects, hosts, binaries,
                            api, wait=False)
            rc = client.procs[-1].wait(timeout=60)
            text = open(os.path.join(client_dir, c["name"] + ".log")).read()
            f.check(ok(rc, text), f"{' '.join(argv)}: exit {rc}: {text.strip()[-300:]}")
        studies = os.path.join(data, "studies.json")
        f.check(os.path.exists(studies) and str(pydicom.dcmread(SAMPLE).StudyInstanceUID) in open(studies).read(),
                "DICOMweb through Service frontend-https does not list the stored study")
        log("alive: DICOMweb and DIMSE through their Services checked")

        # Crypto-shredding reaches every key service replica's shred log, on its own volume claim
        # (--shred_log): the instance is deleted, and each replica records its object id there.
        c = {"name": "cli-rm", "command": cli + ["rm", "--instance", uid],
             "volumeMounts": [{"name": "tls", "mountPath": "/etc/client"}]}
        ok = start_container(c, client, client_dir, {"tls": client_tls}, objects, hosts, binaries, api, wait=True)
        f.check(ok, f"medvault rm through Service frontend:{port} failed: "
                f"{open(os.path.join(client_dir, 'cli-rm.log')).read().strip()}")
        keyservices = [p for p in pods if p.workload["metadata"]["name"] == "keyservice"]
        claims = [t["metadata"]["name"] for t in keyservices[0].workload["spec"]["volumeClaimTemplates"]]
        shredded, until = [], time.time() + 30
        while time.time() < until:
            shredded = []
            for p in keyservices:
                for claim in claims:
                    path = os.path.join(tmp, "pods", p.name, "pvc", claim, "shred.log")
                    if os.path.exists(path) and re.search(r"^[0-9a-f]{32}$", open(path).read(), re.M):
                        shredded.append(p.name)
            if len(shredded) == len(keyservices):
                break
            time.sleep(0.2)
        f.check(ok and len(shredded) == len(keyservices),
                f"the deleted instance's key is in the shred log (shred.log on a volume claim) of "
                f"{shredded}, not of every key service replica")
        if len(shredded) == len(keyservices):
            log("alive: the delete reached every key service replica's shred log")
    finally:
        for p in pods:
            for proc in p.procs:
                if proc.poll() is None:
                    proc.kill()
        for p in pods:
            for proc in p.procs:
                proc.wait()
        if f.items:
            dump = os.environ.get("MEDVAULT_ALIVE_KEEP")
            for p in pods:
                for c in p.spec["containers"]:
                    path = os.path.join(tmp, "pods", p.name, c["name"] + ".log")
                    if os.path.exists(path):
                        tail = open(path).read().strip().splitlines()[-5:]
                        log(f"--- {p.name}/{c['name']} (last lines)\n" + "\n".join(tail))
            if dump:
                log(f"alive: kept {tmp}")
        if not os.environ.get("MEDVAULT_ALIVE_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    f.report()


def main():
    if os.environ.get("MEDVAULT_ALIVE_INNER") != "1":
        if os.geteuid() != 0:
            print("alive: needs root (private network and mount namespaces, chroot)")
            sys.exit(1)
        env = dict(os.environ, MEDVAULT_ALIVE_INNER="1")
        r = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__)] + sys.argv[1:], env=env)
        sys.exit(r.returncode)
    run_main(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
