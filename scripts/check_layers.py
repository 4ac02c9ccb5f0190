#!/usr/bin/env python3
"""Fails when a source of a pure-core target reaches a forbidden header (issue 15).

The gRPC, RocksDB and prometheus-cpp headers live in /usr/include, so include paths cannot hide
them from a core target; instead this preprocesses every source of the given targets with the
exact flags of the build (compile_commands.json, `-M`) and fails if the include closure contains
one of them or a generated gRPC stub (*.grpc.pb.h).

usage: check_layers.py [--grpc-only] SOURCE_ROOT COMPILE_COMMANDS TARGET=DIR=SRC[,SRC...] ...
--grpc-only forbids only gRPC (the services' core/ libraries, which may use RocksDB and metrics).
"""
import json
import os
import re
import shlex
import subprocess
import sys

# Third-party headers a core may not reach, matched on the path below an include directory.
FORBIDDEN = re.compile(r"/(grpc|grpcpp|grpc\+\+|rocksdb|prometheus)/")
FORBIDDEN_GRPC = re.compile(r"/(grpc|grpcpp|grpc\+\+)/")
GRPC_STUB = re.compile(r"\.grpc\.pb\.h$")


def dependency_command(entry):
    """The compile command of `entry`, turned into a `-M` run that prints the include closure."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    if os.path.basename(args[0]) == "ccache":
        args = args[1:]
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-o", "-MT", "-MF", "-MQ"):
            skip = True
        elif arg in ("-c", "-MD", "-MMD"):
            pass
        else:
            out.append(arg)
    return out[:1] + ["-M"] + out[1:]


def headers(deps_text):
    text = deps_text.replace("\\\n", " ")
    return text.split(":", 1)[1].split() if ":" in text else []


def forbidden(path, source_root, pattern):
    real = os.path.realpath(path)
    if GRPC_STUB.search(real):
        return True
    return not real.startswith(source_root + os.sep) and bool(pattern.search(real))


def main(argv):
    pattern = FORBIDDEN
    if len(argv) > 1 and argv[1] == "--grpc-only":
        pattern, argv = FORBIDDEN_GRPC, argv[:1] + argv[2:]
    source_root = os.path.realpath(argv[1])
    with open(argv[2]) as f:
        commands = {os.path.realpath(os.path.join(e["directory"], e["file"])): e
                    for e in json.load(f)}
    failures, checked = [], 0
    for spec in argv[3:]:
        target, directory, sources = spec.split("=", 2)
        for source in filter(None, sources.split(",")):
            path = os.path.realpath(os.path.join(directory, source))
            if not path.endswith((".cc", ".cpp")):
                continue
            entry = commands.get(path)
            if entry is None:
                failures.append(f"{target}: {source} is not in {argv[2]}")
                continue
            run = subprocess.run(dependency_command(entry), cwd=entry["directory"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{target}: preprocessing {source} failed:\n{run.stderr}")
                continue
            checked += 1
            bad = [h for h in headers(run.stdout) if forbidden(h, source_root, pattern)]
            if bad:
                failures.append(f"{target}: {source} reaches {bad[0]} "
                                f"({len(bad)} forbidden headers in all)")
    for failure in failures:
        print("LAYER VIOLATION " + failure)
    print(f"checked {checked} sources of {len(argv) - 3} core targets, "
          f"{len(failures)} violations")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
