#!/bin/bash
# rootfs.sh DEST BINARY [LIBRARY...]: lays out in DEST the root file system of a service image
# (no shell, no package manager): BINARY and build/release/bin/healthchecker in /usr/local/bin,
# stripped; the shared libraries they and each LIBRARY (one the service dlopen()s) need, with
# the dynamic loader and glibc's NSS modules for name resolution; CA certificates; a non-root
# user cppblog (10001) owning /data; /tmp. Runs in the builder stage of Containerfile.
set -euo pipefail
dest=$1 binary=$2; shift 2
libdir=/usr/lib/x86_64-linux-gnu
mkdir -p "$dest/usr/local/bin" "$dest$libdir" "$dest/etc/ssl/certs" "$dest/data" "$dest/tmp" \
  "$dest/lib64"
ln -s usr/lib "$dest/lib"
chmod 1777 "$dest/tmp"
chown 10001:10001 "$dest/data"

for b in "$binary" build/release/bin/healthchecker; do
  strip --strip-unneeded -o "$dest/usr/local/bin/$(basename "$b")" "$b"
done

# Every object the binaries and LIBRARY... load, by ldd (which follows their dependencies), plus
# glibc's NSS modules, which are loaded by name at run time (getaddrinfo, getpwuid).
{
  for f in "$binary" build/release/bin/healthchecker "$@"; do
    ldd "$f" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'
  done
  printf '%s\n' "$@" $libdir/libnss_files.so.2 $libdir/libnss_dns.so.2
} | sort -u | while read -r lib; do
  case $lib in
    */ld-linux-x86-64.so.2) cp -L "$lib" "$dest$libdir/ld-linux-x86-64.so.2"
                            ln -sf "$libdir/ld-linux-x86-64.so.2" "$dest/lib64/ld-linux-x86-64.so.2" ;;
    *) cp -L "$lib" "$dest$libdir/$(basename "$lib")" ;;
  esac
done
strip --strip-unneeded "$dest$libdir"/*.so*

cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
cppblog:x:10001:10001:cppblog:/data:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<'GROUP'
root:x:0:
cppblog:x:10001:
nogroup:x:65534:
GROUP
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dest/etc/nsswitch.conf"
echo "$libdir" >"$dest/etc/ld.so.conf"
ldconfig -r "$dest"
du -sh "$dest" | sed "s|\$| ($(basename "$binary"))|"
