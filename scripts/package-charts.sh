#!/usr/bin/env bash
# `make package`: a versioned archive of each chart in dist/ (`<name>-<version>.tgz`), the umbrella
# with its operator dependency built in, each with a signed provenance file (`.tgz.prov`) that
# `helm verify` and `helm install --verify` check.
#
# Signing key:
#   FADI_SIGNING_KEY=<name, email or id>   your key, from FADI_SIGNING_KEYRING (default
#                                          ~/.gnupg/secring.gpg, a `gpg --export-secret-keys` file);
#                                          a protected key reads its passphrase from
#                                          FADI_SIGNING_PASSPHRASE_FILE
#   (unset)                                a throw-away key made now in a temporary GNUPGHOME: the
#                                          archives are signed, but only dist/throwaway-pubring.gpg
#                                          (written next to them) verifies them. Fine for tests and
#                                          local builds; publish with your own key.
# DIST=<dir> writes elsewhere than dist/. Every archive is verified before the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/charts.sh
DIST=${DIST:-dist}
mkdir -p "$DIST"
work=$(mktemp -d /tmp/fadi-package.XXXXXX)
cleanup() {
  # the throw-away GNUPGHOME's agent, started by gpg below, goes with it
  [ -d "$work/gnupg" ] && GNUPGHOME="$work/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${FADI_SIGNING_KEY:-}" ]; then
  key=$FADI_SIGNING_KEY
  keyring=${FADI_SIGNING_KEYRING:-$HOME/.gnupg/secring.gpg}
  [ -f "$keyring" ] || { echo "[package] no secret keyring $keyring: gpg --export-secret-keys '$key' > $keyring, or set FADI_SIGNING_KEYRING" >&2; exit 2; }
  pubring=""
  echo "[package] signing with $key from $keyring"
else
  command -v gpg >/dev/null || { echo "[package] gpg is needed to sign the charts (Debian package gnupg)" >&2; exit 2; }
  export GNUPGHOME="$work/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  key="fadi-seldon throw-away signing key <package@fadi-seldon.invalid>"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-generate-key "$key" rsa2048 sign 1d 2>/dev/null
  keyring="$work/secring.gpg"
  gpg --batch --quiet --export-secret-keys > "$keyring"
  pubring="$DIST/throwaway-pubring.gpg"
  gpg --batch --quiet --export > "$pubring"
  echo "[package] signing with a throw-away key (set FADI_SIGNING_KEY to use yours); public key: $pubring"
fi

sign=(--sign --key "$key" --keyring "$keyring")
[ -n "${FADI_SIGNING_PASSPHRASE_FILE:-}" ] && sign+=(--passphrase-file "$FADI_SIGNING_PASSPHRASE_FILE")
for chart in "${CHARTS[@]}"; do
  if grep -q '^dependencies:' "$chart/Chart.yaml"; then
    helm dependency build "$chart" >/dev/null
  fi
  out=$(helm package "$chart" --destination "$DIST" "${sign[@]}")
  archive=${out##*: }
  echo "[package] $archive (+ .prov)"
  # the secret keyring holds the public key too
  helm verify "$archive" --keyring "${pubring:-$keyring}" >/dev/null
done
echo "[package] ${#CHARTS[@]} charts packaged, signed and verified in $DIST/"
