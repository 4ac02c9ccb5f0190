#!/usr/bin/python3
"""CPU cost of writing chunk-sized files through the page cache against O_DIRECT.

    bench/direct_write_cost.py [--dir DIR] [--files N] [--kib K]

Writes N files of K KiB (default 400 x 516) into DIR (default build/direct-write-cost, on the
disk under test), each created, written in one call, fdatasync'd and closed, as a chunk server
writes a chunk: twice through the page cache and twice with O_DIRECT, alternating. Prints wall
time and the process's system and user CPU for each pass (docs/benchmarks.md, "Chunk files
written with O_DIRECT"). The files are removed afterwards.
"""
import argparse
import mmap
import os
import resource
import shutil
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--dir", default=os.path.join(ROOT, "build", "direct-write-cost"))
parser.add_argument("--files", type=int, default=400)
parser.add_argument("--kib", type=int, default=516)
args = parser.parse_args()

size = args.kib * 1024  # a multiple of 4 KiB, as O_DIRECT needs
buf = mmap.mmap(-1, size)  # page-aligned
buf.write(os.urandom(size))
os.makedirs(args.dir, exist_ok=True)


def one_pass(direct, tag):
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    for i in range(args.files):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
        fd = os.open(os.path.join(args.dir, f"{tag}{i}"), flags, 0o600)
        os.write(fd, buf)
        os.fdatasync(fd)
        os.close(fd)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{'direct    ' if direct else 'page cache'}: {time.time() - start:.2f} s wall, "
          f"{after.ru_stime - before.ru_stime:.2f} s system, {after.ru_utime - before.ru_utime:.2f} s user "
          f"({args.files} files of {args.kib} KiB)")


try:
    for rnd in range(2):
        one_pass(False, f"b{rnd}_")
        one_pass(True, f"d{rnd}_")
finally:
    shutil.rmtree(args.dir, ignore_errors=True)
