#!/usr/bin/python3
"""The init steps of deploy/k8s (deploy/k8s/image/medvault-pod-flags) do what the pods rely on:
- raft: --raft_id is the StatefulSet ordinal + 1, --raft_bootstrap only when asked, no ordinal fails;
- zone: the node's topology.kubernetes.io/zone label, read from a (local, TLS, token-checking) fake
  of the Kubernetes API as curl reaches the real one; the node's name without a label; odd values
  and API errors fail the step (so the pod does not start with a wrong failure domain);
- keks: every master-key file copied with mode 0400, dot names (a Secret volume's ..data) skipped,
  an empty Secret fails.

  pod_flags_test.py
"""
import http.server
import json
import os
import ssl
import stat
import subprocess
import tempfile
import threading

from manifests import K8S, ROOT, Failures

SCRIPT = os.path.join(K8S, "image", "medvault-pod-flags")
TOKEN = "test-token-1"


class FakeApi(http.server.BaseHTTPRequestHandler):
    nodes = {}

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if self.headers.get("Authorization") != f"Bearer {TOKEN}" or name not in self.nodes:
            self.send_response(403 if name in self.nodes else 404)
            self.end_headers()
            return
        body = json.dumps(self.nodes[name], indent=2).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def node(name, labels):
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": dict(labels, **{"kubernetes.io/hostname": name})},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}


def run(args, env):
    return subprocess.run([SCRIPT] + args, env=dict(env, PATH=os.environ["PATH"]), capture_output=True,
                          text=True, timeout=60)


def main():
    f = Failures("medvault-pod-flags")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pod.flags")
        read = lambda: open(out).read() if os.path.exists(out) else ""  # noqa: E731

        r = run(["raft", out], {"POD_NAME": "metaserver-4", "RAFT_BOOTSTRAP": "false"})
        f.check(r.returncode == 0 and read() == "--raft_id=5\n", f"raft for metaserver-4: {r.stderr} {read()!r}")
        r = run(["raft", out], {"POD_NAME": "keyservice-0", "RAFT_BOOTSTRAP": "true"})
        f.check(r.returncode == 0 and read() == "--raft_id=1\n--raft_bootstrap\n", f"raft bootstrap: {read()!r}")
        os.remove(out)
        r = run(["raft", out], {"POD_NAME": "keyservice"})
        f.check(r.returncode != 0 and not os.path.exists(out), "raft without an ordinal succeeded")

        # A fake API server with a certificate from a development CA, as the cluster's would be.
        subprocess.run([os.path.join(ROOT, "scripts", "dev-certs"), os.path.join(tmp, "tls"), "apiserver"],
                       check=True, capture_output=True)
        token_dir = os.path.join(tmp, "sa")
        os.makedirs(token_dir)
        with open(os.path.join(token_dir, "token"), "w") as t:
            t.write(TOKEN)
        with open(os.path.join(tmp, "tls", "ca.crt")) as src, open(os.path.join(token_dir, "ca.crt"), "w") as dst:
            dst.write(src.read())
        FakeApi.nodes = {"node-a": node("node-a", {"topology.kubernetes.io/zone": "eu-west-1a"}),
                         "node-b": node("node-b", {}),
                         "node-c": node("node-c", {"topology.kubernetes.io/zone": "x y\"; rm"})}
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(tmp, "tls", "apiserver.crt"), os.path.join(tmp, "tls", "apiserver.key"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.server_address[1]),
               "TOKEN_DIR": token_dir}
        try:
            r = run(["zone", out], dict(api, NODE_NAME="node-a"))
            f.check(r.returncode == 0 and read() == "--failure_domain=eu-west-1a\n",
                    f"zone of node-a: {r.stderr} {read()!r}")
            r = run(["zone", out], dict(api, NODE_NAME="node-b"))
            f.check(r.returncode == 0 and read() == "--failure_domain=node-b\n", f"node without a zone: {read()!r}")
            os.remove(out)
            r = run(["zone", out], dict(api, NODE_NAME="node-c"))
            f.check(r.returncode != 0 and not os.path.exists(out), "an odd zone label was accepted")
            r = run(["zone", out], dict(api, NODE_NAME="node-z"))
            f.check(r.returncode != 0 and not os.path.exists(out), "an API error (unknown node) was ignored")
            with open(os.path.join(token_dir, "token"), "w") as t:
                t.write("wrong")
            r = run(["zone", out], dict(api, NODE_NAME="node-a"))
            f.check(r.returncode != 0 and not os.path.exists(out), "a refused token was ignored")
        finally:
            server.shutdown()

        src, dst = os.path.join(tmp, "secret"), os.path.join(tmp, "keks")
        os.makedirs(os.path.join(src, "..data"))
        os.makedirs(dst)
        r = run(["keks", src, dst], {"MEDVAULT_UID": str(os.getuid())})
        f.check(r.returncode != 0, "keks with no key files succeeded")
        for version in ("1", "2"):
            with open(os.path.join(src, "..data", version), "wb") as k:
                k.write(os.urandom(32))
            os.symlink(os.path.join("..data", version), os.path.join(src, version))  # as a Secret volume
        r = run(["keks", src, dst], {"MEDVAULT_UID": str(os.getuid())})
        f.check(r.returncode == 0 and sorted(os.listdir(dst)) == ["1", "2"],
                f"keks copied {sorted(os.listdir(dst))}: {r.stderr}")
        for version in ("1", "2"):
            path = os.path.join(dst, version)
            if os.path.exists(path):
                f.check(stat.S_IMODE(os.stat(path).st_mode) == 0o400, f"kek {version} has mode {oct(os.stat(path).st_mode)}")
                f.check(open(path, "rb").read() == open(os.path.join(src, version), "rb").read(), f"kek {version} differs")
    f.report()


if __name__ == "__main__":
    main()
