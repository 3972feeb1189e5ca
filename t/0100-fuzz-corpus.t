#!/bin/sh
# The fuzz targets' committed corpora, run through the same harness code with
# a plain main (t/fuzz/standalone.c; under ASan in check-asan): an input that
# once crashed a parser and was saved in t/fuzz/corpus/NAME/ stays fixed.
. "${0%/*}/lib.sh"

# Every target found in t/fuzz, with its corpus; the output of a failing run
# ends with the input that was running and the sanitizer's summary.
run_corpus() { # name
	bin=$MF_BUILD/t/fuzz-$1
	[ -x "$bin" ] || { echo "no $bin (make units builds it)"; return 1; }
	ls "$T_DIR/fuzz/corpus/$1"/* >/dev/null || { echo "no corpus for $1"; return 1; }
	"$bin" "$T_DIR/fuzz/corpus/$1" >log 2>&1 || {
		grep '^input ' log | tail -n 1
		grep -E 'ERROR|SUMMARY|runtime error|Assertion|Abort' log | head -n 5
		return 1
	}
	tail -n 1 log
}

for src in "$T_DIR"/fuzz/*.c; do
	name=${src##*/}; name=${name%.c}
	[ "$name" = standalone ] && continue
	test_expect_success "fuzz corpus of $name runs clean" "run_corpus $name"
done

# A corpus that cannot be read must not pass as an empty one.
test_expect_code 66 'an unreadable corpus input fails the run' '
	mkfifo fifo && "$MF_BUILD/t/fuzz-addr" fifo
'
test_done
