#!/usr/bin/env python3
"""ingest_receiver.py - a stand-in for a Pyroscope /ingest endpoint used by
controls.sh: listens on 127.0.0.1 (an ephemeral port, written to
DIR/port), saves every POST to /ingest as DIR/N.body with its query string
in DIR/N.query, and answers 200.  With --fail-first K it answers 503 to the
first K requests (their bodies are saved as DIR/failed-N.*), to exercise
the client's retry.  Runs until killed (the test kills it by pid), or 120 s.

    ingest_receiver.py DIR [--fail-first K]
"""
import http.server
import os
import sys
import threading

DIR = sys.argv[1]
FAIL_FIRST = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--fail-first" else 0
count = [0, 0]  # accepted, failed
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            fail = count[1] < FAIL_FIRST
            if fail:
                count[1] += 1
                name = "failed-%d" % count[1]
            else:
                count[0] += 1
                name = "%d" % count[0]
        if path != "/ingest":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(os.path.join(DIR, name + ".query"), "w") as f:
            f.write(query + "\n")
        with open(os.path.join(DIR, name + ".body.tmp"), "wb") as f:
            f.write(body)
        os.rename(os.path.join(DIR, name + ".body.tmp"),
                  os.path.join(DIR, name + ".body"))
        self.send_response(503 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
threading.Timer(120, server.shutdown).start()
server.serve_forever()
