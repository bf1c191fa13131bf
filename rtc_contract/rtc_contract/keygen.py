"""`rtc_keygen OUT_PREFIX`: a new Ed25519 key pair for signing ActionChunks (docs/authentication.md).

Writes OUT_PREFIX.key (the policy node's `signing_key_file`, mode 0600) and OUT_PREFIX.pub (for the
executor's `trusted_keys`), prints the key id; never overwrites a file.
"""
from __future__ import annotations

import argparse
import sys

from rtc_contract.chunk_signature import generate_key_pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtc_keygen", description=__doc__.splitlines()[0])
    parser.add_argument("out_prefix", metavar="OUT_PREFIX", help="path prefix, e.g. keys/policy_2026a")
    args = parser.parse_args(argv)
    try:
        private_path, public_path, kid = generate_key_pair(args.out_prefix)
    except OSError as err:  # FileExistsError too: one line, nothing written
        print(f"rtc_keygen: {err}", file=sys.stderr)
        return 1
    print(f"key id {kid}: private key {private_path} (signing_key_file, keep it secret), "
          f"public key {public_path} (trusted_keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
