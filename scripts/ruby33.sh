#!/bin/sh
# ruby33.sh - a private Ruby 3.3 for testing the gem's >= 3.3 code paths
# (postponed-job trigger, rb_profile_thread_frames, GVL hooks), built from
# Debian trixie's ruby3.3 source package (the upstream tarball Debian ships).
#
#   sh scripts/ruby33.sh          -> builds once, prints the ruby binary path
#                                    as the last line of stdout
# Environment:
#   STILLPROF_RUBY33_PREFIX  install prefix (default /opt/stillprof-ruby-3.3
#                            when writable, else ~/.cache/stillprof-ruby-3.3)
#   STILLPROF_RUBY33_CACHE   download/build directory (default <prefix>.build)
#   STILLPROF_DEBIAN_MIRROR  default http://deb.debian.org/debian
#   STILLPROF_DEBIAN_SUITE   default trixie
#   STILLPROF_RUBY33_JOBS    make -j (default: number of CPUs)
#
# The version is whatever ruby3.3 the suite's Sources index lists today, so
# a point release does not break the script.  Trust chain: InRelease is
# checked with gpgv against Debian's archive keyring, Sources.xz against the
# sha256 in InRelease, the .orig tarball against the sha256 in Sources.
# Nothing is installed system-wide: /usr/bin/ruby stays Debian's.
# A finished build is marked by <prefix>/.stillprof-complete; later runs
# print the path without touching the network.  Exit: 0 ok, 1 failure
# (download, checksum, build), each with a message on stderr.
set -eu

MIRROR=${STILLPROF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${STILLPROF_DEBIAN_SUITE:-trixie}
PKG=ruby3.3
if [ -n "${STILLPROF_RUBY33_PREFIX:-}" ]; then
	PREFIX=$STILLPROF_RUBY33_PREFIX
elif mkdir -p /opt/stillprof-ruby-3.3 2>/dev/null && [ -w /opt/stillprof-ruby-3.3 ]; then
	PREFIX=/opt/stillprof-ruby-3.3
else
	PREFIX=${HOME:-/tmp}/.cache/stillprof-ruby-3.3
fi
CACHE=${STILLPROF_RUBY33_CACHE:-$PREFIX.build}
JOBS=${STILLPROF_RUBY33_JOBS:-$(nproc 2>/dev/null || echo 2)}
STAMP=$PREFIX/.stillprof-complete
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "ruby33.sh: $*" >&2; exit 1; }
log() { echo "ruby33.sh: $*" >&2; }

done_already() {
	if [ -f "$STAMP" ] && [ -x "$PREFIX/bin/ruby" ]; then
		log "Ruby $(cat "$STAMP") already built in $PREFIX"
		echo "$PREFIX/bin/ruby"
		exit 0
	fi
}
done_already

mkdir -p "$CACHE" || die "cannot create $CACHE"
# One build at a time (parallel make check runs, several worktrees).
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"
done_already

for c in curl xz sha256sum gpgv make cc; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (run scripts/deps.sh)"
done
[ -f "$KEYRING" ] || die "$KEYRING missing (debian-archive-keyring)"

fetch() { # url file
	curl -fsSL --retry 3 --connect-timeout 20 --max-time 900 -o "$2.part" "$1" ||
		die "download failed: $1"
	mv "$2.part" "$2"
}

cd "$CACHE"
log "reading $MIRROR/dists/$SUITE"
fetch "$MIRROR/dists/$SUITE/InRelease" InRelease
gpgv --keyring "$KEYRING" InRelease >gpgv.log 2>&1 ||
	{ cat gpgv.log >&2; die "InRelease signature check failed"; }
want=$(awk '/^SHA256:/{s=1; next} /^[^ ]/{s=0} s && $3 == "main/source/Sources.xz" {print $1}' InRelease)
[ -n "$want" ] || die "InRelease lists no main/source/Sources.xz"
fetch "$MIRROR/dists/$SUITE/main/source/Sources.xz" Sources.xz
got=$(sha256sum Sources.xz | cut -d' ' -f1)
[ "$got" = "$want" ] || die "Sources.xz sha256 $got, InRelease says $want"

# The ruby3.3 stanza: Version, Directory and the .orig tarball's sha256.
xz -dc Sources.xz | awk -v p="$PKG" '
	$0 == "Package: " p {s = 1}
	s && /^$/ {exit}
	s' >stanza
[ -s stanza ] || die "$SUITE has no source package $PKG"
version=$(sed -n 's/^Version: //p' stanza)
dir=$(sed -n 's/^Directory: //p' stanza)
set -- $(awk '/^Checksums-Sha256:/{s=1; next} /^[^ ]/{s=0}
	s && $3 ~ /\.orig\.tar\.(xz|gz|bz2)$/ {print $1, $3; exit}' stanza)
[ $# = 2 ] && [ -n "$dir" ] || die "cannot parse the $PKG stanza (Version $version)"
sum=$1 tarball=$2
log "$PKG $version: $dir/$tarball"
if [ ! -f "$tarball" ] || [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$sum" ]; then
	fetch "$MIRROR/$dir/$tarball" "$tarball"
fi
got=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$got" = "$sum" ] || { rm -f "$tarball"; die "$tarball sha256 $got, Sources says $sum"; }

# Only ever delete a prefix this script created (a failed earlier build).
if [ -d "$PREFIX" ] && [ -n "$(ls -A "$PREFIX")" ] && [ ! -f "$PREFIX/.stillprof-partial" ]; then
	die "$PREFIX is not empty and not ours: refusing to delete it"
fi
rm -rf src && mkdir src
tar -xf "$tarball" -C src --strip-components=1 || die "cannot unpack $tarball"
cd src
[ -x configure ] || die "$tarball has no configure script"
start=$(date +%s)
# Only what the gem and its tests use: no docs, no gmp/readline variants.
# Shared libruby so the extension links the way distribution Rubies do.
rm -rf "$PREFIX" && mkdir -p "$PREFIX" && : >"$PREFIX/.stillprof-partial"
log "configure (prefix $PREFIX)"
./configure --prefix="$PREFIX" --disable-install-doc --disable-install-rdoc \
	--disable-install-capi --enable-shared --without-gmp \
	--with-out-ext=readline,gdbm,dbm,win32,win32ole,fiddle \
	>"$CACHE/configure.log" 2>&1 ||
	{ tail -20 "$CACHE/configure.log" >&2; die "configure failed ($CACHE/configure.log)"; }
log "make -j$JOBS"
make -j"$JOBS" >"$CACHE/make.log" 2>&1 ||
	{ tail -30 "$CACHE/make.log" >&2; die "make failed ($CACHE/make.log)"; }
# Debian's .orig tarball carries no bundled .gem files; with a base ruby
# around, install would try to download them from rubygems.org.  The
# bundled gems' sources it does carry (minitest, which the tests use) are
# installed either way.
make install-nodoc HAVE_BASERUBY=no >"$CACHE/install.log" 2>&1 ||
	{ tail -30 "$CACHE/install.log" >&2; die "make install failed ($CACHE/install.log)"; }
"$PREFIX/bin/ruby" -e 'exit(RUBY_VERSION >= "3.3" ? 0 : 1)' ||
	die "$PREFIX/bin/ruby does not run as Ruby >= 3.3"
end=$(date +%s)
upstream=$("$PREFIX/bin/ruby" -e 'print RUBY_VERSION')
echo "$upstream (Debian $version)" >"$STAMP"
rm -f "$PREFIX/.stillprof-partial"
cd "$CACHE" && rm -rf src
log "built Ruby $upstream in $((end - start)) s with make -j$JOBS into $PREFIX"
echo "$PREFIX/bin/ruby"
