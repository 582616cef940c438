#!/usr/bin/env bash
# sluice-install <version>: puts release <version> live on this instance.
#
# Run by the instance's user data at boot (with the current version from SSM) and by the rolling
# release through SSM Run Command. It downloads and unpacks the release before touching anything
# that serves, stops the worker gracefully (systemd sends SIGTERM and waits TimeoutStopSec), switches
# the `current` link atomically, restarts both services and waits until the local health check
# reports the new version. Exit codes: 0 live, 2 bad input, 3 artifact missing, 4 never healthy.
set -euo pipefail

version="${1:-}"
if [[ ! "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$ ]]; then
  echo "sluice-install: invalid version '${version}' (letters, digits, '.', '_', '+', '-'; at most 128)" >&2
  exit 2
fi

# ARTIFACT_BUCKET, APP_PORT, HEALTH_CHECK_PATH, INSTALL_HEALTH_TIMEOUT_SECONDS, AWS_REGION
source /etc/sluice/env

root=/opt/sluice
releases="$root/releases"
release_dir="$releases/$version"
mkdir -p "$releases"

# --- fetch and unpack (nothing live changes until this succeeded) ---------------------------
if [[ ! -f "$release_dir/.complete" ]]; then
  staging="$(mktemp -d "$releases/.staging-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  if ! aws s3 cp --only-show-errors "s3://${ARTIFACT_BUCKET}/releases/${version}.tgz" "$staging/release.tgz"; then
    echo "sluice-install: s3://${ARTIFACT_BUCKET}/releases/${version}.tgz could not be downloaded; upload the release artifact first" >&2
    exit 3
  fi
  mkdir "$staging/app"
  tar -xzf "$staging/release.tgz" -C "$staging/app"
  touch "$staging/app/.complete"
  rm -rf "$release_dir"
  mv "$staging/app" "$release_dir"
  chown -R root:root "$release_dir"
  chmod -R a+rX "$release_dir"
fi

# --- switch: worker first, gracefully, then the web app -------------------------------------
systemctl stop sluice-worker.service
printf 'SLUICE_VERSION=%s\n' "$version" > /etc/sluice/release.env.tmp
mv -f /etc/sluice/release.env.tmp /etc/sluice/release.env
ln -sfn "$release_dir" "$root/current.tmp"
mv -Tf "$root/current.tmp" "$root/current"
systemctl restart sluice-web.service
systemctl start sluice-worker.service

# --- wait until the local health check reports the new version -----------------------------
deadline=$((SECONDS + ${INSTALL_HEALTH_TIMEOUT_SECONDS:-60}))
url="http://127.0.0.1:${APP_PORT}${HEALTH_CHECK_PATH}"
until body="$(curl -fsS --max-time 2 "$url" 2>/dev/null)" && [[ "$body" == *"\"version\":\"${version}\""* ]]; do
  if (( SECONDS >= deadline )); then
    echo "sluice-install: ${url} did not report version ${version} within ${INSTALL_HEALTH_TIMEOUT_SECONDS:-60}s" >&2
    journalctl -u sluice-web.service -n 40 --no-pager >&2 || true
    exit 4
  fi
  sleep 1
done

# --- keep the five newest releases for fast rollback ----------------------------------------
ls -1dt "$releases"/*/ 2>/dev/null | tail -n +6 | grep -v "/${version}/$" | xargs -r rm -rf
echo "sluice-install: ${version} is live"
# Last line: what the new version's health check answered; the release verifies the version from it.
printf '%s\n' "$body"
