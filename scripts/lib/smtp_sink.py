#!/usr/bin/python3
"""SMTP sink for casedesk tests and the demo (aiosmtpd, loopback only).

Writes every accepted message to DIR/NNNN.eml (bytes as received) and DIR/NNNN.json (envelope).
Fault injection by recipient local part: "reject-..." gets 550 (permanent), "defer-..." gets 451
(temporary). Runs until SIGTERM/SIGINT; writes its PID to DIR/sink.pid once listening.

usage: smtp_sink.py DIR PORT
"""
import json
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = len([f for f in os.listdir(directory) if f.endswith('.eml')])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@', 1)[0].lower()
        if local.startswith('reject-'):
            return '550 5.1.1 mailbox unavailable (test sink)'
        if local.startswith('defer-'):
            return '451 4.3.0 try again later (test sink)'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        arrived_at = time.time()  # bench/latency_bench.py: when the message was accepted
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, '%04d' % self.count)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode('utf-8', 'surrogateescape')
        with open(base + '.eml.tmp', 'wb') as f:
            f.write(data)
        with open(base + '.json', 'w') as f:
            json.dump({'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos, 'arrived_at': arrived_at}, f)
        os.rename(base + '.eml.tmp', base + '.eml')
        return '250 2.0.0 OK queued'


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname='127.0.0.1', port=port)
    controller.start()
    with open(os.path.join(directory, 'sink.pid'), 'w') as f:
        f.write(str(os.getpid()))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == '__main__':
    main()
