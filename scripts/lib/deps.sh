# Sourced by scripts/test and scripts/demo: installs the Debian 12 packages casedesk needs, only
# those missing (idempotent). Needs root (or sudo) when something is missing.
casedesk_packages=(
  build-essential cmake pkg-config ca-certificates openssl
  libmimetic-dev libcurl4-openssl-dev libssl-dev libboost-dev libsqlite3-dev libsqlitecpp-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev nlohmann-json3-dev libtomlplusplus-dev
  libcli11-dev libkainjow-mustache-dev libbenchmark-dev libgmime-3.0-dev libpoppler-cpp-dev
  dovecot-imapd dovecot-core python3 python3-aiosmtpd
  libsystemd-dev python3-prometheus-client help2man systemd dpkg-dev
  libsodium-dev
  chromium
)
# The web UI's browser test drives chromium with playwright-core (tests/web/setup). Node >= 18 and
# npm from Debian unless a node is installed already (a NodeSource nodejs bundles its own npm and
# conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || casedesk_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || casedesk_packages+=(npm)

install_deps() {
  local missing=() p
  for p in "${casedesk_packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # Dovecot's package must not start a system instance: tests run their own on loopback.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' RETURN
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configure + build into DIR; optional TARGET (default: everything).
build_tree() {
  local dir=$1 target=${2:-all}
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target "$target"
}
