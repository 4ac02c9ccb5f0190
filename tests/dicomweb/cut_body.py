#!/usr/bin/python3
"""Posts the first CUT bytes of BODY_FILE over HTTPS while declaring all of it (Content-Length),
then closes its sending side as a client that dies mid-upload does, and prints the status line of
whatever the server answers (or "closed"). It returns once the server has closed the connection,
that is once the server is done with the request. tests/dicomweb_test.cc uses it for STOW-RS.

    /usr/bin/python3 cut_body.py PORT CA CERT KEY PATH CONTENT_TYPE BODY_FILE CUT
"""
import socket
import ssl
import sys


def main():
    port, ca, cert, key, path, content_type, body_file, cut = sys.argv[1:]
    body = open(body_file, "rb").read()
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", int(port)))
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    tls.sendall(head.encode() + body[:int(cut)])
    # The TCP sending side only: the TLS session stays readable for the answer.
    socket.socket.shutdown(tls, socket.SHUT_WR)
    answer = b""
    try:
        while True:
            data = tls.recv(65536)
            if not data:
                break
            answer += data
    except (ssl.SSLError, OSError):
        pass
    line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    print(line if line else "closed")


if __name__ == "__main__":
    main()
