#!/usr/bin/env bash
# testenv/mint-jwt.sh prints an HS256 JWT that the test Dovecot's oauth2
# passdb accepts for USER (default $MW_OAUTH_USER), valid for TTL seconds
# (default 600; a negative TTL mints an expired token). It signs with the key
# in $MW_OAUTH_JWT_KEY_FILE (the file's bytes are the HMAC key). Test only.
#
#	testenv/mint-jwt.sh [USER [TTL [KID]]]
set -euo pipefail
user=${1:-${MW_OAUTH_USER:?MW_OAUTH_USER is unset; source the testenv env file}}
ttl=${2:-600}
kid=${3:-mailwarden-test}
keyfile=${MW_OAUTH_JWT_KEY_FILE:?MW_OAUTH_JWT_KEY_FILE is unset; source the testenv env file}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
if [ "$ttl" -lt 0 ]; then iat=$((now + 2 * ttl)); else iat=$now; fi
header=$(printf '{"alg":"HS256","typ":"JWT","kid":"%s"}' "$kid" | b64url)
claims=$(printf '{"sub":"%s","email":"%s","iat":%d,"exp":%d}' "$user" "$user" "$iat" "$((now + ttl))" | b64url)
sig=$(printf '%s.%s' "$header" "$claims" |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(od -An -v -tx1 "$keyfile" | tr -d ' \n')" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$claims" "$sig"
