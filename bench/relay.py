"""A minimal SMTP relay with a simulated network round trip, for the latency benchmark.

Every reply is written `rtt` seconds after the line that asked for it arrived, in order, so
pipelined commands share one round trip as they would on a real link. It advertises PIPELINING,
accepts everything and counts messages.

    python bench/relay.py PORT RTT_SECONDS
"""
from __future__ import annotations

import asyncio
import sys


class Relay:
    def __init__(self, rtt: float):
        self.rtt = rtt
        self.accepted = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0

        def reply(text: str) -> None:
            nonlocal last
            when = max(loop.time() + self.rtt, last)
            last = when
            loop.call_at(when, writer.write, (text + "\r\n").encode())

        reply("220 relay.test ESMTP")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    reply("250-relay.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800")
                elif verb == b"DATA":
                    reply("354 go ahead")
                    while await reader.readline() not in (b".\r\n", b""):
                        pass
                    self.accepted += 1
                    reply("250 2.0.0 queued")
                elif verb == b"QUIT":
                    reply("221 bye")
                    await asyncio.sleep(self.rtt + 0.01)
                    break
                else:
                    reply("250 ok")
        finally:
            writer.close()


async def main(port: int, rtt: float) -> None:
    relay = Relay(rtt)
    server = await asyncio.start_server(relay.session, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
