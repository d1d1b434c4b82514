#!/usr/bin/env bash
# deploy/asterisk.sh: the Asterisk media server used by ccd.
#
# Asterisk runs from one cached Debian root (debootstrap) in a chroot, one
# process per instance directory. Each instance has its own configuration,
# credentials, logs, spool and database under DIR, bind-mounted at /instance
# inside the root in a private mount namespace, so several instances (a
# developer stack and test stacks) run side by side and nothing stays mounted
# on the host when an instance stops.
#
# Usage:
#   deploy/asterisk.sh install           build or reuse the cached root
#   deploy/asterisk.sh configure DIR     render configuration and credentials into DIR
#   deploy/asterisk.sh start DIR         start the instance, wait until ARI answers
#   deploy/asterisk.sh stop DIR          stop the instance
#   deploy/asterisk.sh status DIR        print the pid and exit 0 if running, else exit 1
#   deploy/asterisk.sh cli DIR 'CMD'     run an Asterisk CLI command in the instance
#
# Environment (defaults in brackets):
#   ASTERISK_ROOT      cached root [/var/lib/ccd/asterisk-root]
#   ASTERISK_SUITE     Debian suite providing Asterisk >= 22 [sid]
#   DEBIAN_MIRROR      mirror [the one apt uses on this host, else http://deb.debian.org/debian]
#   START_TIMEOUT      seconds to wait for a started instance [60]
#   configure only:
#   SIP_BIND [127.0.0.1]  SIP_PORT [5060]   PJSIP UDP and TCP transports
#   HTTP_BIND [127.0.0.1] HTTP_PORT [8088]  Asterisk HTTP server: ARI, and SIP over WebSocket for
#                                           browsers at ws://HTTP_BIND:HTTP_PORT/ws
#   HTTPS_PORT []                           also serve HTTPS on HTTP_BIND:HTTPS_PORT: ARI and
#                                           wss://…/ws (browsers need TLS on any host but localhost)
#   TLS_CERT, TLS_KEY []                    PEM certificate and key for HTTPS; unset: the instance
#                                           certificate, signed by the instance CA DIR/tls/ca.crt
#   TLS_NAMES []                            extra DNS names or addresses the instance certificate
#                                           carries (localhost, 127.0.0.1, ::1 and HTTP_BIND always)
#   ARI_APP [ccd]                           Stasis application receiving every call
#   TRUNK_ALLOW [127.0.0.1/32]              comma-separated CIDRs identified as the trunk
#   TRUNK_AUTH_USER, TRUNK_AUTH_PASSWORD    optional digest credentials that also identify
#                                           a caller from another source as the trunk
#   AGENTS ["1001 1002 1003"]               agents; each has a desk phone endpoint (register as
#                                           id) and a WebRTC endpoint webrtc-<id> (SIP over
#                                           WebSocket, DTLS-SRTP, ICE), both with the agent's
#                                           generated password
#   RTP_START [10000] RTP_END [20000]       RTP port range
#   MEDIA_ADDRESS [SIP_BIND]                address RTP binds to and announces in SDP (and, for
#                                           WebRTC, the only ICE candidate); required when
#                                           SIP_BIND is 0.0.0.0 (Asterisk would otherwise look its
#                                           own address up, in DNS, for every call)
#   APPQUEUE_DID []                         benchmarks only: a trunk number that bypasses ccd and
#                                           goes to Asterisk's own app_queue (queue appq,
#                                           leastrecent, every agent a member); unset: app_queue
#                                           is not loaded and every call goes to ccd
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

readonly PROG=asterisk.sh
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly TEMPLATE_DIR=$SCRIPT_DIR/asterisk
ASTERISK_ROOT=${ASTERISK_ROOT:-/var/lib/ccd/asterisk-root}
ASTERISK_ROOT=${ASTERISK_ROOT%/}
readonly ASTERISK_SUITE=${ASTERISK_SUITE:-sid}
readonly PACKAGES=asterisk,asterisk-modules,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm
readonly MARKER=.ccd-asterisk-root
readonly MIN_MAJOR=22
readonly ID_SEARCH_START=64200
readonly PIDFILE_NAME=ccd-asterisk.pid

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

info() {
	printf '%s: %s\n' "$PROG" "$*"
}

usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "'$1' must run as root (it uses debootstrap, chroot and mount namespaces)"
}

# ---------------------------------------------------------------------------
# install

marker_content() {
	printf 'suite=%s\npackages=%s\n' "$ASTERISK_SUITE" "$PACKAGES"
}

root_is_cached() {
	[[ -f $ASTERISK_ROOT/$MARKER ]] && [[ $(<"$ASTERISK_ROOT/$MARKER") == "$(marker_content)" ]]
}

# debian_mirror prints the Debian mirror apt uses on this host.
debian_mirror() {
	if [[ -n ${DEBIAN_MIRROR:-} ]]; then
		printf '%s\n' "${DEBIAN_MIRROR%/}"
		return
	fi
	local url=""
	if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
		url=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $url && -r /etc/apt/sources.list ]]; then
		url=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):\/\//) { if ($i !~ /security/) { print $i; exit } else break } }' \
			/etc/apt/sources.list)
	fi
	if [[ ! $url =~ ^(https?|ftp):// ]]; then
		url=http://deb.debian.org/debian
	fi
	printf '%s\n' "${url%/}"
}

ensure_host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v curl >/dev/null || missing+=(curl)
	command -v unshare >/dev/null && command -v nsenter >/dev/null || missing+=(util-linux)
	command -v flock >/dev/null || missing+=(util-linux)
	((${#missing[@]} == 0)) && return
	info "installing host packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } ||
		die "apt-get install ${missing[*]} failed on the host; install them and retry"
}

# id_used ROOT ID: the id is a uid or gid of any account or group on the host
# (files and NSS) or in ROOT, other than ROOT's asterisk user and group.
id_used() {
	local root=$1 id=$2
	getent passwd "$id" >/dev/null 2>&1 && return 0
	getent group "$id" >/dev/null 2>&1 && return 0
	awk -F: -v id="$id" '$3 == id { found = 1 } END { exit !found }' /etc/passwd /etc/group && return 0
	awk -F: -v id="$id" '$1 != "asterisk" && $3 == id { found = 1 } END { exit !found }' \
		"$root/etc/passwd" "$root/etc/group" && return 0
	return 1
}

root_asterisk_ids() { # ROOT -> "uid gid"
	local root=$1 uid gid
	uid=$(awk -F: '$1 == "asterisk" { print $3 }' "$root/etc/passwd")
	gid=$(awk -F: '$1 == "asterisk" { print $3 }' "$root/etc/group")
	[[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] ||
		die "no asterisk user or group in $root/etc/passwd, $root/etc/group (is $root an Asterisk root?)"
	printf '%s %s\n' "$uid" "$gid"
}

# fix_ids ROOT: give the root's asterisk user and group one id that no host
# account or group uses, so files the instance writes are never attributed to
# a host account (the Debian package allocates a low system id, such as the
# host's postgres uid).
fix_ids() {
	local root=$1 uid gid new
	read -r uid gid < <(root_asterisk_ids "$root")
	if ((uid == gid && uid >= ID_SEARCH_START)) && ! id_used "$root" "$uid"; then
		return
	fi
	new=$ID_SEARCH_START
	while id_used "$root" "$new"; do
		((new++))
		((new < 65534)) || die "no free id between $ID_SEARCH_START and 65533 for the asterisk user"
	done
	info "asterisk user in the root: uid $uid gid $gid -> $new (unused on this host)"
	awk -F: -v OFS=: -v id="$new" '$1 == "asterisk" { $3 = id; $4 = id } { print }' \
		"$root/etc/passwd" >"$root/etc/passwd.ccd" && mv "$root/etc/passwd.ccd" "$root/etc/passwd" ||
		die "rewriting $root/etc/passwd failed"
	awk -F: -v OFS=: -v id="$new" '$1 == "asterisk" { $3 = id } { print }' \
		"$root/etc/group" >"$root/etc/group.ccd" && mv "$root/etc/group.ccd" "$root/etc/group" ||
		die "rewriting $root/etc/group failed"
	chmod 0644 "$root/etc/passwd" "$root/etc/group"
	find "$root" -xdev -uid "$uid" -exec chown -h "$new" {} + || die "chown of files owned by uid $uid in $root failed"
	find "$root" -xdev -gid "$gid" -exec chgrp -h "$new" {} + || die "chgrp of files owned by gid $gid in $root failed"
}

check_version() {
	local root=$1 out major
	out=$(chroot "$root" /usr/sbin/asterisk -V 2>&1) || die "'asterisk -V' failed in $root: $out"
	[[ $out =~ ^Asterisk\ ([0-9]+)\. ]] || die "cannot parse the Asterisk version in $root: '$out'"
	major=${BASH_REMATCH[1]}
	((major >= MIN_MAJOR)) || die "$root has '$out'; ccd needs Asterisk $MIN_MAJOR or later (ASTERISK_SUITE=$ASTERISK_SUITE)"
	printf '%s\n' "$out"
}

# root_in_use DIR: some process runs chrooted in DIR.
root_in_use() {
	local r
	for r in /proc/[0-9]*/root; do
		[[ $r -ef $1 ]] 2>/dev/null && return 0
	done
	return 1
}

cmd_install() {
	need_root install
	local parent lock
	parent=$(dirname -- "$ASTERISK_ROOT")
	mkdir -p -- "$parent" || die "cannot create $parent"
	lock=$ASTERISK_ROOT.lock
	exec 9>"$lock" || die "cannot open lock file $lock"
	flock 9 || die "cannot lock $lock"

	if root_is_cached; then
		fix_ids "$ASTERISK_ROOT"
		info "cached root $ASTERISK_ROOT is up to date ($(paste -sd' ' "$ASTERISK_ROOT/$MARKER"))"
		return
	fi

	ensure_host_tools
	local mirror build log start
	mirror=$(debian_mirror)
	build=$(mktemp -d "$ASTERISK_ROOT.build.XXXXXX") || die "cannot create a build directory next to $ASTERISK_ROOT"
	chmod 0755 "$build" # becomes / of the chroot, where Asterisk runs unprivileged
	# shellcheck disable=SC2064 # expand now: the trap must remove this build.
	trap "rm -rf --one-file-system -- '$build'" EXIT
	log=$build.log
	start=$SECONDS
	info "building $ASTERISK_ROOT: debootstrap $ASTERISK_SUITE from $mirror with $PACKAGES (about a minute)"
	# A private mount namespace: whatever debootstrap mounts in the build
	# vanishes with it, even when it fails half way.
	if ! unshare --mount --propagation private -- \
		debootstrap --variant=minbase --include="$PACKAGES" "$ASTERISK_SUITE" "$build" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		[[ -f $build/debootstrap/debootstrap.log ]] && tail -n 20 "$build/debootstrap/debootstrap.log" >&2
		die "debootstrap of $ASTERISK_SUITE from $mirror failed (output above, full log $log)"
	fi
	rm -f -- "$log"
	# Downloaded packages and indexes are not needed to run Asterisk.
	rm -rf -- "$build"/var/cache/apt/archives/*.deb "$build"/var/lib/apt/lists/*_Packages
	fix_ids "$build"
	mkdir -p -- "$build/instance"
	chmod 0755 "$build/instance"
	local version
	version=$(check_version "$build")
	marker_content >"$build/$MARKER"

	if [[ -e $ASTERISK_ROOT ]]; then
		local old
		old=$(mktemp -d "$ASTERISK_ROOT.old.XXXXXX")
		mv -T -- "$ASTERISK_ROOT" "$old/root" || die "cannot move the outdated $ASTERISK_ROOT aside"
		mv -T -- "$build" "$ASTERISK_ROOT" || die "cannot rename $build to $ASTERISK_ROOT"
		if root_in_use "$old/root"; then
			info "kept the previous root in $old: instances still run from it (remove it once they are stopped)"
		else
			rm -rf --one-file-system -- "$old"
		fi
	else
		mv -T -- "$build" "$ASTERISK_ROOT" || die "cannot rename $build to $ASTERISK_ROOT"
	fi
	trap - EXIT
	info "built $ASTERISK_ROOT with $version in $((SECONDS - start)) s"
}

require_root_dir() {
	[[ -d $ASTERISK_ROOT ]] ||
		die "Asterisk root $ASTERISK_ROOT does not exist: run 'deploy/asterisk.sh install' (or 'make up') first"
	[[ -f $ASTERISK_ROOT/$MARKER ]] ||
		die "$ASTERISK_ROOT is not a complete Asterisk root (no $MARKER): run 'deploy/asterisk.sh install'"
	[[ -d $ASTERISK_ROOT/instance ]] || die "$ASTERISK_ROOT/instance is missing: run 'deploy/asterisk.sh install'"
}

module_dir() { # path of the module directory inside the root
	local d
	for d in "$ASTERISK_ROOT"/usr/lib/*/asterisk/modules "$ASTERISK_ROOT"/usr/lib/asterisk/modules; do
		if [[ -f $d/chan_pjsip.so ]]; then
			printf '%s\n' "${d#"$ASTERISK_ROOT"}"
			return
		fi
	done
	die "no Asterisk module directory with chan_pjsip.so under $ASTERISK_ROOT/usr/lib"
}

# ---------------------------------------------------------------------------
# configure

instance_dir() { # DIR argument -> absolute path
	[[ -n ${1:-} ]] || die "missing instance directory argument"
	realpath -m -- "$1"
}

valid_port() { # NAME VALUE
	[[ $2 =~ ^[0-9]+$ ]] && (($2 >= 1 && $2 <= 65535)) || die "$1='$2' is not a port number (1-65535)"
}

valid_ip() { # NAME VALUE
	[[ $2 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || ($2 =~ ^[0-9a-fA-F:.]+$ && $2 == *:*) ]] ||
		die "$1='$2' is not an IPv4 or IPv6 address"
}

hostport() { # IP PORT -> host:port with IPv6 in brackets
	if [[ $1 == *:* ]]; then printf '[%s]:%s\n' "$1" "$2"; else printf '%s:%s\n' "$1" "$2"; fi
}

connect_host() { # bind address -> an address a local client can connect to
	case $1 in
	0.0.0.0) printf '127.0.0.1\n' ;;
	:: | ::0) printf '::1\n' ;;
	*) printf '%s\n' "$1" ;;
	esac
}

random_secret() {
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# render TEMPLATE: print TEMPLATE with every {{NAME}} replaced by VARS[NAME];
# a placeholder without a value is an error.
declare -A VARS=()
render() {
	local tpl=$1 content key
	[[ -r $tpl ]] || die "template $tpl is missing"
	content=$(<"$tpl")
	for key in "${!VARS[@]}"; do
		content=${content//"{{$key}}"/"${VARS[$key]}"}
	done
	if [[ $content =~ \{\{[^}]*\}\} ]]; then
		die "template $tpl: placeholder ${BASH_REMATCH[0]} has no value"
	fi
	printf '%s\n' "$content"
}

# read_env FILE: print KEY=VALUE lines of a generated env file (no shell evaluation).
read_env() {
	[[ -f $1 ]] || return 0
	grep -E '^[A-Z][A-Z0-9_]*=[A-Za-z0-9._:/@+-]*$' -- "$1" || true
}

# ice_host_candidates MEDIA_ADDRESS: the [ice_host_candidates] lines that
# announce every address of this host in MEDIA_ADDRESS's family (loopback and
# link-local left out: Asterisk never offers them) as MEDIA_ADDRESS, the one
# address RTP is bound to. Asterisk gathers ICE candidates from the
# interfaces, not from the address RTP is bound to.
ice_host_candidates() {
	local media=$1 family=-4 addr lines=""
	[[ $media == *:* ]] && family=-6
	command -v ip >/dev/null || die "'ip' (iproute2) is missing on the host: install it and retry"
	while read -r addr; do
		addr=${addr%/*}
		case $addr in
		127.* | ::1 | [fF][eE]8? | [fF][eE]8?:* | [fF][eE][9aAbB]?:*) continue ;;
		esac
		lines+="$addr => $media"$'\n'
	done < <(ip -o "$family" addr show | awk '{ print $4 }')
	printf '%s' "${lines%$'\n'}"
}

# ensure_openssl: the host's openssl issues the instance certificates.
ensure_openssl() {
	command -v openssl >/dev/null && return
	info "installing host package: openssl"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl; } ||
		die "apt-get install openssl failed on the host; install it and retry"
}

valid_until_next_month() { # CERT: the certificate is readable and valid for 30 more days
	openssl x509 -noout -checkend 2592000 -in "$1" >/dev/null 2>&1
}

# ensure_tls TLSDIR SAN...: the instance's certificate authority (ca.crt,
# ca.key) and the certificate Asterisk presents for DTLS-SRTP (WebRTC media)
# and, unless TLS_CERT is given, for HTTPS (asterisk.crt, asterisk.key),
# issued by that CA for the subject alternative names given (DNS:x, IP:y).
# Kept across configure runs, so browsers that trust the CA keep trusting the
# instance; the certificate is issued again when its names change, when it
# or the CA expires within 30 days, or when the CA is new. ECDSA P-256 keys.
ensure_tls() {
	local tls=$1 san
	shift
	san=$(IFS=,; printf '%s' "$*")
	mkdir -p -- "$tls" || die "cannot create $tls"
	local issue=0 out
	if [[ ! -s $tls/ca.key ]] || ! valid_until_next_month "$tls/ca.crt"; then
		out=$( (umask 077 && openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 \
			-keyout "$tls/ca.key" -out "$tls/ca.crt" -days 3650 \
			-subj "/O=ccd/CN=ccd Asterisk instance CA $(random_secret | cut -c1-8)" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign) 2>&1) ||
			die "openssl could not create the instance CA in $tls: $out"
		issue=1
	fi
	if ((issue)) || [[ ! -s $tls/asterisk.key || ! -f $tls/asterisk.names || $(<"$tls/asterisk.names") != "$san" ]] ||
		! valid_until_next_month "$tls/asterisk.crt" ||
		! openssl verify -CAfile "$tls/ca.crt" "$tls/asterisk.crt" >/dev/null 2>&1; then
		printf '%s\n' "basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature" \
			"extendedKeyUsage = serverAuth,clientAuth" "subjectAltName = $san" >"$tls/asterisk.ext"
		out=$( (umask 077 && openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$tls/asterisk.key.new" -subj "/O=ccd/CN=ccd Asterisk" -out "$tls/asterisk.csr" &&
			openssl x509 -req -in "$tls/asterisk.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -sha256 \
				-set_serial "0x$(random_secret)" -days 397 -extfile "$tls/asterisk.ext" -out "$tls/asterisk.crt.new") 2>&1) ||
			die "openssl could not issue the instance certificate in $tls: $out"
		mv -f -- "$tls/asterisk.key.new" "$tls/asterisk.key" && mv -f -- "$tls/asterisk.crt.new" "$tls/asterisk.crt" ||
			die "cannot move the new certificate into $tls"
		printf '%s\n' "$san" >"$tls/asterisk.names"
		rm -f -- "$tls/asterisk.csr" "$tls/asterisk.ext"
	fi
}

cmd_configure() {
	need_root configure
	local dir
	dir=$(instance_dir "${1:-}")
	require_root_dir

	local sip_bind=${SIP_BIND:-127.0.0.1} sip_port=${SIP_PORT:-5060}
	local http_bind=${HTTP_BIND:-127.0.0.1} http_port=${HTTP_PORT:-8088}
	local https_port=${HTTPS_PORT:-} tls_cert=${TLS_CERT:-} tls_key=${TLS_KEY:-} tls_names=${TLS_NAMES:-}
	local app=${ARI_APP:-ccd} trunk_allow=${TRUNK_ALLOW:-127.0.0.1/32}
	local auth_user=${TRUNK_AUTH_USER:-} auth_password=${TRUNK_AUTH_PASSWORD:-}
	local agents=${AGENTS-1001 1002 1003}
	local rtp_start=${RTP_START:-10000} rtp_end=${RTP_END:-20000}
	local media_address=${MEDIA_ADDRESS:-$sip_bind}
	local appqueue_did=${APPQUEUE_DID:-}

	valid_ip SIP_BIND "$sip_bind"
	valid_ip MEDIA_ADDRESS "$media_address"
	case $media_address in
	0.0.0.0 | ::) die "MEDIA_ADDRESS must be the address callers send RTP to (set it when SIP_BIND is $sip_bind)" ;;
	esac
	valid_port SIP_PORT "$sip_port"
	valid_ip HTTP_BIND "$http_bind"
	valid_port HTTP_PORT "$http_port"
	if [[ -n $https_port ]]; then
		valid_port HTTPS_PORT "$https_port"
		((https_port != http_port)) || die "HTTPS_PORT must differ from HTTP_PORT ($http_port)"
	fi
	if [[ -n $tls_cert || -n $tls_key ]]; then
		[[ -n $tls_cert && -n $tls_key ]] || die "set both TLS_CERT and TLS_KEY, or neither"
		[[ -n $https_port ]] || die "TLS_CERT and TLS_KEY are for HTTPS: set HTTPS_PORT too"
		[[ -r $tls_cert && -r $tls_key ]] || die "TLS_CERT '$tls_cert' or TLS_KEY '$tls_key' is not a readable file"
	fi
	local name san=(DNS:localhost IP:127.0.0.1 IP:::1)
	add_san() { [[ " ${san[*]} " == *" $1 "* ]] || san+=("$1"); }
	case $http_bind in
	0.0.0.0 | :: | ::0) ;;
	*) add_san "IP:$http_bind" ;;
	esac
	local tls_name_list=()
	IFS=', ' read -r -a tls_name_list <<<"$tls_names"
	for name in "${tls_name_list[@]}"; do
		[[ -n $name ]] || continue
		if [[ $name =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || ($name =~ ^[0-9a-fA-F:.]+$ && $name == *:*) ]]; then
			add_san "IP:$name"
		elif [[ $name =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]]; then
			add_san "DNS:$name"
		else
			die "TLS_NAMES entry '$name' is neither a DNS name nor an IP address"
		fi
	done
	valid_port RTP_START "$rtp_start"
	valid_port RTP_END "$rtp_end"
	((rtp_start < rtp_end)) || die "RTP_START=$rtp_start must be below RTP_END=$rtp_end"
	[[ $app =~ ^[A-Za-z0-9_-]+$ ]] || die "ARI_APP='$app' must be letters, digits, '_' or '-'"
	local cidr allow=()
	IFS=', ' read -r -a cidrs <<<"$trunk_allow"
	for cidr in "${cidrs[@]}"; do
		[[ -z $cidr ]] && continue
		[[ $cidr =~ ^[0-9a-fA-F:.]+(/[0-9]{1,3})?$ ]] || die "TRUNK_ALLOW entry '$cidr' is not an address or CIDR"
		allow+=("$cidr")
	done
	((${#allow[@]} > 0)) || die "TRUNK_ALLOW is empty: name at least one trunk source (CIDR)"
	if [[ -n $auth_user || -n $auth_password ]]; then
		[[ -n $auth_user && -n $auth_password ]] || die "set both TRUNK_AUTH_USER and TRUNK_AUTH_PASSWORD, or neither"
		[[ $auth_user =~ ^[A-Za-z0-9_.-]+$ ]] || die "TRUNK_AUTH_USER='$auth_user' must be letters, digits, '_', '.' or '-'"
		[[ $auth_user != trunk ]] || die "TRUNK_AUTH_USER must differ from 'trunk' (the endpoint identified by source address)"
		[[ $auth_password =~ ^[A-Za-z0-9_.:/@+=%!-]+$ ]] ||
			die "TRUNK_AUTH_PASSWORD may only contain letters, digits and _.:/@+=%!- (it is written into pjsip.conf)"
	fi
	local agent agent_list=()
	for agent in $agents; do
		[[ $agent =~ ^[A-Za-z0-9_]+$ ]] || die "agent id '$agent' in AGENTS must be letters, digits or '_'"
		[[ $agent != trunk && $agent != "$auth_user" ]] || die "agent id '$agent' clashes with a trunk endpoint"
		agent_list+=("$agent")
	done
	if [[ -n $appqueue_did ]]; then
		[[ $appqueue_did =~ ^\+?[0-9]+$ ]] || die "APPQUEUE_DID='$appqueue_did' must be digits, optionally after a '+'"
	fi

	local uid gid moddir
	read -r uid gid < <(root_asterisk_ids "$ASTERISK_ROOT")
	moddir=$(module_dir)
	ensure_openssl

	# Opus for browsers when the root has a codec module for it; G.711 always.
	local opus_module="" webrtc_codecs=ulaw mod
	for mod in codec_opus_open_source.so codec_opus.so; do
		if [[ -f $ASTERISK_ROOT$moddir/$mod ]]; then
			opus_module=$mod
			webrtc_codecs=opus,ulaw
			break
		fi
	done

	mkdir -p -- "$dir"/{etc,run,log,spool,spool/recording,spool/monitor,lib,lib/keys,lib/cache,sounds,tls} || die "cannot create the instance directories in $dir"

	# Certificates: the instance CA and the certificate for DTLS-SRTP and HTTPS.
	ensure_tls "$dir/tls" "${san[@]}"
	local https_cert_name=asterisk
	if [[ -n $tls_cert ]]; then
		openssl x509 -noout -in "$tls_cert" >/dev/null 2>&1 || die "TLS_CERT '$tls_cert' is not a PEM certificate"
		openssl pkey -noout -in "$tls_key" >/dev/null 2>&1 || die "TLS_KEY '$tls_key' is not a PEM private key"
		(umask 077 && cp -- "$tls_cert" "$dir/tls/https.crt.new" && cp -- "$tls_key" "$dir/tls/https.key.new") &&
			mv -f -- "$dir/tls/https.crt.new" "$dir/tls/https.crt" && mv -f -- "$dir/tls/https.key.new" "$dir/tls/https.key" ||
			die "cannot copy TLS_CERT and TLS_KEY into $dir/tls"
		https_cert_name=https
	else
		rm -f -- "$dir/tls/https.crt" "$dir/tls/https.key"
	fi

	# Credentials: generated once, kept across configure runs.
	declare -A cred=()
	local line
	while IFS= read -r line; do
		cred[${line%%=*}]=${line#*=}
	done < <(read_env "$dir/credentials.env")
	local ari_user=${cred[ARI_USER]:-ccd} ari_password=${cred[ARI_PASSWORD]:-}
	[[ -n $ari_password ]] || ari_password=$(random_secret)
	local creds
	creds="# Generated by deploy/asterisk.sh configure; kept across runs. Do not edit while running."$'\n'
	creds+="ARI_USER=$ari_user"$'\n'"ARI_PASSWORD=$ari_password"$'\n'
	for agent in "${agent_list[@]}"; do
		local key=AGENT_${agent}_PASSWORD
		[[ -n ${cred[$key]:-} ]] || cred[$key]=$(random_secret)
		creds+="$key=${cred[$key]}"$'\n'
	done
	(umask 077 && printf '%s' "$creds" >"$dir/credentials.env.new") &&
		mv -f -- "$dir/credentials.env.new" "$dir/credentials.env" || die "cannot write $dir/credentials.env"
	chmod 0600 "$dir/credentials.env"

	VARS=(
		[SIP_BIND]=$sip_bind [SIP_PORT]=$sip_port [SIP_HOSTPORT]=$(hostport "$sip_bind" "$sip_port")
		[HTTP_BIND]=$http_bind [HTTP_PORT]=$http_port [HTTP_HOSTPORT]=$(hostport "$http_bind" "$http_port")
		[WEBRTC_CODECS]=$webrtc_codecs
		[ARI_APP]=$app [ARI_USER]=$ari_user [ARI_PASSWORD]=$ari_password
		[RTP_START]=$rtp_start [RTP_END]=$rtp_end [MEDIA_ADDRESS]=$media_address
		[MODULE_DIR]=$moddir
		[TRUNK_ALLOW]=$(IFS=,; printf '%s' "${allow[*]}")
	)
	local trunk_auth="" agent_sections=""
	if [[ -n $auth_user ]]; then
		VARS[TRUNK_AUTH_USER]=$auth_user
		VARS[TRUNK_AUTH_PASSWORD]=$auth_password
		trunk_auth=$(render "$TEMPLATE_DIR/fragments/pjsip-trunk-auth.in")
	fi
	local ice_candidates
	ice_candidates=$(ice_host_candidates "$media_address")
	if [[ -z $ice_candidates ]]; then
		info "warning: this host has no address besides loopback: WebRTC endpoints get no ICE candidate (desk phones are not affected)"
		ice_candidates="; none: this host had no address besides loopback at configure time"
	fi
	VARS[ICE_HOST_CANDIDATES]=$ice_candidates
	if [[ $media_address == *:* ]]; then VARS[MEDIA_ADDRESS_CIDR]=$media_address/128; else VARS[MEDIA_ADDRESS_CIDR]=$media_address/32; fi
	local webrtc_endpoints=()
	for agent in "${agent_list[@]}"; do
		VARS[AGENT]=$agent
		VARS[AGENT_PASSWORD]=${cred[AGENT_${agent}_PASSWORD]}
		agent_sections+=$(render "$TEMPLATE_DIR/fragments/pjsip-agent.in")$'\n\n'
		agent_sections+=$(render "$TEMPLATE_DIR/fragments/pjsip-webrtc.in")$'\n\n'
		webrtc_endpoints+=("webrtc-$agent")
	done
	if [[ -n $opus_module ]]; then
		VARS[OPUS_MODULE]="require => $opus_module ; Opus, the browsers' codec (WebRTC endpoints allow $webrtc_codecs)"
	else
		VARS[OPUS_MODULE]="; No Opus codec module in the root: WebRTC endpoints allow $webrtc_codecs only."
	fi
	local ws_url wss_url=""
	ws_url=ws://$(hostport "$(connect_host "$http_bind")" "$http_port")/ws
	if [[ -n $https_port ]]; then
		VARS[HTTPS_HOSTPORT]=$(hostport "$http_bind" "$https_port")
		VARS[HTTPS_CERT_NAME]=$https_cert_name
		VARS[HTTP_TLS]=$(render "$TEMPLATE_DIR/fragments/http-tls.in")
		VARS[WSS_TRANSPORT]=$(render "$TEMPLATE_DIR/fragments/pjsip-wss.in")
		wss_url=wss://$(hostport "$(connect_host "$http_bind")" "$https_port")/ws
	else
		VARS[HTTP_TLS]="tlsenable = no ; HTTPS_PORT unset: no HTTPS, no wss"
		VARS[WSS_TRANSPORT]=""
	fi
	VARS[TRUNK_AUTH_SECTIONS]=$trunk_auth
	VARS[AGENT_SECTIONS]=$agent_sections

	# The app_queue comparison queue: loaded and routed only when asked for.
	local appqueue_module="noload => app_queue.so         ; APPQUEUE_DID unset: no comparison queue"
	local appqueue_exten="" appqueue_sections="" appqueue_members=""
	if [[ -n $appqueue_did ]]; then
		for agent in "${agent_list[@]}"; do
			appqueue_members+="member => PJSIP/$agent,0,$agent"$'\n'
		done
		VARS[APPQUEUE_DID]=$appqueue_did
		VARS[APPQUEUE_MEMBERS]=${appqueue_members%$'\n'}
		appqueue_module="load => app_queue.so           ; APPQUEUE_DID=$appqueue_did: comparison queue appq"
		appqueue_exten=$(render "$TEMPLATE_DIR/fragments/extensions-appqueue.in")
		appqueue_sections=$(render "$TEMPLATE_DIR/fragments/queues-appq.in")
	fi
	VARS[APPQUEUE_MODULE]=$appqueue_module
	VARS[APPQUEUE_EXTEN]=$appqueue_exten
	VARS[APPQUEUE_SECTIONS]=$appqueue_sections

	local etc_new=$dir/etc.new tpl name count=0
	rm -rf -- "$etc_new"
	mkdir -p -- "$etc_new"
	for tpl in "$TEMPLATE_DIR"/*.conf.in; do
		[[ -e $tpl ]] || die "no templates (*.conf.in) in $TEMPLATE_DIR"
		name=$(basename -- "$tpl" .in)
		render "$tpl" >"$etc_new/$name" || exit 1
		((count++)) || true
	done
	chmod 0640 "$etc_new"/*.conf
	rm -rf -- "$dir/etc"
	mv -T -- "$etc_new" "$dir/etc" || die "cannot move the rendered configuration into $dir/etc"

	local ari_url
	ari_url=http://$(hostport "$(connect_host "$http_bind")" "$http_port")
	cat >"$dir/instance.env" <<-EOF || die "cannot write $dir/instance.env"
		# Generated by deploy/asterisk.sh configure.
		ASTERISK_ROOT=$ASTERISK_ROOT
		SIP_BIND=$sip_bind
		SIP_PORT=$sip_port
		HTTP_BIND=$http_bind
		HTTP_PORT=$http_port
		HTTPS_PORT=$https_port
		ARI_APP=$app
		ARI_URL=$ari_url
		SIP_WS_URL=$ws_url
		SIP_WSS_URL=$wss_url
		TLS_CA=$dir/tls/ca.crt
		TRUNK_ALLOW=${VARS[TRUNK_ALLOW]}
		TRUNK_AUTH_USER=$auth_user
		AGENTS=${agent_list[*]}
		WEBRTC_ENDPOINTS=${webrtc_endpoints[*]}
		WEBRTC_CODECS=$webrtc_codecs
		RTP_START=$rtp_start
		RTP_END=$rtp_end
		APPQUEUE_DID=$appqueue_did
	EOF
	chown -R "$uid:$gid" -- "$dir" || die "cannot chown $dir to the root's asterisk user ($uid:$gid)"
	chmod 0750 "$dir" "$dir/tls"
	# The CA key only issues certificates, at configure time: Asterisk never reads it.
	chown 0:0 -- "$dir/tls/ca.key" && chmod 0600 "$dir/tls/ca.key" "$dir/tls/asterisk.key" &&
		chmod 0644 "$dir/tls/ca.crt" "$dir/tls/asterisk.crt" || die "cannot set the permissions of the keys in $dir/tls"
	info "configured $dir: $count files in etc, SIP $(hostport "$sip_bind" "$sip_port") udp+tcp, ARI $ari_url app $app, SIP WebSocket $ws_url${wss_url:+ $wss_url}, agents ${agent_list[*]:-none} (desk id, browser webrtc-id, $webrtc_codecs)${appqueue_did:+, app_queue appq on $appqueue_did}"
}

# ---------------------------------------------------------------------------
# start, stop, status, cli

load_instance_env() { # DIR: set INST_* from DIR/instance.env and credentials.env
	local dir=$1 line
	[[ -f $dir/instance.env && -f $dir/etc/asterisk.conf ]] ||
		die "$dir is not a configured instance: run 'deploy/asterisk.sh configure $dir' first"
	declare -gA INST=()
	while IFS= read -r line; do
		INST[${line%%=*}]=${line#*=}
	done < <(read_env "$dir/instance.env"; read_env "$dir/credentials.env")
}

pidfile() { printf '%s/run/%s\n' "$1" "$PIDFILE_NAME"; }

# running_pid DIR: print the pid of the instance's namespace process if it runs.
running_pid() {
	local dir=$1 pf pid state
	pf=$(pidfile "$dir")
	[[ -f $pf ]] || return 1
	pid=$(<"$pf")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/stat ]] || return 1
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $state != Z ]] || return 1
	# Guard against a recycled pid: the process must be this instance's.
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$dir" || return 1
	printf '%s\n' "$pid"
}

# port_in_use PROTO ADDR PORT: a socket on this host listens on (tcp) or is
# bound to (udp) PORT at ADDR, at a wildcard address, or anywhere if ADDR is a
# wildcard or IPv6.
port_in_use() {
	local proto=$1 addr=$2 port=$3 want="" files a b c d
	if [[ $addr =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)$ && $addr != 0.0.0.0 ]]; then
		a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]} d=${BASH_REMATCH[4]}
		want=$(printf '%02X%02X%02X%02X' "$d" "$c" "$b" "$a") # /proc/net byte order
	fi
	if [[ $proto == tcp ]]; then files=(/proc/net/tcp /proc/net/tcp6); else files=(/proc/net/udp /proc/net/udp6); fi
	awk -v port="$(printf '%04X' "$port")" -v want="$want" -v proto="$proto" 'FNR > 1 {
		n = split($2, la, ":")
		if (la[n] != port || (proto == "tcp" && $4 != "0A")) next
		ip = la[1]
		if (want == "" || ip == want || ip ~ /^0+$/ || ip == "0000000000000000FFFF0000" want) found = 1
	} END { exit !found }' "${files[@]}" 2>/dev/null
}

asterisk_rx() { # PID CMD [timeout]: run an Asterisk CLI command inside the instance namespace
	local pid=$1 cmd=$2 t=${3:-30}
	timeout "$t" nsenter -t "$pid" -m -- chroot "$ASTERISK_ROOT" \
		/usr/sbin/asterisk -C /instance/etc/asterisk.conf -rx "$cmd"
}

show_logs() {
	local dir=$1
	if [[ -s $dir/log/console.log ]]; then
		printf -- '--- last 40 lines of %s ---\n' "$dir/log/console.log" >&2
		tail -n 40 -- "$dir/log/console.log" >&2
	fi
	if [[ -s $dir/log/messages ]]; then
		printf -- '--- last 40 lines of %s ---\n' "$dir/log/messages" >&2
		tail -n 40 -- "$dir/log/messages" >&2
	fi
}

# The namespace process: mount what Asterisk needs and exec it in the chroot.
# Runs as: bash -c INNER ccd-asterisk ROOT DIR
# shellcheck disable=SC2016 # expanded by the inner shell.
readonly INNER='set -e
root=$1 dir=$2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
mount --bind "$dir" "$root/instance"
exec chroot "$root" /usr/sbin/asterisk -f -U asterisk -G asterisk -C /instance/etc/asterisk.conf'

cmd_start() {
	need_root start
	local dir
	dir=$(instance_dir "${1:-}")
	require_root_dir
	load_instance_env "$dir"
	local pid
	if pid=$(running_pid "$dir"); then
		info "instance $dir is already running (pid $pid)"
		return
	fi
	rm -f -- "$(pidfile "$dir")"
	local timeout=${START_TIMEOUT:-60}
	[[ $timeout =~ ^[0-9]+$ ]] || die "START_TIMEOUT='$timeout' is not a number of seconds"
	local sip_bind=${INST[SIP_BIND]} sip_port=${INST[SIP_PORT]} http_bind=${INST[HTTP_BIND]} http_port=${INST[HTTP_PORT]} p
	local https_port=${INST[HTTPS_PORT]:-} ports=()
	ports=("tcp $sip_bind $sip_port SIP" "udp $sip_bind $sip_port SIP" "tcp $http_bind $http_port HTTP")
	[[ -z $https_port ]] || ports+=("tcp $http_bind $https_port HTTPS")
	for p in "${ports[@]}"; do
		set -- $p
		if port_in_use "$1" "$2" "$3"; then
			die "$4 port $2:$3/$1 is already in use on this host (another Asterisk instance?); configure $dir with other ports"
		fi
	done

	local log=$dir/log/console.log uid gid
	read -r uid gid < <(root_asterisk_ids "$ASTERISK_ROOT")
	mkdir -p -- "$dir/run" "$dir/log"
	: >"$log"
	chown "$uid:$gid" -- "$dir/run" "$dir/log" "$log"
	rm -f -- "$dir/run/asterisk.ctl"
	# A session of its own: a terminal's Ctrl-C does not reach Asterisk.
	setsid unshare --mount --propagation private --fork --kill-child=TERM -- \
		/bin/bash -c "$INNER" ccd-asterisk "$ASTERISK_ROOT" "$dir" </dev/null >>"$log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$(pidfile "$dir")"

	local deadline=$((SECONDS + timeout)) left
	fail_start() {
		show_logs "$dir"
		cmd_stop "$dir" >/dev/null 2>&1 || true
		die "Asterisk instance $dir did not start: $*"
	}
	while [[ ! -S $dir/run/asterisk.ctl ]]; do
		kill -0 "$pid" 2>/dev/null || fail_start "the process exited before opening its control socket"
		((SECONDS < deadline)) || fail_start "no control socket $dir/run/asterisk.ctl within ${timeout}s"
		sleep 0.1
	done
	left=$((deadline - SECONDS))
	((left > 0)) || left=1
	asterisk_rx "$pid" 'core waitfullybooted' "$left" >/dev/null 2>&1 ||
		fail_start "not fully booted within ${timeout}s"

	local url=${INST[ARI_URL]} code=""
	while :; do
		kill -0 "$pid" 2>/dev/null || fail_start "the process exited while waiting for ARI"
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			-u "${INST[ARI_USER]}:${INST[ARI_PASSWORD]}" "$url/ari/asterisk/info") || true
		[[ $code == 200 ]] && break
		((SECONDS < deadline)) || fail_start "GET $url/ari/asterisk/info answered ${code/#000/no connection} instead of 200 within ${timeout}s"
		sleep 0.1
	done
	for p in tcp udp; do
		port_in_use "$p" "$sip_bind" "$sip_port" ||
			fail_start "the SIP transport on $sip_bind:$sip_port/$p is not bound (see the pjsip errors in the log)"
	done
	if [[ -n $https_port ]] && ! port_in_use tcp "$http_bind" "$https_port"; then
		fail_start "HTTPS is not listening on $http_bind:$https_port (see the TLS errors in the log)"
	fi
	# (An instance configured before SIP over WebSocket existed has no SIP_WS_URL.)
	local t out
	if [[ -n ${INST[SIP_WS_URL]:-} ]]; then
		for t in transport-ws ${https_port:+transport-wss}; do
			out=$(asterisk_rx "$pid" "pjsip show transport $t" 10 2>&1) || true
			[[ $out == *"Transport:  $t "* ]] ||
				fail_start "the SIP WebSocket transport $t is not configured (see the pjsip errors in the log): $out"
		done
	fi
	info "started $dir (pid $pid): SIP ${INST[SIP_BIND]}:$sip_port udp+tcp, ARI $url${INST[SIP_WS_URL]:+, SIP WebSocket ${INST[SIP_WS_URL]}}${INST[SIP_WSS_URL]:+ ${INST[SIP_WSS_URL]}}"
}

cmd_stop() {
	need_root stop
	local dir pid i
	dir=$(instance_dir "${1:-}")
	if ! pid=$(running_pid "$dir"); then
		rm -f -- "$(pidfile "$dir")"
		info "instance $dir is not running"
		return
	fi
	# The process group: unshare, and Asterisk under it.
	kill -TERM -- "-$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		running_pid "$dir" >/dev/null || break
		sleep 0.1
	done
	if running_pid "$dir" >/dev/null; then
		info "instance $dir (pid $pid) did not stop within 10 s, killing it"
		kill -KILL -- "-$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			running_pid "$dir" >/dev/null || break
			sleep 0.1
		done
		running_pid "$dir" >/dev/null && die "instance $dir (pid $pid) survived SIGKILL"
	fi
	rm -f -- "$(pidfile "$dir")" "$dir/run/asterisk.ctl"
	info "stopped $dir (pid $pid)"
}

cmd_status() {
	local dir pid
	dir=$(instance_dir "${1:-}")
	if pid=$(running_pid "$dir"); then
		printf '%s\n' "$pid"
		return 0
	fi
	return 1
}

cmd_cli() {
	need_root cli
	local dir pid
	dir=$(instance_dir "${1:-}")
	[[ -n ${2:-} ]] || die "missing CLI command, e.g. deploy/asterisk.sh cli $dir 'pjsip show endpoints'"
	pid=$(running_pid "$dir") || die "instance $dir is not running"
	local out
	out=$(asterisk_rx "$pid" "$2" 30 2>&1) || die "CLI command '$2' failed in $dir: $out"
	printf '%s\n' "$out"
}

main() {
	(($# >= 1)) || usage
	local cmd=$1
	shift
	case $cmd in
	install) (($# == 0)) || usage; cmd_install ;;
	configure) (($# == 1)) || usage; cmd_configure "$1" ;;
	start) (($# == 1)) || usage; cmd_start "$1" ;;
	stop) (($# == 1)) || usage; cmd_stop "$1" ;;
	status) (($# == 1)) || usage; cmd_status "$1" ;;
	cli) (($# == 2)) || usage; cmd_cli "$1" "$2" ;;
	-h | --help | help) usage ;;
	*) printf '%s: unknown command %s\n' "$PROG" "$cmd" >&2; usage ;;
	esac
}

main "$@"
