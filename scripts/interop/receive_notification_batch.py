#!/usr/bin/env python3
"""A webhook receiver of the hub's notification batches that verifies each
batch with an independent JOSE library (PyJWT), given only the hub's JWKS.

usage: receive_notification_batch.py PORT JWKS_URL ISSUER AUDIENCE OTHER_AUDIENCE

Listens on 127.0.0.1:PORT. For each POST it checks the body, a compact JWS:
the signature (EdDSA, the key `kid` names in the JWKS fetched from
JWKS_URL), the `typ` header (`crossroads-notifications+jwt`), `iss`, `aud`
(AUDIENCE), `exp`, `iat` and `jti`; and that the same batch is refused for
OTHER_AUDIENCE (a batch for one agency cannot be replayed to another).
Prints one JSON line per batch and answers 204, or 401 when it does not
verify. Exits 3 at once if PyJWT (with `cryptography`) is not installed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

try:
    import jwt
except ImportError:
    print("PyJWT is not installed: pip install 'pyjwt[crypto]'", file=sys.stderr)
    sys.exit(3)

TYP = "crossroads-notifications+jwt"


def verify(token, client, issuer, audience):
    header = jwt.get_unverified_header(token)
    if header.get("typ") != TYP:
        raise jwt.InvalidTokenError(f"typ is {header.get('typ')!r}, not {TYP!r}")
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key=key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "jti"]},
    )
    return header, claims


def main() -> int:
    port, jwks_url, issuer, audience, other = sys.argv[1:6]
    client = jwt.PyJWKClient(jwks_url)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            token = self.rfile.read(length).decode("ascii", "replace").strip()
            line = {"content_type": self.headers.get("content-type")}
            try:
                header, claims = verify(token, client, issuer, audience)
                line.update(
                    verified=True,
                    alg=header.get("alg"),
                    typ=header.get("typ"),
                    jti=claims["jti"],
                    ids=[n["id"] for n in claims["notifications"]],
                    persons=[n["person"] for n in claims["notifications"]],
                )
                try:
                    verify(token, client, issuer, other)
                    line["other_audience_refused"] = False
                except jwt.InvalidAudienceError:
                    line["other_audience_refused"] = True
                status = 204
            except jwt.PyJWTError as e:
                line.update(verified=False, error=str(e))
                status = 401
            print(json.dumps(line, sort_keys=True), flush=True)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", int(port)), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
