"""An SMTP server process for fault tests: logs every accepted message's Message-ID and recipient.
It advertises PIPELINING, as real relays do.

    python smtp_logger.py PORT LOGFILE DELAY_SECONDS

It runs as its own process so a test can SIGSTOP it (a hung relay) and SIGCONT it again.
"""
from __future__ import annotations

import asyncio
import re
import signal
import sys

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.I | re.M)


class Logger:
    def __init__(self, path: str, delay: float):
        self.file = open(path, "a", buffering=1)
        self.delay = delay

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        responses.insert(1, "250-PIPELINING")  # as real relays do: the sender's pipelined path is the one under test
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        match = MESSAGE_ID.search(envelope.original_content or envelope.content)
        self.file.write(f"{match.group(1).decode() if match else '-'} {envelope.rcpt_tos[0]}\n")
        self.file.flush()
        return "250 2.0.0 Ok: queued"


if __name__ == "__main__":
    port, path, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    controller = Controller(Logger(path, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()
