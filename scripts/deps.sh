#!/bin/sh
# Install the Debian packages stillprof's build and tests need (root or
# sudo).  Skips apt entirely when everything is already installed.
set -eu
PKGS="autoconf automake libtool pkg-config make gcc libunwind-dev zlib1g-dev
libcmocka-dev ruby ruby-dev ruby-stackprof ruby-mysql2 ruby-minitest strace
mariadb-server mariadb-client libssl-dev openssl procps golang-go libc6-dbg
chromium valgrind clang libclang-rt-14-dev google-perftools libgoogle-perftools4
linux-perf
curl xz-utils gpgv debian-archive-keyring libyaml-dev libffi-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
