#!/usr/bin/env bash
# testenv/check.sh checks that every peer testenv/up.sh started does its job,
# with real traffic: mail through each Postfix listener, Dovecot and Cyrus
# AUTH (right and wrong secrets) arriving in the sink, SOCKS and CONNECT
# through each proxy, a line through each rsyslog input, kinit against the
# KDC. It needs only bash, openssl and the Kerberos tools that up.sh
# installs. It prints one line per check and exits non-zero if any fails.
set -Euo pipefail
exec </dev/null
trap "" PIPE # a peer that hung up is an error to report, not a reason to die

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RUN=${MW_TESTENV_DIR:-$REPO/testenv/run}
[ -s "$RUN/env" ] || {
	echo "check: no $RUN/env; run testenv/up.sh first" >&2
	exit 1
}
set -a
. "$RUN/env"
set +a

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0
ok() { printf 'ok    %s\n' "$*"; }
bad() {
	printf 'FAIL  %s\n' "$*"
	FAILED=$((FAILED + 1))
}
host() { printf %s "${1%:*}"; }
port() { printf %s "${1##*:}"; }
b64() { printf "$1" | base64 -w0; }
marker() { printf 'mw-check-%s-%s-%s' "$1" "$$" "$(date +%s%N)"; }

# ------------------------------------------------------------ SMTP dialogue

# open_smtp MODE ADDR: connects (plain, starttls or tls) and sets fds 5 (to
# the server) and 6 (from it); for plain and tls it reads the greeting.
open_smtp() {
	local mode=$1 addr=$2
	close_smtp
	case $mode in
	plain)
		exec 5<>"/dev/tcp/$(host "$addr")/$(port "$addr")" || return 1
		exec 6<&5
		;;
	starttls | tls)
		rm -f "$TMP/in" "$TMP/out"
		mkfifo "$TMP/in" "$TMP/out"
		local st=()
		[ "$mode" = starttls ] && st=(-starttls smtp)
		openssl s_client -quiet "${st[@]}" -CAfile "$MW_TEST_CA" -verify_return_error \
			-verify_hostname localhost -connect "$addr" <"$TMP/in" >"$TMP/out" 2>"$TMP/ssl.err" &
		SSL_PID=$!
		exec 5>"$TMP/in" 6<"$TMP/out"
		;;
	esac
	[ "$mode" = starttls ] && return 0
	reply 220
}

SSL_PID=
close_smtp() {
	{ printf 'QUIT\r\n' >&5; } 2>/dev/null || true
	exec 5>&- 6<&- 2>/dev/null || true
	if [ -n "$SSL_PID" ]; then
		local i
		for ((i = 0; i < 30; i++)); do
			[ -d "/proc/$SSL_PID" ] || break
			sleep 0.1
		done
		kill "$SSL_PID" 2>/dev/null || true
		wait "$SSL_PID" 2>/dev/null || true
		SSL_PID=
	fi
}

# reply CODE reads one reply; it succeeds when its code is CODE. The last
# line is left in LAST.
LAST=
ALL=
reply() {
	local line
	ALL=
	while IFS= read -r -t 15 line <&6; do
		line=${line%$'\r'}
		LAST=$line
		ALL+="$line"$'\n'
		[ "${line:3:1}" = - ] && continue
		[ "${line:0:3}" = "$1" ] && return 0
		return 1
	done
	LAST="(no reply)"
	return 1
}

# cmd LINE CODE sends LINE and expects CODE.
cmd() {
	printf '%s\r\n' "$1" >&5 && reply "$2"
}

# send_msg FROM RCPT MARKER sends a small message carrying MARKER.
send_msg() {
	cmd "MAIL FROM:<$1>" 250 && cmd "RCPT TO:<$2>" 250 && cmd DATA 354 &&
		printf 'From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@mailwarden.test>\r\n\r\n..dot-stuffed line\r\nbody %s\r\n.\r\n' \
			"$1" "$2" "$3" "$3" "$3" >&5 && reply 250
}

# arrived MARKER waits for a sink file holding exactly the message send_msg
# wrote (as the client meant it: dot-unstuffed, CRLF).
arrived() {
	local i f
	local want
	want=$(printf 'From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@mailwarden.test>\r\n\r\n.dot-stuffed line\r\nbody %s\r\n' \
		"$2" "$3" "$1" "$1" "$1" | od -An -tx1 | tr -d ' \n')
	for ((i = 0; i < 100; i++)); do
		f=$(grep -l -F "$1" "$MW_POSTFIX_MAILDIR"/* 2>/dev/null | head -n1 || true)
		if [ -n "$f" ]; then
			[ "$(od -An -tx1 "$f" | tr -d ' \n')" = "$want" ] && return 0
			LAST="$f differs from what was sent"
			return 1
		fi
		sleep 0.1
	done
	LAST="no file with $1 in $MW_POSTFIX_MAILDIR"
	return 1
}

# ----------------------------------------------------------------- postfix

for l in plain:MW_POSTFIX_PLAIN starttls:MW_POSTFIX_STARTTLS tls:MW_POSTFIX_TLS; do
	mode=${l%%:*} var=${l#*:} m=$(marker "${mode}")
	if open_smtp "$mode" "${!var}" && cmd "EHLO check" 250 && send_msg a@example.org b@example.com "$m" &&
		cmd QUIT 221 && arrived "$m" a@example.org b@example.com; then
		ok "postfix $mode ${!var}: message arrived byte for byte"
	else
		bad "postfix $mode ${!var}: $LAST"
	fi
	close_smtp
done

# ----------------------------------------------------- dovecot and cyrus

plain_ir() { b64 "\\0$1\\0$2"; }
for s in dovecot-starttls:MW_DOVECOT_SUBMISSION dovecot-tls:MW_DOVECOT_SUBMISSIONS cyrus-starttls:MW_CYRUS_SUBMISSION; do
	name=${s%%:*} var=${s#*:} mode=${name#*-}
	m=$(marker "$name")
	if open_smtp "$mode" "${!var}" && cmd "EHLO check" 250 &&
		cmd "AUTH PLAIN $(plain_ir "$MW_SASL_USER" "$MW_SASL_PASSWORD")" 235 &&
		send_msg "$MW_SASL_USER@mailwarden.test" c@example.net "$m" && cmd QUIT 221 &&
		arrived "$m" "$MW_SASL_USER@mailwarden.test" c@example.net; then
		ok "$name ${!var}: AUTH PLAIN 235, relayed message arrived"
	else
		bad "$name ${!var}: $LAST"
	fi
	close_smtp
	if open_smtp "$mode" "${!var}" && cmd "EHLO check" 250 &&
		cmd "AUTH PLAIN $(plain_ir "$MW_SASL_USER" wrong-password)" 535; then
		ok "$name: wrong password: $LAST"
	else
		bad "$name: wrong password not refused with 535: $LAST"
	fi
	close_smtp
done

xoauth2() { b64 "user=$1\\001auth=Bearer $2\\001\\001"; }
tok=$(bash "$REPO/testenv/mint-jwt.sh")
if open_smtp tls "$MW_DOVECOT_SUBMISSIONS" && cmd "EHLO check" 250 &&
	cmd "AUTH XOAUTH2 $(xoauth2 "$MW_OAUTH_USER" "$tok")" 235; then
	ok "dovecot XOAUTH2 with a minted JWT: 235"
else
	bad "dovecot XOAUTH2: $LAST"
fi
close_smtp
tok=$(bash "$REPO/testenv/mint-jwt.sh" "$MW_OAUTH_USER" -60)
if open_smtp tls "$MW_DOVECOT_SUBMISSIONS" && cmd "EHLO check" 250 &&
	cmd "AUTH XOAUTH2 $(xoauth2 "$MW_OAUTH_USER" "$tok")" 334 && cmd "" 535; then
	ok "dovecot XOAUTH2 with an expired JWT: 334 then 535"
else
	bad "dovecot XOAUTH2 expired token: $LAST"
fi
close_smtp

if open_smtp starttls "$MW_CYRUS_SUBMISSION" && cmd "EHLO check" 250 &&
	printf '%s' "$ALL" | grep -q '^250-AUTH .*\bNTLM\b' && printf '%s' "$ALL" | grep -q '^250-AUTH .*\bGSSAPI\b'; then
	ok "cyrus offers NTLM and GSSAPI after STARTTLS"
else
	bad "cyrus: NTLM or GSSAPI not offered: $LAST"
fi
close_smtp
if open_smtp starttls "$MW_CYRUS_NTLM_SUBMISSION" && cmd "EHLO check" 250 &&
	printf '%s' "$ALL" | grep -q '^250-AUTH NTLM\s*$'; then
	ok "cyrus-ntlm $MW_CYRUS_NTLM_SUBMISSION offers NTLM alone after STARTTLS"
else
	bad "cyrus-ntlm: not NTLM alone: $(printf '%s' "$ALL" | grep AUTH) $LAST"
fi
close_smtp

# ---------------------------------------------------------------- kerberos

export KRB5_CONFIG=$MW_KRB5_CONF KRB5CCNAME=FILE:$TMP/ccache
if printf '%s\n' "$MW_KRB5_USER_PASSWORD" | kinit "$MW_KRB5_USER_PRINCIPAL" >"$TMP/kinit.out" 2>&1 &&
	kvno "smtp/$MW_KRB5_SPN_HOST" >>"$TMP/kinit.out" 2>&1; then
	ok "kdc: kinit with password, ticket for smtp/$MW_KRB5_SPN_HOST"
else
	bad "kdc: kinit with password: $(tail -n1 "$TMP/kinit.out")"
fi
if kinit -kt "$MW_KRB5_USER_KEYTAB" "$MW_KRB5_USER_PRINCIPAL" >"$TMP/kinit.out" 2>&1; then
	ok "kdc: kinit with the user keytab"
else
	bad "kdc: kinit with keytab: $(tail -n1 "$TMP/kinit.out")"
fi
if printf 'wrong\n' | kinit "$MW_KRB5_USER_PRINCIPAL" >"$TMP/kinit.out" 2>&1; then
	bad "kdc: a wrong password was accepted"
else
	ok "kdc: wrong password refused"
fi
# Wine runs the Windows build and its SSPI Kerberos package authenticates
# to Dovecot with the ticket of a credential cache.
if kinit -kt "$MW_KRB5_USER_KEYTAB" "$MW_KRB5_USER_PRINCIPAL" >"$TMP/kinit.out" 2>&1 &&
	out=$(WINEPREFIX=$MW_WINEPREFIX WINEDEBUG=-all timeout 120 "$MW_WINE" "$MW_SMTPCHECK_EXE" probe \
		--server "$MW_KRB5_SPN_HOST:${MW_DOVECOT_SUBMISSION##*:}-starttls" --ca "$MW_TEST_CA" --auth system 2>&1) &&
	[[ $out == *"authenticated with GSSAPI as"*"SSPI Kerberos"* ]]; then
	ok "wine: smtpcheck.exe --auth system (SSPI Kerberos) to dovecot"
else
	bad "wine: smtpcheck.exe --auth system failed: $(printf '%s' "${out:-}" | tail -n2)"
fi
# The same ticket to Cyrus's GSSAPI (Postfix, Cyrus SASL's gssapi plugin).
if out=$(WINEPREFIX=$MW_WINEPREFIX WINEDEBUG=-all timeout 120 "$MW_WINE" "$MW_SMTPCHECK_EXE" probe \
	--server "$MW_KRB5_SPN_HOST:${MW_CYRUS_SUBMISSION##*:}-starttls" --ca "$MW_TEST_CA" --auth system 2>&1) &&
	[[ $out == *"authenticated with GSSAPI as"*"SSPI Kerberos"* ]]; then
	ok "wine: smtpcheck.exe --auth system (SSPI Kerberos) to cyrus GSSAPI"
else
	bad "wine: smtpcheck.exe --auth system to cyrus failed: $(printf '%s' "${out:-}" | tail -n2)"
fi
# SSPI's NTLM package with explicit credentials: Wine runs ntlm_auth (the
# wrapper in MW_WINE_NTLM_PATH) with the user and password.
if out=$(PATH=$MW_WINE_NTLM_PATH:$PATH MAILWARDEN_PASSWORD=$MW_SASL_PASSWORD WINEPREFIX=$MW_WINEPREFIX WINEDEBUG=-all \
	timeout 120 "$MW_WINE" "$MW_SMTPCHECK_EXE" probe --server "$MW_KRB5_SPN_HOST:${MW_CYRUS_SUBMISSION##*:}-starttls" \
	--ca "$MW_TEST_CA" --auth ntlm --auth-provider sspi --user "$MW_SASL_DOMAIN\\$MW_SASL_USER" 2>&1) &&
	[[ $out == *"authenticated with NTLM as"*"SSPI NTLM, explicit credentials"* ]]; then
	ok "wine: smtpcheck.exe --auth ntlm --auth-provider sspi (ntlm_auth) to cyrus"
else
	bad "wine: smtpcheck.exe SSPI NTLM to cyrus failed: $(printf '%s' "${out:-}" | tail -n2)"
fi
kdestroy >/dev/null 2>&1 || true

# ----------------------------------------------------------------- proxies

hexport() { printf '\\x%02x\\x%02x' $(($1 >> 8)) $(($1 & 255)); }
readhex() { head -c "$1" <&6 | od -An -tx1 | tr -d ' \n'; }
PF=$(port "$MW_POSTFIX_PLAIN")

# proxied NAME: after a proxy handshake on fds 5/6, expects Postfix's 220.
proxied() {
	if reply 220; then ok "$1: reached Postfix"; else bad "$1: $LAST"; fi
	close_smtp
}
socks5() { # ADDR [USER PASS]
	exec 5<>"/dev/tcp/$(host "$1")/$(port "$1")" && exec 6<&5 || return 1
	if [ $# -eq 3 ]; then
		printf '\x05\x01\x02' >&5
		[ "$(readhex 2)" = 0502 ] || return 1
		printf "\\x01\\x$(printf %02x ${#2})%s\\x$(printf %02x ${#3})%s" "$2" "$3" >&5
		[ "$(readhex 2)" = 0100 ] || return 1
	else
		printf '\x05\x01\x00' >&5
		[ "$(readhex 2)" = 0500 ] || return 1
	fi
	printf "\\x05\\x01\\x00\\x01\\x7f\\x00\\x00\\x01$(hexport "$PF")" >&5
	[ "$(readhex 10 | cut -c1-4)" = 0500 ]
}
socks4() { # ADDR [HOSTNAME]: SOCKS4, or SOCKS4a with HOSTNAME
	exec 5<>"/dev/tcp/$(host "$1")/$(port "$1")" && exec 6<&5 || return 1
	if [ $# -eq 2 ]; then
		printf "\\x04\\x01$(hexport "$PF")\\x00\\x00\\x00\\x01\\x00%s\\x00" "$2" >&5
	else
		printf "\\x04\\x01$(hexport "$PF")\\x7f\\x00\\x00\\x01\\x00" >&5
	fi
	[ "$(readhex 8 | cut -c1-4)" = 005a ]
}
connect() { # ADDR [USER PASS]
	exec 5<>"/dev/tcp/$(host "$1")/$(port "$1")" && exec 6<&5 || return 1
	local auth=
	[ $# -eq 3 ] && auth="Proxy-Authorization: Basic $(b64 "$2:$3")"$'\r\n'
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n%s\r\n' "$PF" "$PF" "$auth" >&5
	local status line
	IFS= read -r -t 10 status <&6 || return 1
	while IFS= read -r -t 10 line <&6 && [ "${line%$'\r'}" != "" ]; do :; done
	LAST=${status%$'\r'}
	[ "${status:9:3}" = 200 ]
}

LAST="handshake failed"
socks5 "$MW_SOCKS5" && proxied "dante socks5 $MW_SOCKS5" || bad "dante socks5: $LAST"
LAST="handshake failed"
socks4 "$MW_SOCKS5" && proxied "dante socks4 $MW_SOCKS5" || bad "dante socks4: $LAST"
LAST="handshake failed"
socks5 "$MW_SOCKS5_AUTH" "$MW_PROXY_USER" "$MW_PROXY_PASSWORD" && proxied "dante socks5 user/password $MW_SOCKS5_AUTH" || bad "dante socks5 user/password: $LAST"
close_smtp
if socks5 "$MW_SOCKS5_AUTH" "$MW_PROXY_USER" wrong-password; then bad "dante: wrong proxy password accepted"; else ok "dante: wrong proxy password refused"; fi
close_smtp
LAST="handshake failed"
socks5 "$MW_SSH_SOCKS" && proxied "ssh -D socks5 $MW_SSH_SOCKS" || bad "ssh -D socks5: $LAST"
LAST="handshake failed"
socks4 "$MW_SSH_SOCKS" localhost && proxied "ssh -D socks4a $MW_SSH_SOCKS" || bad "ssh -D socks4a: $LAST"
LAST="CONNECT failed"
connect "$MW_HTTP_PROXY" && proxied "squid CONNECT $MW_HTTP_PROXY" || bad "squid CONNECT: $LAST"
LAST="CONNECT failed"
connect "$MW_HTTP_PROXY_AUTH" "$MW_PROXY_USER" "$MW_PROXY_PASSWORD" && proxied "squid CONNECT Basic $MW_HTTP_PROXY_AUTH" || bad "squid CONNECT Basic: $LAST"
close_smtp
if connect "$MW_HTTP_PROXY_AUTH" "$MW_PROXY_USER" wrong-password || [ "${LAST:9:3}" != 407 ]; then bad "squid: wrong password not refused with 407: $LAST"; else ok "squid: wrong password: $LAST"; fi
close_smtp

# ----------------------------------------------------------------- rsyslog

syslog_line() { printf '<134>1 %s mailwarden-check check %s - - %s' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$$" "$1"; }
logged() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q -F "$1" "$MW_SYSLOG_FILE" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
m=$(marker udp)
syslog_line "$m" >"/dev/udp/$(host "$MW_SYSLOG_UDP")/$(port "$MW_SYSLOG_UDP")"
logged "$m" && ok "rsyslog udp $MW_SYSLOG_UDP" || bad "rsyslog udp: $m not in $MW_SYSLOG_FILE"
m=$(marker tcp)
l=$(syslog_line "$m")
{ printf '%d %s' ${#l} "$l" >"/dev/tcp/$(host "$MW_SYSLOG_TCP")/$(port "$MW_SYSLOG_TCP")"; } 2>/dev/null
logged "$m" && ok "rsyslog tcp $MW_SYSLOG_TCP" || bad "rsyslog tcp: $m not in $MW_SYSLOG_FILE"
m=$(marker tls)
l=$(syslog_line "$m")
(printf '%d %s' ${#l} "$l"; sleep 1) | openssl s_client -quiet -CAfile "$MW_TEST_CA" -verify_return_error \
	-verify_hostname localhost -connect "$MW_SYSLOG_TLS" >/dev/null 2>"$TMP/tls.err" &
tlspid=$!
if logged "$m"; then ok "rsyslog tls $MW_SYSLOG_TLS"; else bad "rsyslog tls: $m not in $MW_SYSLOG_FILE: $(tail -n1 "$TMP/tls.err")"; fi
kill "$tlspid" 2>/dev/null || true
wait "$tlspid" 2>/dev/null || true
m=$(marker unix)
logger -u "$MW_SYSLOG_UNIX" --rfc5424 -t mailwarden-check "$m" 2>/dev/null || true
logged "$m" && ok "rsyslog unix $MW_SYSLOG_UNIX" || bad "rsyslog unix: $m not in $MW_SYSLOG_FILE"

# RELP: open a session, send one syslog command, expect "2 rsp 6 200 OK"
# (the per-record acknowledgement) and the record in MW_SYSLOG_RELP_FILE.
# Over TLS imrelp wants a client certificate of the test CA.
relp_frames() {
	local offers msg
	offers=$(printf 'relp_version=0\nrelp_software=mailwarden-check\ncommands=syslog')
	msg=$(syslog_line "$1")
	printf '1 open %d %s\n' ${#offers} "$offers"
	sleep 0.5
	printf '2 syslog %d %s\n' ${#msg} "$msg"
	sleep 1
	printf '3 close 0\n'
	sleep 0.3
}
relp_logged() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q -F "$1" "$MW_SYSLOG_RELP_FILE" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
m=$(marker relp)
out=$(relp_frames "$m" | timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2"; cat <&0 >&3 & timeout 3 cat <&3' _ "$(host "$MW_SYSLOG_RELP")" "$(port "$MW_SYSLOG_RELP")" 2>/dev/null || true)
if [[ $out == *"2 rsp 6 200 OK"* ]] && relp_logged "$m"; then ok "rsyslog relp $MW_SYSLOG_RELP (acknowledged)"; else bad "rsyslog relp: no ack or $m not in $MW_SYSLOG_RELP_FILE: ${out:0:200}"; fi
m=$(marker relps)
out=$(relp_frames "$m" | timeout 10 openssl s_client -quiet -CAfile "$MW_TEST_CA" -verify_return_error -verify_hostname localhost \
	-cert "$(dirname "$MW_TEST_CA")/client.pem" -key "$(dirname "$MW_TEST_CA")/client.key" -connect "$MW_SYSLOG_RELPS" 2>"$TMP/relps.err" || true)
if [[ $out == *"2 rsp 6 200 OK"* ]] && relp_logged "$m"; then ok "rsyslog relp+tls $MW_SYSLOG_RELPS (acknowledged)"; else bad "rsyslog relp+tls: no ack or $m not in $MW_SYSLOG_RELP_FILE: ${out:0:200} $(tail -n1 "$TMP/relps.err")"; fi

# ---------------------------------------------------------------- softhsm

# Each key on the SoftHSM token signs a digest through pkcs11-tool, and
# openssl verifies the signature with the certificate read back from the
# token; a wrong PIN is refused.
printf 'mailwarden softhsm check %s' "$$" >"$TMP/p11.in"
p11() { pkcs11-tool --module "$MW_PKCS11_MODULE" --token-label "$MW_PKCS11_TOKEN" "$@"; }
# SoftHSM has raw ECDSA only: the digest is computed here, as the library does.
openssl dgst -sha256 -binary "$TMP/p11.in" >"$TMP/p11.sha256"
for spec in 01:RSA-SHA256 02:ECDSA 03:ECDSA; do
	id=${spec%%:*} mech=${spec#*:}
	in=$TMP/p11.in extra=()
	[ "$mech" = ECDSA ] && in=$TMP/p11.sha256 extra=(--signature-format openssl)
	if p11 --read-object --type cert --id "$id" -o "$TMP/p11-$id.der" >/dev/null 2>&1 &&
		p11 --login --pin "$(cat "$MW_PKCS11_PIN_FILE")" --sign --id "$id" -m "$mech" "${extra[@]}" \
			-i "$in" -o "$TMP/p11-$id.sig" >/dev/null 2>&1 &&
		openssl x509 -inform DER -in "$TMP/p11-$id.der" -pubkey -noout >"$TMP/p11-$id.pub" &&
		openssl dgst -sha256 -verify "$TMP/p11-$id.pub" -signature "$TMP/p11-$id.sig" "$TMP/p11.in" >/dev/null 2>&1; then
		ok "softhsm token $MW_PKCS11_TOKEN key $id signs ($mech)"
	else
		bad "softhsm token $MW_PKCS11_TOKEN key $id: sign and verify failed (SOFTHSM2_CONF=$SOFTHSM2_CONF)"
	fi
done
if p11 --login --pin wrong-pin --list-objects >/dev/null 2>&1; then
	bad "softhsm accepted a wrong PIN"
else
	ok "softhsm refuses a wrong PIN"
fi

# -------------------------------------------------------------- postgresql

# A query over TLS (verify-full against the test CA) with the test role.
if out=$(PGCONNECT_TIMEOUT=10 psql "$MW_POSTGRES_URL" -X -A -t -c 'select 1' 2>&1) && [ "$out" = 1 ]; then
	ok "postgresql ${MW_POSTGRES_URL##*@}"
else
	bad "postgresql: select 1 failed: $out"
fi

# ------------------------------------------------------- browser and PDF

# Headless Chromium renders a page (no network: the page is a data: URL) and
# pdftoppm reads a PDF it printed.
m=$(marker chromium)
if out=$(timeout 90 "$MW_CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--user-data-dir="$TMP/chromium" --dump-dom "data:text/html,<p>$m</p>" 2>/dev/null) && [[ $out == *"$m"* ]]; then
	ok "chromium $MW_CHROMIUM"
else
	bad "chromium $MW_CHROMIUM: --dump-dom did not show the page"
fi
if timeout 90 "$MW_CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--user-data-dir="$TMP/chromium" --print-to-pdf="$TMP/check.pdf" "data:text/html,<p>$m</p>" >/dev/null 2>&1 &&
	"$MW_PDFTOPPM" -r 20 -png -f 1 -l 1 "$TMP/check.pdf" "$TMP/page" && compgen -G "$TMP/page*.png" >/dev/null; then
	ok "print to PDF and pdftoppm $MW_PDFTOPPM"
else
	bad "chromium --print-to-pdf or pdftoppm failed"
fi

if [ "$FAILED" -gt 0 ]; then
	echo "check: $FAILED check(s) failed" >&2
	exit 1
fi
echo "check: all peers work"
