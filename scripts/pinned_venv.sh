# scripts/pinned_venv.sh: sourced by the scripts that build a Python virtual environment from
# a hash-pinned requirements file (torchrun_venv.sh, pytorch_venv.sh); not run by itself.
#
#   pinned_venv NAME REQUIREMENTS ENTRY WHAT SIZE CHECK
#
# builds $AUTOFREEZE_DEPS/NAME (default .deps/NAME) from REQUIREMENTS with pip install
# --no-deps --require-hashes --only-binary=:all:, taking the wheels from the download cache
# (~/.cache/autofreeze/downloads, or $AUTOFREEZE_DOWNLOADS) and fetching only the missing ones
# from PyPI; then calls the shell function CHECK with the venv's directory (it must fail when
# the venv does not work), stamps the venv and prints the path of its ENTRY (e.g. bin/python).
# A stamp (the requirements' hash and the Python version) skips everything while both are
# unchanged. WHAT and SIZE only go into the log. One builder at a time (flock). CPython 3.11 on
# x86-64 Linux only, as the pinned wheels are; PYTHON picks the interpreter.
pinned_venv() {
  local name=$1 req=$2 entry=$3 what=$4 size=$5 check=$6
  local root deps dl py venv pyver key stamp t0
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  deps=${AUTOFREEZE_DEPS:-$root/.deps}
  dl=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}
  py=${PYTHON:-python3}
  venv=$deps/$name
  log() { echo "$name: $*" >&2; }
  die() { echo "$name: error: $*" >&2; exit 1; }

  command -v "$py" >/dev/null || die "'$py' not found: install Python 3.11 (or set PYTHON)"
  pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [[ $pyver == 3.11 ]] || die "$py is Python $pyver; the pinned wheels are for CPython 3.11 (set PYTHON)"
  [[ $(uname -sm) == "Linux x86_64" ]] || die "the pinned wheels are for x86-64 Linux, not $(uname -sm)"

  mkdir -p "$deps/.stamps" "$dl"
  exec 9>"$deps/.stamps/$name.lock"
  flock 9

  key="$(sha256sum "$req" | cut -c1-16) python$pyver"
  stamp=$deps/.stamps/$name
  if [[ -f $stamp && "$(cat "$stamp")" == "$key" && -x $venv/$entry ]]; then
    echo "$venv/$entry"
    return 0
  fi

  t0=$SECONDS
  log "creating $venv ($what: ${req#"$root"/})"
  rm -rf "$venv" "$stamp"
  "$py" -m venv "$venv"
  local pip=("$venv/bin/pip" --disable-pip-version-check --no-input)
  local opts=(--no-deps --require-hashes --only-binary=:all: -r "$req")
  # From the download cache alone when every wheel is there; otherwise fetch the missing ones
  # from PyPI into the cache (pip keeps a cached file whose hash matches), then install.
  if ! "${pip[@]}" install --quiet --no-index --find-links "$dl" "${opts[@]}" 2>/dev/null; then
    log "downloading the missing wheels from PyPI into $dl (about $size in all)"
    "${pip[@]}" download --quiet -d "$dl" "${opts[@]}"
    "${pip[@]}" install --quiet --no-index --find-links "$dl" "${opts[@]}"
  fi
  "$check" "$venv" || die "the check of $venv failed"
  echo "$key" >"$stamp"
  log "ready in $((SECONDS - t0)) s: $venv/$entry ($(du -sh "$venv" | cut -f1))"
  echo "$venv/$entry"
}
