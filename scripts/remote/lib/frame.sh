# shellcheck shell=sh
# How every framed pinet script reports back (read by src/remote/script.ts).
# pinet passes a random marker as the first argument; each record is a line
# "\n<marker> <kind> <words>", so nothing a script copies from a file can
# forge one. Kinds: section <name> (the bytes up to the next record are its
# body), done <step>, undone <step>, fail <step> <message>, end.
PINET_MARK=$1
shift
rec() { printf '\n%s %s\n' "$PINET_MARK" "$*"; }
section() { rec section "$1"; }
step_done() { rec 'done' "$@"; }
step_undone() { rec undone "$1"; }
step_fail() { rec fail "$@"; }
