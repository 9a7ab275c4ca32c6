#!/usr/bin/env bash
# Build a local stand-in for python:3.11-slim when no image registry is reachable.
#
# Debian bookworm (minbase) with its Python 3.11, venv and CA certificates, made with debootstrap
# from Debian's mirror and imported into Docker. The host's CA bundle is copied in, so pip and uv
# inside image builds trust the same TLS chain the host does. Usage:
#   images/base/build-offline-base.sh [image-name]   (default occupancy-base:bookworm)
set -euo pipefail

name=${1:-occupancy-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >/dev/null
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/*
tar -C "$root" -c . | docker import \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$name" >/dev/null
echo "$name"
