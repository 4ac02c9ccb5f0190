#!/usr/bin/python3
"""Checks WADO-RS /metadata of one stored instance against DCMTK's dcm2json of the same file,
attribute by attribute (tests/dicomweb_test.cc runs it): the same attributes with the same VRs and
values, except that a value the answer gives as BulkDataURI must come back from that URI
(multipart/related; type="application/octet-stream") as exactly the bytes dcm2json inlines.
Prints "ok", or what differs (tags and sizes, never values), and exits 1.

    /usr/bin/python3 metadata_check.py BASE_URL TLS_DIR CERT_NAME STUDY SERIES SOP FILE
"""
import base64
import json
import ssl
import subprocess
import sys
import urllib.request


def fail(why):
    print("metadata check failed: " + why)
    sys.exit(1)


def main():
    base, tls, name, study, series, sop, path = sys.argv[1:8]
    ctx = ssl.create_default_context(cafile=f"{tls}/ca.crt")
    ctx.load_cert_chain(f"{tls}/{name}.crt", f"{tls}/{name}.key")

    def get(url, accept):
        req = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.headers.get("Content-Type", ""), r.read()

    url = f"{base}/dicomweb/studies/{study}/series/{series}/instances/{sop}/metadata"
    ctype, body = get(url, "application/dicom+json")
    if not ctype.startswith("application/dicom+json"):
        fail("content type " + ctype)
    answer = json.loads(body)
    if len(answer) != 1:
        fail(f"{len(answer)} objects for one instance")
    expected = json.loads(subprocess.run(["dcm2json", "-fc", path], check=True,
                                         capture_output=True).stdout)
    fetched = [0]

    def bulk(uri):
        ctype, body = get(uri, 'multipart/related; type="application/octet-stream"')
        if 'type="application/octet-stream"' not in ctype or "boundary=" not in ctype:
            fail("bulk data content type " + ctype)
        boundary = b"--" + ctype.split("boundary=")[1].split(";")[0].strip('"').encode()
        parts = body.split(boundary)
        if len(parts) != 3 or parts[2] != b"--\r\n":
            fail("bulk data is not one part")
        head, _, value = parts[1].partition(b"\r\n\r\n")
        if b"application/octet-stream" not in head or not value.endswith(b"\r\n"):
            fail("bulk data part malformed")
        fetched[0] += 1
        return value[:-2]

    def compare(got, want, where):
        if set(got) != set(want):
            fail(f"{where}: attributes differ: only answered {sorted(set(got) - set(want))}, "
                 f"missing {sorted(set(want) - set(got))}")
        for tag, w in want.items():
            g = got[tag]
            if g.get("vr") != w.get("vr"):
                fail(f"{where}{tag}: VR {g.get('vr')}, dcm2json {w.get('vr')}")
            if "BulkDataURI" in g:
                want_bytes = base64.b64decode(w.get("InlineBinary", ""))
                if len(want_bytes) <= 1024 and tag != "7FE00010":
                    fail(f"{where}{tag}: {len(want_bytes)} bytes given as bulk data")
                got_bytes = bulk(g["BulkDataURI"])
                if got_bytes != want_bytes:
                    fail(f"{where}{tag}: bulk data {len(got_bytes)} bytes, "
                         f"dcm2json {len(want_bytes)} bytes, or different")
            elif w.get("vr") == "SQ":
                gi, wi = g.get("Value", []), w.get("Value", [])
                if len(gi) != len(wi):
                    fail(f"{where}{tag}: {len(gi)} items, dcm2json {len(wi)}")
                for i, (a, b) in enumerate(zip(gi, wi)):
                    compare(a, b, f"{where}{tag}/{i}/")
            elif g != w:
                fail(f"{where}{tag}: differs from dcm2json")

    compare(answer[0], expected, "")
    print(f"ok {fetched[0]}")


if __name__ == "__main__":
    main()
