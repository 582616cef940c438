#!/usr/bin/env bash
# sluice-install <version>: puts release <version> live on this instance, or leaves the instance on
# the version it ran before.
#
# Run by the instance's user data at boot (with the current version from SSM) and by the rolling
# release through SSM Run Command, which reports a failure as the reason code Install.ExitCode<N>.
#   1. <version> already current and healthy: nothing to do (no restart).
#   2. Download <version>.tgz and <version>.tgz.sha256, verify, unpack into releases/<version>/
#      (a release unpacked before is reused). Nothing live changes until this succeeded.
#   3. Stop the worker gracefully (SIGTERM, then its stop timeout), point `current` at the release
#      atomically (a new link renamed over the old one), restart the web app, start the worker, and
#      wait until the local health check reports <version>.
#   4. If it never does: switch back to the previous release, restart, wait until it is healthy.
#   5. Keep the 3 releases that were live most recently (never the current or the previous one).
#
# Exit codes (the README lists them too):
#   0  <version> is live (or already was); the last line printed is the health check's answer
#   2  bad input: an invalid version or configuration; nothing was touched
#   3  the artifact or its checksum could not be downloaded; nothing was touched
#   4  <version> never reported healthy; the previous version was restored and is healthy
#   5  the artifact does not match its checksum or is not a release; nothing was touched
#   6  <version> never reported healthy and no previous version could be restored healthy
#
# Configuration: the env file <root>/etc/sluice/env (written by the user data) sets APP_PORT,
# HEALTH_CHECK_PATH, INSTALL_HEALTH_TIMEOUT_SECONDS, WORKER_STOP_TIMEOUT_SECONDS, and where artifacts
# come from: ARTIFACT_SOURCE (s3://…, file:///…, http(s)://…: the folder holding <version>.tgz) or
# ARTIFACT_BUCKET (s3://$ARTIFACT_BUCKET/releases). From the caller's environment, for tests and
# hosts without systemd: SLUICE_ROOT, a prefix for every path the script touches (default: none);
# SLUICE_SERVICE_MANAGER=systemd|process (default: systemd when it runs, else each service is a
# background `node` process with a pid file in <root>/run/sluice; either way its output goes to
# <root>/var/log/sluice/<name>.log); SLUICE_NODE, the node binary of the process manager (default: node).
#
# The user data embeds this file without its comment lines (EC2 allows 16 KB of user data): keep
# every comment on lines of its own, and no heredoc.
set -euo pipefail

version="${1:-}"
if [[ ! "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$ ]]; then
  echo "sluice-install: invalid version '${version}' (letters, digits, '.', '_', '+', '-'; at most 128)" >&2
  exit 2
fi

# --- configuration ------------------------------------------------------------------------------
root="${SLUICE_ROOT:-}"
env_file="$root/etc/sluice/env"
if [[ ! -r "$env_file" ]]; then
  echo "sluice-install: ${env_file} is missing (the instance's user data writes it)" >&2
  exit 2
fi
set -a
source "$env_file"
set +a
for name in APP_PORT HEALTH_CHECK_PATH; do
  if [[ -z "${!name:-}" ]]; then
    echo "sluice-install: ${name} is not set in ${env_file}" >&2
    exit 2
  fi
done
artifact_source="${ARTIFACT_SOURCE:-${ARTIFACT_BUCKET:+s3://${ARTIFACT_BUCKET}/releases}}"
artifact_source="${artifact_source%/}"
if [[ ! "$artifact_source" =~ ^(s3|file|https?):// ]]; then
  echo "sluice-install: set ARTIFACT_SOURCE (s3://, file:// or http(s)://) or ARTIFACT_BUCKET in ${env_file} (given '${artifact_source}')" >&2
  exit 2
fi
health_timeout="${INSTALL_HEALTH_TIMEOUT_SECONDS:-60}"
health_url="http://127.0.0.1:${APP_PORT}${HEALTH_CHECK_PATH}"

manager="${SLUICE_SERVICE_MANAGER:-}"
if [[ -z "$manager" ]]; then
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then manager=systemd; else manager=process; fi
fi
if [[ "$manager" != systemd && "$manager" != process ]]; then
  echo "sluice-install: SLUICE_SERVICE_MANAGER must be systemd or process (given '${manager}')" >&2
  exit 2
fi

app_root="$root/opt/sluice"
releases="$app_root/releases"
current="$app_root/current"
release_dir="$releases/$version"
release_env="$root/etc/sluice/release.env"
run_dir="$root/run/sluice"
log_dir="$root/var/log/sluice"
mkdir -p "$releases"

# One install at a time: on a new instance the boot install and a release's can overlap.
exec 9>"$app_root/.install.lock"
flock 9

# --- services: the systemd units, or plain processes where systemd is absent --------------------
process_alive() {
  # An exited process its new parent has not reaped yet (a zombie) is not alive.
  [[ -n "$1" && -r "/proc/$1/stat" ]] && [[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]]
}

service_pid() {
  cat "$run_dir/$1.pid" 2>/dev/null || true
}

service_start() {
  if [[ "$manager" == systemd ]]; then
    systemctl start "sluice-$1.service" || echo "sluice-install: systemctl start sluice-$1.service failed" >&2
    return 0
  fi
  if process_alive "$(service_pid "$1")"; then return 0; fi
  local entry=server.mjs
  [[ "$1" == worker ]] && entry=worker.mjs
  mkdir -p "$run_dir" "$log_dir"
  # What the unit does: both env files, the release as working directory, source maps on. The
  # lock's descriptor is closed, or the service would hold the lock for as long as it runs.
  (
    exec 9>&-
    set -a
    source "$env_file"
    source "$release_env"
    set +a
    cd "$current"
    exec "${SLUICE_NODE:-node}" --enable-source-maps "$entry"
  ) </dev/null >>"$log_dir/$1.log" 2>&1 &
  echo "$!" >"$run_dir/$1.pid"
}

# service_stop <name> <timeout seconds>: SIGTERM, then SIGKILL after the timeout (systemd's TimeoutStopSec).
service_stop() {
  if [[ "$manager" == systemd ]]; then
    systemctl stop "sluice-$1.service" || echo "sluice-install: systemctl stop sluice-$1.service failed" >&2
    return 0
  fi
  local pid
  pid="$(service_pid "$1")"
  if process_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + $2))
    while process_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if process_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      while process_alive "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$run_dir/$1.pid"
}

service_restart() {
  if [[ "$manager" == systemd ]]; then
    systemctl restart "sluice-$1.service" || echo "sluice-install: systemctl restart sluice-$1.service failed" >&2
    return 0
  fi
  service_stop "$1" 30
  service_start "$1"
}

# The last lines a service wrote: why it never reported healthy. Under either manager its output
# is appended to <root>/var/log/sluice/<name>.log (the systemd units use StandardOutput=append:, for
# the CloudWatch agent); systemd's own lines about the unit (a failed start) stay in the journal.
service_log() {
  tail -n 40 "$log_dir/$1.log" 2>/dev/null || true
  if [[ "$manager" == systemd ]]; then
    journalctl -u "sluice-$1.service" -n 5 --no-pager -o cat 2>/dev/null || true
  fi
}

# --- health --------------------------------------------------------------------------------------
health_body=""

# Whether the local health check answers 200 with "version":"<version>"; the answer is kept in health_body.
reports_version() {
  health_body="$(curl -fsS --max-time 2 "$health_url" 2>/dev/null)" && [[ "$health_body" == *"\"version\":\"$1\""* ]]
}

wait_healthy() {
  local deadline=$((SECONDS + health_timeout))
  until reports_version "$1"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.2
  done
}

# --- artifacts -----------------------------------------------------------------------------------
# fetch <url> <file>: the scheme of ARTIFACT_SOURCE picks the client.
fetch() {
  case "$1" in
    s3://*) aws s3 cp --only-show-errors "$1" "$2" ;;
    file://*) cp -- "${1#file://}" "$2" ;;
    *) curl -fsS --retry 2 --max-time 600 -o "$2" "$1" ;;
  esac
}

# --- switching -----------------------------------------------------------------------------------
# Puts an unpacked release live. `current` is replaced by renaming a new link over it (rename(2) is
# atomic: a reader sees the old target or the new one, never no link); `ln -sfn` alone is not atomic
# everywhere (older coreutils unlink the old link first).
go_live() {
  service_stop worker "${WORKER_STOP_TIMEOUT_SECONDS:-60}"
  printf 'SLUICE_VERSION=%s\n' "$1" >"$release_env.tmp"
  mv -f "$release_env.tmp" "$release_env"
  ln -sfn "releases/$1" "$app_root/.current.$$"
  mv -Tf "$app_root/.current.$$" "$current"
  service_restart web
  service_start worker
}

previous=""
if link="$(readlink "$current" 2>/dev/null)"; then previous="${link##*/}"; fi

if [[ "$previous" == "$version" ]] && reports_version "$version"; then
  # Already live and healthy (a rerun, or a rollback onto a target that restored itself). A worker
  # that is not running is started; nothing running is restarted.
  service_start worker
  echo "sluice-install: ${version} is already live"
  printf '%s\n' "$health_body"
  exit 0
fi

# --- fetch, verify and unpack (nothing live changes until this succeeded) ------------------------
if [[ ! -f "$release_dir/.complete" ]]; then
  staging="$(mktemp -d "$releases/.staging-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  for file in "$version.tgz" "$version.tgz.sha256"; do
    url="$artifact_source/$file"
    if ! fetch "$url" "$staging/$file"; then
      echo "sluice-install: ${url} could not be downloaded; build the release (npm run package -- ${version}) and upload both ${version}.tgz and ${version}.tgz.sha256" >&2
      exit 3
    fi
  done
  expected=""
  read -r expected _ <"$staging/$version.tgz.sha256" || true
  actual="$(sha256sum "$staging/$version.tgz" | cut -d' ' -f1)"
  if [[ "$expected" != "$actual" ]]; then
    echo "sluice-install: ${version}.tgz does not match its checksum (expected '${expected}', downloaded ${actual}); nothing was changed: build and upload both files again" >&2
    exit 5
  fi
  mkdir "$staging/app"
  if ! tar -xzf "$staging/$version.tgz" -C "$staging/app" || [[ ! -f "$staging/app/server.mjs" ]]; then
    echo "sluice-install: ${version}.tgz matches its checksum but is not a release (no server.mjs at its root); nothing was changed" >&2
    exit 5
  fi
  touch "$staging/app/.complete"
  rm -rf "$release_dir"
  mv "$staging/app" "$release_dir"
  if ((EUID == 0)); then chown -R root:root "$release_dir"; fi
  chmod -R a+rX "$release_dir"
fi

# --- switch, restart, wait for the health check ------------------------------------------------
# The release's mtime records when it last went live: what "the 3 most recent" means below.
touch "$release_dir"
go_live "$version"
if ! wait_healthy "$version"; then
  echo "sluice-install: ${health_url} did not report version ${version} within ${health_timeout}s; its log:" >&2
  service_log web >&2
  if [[ -z "$previous" || "$previous" == "$version" || ! -f "$releases/$previous/.complete" ]]; then
    echo "sluice-install: ${version} never reported healthy and there is no previous release to restore" >&2
    exit 6
  fi
  echo "sluice-install: restoring ${previous}" >&2
  go_live "$previous"
  if wait_healthy "$previous"; then
    echo "sluice-install: ${version} never reported healthy; restored ${previous}, which is healthy and serving" >&2
    exit 4
  fi
  service_log web >&2
  echo "sluice-install: ${version} never reported healthy, and the restored ${previous} did not report healthy within ${health_timeout}s either" >&2
  exit 6
fi

# --- keep the 3 releases live most recently, never the current or the previous one ----------------
kept=("$version")
if [[ -n "$previous" && "$previous" != "$version" ]]; then kept+=("$previous"); fi
slots=$((3 - ${#kept[@]}))
while IFS= read -r name; do
  if [[ "$name" == "$version" || "$name" == "$previous" ]]; then continue; fi
  if ((slots > 0)); then
    slots=$((slots - 1))
  else
    rm -rf "${releases:?}/$name"
  fi
done < <(ls -1t "$releases")
# Staging folders of installs that were killed (this one holds the lock, so none is in use).
find "$releases" -mindepth 1 -maxdepth 1 -name '.staging-*' ! -path "${staging:-/nonexistent}" -exec rm -rf {} +

echo "sluice-install: ${version} is live"
# Last line: what the new version's health check answered; the release verifies the version from it.
printf '%s\n' "$health_body"
