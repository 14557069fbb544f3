#!/usr/bin/env bash
# Builds libsrtp2 with its OpenSSL crypto backend from Debian's own source
# package, static and position independent, into a cache directory, and
# prints the install prefix as its last line of stdout. Idempotent: a
# finished build for the current Debian version is reused without touching
# apt. Why: Debian 12 builds libsrtp2 on NSS, which costs ~813 µs per
# srtp_create and ~2.7 µs per AES-CM packet, against ~4.7 µs and ~0.58 µs
# for the same source with --enable-openssl (see TARGETS.md).
# On failure it prints a WARNING to stderr and exits non-zero; the caller
# (tools/setup.sh, cmake/srtp.cmake) then falls back to the packaged library.
# Environment: VOX_CACHE_DIR (default /var/cache/voxrelay, else
# $HOME/.cache/voxrelay when that is not writable).
set -euo pipefail

fail() {
  echo "WARNING: build_srtp: $*" >&2
  echo "WARNING: build_srtp: voxrelay falls back to Debian's packaged libsrtp2 (NSS backend:" \
       "~170x slower SRTP context creation, ~4.6x slower AES-CM per packet)." >&2
  exit 1
}
trap 'fail "command failed at line $LINENO"' ERR

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

# --- cache location ----------------------------------------------------------
cache_root() {
  local want=${VOX_CACHE_DIR:-/var/cache/voxrelay}
  if mkdir -p "$want" 2>/dev/null && [[ -w $want ]]; then
    echo "$want"
  elif [[ -z ${VOX_CACHE_DIR:-} ]] && mkdir -p "$HOME/.cache/voxrelay" 2>/dev/null; then
    echo "$HOME/.cache/voxrelay"
  else
    return 1
  fi
}
root=$(cache_root) || fail "no writable cache directory (${VOX_CACHE_DIR:-/var/cache/voxrelay})"

# The Debian version of the source we build: the installed libsrtp2-dev's
# (setup.sh installs it; dpkg-query is instant, so a cached build costs no apt
# call), else the candidate in the binary indexes.
version=$(dpkg-query -W -f='${Version}' libsrtp2-dev 2>/dev/null || true)
if [[ -z $version ]]; then
  version=$(apt-cache policy libsrtp2-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
fi
[[ -n $version && $version != "(none)" ]] || fail "cannot tell the Debian version of libsrtp2"
prefix="$root/libsrtp2-openssl-$version"
current="$root/libsrtp2-openssl-current"  # symlink cmake/srtp.cmake looks for

publish() {  # points the well-known symlink at $prefix and prints it
  if [[ $(readlink "$current" 2>/dev/null) != "$prefix" ]]; then
    ln -sfn "$prefix" "$current.tmp.$$" && mv -Tf "$current.tmp.$$" "$current"
  fi
  echo "$prefix"
}

if [[ -f $prefix/.complete ]]; then
  publish
  exit 0
fi

# One build at a time per cache (run.sh and test.sh may run concurrently).
exec 9>"$root/.libsrtp2.lock"
flock 9
if [[ -f $prefix/.complete ]]; then
  publish
  exit 0
fi

echo "build_srtp: building libsrtp2 $version with --enable-openssl into $prefix" >&2

# --- build dependencies --------------------------------------------------------
deps=(build-essential dpkg-dev pkg-config libssl-dev)
missing=()
for p in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || fail "cannot install ${missing[*]}"
fi

# --- deb-src entries derived from the machine's own apt sources -------------------
# Only entries for this release (suite == codename or codename-*) are mirrored,
# so third-party repositories without source indexes cannot break the update.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || fail "no VERSION_CODENAME in /etc/os-release"
src_file=/etc/apt/sources.list.d/voxrelay-deb-src.sources

derive_deb_src() {  # prints deb822 deb-src stanzas to stdout
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f && $f != "$src_file" ]] || continue
    # deb822: stanzas separated by blank lines; keep URIs, Suites, Components,
    # Signed-By of every enabled "Types: deb" stanza, drop comment lines.
    awk -v codename="$codename" '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "" && suites != "") {
          n = split(suites, s, /[ \t]+/); keep = ""
          for (i = 1; i <= n; i++)
            if (s[i] == codename || index(s[i], codename "-") == 1) keep = keep " " s[i]
          if (keep != "") {
            printf "Types: deb-src\nURIs: %s\nSuites:%s\n", uris, keep
            if (comps != "") printf "Components: %s\n", comps
            if (signed != "") printf "Signed-By: %s\n", signed
            printf "\n"
          }
        }
        types = uris = suites = comps = signed = enabled = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "components") comps = val
        else if (key == "signed-by") signed = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
  # One-line format: "deb [options] URI suite component...".
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e $f ]] || continue
    awk -v codename="$codename" '
      $1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) break; i++ }; i++ }
        uri = $(i); suite = $(i + 1); comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps " " $j
        if (suite != codename && index(suite, codename "-") != 1) next
        printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:%s\n", uri, suite, comps
        if (match(opts, /signed-by=[^] ]+/))
          printf "Signed-By: %s\n", substr(opts, RSTART + 10, RLENGTH - 10)
        printf "\n"
      }' "$f"
  done
}

have_source_index() { apt-cache showsrc libsrtp2 2>/dev/null | grep -q "^Version: $version\$"; }

if ! have_source_index; then
  stanzas=$(derive_deb_src)
  [[ -n $stanzas ]] || fail "no Debian '$codename' entry in the apt sources to derive deb-src from"
  printf '# Added by voxrelay tools/build_srtp.sh: source indexes for apt-get source\n%s\n' \
    "$stanzas" | $SUDO tee "$src_file" >/dev/null
  # Refresh only the new source indexes; the binary lists stay as they are.
  $SUDO apt-get update -qq -o Dir::Etc::sourcelist="$src_file" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0 >/dev/null || fail "apt-get update of $src_file failed"
  have_source_index || fail "no source package libsrtp2 $version in the derived deb-src entries"
fi

# --- fetch, configure, build, install ------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-srtp.XXXXXX")
stage="$work/stage"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
apt-get source -qq "libsrtp2=$version" >/dev/null 2>"$work/source.log" ||
  { cat "$work/source.log" >&2; fail "apt-get source libsrtp2=$version failed"; }
srcdir=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'libsrtp2-*' | head -1)
[[ -n $srcdir ]] || fail "apt-get source produced no libsrtp2-* directory"
cd "$srcdir"
jobs=$(nproc); ((jobs > 2)) && jobs=2  # the build machines are small and shared
log="$work/build.log"
{
  CFLAGS="-O2 -fPIC -g" ./configure --prefix="$prefix" --enable-openssl --disable-pcap &&
    make -j"$jobs" libsrtp2.a &&
    make install DESTDIR="$stage"
} >"$log" 2>&1 || { tail -30 "$log" >&2; fail "configure/make of libsrtp2 failed (log above)"; }
# configure writes its choices to crypto/include/config.h (configure.ac).
grep -q '^#define OPENSSL 1' crypto/include/config.h || fail "configure did not select the OpenSSL backend"
[[ -f $stage$prefix/lib/libsrtp2.a ]] || fail "make install produced no libsrtp2.a"
rm -f "$stage$prefix"/lib/libsrtp2.so*  # static only: nothing may pick a shared copy
cp "$srcdir/debian/changelog" "$stage$prefix/debian-changelog" 2>/dev/null || true
echo "libsrtp2 $version from Debian source, ./configure --enable-openssl --disable-pcap, CFLAGS=-O2 -fPIC -g" \
  >"$stage$prefix/BUILD-INFO"

rm -rf "$prefix"
mv "$stage$prefix" "$prefix"
touch "$prefix/.complete"
publish
