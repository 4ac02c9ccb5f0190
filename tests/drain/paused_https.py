#!/usr/bin/python3
"""An HTTPS request that pauses in the middle, for the frontend's drain test: it sends the request
(a STOW-RS body: the headers, "Expect: 100-continue", then half the body after "100 Continue"; a
GET: the request, then reads the answer's headers and 1 MiB of its body), prints "paused", stops
itself (SIGSTOP) until the test sends SIGCONT, then finishes the request and prints the answer's
status code; the answer's body (de-chunked) goes to OUT.

    /usr/bin/python3 paused_https.py get  PORT CA CERT KEY PATH ACCEPT OUT
    /usr/bin/python3 paused_https.py stow PORT CA CERT KEY PATH BODY_FILE BOUNDARY OUT
"""
import os
import signal
import socket
import ssl
import sys


def pause():
    print("paused", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)


def read_headers(sock, buf):
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("connection closed before the answer's headers")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def main():
    mode, port, ca, cert, key, path = sys.argv[1:7]
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", int(port)))
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    host = f"Host: 127.0.0.1:{port}\r\n"
    buf = b""
    if mode == "get":
        accept, out_path = sys.argv[7:9]
        sock.sendall(f"GET {path} HTTP/1.1\r\n{host}Accept: {accept}\r\n"
                     "Connection: close\r\n\r\n".encode())
        head, buf = read_headers(sock, b"")
        while len(buf) < (1 << 20):
            data = sock.recv(65536)
            if not data:
                break
            buf += data
        pause()
    else:
        body_file, boundary, out_path = sys.argv[7:10]
        with open(body_file, "rb") as f:
            body = f.read()
        sock.sendall(
            (f"POST {path} HTTP/1.1\r\n{host}Content-Type: multipart/related; "
             f"type=\"application/dicom\"; boundary={boundary}\r\nAccept: application/dicom+json\r\n"
             f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
             ).encode())
        head, buf = read_headers(sock, b"")
        if " 100 " not in head.split("\r\n")[0]:
            raise SystemExit("no 100 Continue: " + head.split("\r\n")[0])
        half = len(body) // 2
        sock.sendall(body[:half])
        pause()
        sock.sendall(body[half:])
        head, buf = read_headers(sock, buf)
    rest = bytearray(buf)
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        rest += data
    buf = bytes(rest)
    status = head.split("\r\n")[0].split(" ")[1]
    if "transfer-encoding: chunked" in head.lower():
        body, at = bytearray(), 0
        while True:
            eol = buf.index(b"\r\n", at)
            size = int(buf[at:eol].split(b";")[0], 16)
            if size == 0:
                break
            body += buf[eol + 2:eol + 2 + size]
            at = eol + 2 + size + 2
        buf = bytes(body)
    with open(out_path, "wb") as out:
        out.write(buf)
    print(status, flush=True)


if __name__ == "__main__":
    main()
