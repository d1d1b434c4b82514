#!/usr/bin/env bash
# Installs the Debian packages the ccd platform needs, if missing, and checks
# that Go >= 1.22 is there. Safe to run again: when all is present it only
# checks (no apt-get, no root needed).
#
# The platform runs its own Redis and PostgreSQL servers (ports 6380 and 5433,
# data under /var/lib/ccd, started by `ccctl stack up`); it neither needs nor
# touches the services the Debian packages may start on their default ports.
set -euo pipefail

# Packages named for what they give:
#   redis-server                    Redis 7 (redis-server; creates the redis user)
#   postgresql                      PostgreSQL 15 on Debian 12 (initdb, postgres; creates the postgres user)
#   debootstrap                     root file systems for isolated test hosts
#   curl, ca-certificates           HTTP(S) from scripts
#   espeak-ng, sox                  synthesised and converted prompts
#   iproute2                        ip, ss
#   util-linux                      unshare, nsenter
packages=(redis-server debootstrap curl espeak-ng sox ca-certificates iproute2 util-linux chromium fonts-wqy-microhei)
min_pg=15
min_go=1.22

installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# PostgreSQL counts as present when any postgresql-N with N >= min_pg is
# installed; otherwise the distribution's default version is installed.
postgres_installed() {
	local pkg major
	while read -r pkg; do
		major=${pkg#postgresql-}
		if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= min_pg)) && installed "$pkg"; then
			return 0
		fi
	done < <(dpkg-query -W -f='${Package}\n' 'postgresql-[0-9]*' 2>/dev/null || true)
	return 1
}

missing=()
for pkg in "${packages[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
postgres_installed || missing+=(postgresql)

if ((${#missing[@]} > 0)); then
	if ((EUID != 0)); then
		echo "install-deps: missing Debian packages: ${missing[*]}" >&2
		echo "install-deps: run this script as root to install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
	echo "install-deps: installed ${missing[*]}"
else
	echo "install-deps: Debian packages present: ${packages[*]} postgresql(>=${min_pg})"
fi

# Go: on PATH, else the usual tarball location.
go_bin=$(command -v go || true)
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
	go_bin=/usr/local/go/bin/go
	echo "install-deps: note: Go is at /usr/local/go/bin, which is not on PATH; add it: export PATH=\$PATH:/usr/local/go/bin"
fi
if [[ -z "$go_bin" ]]; then
	echo "install-deps: Go not found (neither on PATH nor at /usr/local/go/bin): install Go >= ${min_go} from the official release" >&2
	exit 1
fi
go_version=$("$go_bin" env GOVERSION 2>/dev/null || true) # e.g. go1.26.8
if [[ ! "$go_version" =~ ^go([0-9]+)\.([0-9]+) ]]; then
	echo "install-deps: cannot tell the version of $go_bin (got '${go_version}'); Go >= ${min_go} is needed" >&2
	exit 1
fi
have_major=${BASH_REMATCH[1]} have_minor=${BASH_REMATCH[2]}
want_major=${min_go%%.*} want_minor=${min_go#*.}
if ((have_major < want_major || (have_major == want_major && have_minor < want_minor))); then
	echo "install-deps: $go_bin is $go_version; Go >= ${min_go} is needed" >&2
	exit 1
fi
echo "install-deps: Go ok: $go_version ($go_bin)"

# Node.js and npm build the agent desktop (agentdesk/web); Vite needs Node >= 20.19.
node_version=$(node --version 2>/dev/null || true) # e.g. v20.20.2
if [[ ! "$node_version" =~ ^v([0-9]+)\.([0-9]+) ]] || ! command -v npm >/dev/null; then
	echo "install-deps: Node.js >= 20.19 with npm is needed to build the agent desktop (make web); none found" >&2
	exit 1
fi
if ((BASH_REMATCH[1] < 20 || (BASH_REMATCH[1] == 20 && BASH_REMATCH[2] < 19))); then
	echo "install-deps: node is $node_version; Node.js >= 20.19 is needed to build the agent desktop" >&2
	exit 1
fi
echo "install-deps: Node.js ok: $node_version"
