# SPDX-License-Identifier: MIT
# mf -- one non-recursive Makefile, no configure.  Override anything in
# config.mak or on the command line; user CFLAGS win, warnings are appended.
-include config.mak

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/mf
SYSCONFDIR ?= /etc/mf
DESTDIR  ?=
B        ?= build

CC       ?= cc
CFLAGS   ?= -O2 -g
PKG_CONFIG ?= pkg-config
PROVE    ?= prove
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 \
	-D_GNU_SOURCE -MMD -MP -Ilib -DMF_VERSION='"$(VERSION)"' -DMF_SYSCONFDIR='"$(SYSCONFDIR)"'

# Every module mf will use must be present; each binary links only its own.
# The flags are asked of pkg-config once, when make reads this file: a target
# that first installs the packages (deps) runs a new $(MAKE) for the build,
# so that one reads them after the install (a fresh machine, first run).
PKGS = gmime-3.0 libssl libcrypto libpcre2-8 popt ldap lber
POPT_CFLAGS := $(shell $(PKG_CONFIG) --cflags popt 2>/dev/null)
POPT_LIBS   := $(shell $(PKG_CONFIG) --libs popt 2>/dev/null)
SSL_LIBS    := $(shell $(PKG_CONFIG) --libs libssl libcrypto 2>/dev/null)
GMIME_CFLAGS := $(shell $(PKG_CONFIG) --cflags gmime-3.0 2>/dev/null)
GMIME_LIBS  := $(shell $(PKG_CONFIG) --libs gmime-3.0 2>/dev/null)
override CFLAGS += $(POPT_CFLAGS) $(GMIME_CFLAGS)

# What each tool links beyond libmf and popt (only what it uses).
mf-send_LIBS   = $(SSL_LIBS) -lresolv
mf-notify_LIBS = $(GMIME_LIBS)
ALL_LIBS = $(SSL_LIBS) -lresolv $(GMIME_LIBS)
# libmf frees removed entries in a thread (mf_spool_remove_async)
override LDLIBS += -pthread

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(B)/%.o)
TOOLS   = $(patsubst cmd/%.c,%,$(wildcard cmd/mf-*.c))
BINS    = $(TOOLS:%=$(B)/%)
UNIT_SRC = $(wildcard t/unit/*.c)
UNITS   = $(UNIT_SRC:t/unit/%.c=$(B)/t/%)
MAN1    = $(wildcard man/*.1)
MAN5    = man/mf.conf.5 man/mf-spool.5
MAN7    = man/mf.7

all: pkgcheck $(BINS)

pkgcheck:
	@$(PKG_CONFIG) --exists $(PKGS) || { echo "missing development packages:" \
	  "$$(for p in $(PKGS); do $(PKG_CONFIG) --exists $$p || printf ' %s' $$p; done)" \
	  "-- run contrib/deps (as root) or install them" >&2; exit 1; }

$(B)/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(B)/libmf.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/mf-%: $(B)/cmd/mf-%.o $(B)/libmf.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libmf.a $(POPT_LIBS) $(mf-$*_LIBS) $(LDLIBS)

# An MTA starts mf-receive once per message: a static binary starts ~30%
# faster (no dynamic loader, fewer page faults); see bench/.  It uses only
# libc and popt.  RECEIVE_LDFLAGS= builds it dynamic (the ASan build does).
RECEIVE_LDFLAGS ?= -static
$(B)/mf-receive: $(B)/cmd/mf-receive.o $(B)/libmf.a
	$(CC) $(CFLAGS) $(LDFLAGS) $(RECEIVE_LDFLAGS) -o $@ $< $(B)/libmf.a $(POPT_LIBS) $(LDLIBS)

$(B)/t/%: $(B)/t/unit/%.o $(B)/t/unit/tap.o $(B)/libmf.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/t/unit/tap.o $(B)/libmf.a $(POPT_LIBS) $(ALL_LIBS) $(LDLIBS)



units: $(filter-out $(B)/t/tap,$(UNITS)) t/fault.so

# --- fuzzing (t/fuzz/README) -------------------------------------------------
# Each t/fuzz/NAME.c is a libFuzzer target with its seed corpus in
# t/fuzz/corpus/NAME/.  `make units` links each with t/fuzz/standalone.c
# (gcc, no libFuzzer) into $(B)/t/fuzz-NAME, which t/0100 runs over the
# committed corpus; `make fuzz` builds them with clang into build-fuzz/ and
# runs each for FUZZ_SECONDS on a scratch copy of its corpus.
FUZZ_SECONDS ?= 60
FUZZ_NAMES = $(patsubst t/fuzz/%.c,%,$(filter-out t/fuzz/standalone.c,$(wildcard t/fuzz/*.c)))
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
FUZZ_LINK = $(B)/libmf.a $(POPT_LIBS) $(ALL_LIBS) -lpthread $(LDLIBS)

units: $(FUZZ_NAMES:%=$(B)/t/fuzz-%)

$(B)/t/fuzz-%: $(B)/t/fuzz/%.o $(B)/t/fuzz/standalone.o $(B)/libmf.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/t/fuzz/standalone.o $(FUZZ_LINK)

$(B)/fuzz/%: $(B)/t/fuzz/%.o $(B)/libmf.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LINK)

fuzz-build: $(FUZZ_NAMES:%=$(B)/fuzz/%)

fuzz:
	@sh contrib/deps fuzz
	$(MAKE) B=build-fuzz CC=clang CFLAGS='$(FUZZ_CFLAGS)' LDFLAGS='-fsanitize=address,undefined' \
	  fuzz-build
	for t in $(or $(FUZZ),$(FUZZ_NAMES)); do \
	  sh t/fuzz/run build-fuzz "$$t" $(FUZZ_SECONDS) || exit 1; done

.PHONY: fuzz fuzz-build
# --- end of fuzzing -----------------------------------------------------------

# LD_PRELOAD shim for faults a real peer cannot produce on demand (tests only).
t/fault.so: t/fault.c
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl

deps:
	@sh contrib/deps

# check, check-asan and demo install what is missing (deps), then build in a
# new make, never with the flags this one read before the install.
check: deps
	$(MAKE) all units
	MF_BUILD=$(CURDIR)/$(B) $(PROVE) -f t/

check-asan: deps
	$(MAKE) B=build-asan CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	  LDFLAGS='-fsanitize=address,undefined' RECEIVE_LDFLAGS= all units
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99:allocator_may_return_null=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99 \
	  MF_BUILD=$(CURDIR)/build-asan MF_SANITIZED=1 $(PROVE) t/

lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

bench: all
	sh bench/run

demo: deps
	$(MAKE) all
	sh contrib/demo $(B)

# The README's two commands (make demo, make check) as a new user runs them:
# in a minimal Debian 12 root built by mmdebstrap from this machine's apt
# sources, on a clone of HEAD in /root/mf as root, then in the home of a new
# plain user.  About 3 minutes; run by .ci/run; needs root; see
# contrib/fresh-check.
fresh-check:
	sh contrib/fresh-check

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(SHAREDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	install -m 644 share/* $(DESTDIR)$(SHAREDIR)

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(MAN1:man/%=$(DESTDIR)$(MANDIR)/man1/%) $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%) \
	  $(MAN7:man/%=$(DESTDIR)$(MANDIR)/man7/%)
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build build-asan build-fuzz t/fault.so

.PHONY: all pkgcheck units deps check check-asan lint bench demo fresh-check install uninstall clean
.SECONDARY:
-include $(shell find $(B) -name '*.d' 2>/dev/null)
