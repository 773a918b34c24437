#!/usr/bin/env python3
"""Verifies a consent artefact with an independent JOSE library (PyJWT), given
only the hub's published JWKS.

usage: verify_consent_artefact.py JWKS_FILE ARTEFACT_FILE
Checks the signature (EdDSA, key named by `kid`), the `typ` header
(`consent+jwt`) and `exp` (the end of the consent's window). Prints the
header and the verified claims as JSON; exits 1 if the artefact does not
verify and 3 if PyJWT (with its `cryptography` backend) is not installed.
"""
import json
import sys

try:
    import jwt
except ImportError:
    print("PyJWT is not installed: pip install 'pyjwt[crypto]'", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    jwks_file, token_file = sys.argv[1:3]
    with open(jwks_file, encoding="utf-8") as f:
        jwks = json.load(f)
    with open(token_file, encoding="utf-8") as f:
        token = f.read().strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    if header.get("typ") != "consent+jwt":
        print(f"refused: typ is {header.get('typ')!r}, not 'consent+jwt'", file=sys.stderr)
        return 1
    keys = {k["kid"]: k for k in jwks["keys"]}
    if header.get("kid") not in keys:
        print(f"no key {header.get('kid')!r} in the JWKS", file=sys.stderr)
        return 1
    key = jwt.PyJWK.from_dict(keys[header["kid"]])
    try:
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=["EdDSA"],
            options={
                "require": ["exp", "iat", "sub", "aud", "jti"],
                "verify_aud": False,
            },
        )
    except jwt.PyJWTError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"header": header, "claims": claims}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
