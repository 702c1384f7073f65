#!/usr/bin/env bash
# Installs a Vulkan driver that Dawn (the `webgpu` package's dawn.node) accepts, so the webgpu
# parity tests run for real on a machine without a GPU: lavapipe from Mesa 25 (bookworm-backports)
# and the Vulkan loader. Bookworm's own Mesa 22.3 lavapipe is refused by Dawn (it lacks
# shaderUniformBufferArrayDynamicIndexing / shaderStorageBufferArrayDynamicIndexing).
#
# The backports suite is added to the machine's existing Debian source: its URI is read from
# /etc/apt/sources.list.d/ (deb822 `.sources` or one-line `.list`), so no mirror host name is
# written into the repository. Idempotent and quiet: does nothing when a new-enough lavapipe and
# the loader are already installed. Needs root (or sudo); without it, it prints why and exits 0
# (the webgpu tests are then skipped with their own message).
set -euo pipefail

log() { echo "install-lavapipe: $*" >&2; }

mesa_major() {
  dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null |
    awk '$3 == "installed" { split($4, v, "."); print v[1] }'
}

loader_installed() {
  dpkg-query -W -f='${Status}\n' libvulkan1 2>/dev/null | grep -q ' installed$'
}

major="$(mesa_major || true)"
if [[ -n "$major" && "$major" -ge 25 ]] && loader_installed; then
  log "Mesa $major lavapipe and libvulkan1 already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  log "no apt-get here; install a Vulkan driver by hand (Mesa >= 25 lavapipe or a GPU driver) to run the webgpu tests"
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    log "not root and no passwordless sudo: skipping (webgpu tests will be skipped)"
    exit 0
  fi
fi

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
if [[ -z "$codename" ]]; then
  log "cannot read VERSION_CODENAME from /etc/os-release; skipping"
  exit 0
fi
backports="${codename}-backports"

# The URI of the main Debian archive this machine already uses: the source that carries the
# release suite itself (not -security).
debian_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # deb822 stanzas are separated by blank lines.
    awk -v suite="$codename" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^#/) continue
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (deb && ok && uri != "") { print uri; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk -v suite="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i + 1) == suite) { print $i; exit } break } }' "$f"
  done
}

uri="$(debian_uri | head -n 1)"
if [[ -z "$uri" ]]; then
  log "found no Debian source for suite $codename in /etc/apt; skipping"
  exit 0
fi

list=/etc/apt/sources.list.d/mats-backports.sources
if ! grep -rqs "^Suites:.*\b${backports}\b" /etc/apt/sources.list.d/ && ! grep -rqs "^deb .* ${backports} " /etc/apt/sources.list /etc/apt/sources.list.d/; then
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $backports"
    echo "Components: main"
    [[ -f "$keyring" ]] && echo "Signed-By: $keyring"
  } | $SUDO tee "$list" >/dev/null
  log "added $backports from the existing Debian source to $list"
fi

start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t "$backports" mesa-vulkan-drivers libvulkan1 >/dev/null
log "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) and libvulkan1 $(dpkg-query -W -f='${Version}' libvulkan1) in $((SECONDS - start)) s"
