#!/usr/bin/env bash
# testenv/up.sh starts Mailwarden's real test peers on 127.0.0.1 only and
# writes their addresses to $MW_TESTENV_DIR/env (default testenv/run/env) as
# "export MW_...=..." lines. See testenv/README.md.
#
# It is idempotent: a peer that is already running (its recorded pid is alive)
# is kept with its ports; a peer that is not running gets fresh free ports, a
# fresh configuration and is started. It needs root (it installs Debian
# packages, creates test accounts and starts daemons) and reads no stdin.
set -Eeuo pipefail
exec </dev/null
umask 022 # the daemons' unprivileged users read what is written here

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RUN=${MW_TESTENV_DIR:-$REPO/testenv/run}
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd -P)
CERTS=$REPO/testdata/certs
WAIT=${MW_TESTENV_WAIT:-30} # seconds to wait for each daemon to answer

# Test-only secrets (documented in testenv/README.md). Never use them elsewhere.
SASL_USER=mwuser
SASL_PASSWORD='mw-sasl-test-password'
SASL_DOMAIN=MAILWARDEN.TEST
PROXY_USER=mwproxy
PROXY_PASSWORD='mw-proxy-test-password'
KRB5_REALM=MAILWARDEN.TEST
KRB5_USER=mwuser
KRB5_PASSWORD='mw-krb5-test-password'
KRB5_SPN_HOST=localhost
OAUTH_USER=mwuser@mailwarden.test
PKCS11_TOKEN=mailwarden
PKCS11_PIN='mw-pkcs11-test-pin'
PKCS11_SO_PIN='mw-pkcs11-test-so-pin'
PG_USER=mwuser
PG_PASSWORD='mw-pg-test-password'
PG_DB=mailwarden

PACKAGES=(
	postfix openssl ca-certificates iproute2
	dante-server openssh-server openssh-client squid
	rsyslog rsyslog-gnutls rsyslog-relp
	krb5-kdc krb5-admin-server krb5-user
	dovecot-core dovecot-submissiond dovecot-gssapi
	libsasl2-modules libsasl2-modules-gssapi-mit sasl2-bin
	chromium python3 poppler-utils fonts-dejavu-core
	softhsm2 opensc gnutls-bin gpgsm
	postgresql
	wine64 gcc-mingw-w64-x86-64-win32 winbind
)

T0=${EPOCHREALTIME/[.,]/}
log() {
	local t=${EPOCHREALTIME/[.,]/}
	printf 'testenv: [%d.%01ds] %s\n' $(((t - T0) / 1000000)) $(((t - T0) / 100000 % 10)) "$*" >&2
}
die() {
	log "error: $*"
	exit 1
}

# showlog prints the last lines of each named log file to stderr.
showlog() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		printf -- '----- %s -----\n' "$f" >&2
		tail -n 60 "$f" >&2 || true
	done
}

# ---------------------------------------------------------------- packages

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "packages missing (${missing[*]}) and not root"
	log "installing ${missing[*]}"
	local made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# Debian's maintainer scripts would start each daemon on all
		# addresses; exit 101 tells invoke-rc.d not to start anything.
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	printf '%s\n' \
		"postfix postfix/main_mailer_type select No configuration" \
		"postfix postfix/mailname string mailwarden.test" \
		"krb5-config krb5-config/default_realm string $KRB5_REALM" \
		"krb5-config krb5-config/add_servers_realm string $KRB5_REALM" \
		"krb5-config krb5-config/kerberos_servers string localhost" \
		"krb5-config krb5-config/admin_server string localhost" \
		"krb5-admin-server krb5-admin-server/newrealm note" \
		| debconf-set-selections
	local apt=(apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
		--no-install-recommends install "${missing[@]}")
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || ! "${apt[@]}"; then
		apt-get -q update
		"${apt[@]}"
	fi
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

# ------------------------------------------------------------- utilities

FREEPORT=$RUN/bin/freeport
FRESH_POSTFIX= # set when this run (re)started Postfix
FRESH_KRB5=    # set when this run (re)created the KDC

build_freeport() {
	if [ ! -x "$FREEPORT" ] || [ "$REPO/internal/cmd/freeport/main.go" -nt "$FREEPORT" ]; then
		local go
		go=$(command -v go || echo /usr/local/go/bin/go)
		(cd "$REPO" && "$go" build -o "$FREEPORT" ./internal/cmd/freeport) ||
			die "cannot build internal/cmd/freeport (is Go installed?)"
	fi
}

# ports VAR... assigns a distinct free loopback port (TCP and UDP) to each VAR.
ports() {
	local list i=0
	mapfile -t list < <("$FREEPORT" "$#") || die "freeport failed"
	[ ${#list[@]} -eq $# ] || die "freeport printed ${#list[@]} ports, want $#"
	for v in "$@"; do
		printf -v "$v" '%s' "${list[$i]}"
		i=$((i + 1))
	done
}

# record NAME PID [EXE] notes PID as the daemon NAME started by this script,
# with the executable it runs (EXE, or what /proc says now), so that alive
# and down.sh never mistake a recycled pid for the daemon.
record() {
	mkdir -p "$RUN/pids"
	printf '%s %s\n' "$2" "${3:-$(readlink "/proc/$2/exe")}" >"$RUN/pids/$1"
}

# spawn NAME LOG CMD ARGS... starts CMD in the background with its output in
# LOG and records it; CMD must stay in the foreground (not daemonize).
spawn() {
	local name=$1 out=$2 exe
	shift 2
	exe=$(readlink -f "$(command -v "$1")") || die "$1 not found"
	"$@" >"$out" 2>&1 &
	record "$name" $! "$exe"
}

# alive NAME succeeds when the recorded daemon NAME still runs.
alive() {
	local f=$RUN/pids/$1 pid exe
	[ -s "$f" ] || return 1
	read -r pid exe <"$f"
	[ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]
}

# exists NAME succeeds while the recorded pid of NAME is a live process (it
# may not have exec'd its daemon yet).
exists() {
	local pid _
	[ -s "$RUN/pids/$1" ] && read -r pid _ <"$RUN/pids/$1" && [ -d "/proc/$pid" ]
}

# stop NAME stops the recorded daemon NAME (by its recorded pid only).
stop() {
	local f=$RUN/pids/$1 pid exe now i
	if exists "$1"; then
		read -r pid exe <"$f"
		now=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
		# The recorded daemon, or our own fork that has not exec'd yet.
		if [ "$now" = "$exe" ] || [ "$now" = "$(readlink /proc/$$/exe)" ]; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				[ -d "/proc/$pid" ] || break
				sleep 0.1
			done
			[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$now" ] && kill -KILL "$pid" 2>/dev/null
		fi
	fi
	rm -f "$f"
}

# abort NAME MSG LOG...: prints the logs, stops daemon NAME, exits non-zero.
abort() {
	local name=$1 msg=$2
	shift 2
	showlog "$@"
	stop "$name"
	die "$msg"
}

# pid_from_file FILE prints the pid in FILE (first field), waiting up to $WAIT s.
pid_from_file() {
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		if [ -s "$1" ]; then
			awk 'NR==1{print $1}' "$1"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# wait_up NAME PORT [EXPECT]: waits until 127.0.0.1:PORT accepts a connection
# and, when EXPECT is given, its first line starts with EXPECT; fails early
# when the recorded daemon NAME has exited.
wait_up() {
	local name=$1 port=$2 expect=${3:-} i line
	for ((i = 0; i < WAIT * 10; i++)); do
		if [ -z "$expect" ]; then
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				return 0
			fi
		else
			line=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 2 l <&3 && printf %s "$l"' _ "$port" 2>/dev/null || true)
			case $line in "$expect"*) return 0 ;; esac
		fi
		exists "$name" || return 1
		sleep 0.1
	done
	return 1
}

# envfile NAME writes stdin as the env fragment of peer NAME.
envfile() {
	mkdir -p "$RUN/$1"
	cat >"$RUN/$1/env.part"
}

# ---------------------------------------------------------------- postfix

# Postfix: one private instance (postfix -c), three smtpd listeners (plain,
# STARTTLS, implicit TLS) and the Cyrus SASL submission listener. Every
# message it accepts is handed to deliver-sink.sh (deliver-bulk.sh for
# @bulk.mailwarden.test), which writes it to one file.
up_postfix() {
	local d=$RUN/postfix
	if alive postfix; then
		log "postfix already running"
		return 0
	fi
	local P_PLAIN P_STARTTLS P_TLS P_CYRUS
	ports P_PLAIN P_STARTTLS P_TLS P_CYRUS
	FRESH_POSTFIX=1
	rm -rf "$d"
	mkdir -p "$d/etc/sasl" "$d/queue" "$d/data" "$d/sink" "$d/bulk" "$d/envelope" "$d/tmp"
	chmod 755 "$d" "$d/etc"
	chown nobody:nogroup "$d/sink" "$d/bulk" "$d/envelope" "$d/tmp"
	chown postfix:postfix "$d/data"

	# deliver-*.sh run as nobody from pipe(8): $1 queue id, $2 sender,
	# $3... recipients. Postfix hands it the message with LF line ends;
	# SMTP carried CRLF, so it writes CRLF back: the file then holds the
	# bytes the client sent after DATA (dot-unstuffed, without the final
	# ".").
	# deliver-sink.sh writes to sink/, deliver-bulk.sh to bulk/: the bulk
	# transport (recipients @bulk.mailwarden.test) takes the high-volume
	# tests' thousands of messages on a queue and a directory of their own,
	# so that the other tests' messages do not wait behind them nor their
	# lookups read through them.
	local box
	for box in sink bulk; do
		cat >"$d/deliver-$box.sh" <<EOF
#!/bin/sh
set -e
umask 022
export LC_ALL=C
name=\$(date +%s%N).\$1
sed 's/\$/\r/' >"$d/tmp/\$name"
shift
printf '%s\n' "\$@" >"$d/envelope/\$name"
mv "$d/tmp/\$name" "$d/$box/\$name"
EOF
		chmod 755 "$d/deliver-$box.sh"
	done

	# The Received: headers that this instance and the test Dovecot add are
	# dropped, so that the file equals what the client sent; other headers
	# (including Received: headers the client sent) stay.
	printf '%s\n' \
		'/^Received: from .*[[:space:]]by sink\.mailwarden\.test \(Postfix\)/ IGNORE' \
		"/^Received: from .*[[:space:]]by ${KRB5_SPN_HOST//./\\.} \\(Postfix\\) with ESMTPSA id / IGNORE" \
		'/^Received: from .*[[:space:]]by submission\.mailwarden\.test with / IGNORE' \
		>"$d/etc/header_checks"

	# Recipients that get a refusal on cue, for tests of what a client does
	# with a real MTA's temporary and permanent answers.
	printf '%s\n' \
		'/^defer-[^@]*@/ 451 4.3.0 Temporarily unable to accept this recipient (testenv defer-*)' \
		'/^reject-[^@]*@/ 550 5.1.1 No such user here (testenv reject-*)' \
		>"$d/etc/rcpt_access"

	cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = sink.mailwarden.test
mydomain = mailwarden.test
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
smtpd_recipient_restrictions = check_recipient_access regexp:$d/etc/rcpt_access
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
local_header_rewrite_clients =
header_checks = regexp:$d/etc/header_checks
disable_mime_output_conversion = yes
smtputf8_enable = yes
message_size_limit = 52428800
default_transport = sink:sink
transport_maps = inline:{ bulk.mailwarden.test=bulk:bulk }
sink_destination_recipient_limit = 1000
sink_destination_concurrency_limit = 4
bulk_destination_recipient_limit = 1000
bulk_destination_concurrency_limit = 4
smtpd_tls_cert_file = $CERTS/server.pem
smtpd_tls_key_file = $CERTS/server.key
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $d/etc/sasl
smtpd_sasl_local_domain = $SASL_DOMAIN
EOF

	cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$P_PLAIN inet n - n - - smtpd
127.0.0.1:$P_STARTTLS inet n - n - - smtpd
  -o smtpd_tls_security_level=may
127.0.0.1:$P_TLS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
sink      unix  -       n       n       -       -       pipe
  user=nobody null_sender= argv=$d/deliver-sink.sh \${queue_id} \${sender} \${recipient}
bulk      unix  -       n       n       -       -       pipe
  user=nobody null_sender= argv=$d/deliver-bulk.sh \${queue_id} \${sender} \${recipient}
EOF
	envfile postfix <<EOF
export MW_POSTFIX_PLAIN=127.0.0.1:$P_PLAIN
export MW_POSTFIX_STARTTLS=127.0.0.1:$P_STARTTLS
export MW_POSTFIX_TLS=127.0.0.1:$P_TLS
export MW_POSTFIX_MAILDIR=$d/sink
export MW_POSTFIX_BULK_MAILDIR=$d/bulk
EOF
	printf '%s\n' "P_CYRUS=$P_CYRUS" "P_PLAIN=$P_PLAIN" >"$d/ports"
	postfix -c "$d/etc" check >"$d/check.log" 2>&1 || {
		showlog "$d/check.log"
		die "postfix check failed"
	}
	postfix -c "$d/etc" start >"$d/start.log" 2>&1 || {
		showlog "$d/start.log" "$d/maillog"
		die "postfix did not start"
	}
	local pid
	pid=$(pid_from_file "$d/queue/pid/master.pid") || {
		showlog "$d/start.log" "$d/maillog"
		die "postfix wrote no pid file"
	}
	record postfix "$pid"
	local p
	for p in "$P_PLAIN" "$P_STARTTLS"; do
		wait_up postfix "$p" 220 || abort postfix "postfix does not answer on 127.0.0.1:$p" "$d/maillog"
	done
	wait_up postfix "$P_TLS" || abort postfix "postfix does not answer on 127.0.0.1:$P_TLS" "$d/maillog"
	log "postfix up: plain $P_PLAIN starttls $P_STARTTLS tls $P_TLS"
}


# ---------------------------------------------------------------- proxies

# ensure_user NAME PASSWORD creates a system account (no shell, no home) with
# the given test password. Dante's "username" method checks system accounts.
ensure_user() {
	if ! id "$1" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$1"
	fi
	printf '%s:%s\n' "$1" "$2" | chpasswd
}

# Dante: two instances, so that each port has exactly one method: SOCKS4 and
# SOCKS5 without authentication, and SOCKS5 with username/password.
up_dante() {
	local d=$RUN/dante
	if alive dante && alive dante-auth; then
		log "dante already running"
		return 0
	fi
	stop dante
	stop dante-auth
	ensure_user "$PROXY_USER" "$PROXY_PASSWORD"
	local P_SOCKS P_SOCKS_AUTH
	ports P_SOCKS P_SOCKS_AUTH
	rm -rf "$d"
	mkdir -p "$d"
	local name port method
	for name in dante dante-auth; do
		if [ "$name" = dante ]; then port=$P_SOCKS method=none; else port=$P_SOCKS_AUTH method=username; fi
		cat >"$d/$name.conf" <<-EOF
			logoutput: $d/$name.log
			internal: 127.0.0.1 port = $port
			external: 127.0.0.1
			clientmethod: none
			socksmethod: $method
			user.privileged: root
			user.unprivileged: nobody
			client pass {
				from: 127.0.0.1/32 to: 127.0.0.1/32
				log: error
			}
			client block {
				from: 0.0.0.0/0 to: 0.0.0.0/0
				log: connect error
			}
			socks pass {
				from: 127.0.0.1/32 to: 127.0.0.1/32
				command: connect
				log: connect disconnect error
			}
			socks block {
				from: 0.0.0.0/0 to: 0.0.0.0/0
				log: connect error
			}
		EOF
		spawn "$name" "$d/$name.out" danted -f "$d/$name.conf" -p "$d/$name.pid" -N 1
	done
	for name in dante dante-auth; do
		if [ "$name" = dante ]; then port=$P_SOCKS; else port=$P_SOCKS_AUTH; fi
		wait_up "$name" "$port" || {
			stop dante
			abort dante-auth "danted ($name) does not answer on 127.0.0.1:$port" "$d/$name.out" "$d/$name.log"
		}
	done
	envfile dante <<-EOF
		export MW_SOCKS5=127.0.0.1:$P_SOCKS
		export MW_SOCKS5_AUTH=127.0.0.1:$P_SOCKS_AUTH
		export MW_PROXY_USER=$PROXY_USER
		export MW_PROXY_PASSWORD=$PROXY_PASSWORD
	EOF
	log "dante up: socks $P_SOCKS socks-auth $P_SOCKS_AUTH"
}

# OpenSSH dynamic forwarding (SOCKS4, 4a and 5): a loopback sshd that only
# accepts a key generated here and only forwards to loopback, and
# "ssh -N -D" to it, checking the sshd's generated host key.
up_sshsocks() {
	local d=$RUN/ssh
	if alive sshd && alive ssh-socks; then
		log "ssh -D already running"
		return 0
	fi
	stop ssh-socks
	stop sshd
	local P_SSHD P_SOCKS
	ports P_SSHD P_SOCKS
	rm -rf "$d"
	mkdir -p "$d" /run/sshd
	chmod 700 "$d"
	ssh-keygen -q -t ed25519 -N '' -C mailwarden-testenv-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C mailwarden-testenv-client -f "$d/client_key"
	cp "$d/client_key.pub" "$d/authorized_keys"
	printf '[127.0.0.1]:%s %s\n' "$P_SSHD" "$(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
	cat >"$d/sshd_config" <<-EOF
		ListenAddress 127.0.0.1:$P_SSHD
		HostKey $d/host_key
		PidFile $d/sshd.pid
		AuthorizedKeysFile $d/authorized_keys
		AllowUsers root
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		AllowTcpForwarding local
		PermitOpen 127.0.0.1:* localhost:*
		AllowAgentForwarding no
		X11Forwarding no
		PermitTTY no
	EOF
	spawn sshd "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	wait_up sshd "$P_SSHD" SSH- || abort sshd "sshd does not answer on 127.0.0.1:$P_SSHD" "$d/sshd.log"
	spawn ssh-socks "$d/ssh.log" ssh -F /dev/null -N -D "127.0.0.1:$P_SOCKS" -p "$P_SSHD" -i "$d/client_key" \
		-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$d/known_hosts" \
		-o ExitOnForwardFailure=yes -o ServerAliveInterval=30 -o IdentitiesOnly=yes \
		root@127.0.0.1
	wait_up ssh-socks "$P_SOCKS" || {
		stop ssh-socks
		abort sshd "ssh -D does not listen on 127.0.0.1:$P_SOCKS" "$d/ssh.log" "$d/sshd.log"
	}
	envfile ssh <<-EOF
		export MW_SSH_SOCKS=127.0.0.1:$P_SOCKS
	EOF
	log "ssh -D up: socks $P_SOCKS (sshd $P_SSHD)"
}

# Squid: HTTP CONNECT to 127.0.0.1 only; one port without authentication and
# one with Basic authentication against an htpasswd file.
up_squid() {
	local d=$RUN/squid
	if alive squid; then
		log "squid already running"
		return 0
	fi
	local P_HTTP P_HTTP_AUTH
	ports P_HTTP P_HTTP_AUTH
	rm -rf "$d"
	mkdir -p "$d"
	printf '%s:%s\n' "$PROXY_USER" "$(openssl passwd -apr1 "$PROXY_PASSWORD")" >"$d/htpasswd"
	chmod 644 "$d/htpasswd"
	cat >"$d/squid.conf" <<-EOF
		http_port 127.0.0.1:$P_HTTP name=open
		http_port 127.0.0.1:$P_HTTP_AUTH name=auth
		pid_filename $d/squid.pid
		cache_log $d/cache.log
		access_log stdio:$d/access.log
		coredump_dir $d
		cache deny all
		cache_mem 8 MB
		dns_nameservers 127.0.0.1
		udp_incoming_address 127.0.0.1
		udp_outgoing_address 127.0.0.1
		tcp_outgoing_address 127.0.0.1
		pinger_enable off
		icp_port 0
		htcp_port 0
		shutdown_lifetime 1 seconds
		auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/htpasswd
		auth_param basic children 2 startup=1
		auth_param basic realm mailwarden-test
		acl auth_port myportname auth
		acl authed proxy_auth REQUIRED
		acl from_loopback src 127.0.0.1/32
		acl to_loopback dst 127.0.0.1/32
		acl CONNECT method CONNECT
		http_access deny !from_loopback
		http_access deny !CONNECT
		http_access deny !to_loopback
		http_access deny auth_port !authed
		http_access allow all
	EOF
	chown -R proxy:proxy "$d"
	spawn squid "$d/squid.out" squid -N -f "$d/squid.conf"
	local p
	for p in "$P_HTTP" "$P_HTTP_AUTH"; do
		wait_up squid "$p" || abort squid "squid does not answer on 127.0.0.1:$p" "$d/squid.out" "$d/cache.log"
	done
	envfile squid <<-EOF
		export MW_HTTP_PROXY=127.0.0.1:$P_HTTP
		export MW_HTTP_PROXY_AUTH=127.0.0.1:$P_HTTP_AUTH
	EOF
	log "squid up: http $P_HTTP http-auth $P_HTTP_AUTH"
}

# ---------------------------------------------------------------- rsyslog

# rsyslog: UDP, TCP, TCP+TLS (gtls, the test certificate) on loopback and a
# private unix socket (never /dev/log); everything it receives is written in
# RFC 5424 form (RSYSLOG_SyslogProtocol23Format) to one file. RELP (imrelp,
# each record acknowledged) plain and over TLS (the test server certificate;
# the client must present a certificate of the test CA, authMode certvalid)
# goes to a second file.
up_rsyslog() {
	local d=$RUN/rsyslog
	if alive rsyslog; then
		log "rsyslog already running"
		return 0
	fi
	local P_UDP P_TCP P_TLS P_RELP P_RELPS
	ports P_UDP P_TCP P_TLS P_RELP P_RELPS
	rm -rf "$d"
	mkdir -p "$d/work"
	chmod 755 "$d"
	cat >"$d/rsyslog.conf" <<-EOF
		global(
			workDirectory="$d/work"
			maxMessageSize="64k"
			net.enableDNS="off"
			defaultNetstreamDriverCAFile="$CERTS/ca.pem"
			defaultNetstreamDriverCertFile="$CERTS/server.pem"
			defaultNetstreamDriverKeyFile="$CERTS/server.key"
		)
		module(load="imuxsock" sysSock.use="off")
		input(type="imuxsock" socket="$d/log.sock" useSpecialParser="off"
			parseHostname="on" ignoreTimestamp="off" rateLimit.interval="0" createPath="on")
		module(load="imudp")
		input(type="imudp" address="127.0.0.1" port="$P_UDP" rateLimit.interval="0")
		module(load="imptcp")
		input(type="imptcp" address="127.0.0.1" port="$P_TCP")
		module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1"
			streamDriver.authMode="anon")
		input(type="imtcp" address="127.0.0.1" port="$P_TLS")
		module(load="imrelp")
		input(type="imrelp" address="127.0.0.1" port="$P_RELP" ruleset="relp")
		input(type="imrelp" address="127.0.0.1" port="$P_RELPS" ruleset="relp"
			tls="on" tls.caCert="$CERTS/ca.pem" tls.myCert="$CERTS/server.pem"
			tls.myPrivKey="$CERTS/server.key" tls.authMode="certvalid")
		ruleset(name="relp") {
			action(type="omfile" file="$d/relp.log" fileCreateMode="0644"
				template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="on")
		}
		action(type="omfile" file="$d/messages.log" fileCreateMode="0644"
			template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="on")
	EOF
	rsyslogd -N1 -f "$d/rsyslog.conf" >"$d/check.log" 2>&1 || {
		showlog "$d/check.log"
		die "rsyslog configuration check failed"
	}
	spawn rsyslog "$d/rsyslogd.log" rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslogd.pid"
	local p
	for p in "$P_TCP" "$P_TLS" "$P_RELP" "$P_RELPS"; do
		wait_up rsyslog "$p" || abort rsyslog "rsyslogd does not answer on 127.0.0.1:$p" "$d/rsyslogd.log"
	done
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		[ -S "$d/log.sock" ] && [ -n "$(ss -H -uln "sport = :$P_UDP" 2>/dev/null)" ] && break
		sleep 0.1
	done
	[ -S "$d/log.sock" ] || abort rsyslog "rsyslogd made no socket $d/log.sock" "$d/rsyslogd.log"
	chmod 666 "$d/log.sock"
	envfile rsyslog <<-EOF
		export MW_SYSLOG_UDP=127.0.0.1:$P_UDP
		export MW_SYSLOG_TCP=127.0.0.1:$P_TCP
		export MW_SYSLOG_TLS=127.0.0.1:$P_TLS
		export MW_SYSLOG_UNIX=$d/log.sock
		export MW_SYSLOG_FILE=$d/messages.log
		export MW_SYSLOG_RELP=127.0.0.1:$P_RELP
		export MW_SYSLOG_RELPS=127.0.0.1:$P_RELPS
		export MW_SYSLOG_RELP_FILE=$d/relp.log
	EOF
	log "rsyslog up: udp $P_UDP tcp $P_TCP tls $P_TLS relp $P_RELP relp+tls $P_RELPS"
}

# ---------------------------------------------------------------- kerberos

# MIT Kerberos KDC for the test realm on 127.0.0.1 (UDP and TCP), with a
# private krb5.conf and kdc.conf (KRB5_CONFIG, KRB5_KDC_PROFILE); /etc/krb5.conf
# is never read or written.
up_krb5() {
	local d=$RUN/krb5
	if alive krb5kdc; then
		log "krb5kdc already running"
		return 0
	fi
	local P_KDC
	ports P_KDC
	FRESH_KRB5=1
	rm -rf "$d"
	mkdir -p "$d"
	chmod 755 "$d"
	cat >"$d/krb5.conf" <<-EOF
		[libdefaults]
			default_realm = $KRB5_REALM
			dns_lookup_kdc = false
			dns_lookup_realm = false
			dns_canonicalize_hostname = false
			rdns = false
			ignore_acceptor_hostname = false
			forwardable = true
			ticket_lifetime = 24h
		[realms]
			$KRB5_REALM = {
				kdc = 127.0.0.1:$P_KDC
			}
		[domain_realm]
			localhost = $KRB5_REALM
			127.0.0.1 = $KRB5_REALM
			.mailwarden.test = $KRB5_REALM
			mailwarden.test = $KRB5_REALM
	EOF
	cat >"$d/kdc.conf" <<-EOF
		[kdcdefaults]
			kdc_listen = 127.0.0.1:$P_KDC
			kdc_tcp_listen = 127.0.0.1:$P_KDC
		[realms]
			$KRB5_REALM = {
				database_name = $d/principal
				key_stash_file = $d/stash
				acl_file = $d/kadm5.acl
				kdc_listen = 127.0.0.1:$P_KDC
				kdc_tcp_listen = 127.0.0.1:$P_KDC
				max_life = 24h
				max_renewable_life = 7d
				supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
			}
		[logging]
			kdc = FILE:$d/kdc.log
	EOF
	: >"$d/kadm5.acl"
	(
		export KRB5_CONFIG=$d/krb5.conf KRB5_KDC_PROFILE=$d/kdc.conf
		kdb5_util -r "$KRB5_REALM" -P "mw-kdc-master-test-password" create -s
		kadmin.local -r "$KRB5_REALM" -q "addprinc -pw $KRB5_PASSWORD $KRB5_USER"
		local h
		for h in localhost 127.0.0.1 "$KRB5_SPN_HOST"; do
			kadmin.local -r "$KRB5_REALM" -q "addprinc -randkey smtp/$h" 2>&1 | grep -v 'already exists' || true
		done
		kadmin.local -r "$KRB5_REALM" -q "ktadd -k $d/services.keytab smtp/localhost smtp/127.0.0.1"
		[ "$KRB5_SPN_HOST" = localhost ] ||
			kadmin.local -r "$KRB5_REALM" -q "ktadd -k $d/services.keytab smtp/$KRB5_SPN_HOST"
		kadmin.local -r "$KRB5_REALM" -q "ktadd -norandkey -k $d/user.keytab $KRB5_USER"
	) >"$d/setup.log" 2>&1 || {
		showlog "$d/setup.log"
		die "kerberos realm setup failed"
	}
	# Test-only keytabs: readable by the test user and the daemons' users.
	chmod 644 "$d/services.keytab" "$d/user.keytab"
	KRB5_CONFIG=$d/krb5.conf KRB5_KDC_PROFILE=$d/kdc.conf \
		spawn krb5kdc "$d/krb5kdc.out" krb5kdc -n -r "$KRB5_REALM" -P "$d/krb5kdc.pid"
	wait_up krb5kdc "$P_KDC" || abort krb5kdc "krb5kdc does not answer on 127.0.0.1:$P_KDC" "$d/krb5kdc.out" "$d/kdc.log"
	envfile krb5 <<-EOF
		export MW_KRB5_CONF=$d/krb5.conf
		export MW_KRB5_REALM=$KRB5_REALM
		export MW_KRB5_USER_PRINCIPAL=$KRB5_USER@$KRB5_REALM
		export MW_KRB5_USER_PASSWORD=$KRB5_PASSWORD
		export MW_KRB5_USER_KEYTAB=$d/user.keytab
		export MW_KRB5_SPN_HOST=$KRB5_SPN_HOST
	EOF
	log "krb5kdc up: $KRB5_REALM on 127.0.0.1:$P_KDC (udp, tcp)"
}

# ---------------------------------------------------------------- dovecot

# Dovecot submission: STARTTLS and implicit TLS on loopback, relaying to the
# Postfix plain listener; auth PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256
# (passwd-file, {PLAIN} scheme), GSSAPI (the services keytab) and XOAUTH2
# OAUTHBEARER (oauth2 passdb validating HS256 JWTs locally).
up_dovecot() {
	local d=$RUN/dovecot
	if [ -n "$FRESH_POSTFIX$FRESH_KRB5" ]; then
		stop dovecot # it relays to Postfix and reads the KDC's keytab
	fi
	if alive dovecot; then
		log "dovecot already running"
		return 0
	fi
	[ -s "$RUN/postfix/ports" ] || die "dovecot needs the postfix peer"
	local P_PLAIN P_CYRUS P_SUB P_SUBS
	. "$RUN/postfix/ports"
	ports P_SUB P_SUBS
	rm -rf "$d"
	mkdir -p "$d/run" "$d/state" "$d/oauth-keys/default/HS256"
	chmod 755 "$d" "$d/oauth-keys" "$d/oauth-keys/default" "$d/oauth-keys/default/HS256"
	# The passdb: the test user, with and without the domain.
	printf '%s:{PLAIN}%s\n' "$SASL_USER" "$SASL_PASSWORD" \
		"$SASL_USER@${SASL_DOMAIN,,}" "$SASL_PASSWORD" >"$d/users"
	chmod 644 "$d/users"
	# The OAuth signing key: random, test-only, 64 hex characters used as
	# the raw HMAC key. Dovecot's key dict holds its base64 form, under
	# <azp>/<alg>/<kid>: azp "default" (token without azp), kid "default"
	# (token without kid) and kid "mailwarden-test".
	openssl rand -hex 32 | tr -d '\n' >"$d/oauth-jwt.key"
	chmod 644 "$d/oauth-jwt.key"
	base64 -w0 "$d/oauth-jwt.key" >"$d/oauth-keys/default/HS256/default"
	cp "$d/oauth-keys/default/HS256/default" "$d/oauth-keys/default/HS256/mailwarden-test"
	chmod 644 "$d"/oauth-keys/default/HS256/*
	cat >"$d/oauth2.conf.ext" <<-EOF
		introspection_mode = local
		local_validation_key_dict = fs:posix:prefix=$d/oauth-keys/
		username_attribute = email
	EOF
	cat >"$d/dovecot.conf" <<-EOF
		instance_name = mailwarden-testenv
		base_dir = $d/run
		state_dir = $d/state
		log_path = $d/dovecot.log
		info_log_path = $d/dovecot.log
		protocols = submission
		listen = 127.0.0.1
		hostname = submission.mailwarden.test
		ssl = required
		ssl_cert = <$CERTS/server.pem
		ssl_key = <$CERTS/server.key
		ssl_min_protocol = TLSv1.2
		disable_plaintext_auth = yes
		auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 gssapi xoauth2 oauthbearer
		auth_verbose = yes
		auth_failure_delay = 0
		auth_krb5_keytab = $RUN/krb5/services.keytab
		auth_gssapi_hostname = "\$ALL"
		import_environment = TZ KRB5_CONFIG=$RUN/krb5/krb5.conf KRB5_KTNAME=$RUN/krb5/services.keytab
		submission_relay_host = 127.0.0.1
		submission_relay_port = $P_PLAIN
		submission_relay_ssl = no
		submission_relay_trusted = no
		submission_max_mail_size = 50M
		mail_location = maildir:$d/mail/%u
		passdb {
			driver = passwd-file
			args = scheme=PLAIN $d/users
			mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
		}
		passdb {
			# GSSAPI has verified the Kerberos ticket (and that the
			# principal may use the requested authzid) before this
			# lookup; it only supplies the user's fields.
			driver = static
			args = nopassword=y
			mechanisms = gssapi
		}
		passdb {
			driver = oauth2
			args = $d/oauth2.conf.ext
			mechanisms = xoauth2 oauthbearer
		}
		userdb {
			driver = static
			args = uid=nobody gid=nogroup home=$d/home/%u allow_all_users=yes
		}
		service anvil {
			# No growing delay after failed logins: tests try wrong
			# secrets on purpose.
			unix_listener anvil-auth-penalty {
				mode = 0
			}
		}
		service submission-login {
			inet_listener submission {
				address = 127.0.0.1
				port = $P_SUB
			}
			inet_listener submissions {
				address = 127.0.0.1
				port = $P_SUBS
				ssl = yes
			}
		}
	EOF
	doveconf -c "$d/dovecot.conf" -n >"$d/doveconf.log" 2>&1 || {
		showlog "$d/doveconf.log"
		die "dovecot configuration check failed"
	}
	spawn dovecot "$d/dovecot.out" dovecot -F -c "$d/dovecot.conf"
	wait_up dovecot "$P_SUB" 220 || abort dovecot "dovecot does not answer on 127.0.0.1:$P_SUB" "$d/dovecot.out" "$d/dovecot.log"
	wait_up dovecot "$P_SUBS" || abort dovecot "dovecot does not answer on 127.0.0.1:$P_SUBS" "$d/dovecot.out" "$d/dovecot.log"
	envfile dovecot <<-EOF
		export MW_DOVECOT_SUBMISSION=127.0.0.1:$P_SUB
		export MW_DOVECOT_SUBMISSIONS=127.0.0.1:$P_SUBS
		export MW_SASL_USER=$SASL_USER
		export MW_SASL_PASSWORD=$SASL_PASSWORD
		export MW_SASL_DOMAIN=$SASL_DOMAIN
		export MW_OAUTH_JWT_KEY_FILE=$d/oauth-jwt.key
		export MW_OAUTH_USER=$OAUTH_USER
	EOF
	log "dovecot up: submission $P_SUB submissions $P_SUBS"
}

# ---------------------------------------------------------------- cyrus

# Cyrus SASL in the Postfix instance: one more smtpd listener, STARTTLS
# required before AUTH, offering NTLM (Cyrus's ntlm plugin, checking the
# password from sasldb), GSSAPI (Cyrus's gssapi plugin with MIT Kerberos,
# libsasl2-modules-gssapi-mit) and PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1
# SCRAM-SHA-256. GSSAPI reads a copy of the KDC's services keytab
# (KRB5_KTNAME, with KRB5_CONFIG, through Postfix's import_environment).
# Postfix names its myhostname as the GSSAPI acceptor (smtp/<myhostname>),
# so this listener's myhostname is the KDC's SPN host ($KRB5_SPN_HOST,
# whose key the keytab holds; MIT's ignore_acceptor_hostname does not reach
# Cyrus's acceptor): its greeting says that name, and the Received: header
# it adds is dropped like the others.
# Its smtpd.conf and sasldb live in the instance's private config directory
# (cyrus_sasl_config_path; Debian's Postfix also looks in
# $config_directory/sasl, so both name the same place). Added to a running Postfix with "postfix reload".
up_cyrus() {
	local d=$RUN/postfix
	alive postfix || die "cyrus needs the postfix peer"
	local P_PLAIN P_CYRUS P_CYRUS_NTLM=
	. "$d/ports"
	mkdir -p "$d/etc/sasl"
	if [ ! -s "$d/etc/sasl/sasldb2" ]; then
		printf '%s' "$SASL_PASSWORD" |
			saslpasswd2 -f "$d/etc/sasl/sasldb2" -p -c -u "$SASL_DOMAIN" "$SASL_USER" ||
			die "saslpasswd2 failed"
		chown root:postfix "$d/etc/sasl/sasldb2"
		chmod 640 "$d/etc/sasl/sasldb2"
	fi
	[ -s "$RUN/krb5/services.keytab" ] || die "cyrus needs the krb5 peer (GSSAPI)"
	cp "$RUN/krb5/services.keytab" "$d/etc/sasl/smtp.keytab"
	chown root:postfix "$d/etc/sasl/smtp.keytab"
	chmod 640 "$d/etc/sasl/smtp.keytab"
	# smtpd.conf is the main listener's; smtpd-ntlm.conf (smtpd_sasl_path)
	# the second listener's, which offers NTLM alone, as Exchange's internal
	# receive connectors do.
	local conf mechs
	for conf in smtpd:"PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 NTLM GSSAPI" smtpd-ntlm:NTLM; do
		mechs=${conf#*:}
		cat >"$d/etc/sasl/${conf%%:*}.conf" <<-EOF
			pwcheck_method: auxprop
			auxprop_plugin: sasldb
			sasldb_path: $d/etc/sasl/sasldb2
			mech_list: $mechs
			keytab: $d/etc/sasl/smtp.keytab
			log_level: 3
		EOF
	done
	local env="MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME KRB5_CONFIG=$RUN/krb5/krb5.conf KRB5_KTNAME=FILE:$d/etc/sasl/smtp.keytab"
	local reload=
	if [ "$(postconf -c "$d/etc" -h import_environment)" != "$env" ]; then
		postconf -c "$d/etc" -e "import_environment = $env" || die "postconf import_environment failed"
		reload=1
	fi
	[ -n "${P_CYRUS_NTLM:-}" ] || ports P_CYRUS_NTLM
	local l var
	for l in P_CYRUS:smtpd P_CYRUS_NTLM:smtpd-ntlm; do
		var=${l%%:*}
		grep -q "^127.0.0.1:${!var} " "$d/etc/master.cf" && continue
		if [ -n "$(ss -H -tln "sport = :${!var}" 2>/dev/null)" ]; then
			ports "$var" # taken meanwhile: choose another
		fi
		cat >>"$d/etc/master.cf" <<-EOF
			127.0.0.1:${!var} inet n - n - - smtpd
			  -o smtpd_tls_security_level=encrypt
			  -o smtpd_tls_auth_only=yes
			  -o smtpd_sasl_auth_enable=yes
			  -o smtpd_sasl_type=cyrus
			  -o smtpd_sasl_path=${l#*:}
			  -o smtpd_sasl_security_options=noanonymous
			  -o smtpd_sasl_tls_security_options=noanonymous
			  -o smtpd_sasl_local_domain=$SASL_DOMAIN
			  -o myhostname=$KRB5_SPN_HOST
			  -o mynetworks=
			  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
		EOF
		reload=1
	done
	printf '%s\n' "P_CYRUS=$P_CYRUS" "P_PLAIN=$P_PLAIN" "P_CYRUS_NTLM=$P_CYRUS_NTLM" >"$d/ports"
	if [ -n "$reload" ]; then
		postfix -c "$d/etc" reload >>"$d/start.log" 2>&1 || abort postfix "postfix reload failed" "$d/start.log" "$d/maillog"
	fi
	wait_up postfix "$P_CYRUS" 220 || abort postfix "postfix (cyrus) does not answer on 127.0.0.1:$P_CYRUS" "$d/maillog"
	wait_up postfix "$P_CYRUS_NTLM" 220 || abort postfix "postfix (cyrus, NTLM only) does not answer on 127.0.0.1:$P_CYRUS_NTLM" "$d/maillog"
	envfile postfix-cyrus <<-EOF
		export MW_CYRUS_SUBMISSION=127.0.0.1:$P_CYRUS
		export MW_CYRUS_NTLM_SUBMISSION=127.0.0.1:$P_CYRUS_NTLM
	EOF
	log "postfix cyrus submission up: $P_CYRUS, NTLM only: $P_CYRUS_NTLM"
}

# ---------------------------------------------------------------- softhsm

# SoftHSM2: a software PKCS#11 token (not a daemon: a library and a token
# directory). The token holds the test signers' keys and certificates
# (testdata/certs, issued by the test CA): RSA-2048 "smime-rsa" (id 01),
# P-256 "smime-ec" (id 02) and the TLS client key "tls-client" (id 03),
# imported with pkcs11-tool. Recreated on every run (it is cheap).
up_softhsm() {
	local d=$RUN/softhsm
	local module
	module=$(find /usr/lib -name libsofthsm2.so -path '*softhsm*' 2>/dev/null | head -n1)
	[ -n "$module" ] || die "libsofthsm2.so not found (package softhsm2)"
	rm -rf "$d"
	mkdir -p "$d/tokens" "$d/objects"
	chmod 700 "$d"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$d/tokens" >"$d/softhsm2.conf"
	printf '%s\n' "$PKCS11_PIN" >"$d/pin"
	chmod 600 "$d/pin"
	export SOFTHSM2_CONF=$d/softhsm2.conf
	softhsm2-util --init-token --free --label "$PKCS11_TOKEN" --pin "$PKCS11_PIN" --so-pin "$PKCS11_SO_PIN" >"$d/init.log" 2>&1 ||
		abort softhsm "softhsm2-util --init-token failed" "$d/init.log"
	local name id label
	for spec in signer-rsa:01:smime-rsa signer-ecdsa:02:smime-ec client:03:tls-client; do
		IFS=: read -r name id label <<<"$spec"
		openssl pkcs8 -topk8 -nocrypt -in "$CERTS/$name.key" -outform DER -out "$d/objects/$label.key.der"
		openssl pkey -in "$CERTS/$name.key" -pubout -outform DER -out "$d/objects/$label.pub.der"
		openssl x509 -in "$CERTS/$name.pem" -outform DER -out "$d/objects/$label.crt.der"
		for t in privkey:key pubkey:pub cert:crt; do
			pkcs11-tool --module "$module" --token-label "$PKCS11_TOKEN" --login --pin "$PKCS11_PIN" \
				--write-object "$d/objects/$label.${t#*:}.der" --type "${t%%:*}" --id "$id" --label "$label" >>"$d/init.log" 2>&1 ||
				abort softhsm "pkcs11-tool could not import $label (${t%%:*})" "$d/init.log"
		done
	done
	rm -f "$d"/objects/*.key.der
	envfile softhsm <<-EOF
		export MW_PKCS11_MODULE=$module
		export MW_SOFTHSM2_CONF=$d/softhsm2.conf
		export SOFTHSM2_CONF=$d/softhsm2.conf
		export MW_PKCS11_TOKEN=$PKCS11_TOKEN
		export MW_PKCS11_PIN_FILE=$d/pin
		export MW_PKCS11_RSA='pkcs11:token=$PKCS11_TOKEN;object=smime-rsa'
		export MW_PKCS11_EC='pkcs11:token=$PKCS11_TOKEN;object=smime-ec'
		export MW_PKCS11_TLS='pkcs11:token=$PKCS11_TOKEN;object=tls-client'
		export MW_PKCS11_SPY=$(find /usr/lib -name pkcs11-spy.so 2>/dev/null | head -n1)
	EOF
	log "softhsm token $PKCS11_TOKEN ready: $d"
}

# -------------------------------------------------------------- postgresql

# PostgreSQL: a private cluster (initdb) under $RUN/postgres, owned by the
# postgres user, listening on 127.0.0.1 only with TLS (the test server
# certificate); a database and a password-authenticated role for the
# outbox's PostgreSQL store. The URL asks for verify-full against the test CA.
up_postgres() {
	local d=$RUN/postgres
	if alive postgres; then
		log "postgresql already running"
		return 0
	fi
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	[ -x "$bin/initdb" ] || die "initdb not found under /usr/lib/postgresql/*/bin"
	local P_PG
	ports P_PG
	rm -rf "$d"
	mkdir -p "$d"
	chown postgres:postgres "$d"
	chmod 700 "$d"
	runuser -u postgres -- "$bin/initdb" -D "$d/data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C >"$d/initdb.log" 2>&1 ||
		abort postgres "initdb failed" "$d/initdb.log"
	install -o postgres -m 600 "$CERTS/server.pem" "$d/data/server.crt"
	install -o postgres -m 600 "$CERTS/server.key" "$d/data/server.key"
	cat >>"$d/data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $P_PG
		unix_socket_directories = '$d'
		ssl = on
		max_connections = 200
		fsync = on
		logging_collector = off
	EOF
	runuser -u postgres -- "$bin/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t "$WAIT" start >"$d/start.log" 2>&1 ||
		abort postgres "postgresql did not start" "$d/start.log" "$d/postgres.log"
	local pid
	pid=$(head -n1 "$d/data/postmaster.pid")
	record postgres "$pid"
	printf '%s\n' "$bin" >"$d/bin"
	runuser -u postgres -- "$bin/psql" -h "$d" -p "$P_PG" -U postgres -v ON_ERROR_STOP=1 -q >"$d/setup.log" 2>&1 <<-EOF ||
		CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
		CREATE DATABASE $PG_DB OWNER $PG_USER;
	EOF
		abort postgres "cannot create the test role and database" "$d/setup.log" "$d/postgres.log"
	envfile postgres <<-EOF
		export MW_POSTGRES_URL='postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$P_PG/$PG_DB?sslmode=verify-full&sslrootcert=$CERTS/ca.pem'
	EOF
	log "postgresql up: $P_PG"
}

# -------------------------------------------------------------------- wine

# Wine: runs the Windows build of smtpcheck, so that its Windows-only paths
# (SSPI) run for real. Wine's Kerberos security package is MIT Kerberos with
# the KRB5CCNAME and KRB5_CONFIG it inherits. Go's runtime needs
# ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks: a few lines of
# C, built here with mingw-w64, provide it with RtlGenRandom (advapi32's
# SystemFunction036). The prefix is created once and kept; the test builds
# smtpcheck.exe from the current source itself, the one built here lets
# check.sh see that Wine runs it.
up_wine() {
	local d=$RUN/wine wine=/usr/lib/wine/wine64
	[ -x "$wine" ] || wine=$(command -v wine64 || true)
	[ -n "$wine" ] && [ -x "$wine" ] || die "wine64 not found (package wine64)"
	command -v x86_64-w64-mingw32-gcc >/dev/null || die "x86_64-w64-mingw32-gcc not found (package gcc-mingw-w64-x86-64-win32)"
	mkdir -p "$d"
	cat >"$d/bcryptprimitives.c" <<-'EOF'
		#include <windows.h>
		BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
		BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
		{
			while (len > 0) {
				ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
				if (!SystemFunction036(data, n))
					return FALSE;
				data += n;
				len -= n;
			}
			return TRUE;
		}
	EOF
	printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$d/bcryptprimitives.def"
	x86_64-w64-mingw32-gcc -shared -O2 -o "$d/bcryptprimitives.dll" "$d/bcryptprimitives.c" "$d/bcryptprimitives.def" -ladvapi32 >"$d/dll.log" 2>&1 ||
		abort wine "cannot build bcryptprimitives.dll" "$d/dll.log"
	local prefix=$d/prefix
	if [ ! -s "$prefix/system.reg" ]; then
		rm -rf "$prefix"
		WINEPREFIX=$prefix WINEDEBUG=-all timeout 300 "$wine" wineboot -i >"$d/wineboot.log" 2>&1 ||
			abort wine "wineboot could not create the prefix" "$d/wineboot.log"
		# wineboot returns before wineserver has written the registry.
		WINEPREFIX=$prefix timeout 60 "$(dirname "$wine")/wineserver" -w >/dev/null 2>&1 || true
	fi
	[ -d "$prefix/drive_c/windows/system32" ] || abort wine "the Wine prefix has no system32" "$d/wineboot.log"
	cp "$d/bcryptprimitives.dll" "$prefix/drive_c/windows/system32/bcryptprimitives.dll"
	(cd "$REPO" && GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -o "$d/smtpcheck.exe" ./cmd/smtpcheck) >"$d/build.log" 2>&1 ||
		abort wine "cannot build smtpcheck.exe (GOOS=windows)" "$d/build.log"
	if ! WINEPREFIX=$prefix WINEDEBUG=-all timeout 120 "$wine" "$d/smtpcheck.exe" --help >"$d/run.log" 2>&1 ||
		! grep -q '^usage: smtpcheck' "$d/run.log"; then
		abort wine "Wine does not run smtpcheck.exe" "$d/run.log"
	fi
	# Wine's NTLM package runs Samba's ntlm_auth (package winbind) from PATH
	# as "ntlm_auth --helper-protocol=ntlmssp-client-1 --username=U
	# --domain=D" and hands it the password of explicit credentials; no
	# winbindd is involved then. Cyrus's ntlm plugin sends a CHALLENGE
	# without target information, for which Samba's client refuses NTLMv2
	# ("Server did not provide 'target information', required for NTLMv2":
	# NT_STATUS_INVALID_PARAMETER), so the ntlm_auth that tests put first on
	# PATH (MW_WINE_NTLM_PATH) reads an smb.conf of its own with "client
	# ntlmv2 auth = no" (an NTLMv1 response, which Cyrus checks) and keeps
	# Samba's state under $d/ntlm instead of /var/lib/samba.
	command -v ntlm_auth >/dev/null || die "ntlm_auth not found (package winbind)"
	mkdir -p "$d/ntlm/bin" "$d/ntlm/state"
	cat >"$d/ntlm/smb.conf" <<-EOF
		[global]
			client ntlmv2 auth = no
			lock directory = $d/ntlm/state
			state directory = $d/ntlm/state
			cache directory = $d/ntlm/state
			private dir = $d/ntlm/state
			pid directory = $d/ntlm/state
			ncalrpc dir = $d/ntlm/state
			log file = $d/ntlm/state/log.%m
	EOF
	printf '#!/bin/sh\nexec %s --configfile=%s "$@"\n' "$(command -v ntlm_auth)" "$d/ntlm/smb.conf" >"$d/ntlm/bin/ntlm_auth"
	chmod 755 "$d/ntlm/bin/ntlm_auth"
	"$d/ntlm/bin/ntlm_auth" --version >"$d/ntlm/version.log" 2>&1 || abort wine "ntlm_auth with the test smb.conf does not run" "$d/ntlm/version.log"
	envfile wine <<-EOF
		export MW_WINE=$wine
		export MW_WINE_NTLM_PATH=$d/ntlm/bin
		export MW_WINEPREFIX=$prefix
		export MW_SMTPCHECK_EXE=$d/smtpcheck.exe
	EOF
	log "wine ready: $prefix"
}

# ------------------------------------------------------------------- main

write_env() {
	local tmp=$RUN/env.tmp f
	{
		printf '# Mailwarden test peers, written by testenv/up.sh. Test-only secrets.\n'
		printf 'export MW_TEST_CA=%s\n' "$CERTS/ca.pem"
		# Tools, not daemons: the audit report's browser test.
		printf 'export MW_CHROMIUM=%s\n' "$(command -v chromium)"
		printf 'export MW_PDFTOPPM=%s\n' "$(command -v pdftoppm)"
		for f in "$RUN"/*/env.part; do
			[ -e "$f" ] && cat "$f"
		done
	} >"$tmp"
	mv "$tmp" "$RUN/env"
}

main() {
	[ "$(id -u)" = 0 ] || die "run as root: it installs packages, adds the test account $PROXY_USER and starts daemons"
	trap 'log "error: line $LINENO: \"$BASH_COMMAND\" failed"' ERR
	install_packages
	# postfix, nobody, dovecot and proxy must reach files under $RUN.
	chmod 755 "$RUN"
	runuser -u nobody -- test -x "$RUN" ||
		die "$RUN is not reachable by unprivileged users (a parent directory lacks o+x); set MW_TESTENV_DIR to a directory such as /var/tmp/mailwarden-testenv"
	build_freeport
	log "packages and freeport ready"
	up_postfix
	write_env
	up_dante
	up_sshsocks
	up_squid
	write_env
	up_rsyslog
	write_env
	up_krb5
	write_env
	up_dovecot
	write_env
	up_cyrus
	write_env
	up_softhsm
	write_env
	up_postgres
	write_env
	up_wine
	write_env
	log "all peers up; env: $RUN/env"
}

main "$@"
