"""Verifies Standard Webhooks signatures with the reference library from PyPI.

Reads JSON lines of {"secret": "whsec_…", "headers": {...}, "body": "..."} on stdin and prints
"ok" or "fail: reason" for each.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook

for line in sys.stdin:
    case = json.loads(line)
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        print("ok", flush=True)
    except Exception as e:  # the library raises WebhookVerificationError
        print(f"fail: {e}", flush=True)
