"""A real SMTP server for tests (aiosmtpd): saves every message exactly as received.

Recipients whose local part is `gone` get 550 5.1.1, `later` 451 4.7.1, `busy` 421 4.3.2;
everyone else is accepted. Each message is written to DIR/NNNNNN.eml (renamed into place, so a
reader never sees half a file). Offers PIPELINING (RFC 2920) unless --no-pipelining. Prints
"ready PORT" once listening.

    python3 smtp_capture.py --port 0 --dir /tmp/mails [--no-pipelining]
"""

import argparse
import asyncio
import os
import socket

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out, pipelining):
        self.out = out
        self.n = 0
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local == "gone":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local == "later":
            return "451 4.7.1 Greylisted, please try again later"
        if local == "busy":
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out, f"{self.n:06d}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return f"250 2.0.0 Ok: queued as Q{self.n:06d}"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", required=True)
    p.add_argument("--no-pipelining", action="store_true")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    port = a.port or free_port()
    controller = Controller(Handler(a.dir, not a.no_pipelining), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    print(f"ready {port}", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
