"""Verifies a message's DKIM signature with dkimpy, the public key given instead of DNS.

    python3 dkim_verify.py MESSAGE.eml PUBLIC_KEY_BASE64_FILE   -> prints "ok" or "fail", exit 0/1
"""

import sys

import dkim

message = open(sys.argv[1], "rb").read()
public = open(sys.argv[2]).read().strip()


def dns(name, timeout=5):
    return ("v=DKIM1; k=rsa; p=" + public).encode()


ok = dkim.verify(message, dnsfunc=dns)
print("ok" if ok else "fail")
sys.exit(0 if ok else 1)
