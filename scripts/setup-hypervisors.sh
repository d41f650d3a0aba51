#!/usr/bin/env bash
# Idempotent hypervisor setup for CI and dev machines: QEMU/KVM, qemu-img, libvirt.
# Works without systemd (containers, CI runners): daemons are started by hand.
# Safe to run again: every step checks before it acts.
set -euo pipefail

WAIT_SECONDS="${SHOAL_SETUP_WAIT_SECONDS:-30}" # how long virsh may take to answer after libvirtd starts
LIBVIRT_URI="${SHOAL_LIBVIRT_URI:-qemu:///system}"

log() { printf 'setup-hypervisors: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  die "must run as root (or with sudo available)"
fi

PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients)

missing_packages() {
  local p out=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then out+=("$p"); fi
  done
  printf '%s\n' "${out[@]:-}"
}

# libvirt-daemon-system's postinst expects these accounts; in minimal containers it may fail
# before creating them, so create them ourselves and let dpkg finish configuring.
ensure_accounts() {
  getent group kvm >/dev/null || groupadd --system kvm
  getent group libvirt >/dev/null || groupadd --system libvirt
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  if ! getent passwd libvirt-qemu >/dev/null; then
    useradd --system --gid libvirt-qemu --groups kvm --home-dir /var/lib/libvirt --no-create-home \
      --shell /usr/sbin/nologin libvirt-qemu
  fi
  id -nG libvirt-qemu | tr ' ' '\n' | grep -qx kvm || usermod -a -G kvm libvirt-qemu
}

ensure_dirs() {
  mkdir -p /var/log/libvirt /run/libvirt /var/lib/libvirt/qemu /var/lib/libvirt/images
}

install_packages() {
  local missing
  missing="$(missing_packages | tr '\n' ' ' | sed 's/ *$//')"
  if [ -z "$missing" ]; then
    log "packages present: ${PACKAGES[*]}"
  else
    log "installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    ensure_accounts
    ensure_dirs
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $missing; then
      log "apt-get install reported a failure (usually libvirt's postinst without systemd); repairing"
    fi
  fi
  # A half-configured package from an earlier failed postinst is finished here.
  if dpkg --audit 2>/dev/null | grep -q .; then
    ensure_accounts
    ensure_dirs
    dpkg --configure -a || log "dpkg --configure -a still reports errors (checked below)"
  fi
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing after install"
  command -v qemu-img >/dev/null || die "qemu-img missing after install"
  command -v virsh >/dev/null || die "virsh missing after install"
  command -v libvirtd >/dev/null || die "libvirtd missing after install"
}

fix_kvm() {
  if [ -e /dev/kvm ]; then
    chgrp kvm /dev/kvm
    chmod 660 /dev/kvm
    log "/dev/kvm: $(stat -c '%A %U:%G' /dev/kvm)"
  else
    log "/dev/kvm absent: QEMU will use TCG (slow, but real)"
  fi
}

start_daemon() {
  local name="$1"
  if pgrep -x "$name" >/dev/null; then
    log "$name already running (pid $(pgrep -x "$name" | head -1))"
  else
    "$name" -d
    log "started $name"
  fi
}

wait_for_libvirt() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until virsh -c "$LIBVIRT_URI" list --all >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      virsh -c "$LIBVIRT_URI" list --all || true
      die "virsh -c $LIBVIRT_URI did not answer within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
  log "virsh -c $LIBVIRT_URI answers"
}

install_packages
ensure_accounts
ensure_dirs
fix_kvm
start_daemon virtlogd
start_daemon libvirtd
wait_for_libvirt
log "done: $(qemu-system-x86_64 --version | head -1); $(virsh --version) libvirt"
