#!/usr/bin/env bash
# scripts/tokenizer_fixtures_venv.sh: a Python virtual environment with exactly
# scripts/tokenizer-fixtures-requirements.txt (tokenizers and sentencepiece, pinned and
# sha256-checked), for scripts/make_tokenizer_fixtures.py. Prints the path of its python.
#
#   PY=$(scripts/tokenizer_fixtures_venv.sh) && "$PY" scripts/make_tokenizer_fixtures.py
#
# Idempotent (a stamp skips everything while the requirements and Python are unchanged);
# about 5 MB of wheels. Environment as for scripts/setup.sh (PYTHON, AUTOFREEZE_DOWNLOADS,
# AUTOFREEZE_DEPS).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/pinned_venv.sh"

check() {
  "$1/bin/python" -c 'import tokenizers, sentencepiece; from tokenizers import Tokenizer, models; Tokenizer(models.BPE())'
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pinned_venv tokenizer-fixtures-venv "$root/scripts/tokenizer-fixtures-requirements.txt" bin/python \
  "tokenizers and sentencepiece" "5 MB" check
