#!/usr/bin/python3
"""The image's runtime stage provides every shared library the binaries load: each library `ldd`
resolves for the built binaries (all of them, transitively) belongs (dpkg -S) to a Debian package
named in the Containerfile's RUNTIME_PACKAGES, and each binary the manifests run is copied into the
image. Both stages are Debian 12, like this machine, so package names carry over.
The browser code the binaries serve or write is in the image too (checked on the Containerfile,
the image is not built here): the build stage installs nodejs and npm (the frontend target bundles
the share page and the disc viewer), and the runtime stage copies the built share page and offline
disc viewer to where the frontend and the CLI look for them beside their executables (../share-page
and ../disc-viewer, frontend/main.cc and common/media/pdi_viewer.cc), so `medvault export` and the
share download inside the container carry the viewer; the build tree holds those files.

  runtime_libs.py BIN_DIR
"""
import os
import re
import sys

from manifests import K8S, Failures, run

CONTAINERFILE = os.path.join(K8S, "image", "Containerfile")
BINARIES = ["metaserver", "keyservice", "chunkserver", "frontend", "medvault"]


def runtime_packages():
    with open(CONTAINERFILE) as f:
        text = f.read()
    runtime = text[text.index("AS runtime"):]
    m = re.search(r'^ARG RUNTIME_PACKAGES="([^"]*)"', runtime, re.M)
    return set(m.group(1).split()) if m else set(), runtime


def aliases(path):
    """The names dpkg may know a library by (merged /usr: /lib and /usr/lib are one directory)."""
    out = []
    for p in (path, os.path.realpath(path)):
        out.append(p)
        if p.startswith("/usr/lib/"):
            out.append(p[len("/usr"):])
        elif p.startswith("/lib"):
            out.append("/usr" + p)
    return out


def owners(paths):
    """{path: Debian package shipping it} in one dpkg -S call (slow per call)."""
    wanted = sorted({a for p in paths for a in aliases(p)})
    r = run(["dpkg", "-S"] + wanted)
    found = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        found[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: next((found[a] for a in aliases(p) if a in found), None) for p in paths}


# What the build puts beside build/bin and the runtime stage must carry beside /usr/local/bin.
BROWSER_DIRS = {"share-page": ["index.html", "app.js"],
                "disc-viewer": ["VIEWER.HTM", "VIEWER.JS", "WORKERS.JS"]}


def check_browser_files(f, text, runtime, bins):
    build = text[:text.index("AS runtime")]
    m = re.search(r'^ARG BUILD_PACKAGES="([^"]*)"', build, re.M)
    build_packages = set(m.group(1).split()) if m else set()
    for pkg in ("nodejs", "npm"):
        f.check(pkg in build_packages, f"the build stage's BUILD_PACKAGES lacks {pkg} (the frontend "
                "target bundles the share page and the disc viewer with it)")
    prefix = "/usr/local"  # the binaries are in /usr/local/bin (checked in main)
    for name, files in BROWSER_DIRS.items():
        f.check(re.search(rf"^COPY --from=build /src/build/{name}/? {prefix}/{name}/?$", runtime,
                          re.M) is not None,
                f"the runtime stage does not copy build/{name} to {prefix}/{name}, where the binaries "
                "in /usr/local/bin look for it")
        for file in files:
            path = os.path.join(os.path.dirname(os.path.abspath(bins)), name, file)
            f.check(os.path.exists(path), f"{path} is not built (frontend/web/page/build)")


def main():
    bins = sys.argv[1]
    f = Failures("runtime libraries")
    packages, runtime = runtime_packages()
    f.check(bool(packages), "the Containerfile's runtime stage has no ARG RUNTIME_PACKAGES")
    with open(CONTAINERFILE) as c:
        check_browser_files(f, c.read(), runtime, bins)
    libs = {}
    for b in BINARIES:
        path = os.path.join(bins, b)
        if not f.check(os.path.exists(path), f"{path} is not built"):
            continue
        f.check(re.search(rf"/build/bin/.*\b{b}\b.*/usr/local/bin/", runtime, re.S) is not None,
                f"the runtime stage does not copy {b} to /usr/local/bin")
        r = run(["ldd", path])
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m and m.group(2) == "not":
                f.check(False, f"{b}: {m.group(1)} not found")
            elif m:
                libs.setdefault(m.group(2), set()).add(b)
            elif line.strip().startswith("/"):  # the dynamic loader
                libs.setdefault(line.split()[0], set()).add(b)
    needed = {}
    owner = owners(libs)
    for lib, users in sorted(libs.items()):
        pkg = owner[lib]
        if f.check(pkg is not None, f"{lib} (loaded by {sorted(users)}) belongs to no Debian package"):
            needed.setdefault(pkg, []).append(os.path.basename(lib))
    for pkg, names in sorted(needed.items()):
        f.check(pkg in packages, f"{pkg} (provides {', '.join(names)}) is not in RUNTIME_PACKAGES")
    # Every listed name is a real Debian 12 package (this machine is Debian 12 and has them all).
    for pkg in sorted(packages):
        r = run(["dpkg-query", "-W", "-f=${Status}", pkg])
        f.check("install ok installed" in r.stdout, f"RUNTIME_PACKAGES names {pkg}, which is not an installed Debian package here")
    print(f"{len(libs)} libraries from {len(needed)} packages: {' '.join(sorted(needed))}")
    f.report()


if __name__ == "__main__":
    main()
