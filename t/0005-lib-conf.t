#!/bin/sh
. "${0%/*}/lib.sh"
test_unit conf
