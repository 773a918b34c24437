"""Credentials for the API conformance run, made the way real callers make
them: an agency's access token from a `private_key_jwt` client assertion
(RFC 7523) signed with the agency's key, and a citizen's token from
activation and sign-in.

    python3 tokens.py <scenario.json> agency consumer|registrar
    python3 tokens.py <scenario.json> citizen

Prints the access token on standard output.
"""

import json
import sys
import time
import urllib.parse
import urllib.request
import uuid

import jwt

CITIZEN_PASSWORD = "a long conformance-test password"


def post(url, body, content_type):
    request = urllib.request.Request(
        url, data=body, headers={"content-type": content_type}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def agency_token(scenario, who):
    agency = scenario[who]
    now = int(time.time())
    claims = {
        "iss": agency["id"],
        "sub": agency["id"],
        "aud": scenario["token_endpoint"],
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    with open(agency["key_file"], encoding="utf-8") as key:
        assertion = jwt.encode(claims, key.read(), algorithm=agency["alg"])
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
    ).encode()
    answer = post(scenario["token_endpoint"], form, "application/x-www-form-urlencoded")
    return answer["access_token"]


def citizen_token(scenario):
    citizen = scenario["citizen"]
    base = scenario["hub_url"]
    post(
        f"{base}/v1/citizen/activate",
        json.dumps(
            {
                "common_id": citizen["common_id"],
                "activation_code": citizen["activation_code"],
                "password": CITIZEN_PASSWORD,
            }
        ).encode(),
        "application/json",
    )
    answer = post(
        f"{base}/v1/citizen/sign-in",
        json.dumps({"common_id": citizen["common_id"], "password": CITIZEN_PASSWORD}).encode(),
        "application/json",
    )
    return answer["access_token"]


def main():
    path, kind = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        scenario = json.load(f)
    if kind == "agency":
        print(agency_token(scenario, sys.argv[3]))
    elif kind == "citizen":
        print(citizen_token(scenario))
    else:
        sys.exit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    main()
