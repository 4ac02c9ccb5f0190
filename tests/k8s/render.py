#!/usr/bin/python3
"""Renders every overlay of deploy/k8s with `kubectl kustomize` (offline), and the development
overlay's Secrets (overlays/dev/make-secrets), into OUTDIR/<overlay>.yaml and OUTDIR/dev-secrets.yaml.
Fails if any does not render. The other deploy/k8s checks read these files.

  render.py OUTDIR
"""
import os
import shutil
import sys
import tempfile

from manifests import K8S, OVERLAYS, Failures, load, run


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    failures = Failures("render")
    kubectl = shutil.which("kubectl")
    if not failures.check(kubectl is not None, "kubectl is not installed (scripts/install-deps)"):
        failures.report()
    for overlay in OVERLAYS:
        r = run([kubectl, "kustomize", os.path.join(K8S, "overlays", overlay)])
        if failures.check(r.returncode == 0, f"overlay {overlay} does not render: {r.stderr.strip()}"):
            with open(os.path.join(out, overlay + ".yaml"), "w") as f:
                f.write(r.stdout)
            objects = load(os.path.join(out, overlay + ".yaml"))
            failures.check(len(objects) > 0, f"overlay {overlay} renders no objects")
            print(f"{overlay}: {len(objects)} objects")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([os.path.join(K8S, "overlays", "dev", "make-secrets"), os.path.join(tmp, "secrets")])
        if failures.check(r.returncode == 0, f"overlays/dev/make-secrets failed: {r.stderr.strip()}"):
            with open(os.path.join(out, "dev-secrets.yaml"), "w") as f:
                f.write(r.stdout)
    failures.report()


if __name__ == "__main__":
    main()
