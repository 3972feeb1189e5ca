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
set -u
T_DIR=$(cd "${0%/*}" && pwd)
: "${MF_BUILD:=$T_DIR/../build}"
MF_BUILD=$(cd "$MF_BUILD" && pwd) || { echo "Bail out! no build dir $MF_BUILD"; exit 1; }
PATH=$MF_BUILD:$PATH
export PATH MF_BUILD
unset MF_SPOOL MF_CONFIG SENDER RECIPIENT TCPREMOTEIP REMOTE_ADDR
LC_ALL=C; TZ=UTC; export LC_ALL TZ
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/mf-test.XXXXXX")
cd "$TRASH" || exit 1
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
# One spool at $TRASH/spool unless a test makes its own.
mkspool() { mkdir -p "${1:-$TRASH/spool}"; }
