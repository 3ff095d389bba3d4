# Sourced by the scripts that test against other versions than the lockfile's (test-nest11.sh, test-otel3.sh): copies
# the repo's files (tracked and untracked, not ignored) into a temporary folder removed on exit, and installs the
# lockfile there. The caller then installs its versions with `npm install --no-save`.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$repo"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$work"
cd "$work"
npm ci --no-audit --no-fund
