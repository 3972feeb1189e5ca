# SPDX-License-Identifier: MIT
# t/lib.sh -- the test helpers every t/*.t shell script sources.
#
#   . "${0%/*}/lib.sh"
#   test_expect_success 'name' 'commands'
#   test_expect_code 75 'name' 'commands'   # the commands' exit code must be 75
#   test_done
#
# Each script runs in a fresh trash directory ($TRASH, also the cwd), with a
# pinned environment; $MF_BUILD holds the binaries (make check sets it) and
# is first in PATH.  Servers a test starts are recorded with test_pid and
# killed by PID when the script ends.  Set MF_KEEP=1 to keep the trash.
#
# Root: mf tools refuse to run as root, and a test must see what a user sees.
# So a script started as root (make check in CI) runs itself again as user
# nobody: lib.sh copies $MF_BUILD, t/ and its siblings share/, man/ and
# contrib/ into a fresh /tmp/mf-nobody.XXXXXX (the checkout may sit under a
# 0700 /root), and runs the copy of the script there with setpriv as nobody
# and nobody's group alone, MF_BUILD pointing at the copy, TMPDIR and HOME
# in a directory nobody owns; then removes the copy (MF_KEEP=1 keeps it).  A script that truly needs
# root (mount, unshare, chown to another user, a private Postfix) opts out by
# setting MF_TEST_ROOT=1 before sourcing this file:
#
#   MF_TEST_ROOT=1
#   . "${0%/*}/lib.sh"
#   [ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace)"
#
# Under root, $TRASH is made 0711 so that a spool owned by nobody inside it
# is reachable (tools started as root become the spool's owner); $NOBODY_GROUP
# is nobody's group, and as_nobody CMD... runs a command as nobody.
set -u
T_DIR=$(cd "${0%/*}" && pwd)
: "${MF_BUILD:=$T_DIR/../build}"
MF_BUILD=$(cd "$MF_BUILD" && pwd) || { echo "Bail out! no build dir $MF_BUILD"; exit 1; }

NOBODY_GROUP=$(id -gn nobody 2>/dev/null || echo nogroup)
as_nobody() { setpriv --reuid=nobody --regid="$NOBODY_GROUP" --clear-groups -- "$@"; }

# _t_stage_copy DIR: $MF_BUILD into DIR/build; t/ and its siblings share/,
# man/, contrib/ into DIR/src (so $T_DIR/../share still works); readable by all.
_t_stage_copy() {
	(
		umask 022
		mkdir "$1/src" && cp -R "$MF_BUILD" "$1/build" && cp -R "$T_DIR" "$1/src/t" || exit 1
		for _d in share man contrib; do
			[ ! -d "$T_DIR/../$_d" ] || cp -R "$T_DIR/../$_d" "$1/src/$_d" || exit 1
		done
		chmod -R a+rX,go-w "$1/build" "$1/src"
	)
}

# As root without MF_TEST_ROOT: run a copy of this script as nobody, exit with its code.
_t_rerun_as_nobody() {
	if ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
		echo "# running as root: no setpriv (util-linux) or no user nobody"
		return 0
	fi
	_t_stage=$(mktemp -d /tmp/mf-nobody.XXXXXX) || exit 1
	trap '[ -n "${MF_KEEP:-}" ] && echo "# kept $_t_stage" || rm -rf "$_t_stage"' EXIT
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	chmod 755 "$_t_stage" && mkdir -m 700 "$_t_stage/home" && _t_stage_copy "$_t_stage" &&
		chown nobody:"$NOBODY_GROUP" "$_t_stage/home" ||
		{ echo "Bail out! cannot stage a copy for user nobody in $_t_stage"; exit 1; }
	_t_self=$_t_stage/src/t/${0##*/}
	if [ ! -x "$_t_self" ]; then set -- "$_t_self" "$@"; _t_self=/bin/sh; fi
	HOME=$_t_stage/home TMPDIR=$_t_stage/home MF_BUILD=$_t_stage/build \
		as_nobody "$_t_self" "$@"
	exit $?
}
if [ "$(id -u)" = 0 ] && [ -z "${MF_TEST_ROOT:-}" ]; then
	_t_rerun_as_nobody "$@"
fi

PATH=$MF_BUILD:$PATH
export PATH MF_BUILD
unset MF_SPOOL MF_CONFIG SENDER RECIPIENT TCPREMOTEIP REMOTE_ADDR
LC_ALL=C; TZ=UTC; export LC_ALL TZ
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/mf-test.XXXXXX")
cd "$TRASH" || exit 1
[ "$(id -u)" = 0 ] && chmod 711 "$TRASH"
test_count=0 test_failed=0 t_pids= t_finish=
exec 3>&1

_t_cleanup() {
	for p in $t_pids; do kill "$p" 2>/dev/null; done
	[ -n "$t_finish" ] && eval "$t_finish"
	cd /
	[ -n "${MF_KEEP:-}" ] && echo "# kept $TRASH" || rm -rf "$TRASH"
}
trap _t_cleanup EXIT

# Record a PID to kill when the script ends.
test_pid() { t_pids="$t_pids $1"; }
# Run commands when the script ends (after killing recorded PIDs).  Call it
# at the top level of a script: test bodies run in a subshell.
test_when_finished() { t_finish="$1; $t_finish"; }

_t_result() { # status name
	test_count=$((test_count + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $test_count - $2"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $2"
		[ -s "$TRASH/.out" ] && sed 's/^/# /' "$TRASH/.out" | tail -n 30
	fi
	return 0
}

test_expect_success() { # name commands
	( set -e; eval "$2" ) >"$TRASH/.out" 2>&1
	_t_result $? "$1"
}


test_expect_code() { # code name commands
	( eval "$3" ) >"$TRASH/.out" 2>&1
	rc=$?
	if [ "$rc" -ne "$1" ]; then
		echo "exit code $rc, want $1" >>"$TRASH/.out"
		_t_result 1 "$2"
	else
		_t_result 0 "$2"
	fi
}

test_skip() { # name why
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

skip_all() { echo "1..0 # SKIP $1"; trap - EXIT; cd /; rm -rf "$TRASH"; exit 0; }

# A unit test binary ($MF_BUILD/t/NAME) is the whole script: its TAP, its code.
test_unit() { "$MF_BUILD/t/$1"; exit $?; }

test_done() {
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ]
	exit $?
}

# --- assertions, for use inside test bodies ---
# A TAP comment from inside a test body (whose output is otherwise captured).
test_diag() { echo "# $*" >&3; }
test_cmp() { diff -u "$1" "$2"; }
# The last line of FILE must match the extended regex.
test_last_line() { tail -n 1 "$1" | grep -Eq -- "$2" || { echo "last line of $1:"; tail -n 3 "$1"; return 1; }; }
# The number of lines (entries) printed by a command or found by a glob.
count_entries() { set -- "$1"/new/*; [ -e "$1" ] && echo $# || echo 0; }
# One spool at $TRASH/spool unless a test makes its own.  Under root
# (MF_TEST_ROOT=1) it belongs to nobody, as a tool started as root will
# become the spool's owner and refuses to run as root.
mkspool() {
	mkdir -p "${1:-$TRASH/spool}" || return 1
	[ "$(id -u)" != 0 ] || chown nobody:"$NOBODY_GROUP" "${1:-$TRASH/spool}"
}
