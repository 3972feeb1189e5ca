/* SPDX-License-Identifier: MIT */
/* Unit tests for mf.conf loading, lookups and error reports (mf_conf). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mf_conf.h"
#include "tap.h"
#include "util.h"

static char *conf_path(const char *name)
{
	static char path[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof path[i], "%s/%s", tap_tmpdir(), name);
	return path[i];
}

/* Write text (len bytes) to NAME in the temp dir and load it. */
static enum mf_status load_n(const char *name, const char *text, size_t len,
			     struct mf_conf **c, struct mf_err *err)
{
	const char *path = conf_path(name);

	*c = NULL;
	memset(err, 0, sizeof *err);
	if (t_write_file(path, text, len) < 0) {
		tap_diag("cannot write %s", path);
		return MF_EIO;
	}
	return mf_conf_load(path, c, err);
}

static enum mf_status load(const char *name, const char *text,
			   struct mf_conf **c, struct mf_err *err)
{
	return load_n(name, text, strlen(text), c, err);
}

/* The file must be refused with MF_ECONFIG, "PATH:LINE: " and a reason. */
static void conf_bad_n(const char *label, const char *text, size_t len,
		       unsigned line, const char *reason)
{
	struct mf_conf *c;
	struct mf_err err;
	enum mf_status st;
	char prefix[600];
	const char *path = conf_path("bad.conf");

	st = load_n("bad.conf", text, len, &c, &err);
	snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
	if (!ok(st == MF_ECONFIG && err.status == MF_ECONFIG && !c &&
		!strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, reason),
		"%s: MF_ECONFIG at line %u, says '%s'", label, line, reason))
		tap_diag("status %d, c %p, msg '%s'", st, (void *)c, err.msg);
	mf_conf_free(c);
}

static void conf_bad(const char *label, const char *text, unsigned line,
		     const char *reason)
{
	conf_bad_n(label, text, strlen(text), line, reason);
}

static void test_defaults(void)
{
	struct mf_conf *c = NULL;
	struct mf_err err;
	enum mf_status st;

	unsetenv("MF_CONFIG");
	if (t_exists(MF_DEFAULT_CONF)) {
		int i;
		for (i = 0; i < 8; i++)
			ok(1, "# skip %s exists on this machine", MF_DEFAULT_CONF);
	} else {
		st = mf_conf_load(NULL, &c, &err);
		is_int(st, MF_OK, "no path, no $MF_CONFIG, absent default file: defaults");
		is_str(c ? mf_conf_path(c) : NULL, MF_DEFAULT_CONF, "path is the default file");
		is_str(mf_conf_str(c, "General", NULL, "Spool"), MF_DEFAULT_SPOOL,
		       "default Spool");
		is_int((long long)mf_conf_size(c, "Receiver", NULL, "MaxSize"), 50LL << 20,
		       "default MaxSize 50M");
		is_int((long long)mf_conf_size(c, "Receiver", "relay2", "MaxSize"), 50LL << 20,
		       "default MaxSize for an id");
		is_int(mf_conf_bool(c, "General", NULL, "Syslog"), 1, "default Syslog yes");
		is_str(mf_conf_str(c, "General", NULL, "LogLevel"), "info", "default LogLevel");
		is_str(mf_conf_str(c, "General", NULL, "Hostname"), "", "default Hostname empty");
		mf_conf_free(c);
		c = NULL;
	}

	setenv("MF_CONFIG", "", 1);
	if (t_exists(MF_DEFAULT_CONF)) {
		ok(1, "# skip %s exists on this machine", MF_DEFAULT_CONF);
	} else {
		st = mf_conf_load(NULL, &c, &err);
		ok(st == MF_OK && c && !strcmp(mf_conf_path(c), MF_DEFAULT_CONF),
		   "empty $MF_CONFIG is the unnamed default");
		mf_conf_free(c);
		c = NULL;
	}

	setenv("MF_CONFIG", conf_path("missing-env.conf"), 1);
	st = mf_conf_load(NULL, &c, &err);
	ok(st == MF_ECONFIG && err.status == MF_ECONFIG && !c &&
	   strstr(err.msg, "missing-env.conf"),
	   "a missing file named by $MF_CONFIG fails with MF_ECONFIG");

	t_write_str(conf_path("env.conf"), "[General]\nHostname = from-env\n");
	setenv("MF_CONFIG", conf_path("env.conf"), 1);
	st = mf_conf_load(NULL, &c, &err);
	ok(st == MF_OK && c && !strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "from-env"),
	   "$MF_CONFIG names the file to load");
	is_str(c ? mf_conf_path(c) : NULL, conf_path("env.conf"), "mf_conf_path is $MF_CONFIG");
	mf_conf_free(c);
	c = NULL;
	unsetenv("MF_CONFIG");

	st = mf_conf_load(conf_path("missing.conf"), &c, &err);
	ok(st == MF_ECONFIG && err.status == MF_ECONFIG && !c,
	   "a named missing path fails with MF_ECONFIG");
	if (!ok(strstr(err.msg, conf_path("missing.conf")) && strstr(err.msg, "No such file"),
		"the message names the file and the reason"))
		tap_diag("%s", err.msg);
}

static void test_values(void)
{
	struct mf_conf *c;
	struct mf_err err;
	enum mf_status st;

	st = load("values.conf",
		  "# mf.conf for the tests\n"
		  "; another comment\n"
		  "\n"
		  "   # indented comment\n"
		  "[General]\n"
		  "Spool = /srv/spool/mf\n"
		  "Hostname=mx1.example.org\n"
		  "  Syslog   =   no   \n"
		  "LogLevel = debug\n"
		  "\n"
		  "[Receiver]\n"
		  "MaxSize = 10M\n"
		  "[Receiver relay2]\n"
		  "MaxSize = 1M\n"
		  "[Receiver relay3]\n"
		  "[Receiver UPPER.case-id_9]\n"
		  "MaxSize = 512K\n",
		  &c, &err);
	if (!is_int(st, MF_OK, "a good file loads"))
		tap_diag("%s", err.msg);
	if (!c)
		return;
	is_str(mf_conf_str(c, "General", NULL, "Spool"), "/srv/spool/mf", "Spool value");
	is_str(mf_conf_str(c, "General", NULL, "Hostname"), "mx1.example.org",
	       "value without blanks around '='");
	is_int(mf_conf_bool(c, "General", NULL, "Syslog"), 0, "Syslog = no, blanks trimmed");
	is_str(mf_conf_str(c, "General", NULL, "Syslog"), "no", "trailing blanks trimmed");
	is_str(mf_conf_str(c, "General", NULL, "LogLevel"), "debug", "LogLevel value");
	is_int((long long)mf_conf_size(c, "Receiver", NULL, "MaxSize"), 10LL << 20,
	       "[Receiver] MaxSize");
	is_int((long long)mf_conf_size(c, "Receiver", "relay2", "MaxSize"), 1LL << 20,
	       "[Receiver relay2] overrides [Receiver]");
	is_int((long long)mf_conf_size(c, "Receiver", "relay3", "MaxSize"), 10LL << 20,
	       "[Receiver relay3] without the key falls back to [Receiver]");
	is_int((long long)mf_conf_size(c, "Receiver", "nosuch", "MaxSize"), 10LL << 20,
	       "an id without a section falls back to [Receiver]");
	is_int((long long)mf_conf_size(c, "Receiver", "UPPER.case-id_9", "MaxSize"), 512 << 10,
	       "an id with every allowed character class");
	is_int((long long)mf_conf_size(c, "Receiver", "upper.case-id_9", "MaxSize"), 10LL << 20,
	       "ids are case-sensitive");
	ok(mf_conf_has_section(c, "Receiver", "relay2"), "has_section [Receiver relay2]");
	ok(mf_conf_has_section(c, "Receiver", "relay3"), "has_section of an empty [Receiver relay3]");
	ok(!mf_conf_has_section(c, "Receiver", "relay4"), "no [Receiver relay4]");
	ok(mf_conf_has_section(c, "Receiver", NULL), "has_section [Receiver]");
	ok(mf_conf_has_section(c, "General", NULL), "has_section [General]");
	mf_conf_free(c);

	/* only the ID section sets the key: the plain section still has the default */
	st = load("idonly.conf", "[Receiver relay2]\nMaxSize = 1M\n", &c, &err);
	ok(st == MF_OK && c &&
	   mf_conf_size(c, "Receiver", "relay2", "MaxSize") == 1 << 20 &&
	   mf_conf_size(c, "Receiver", NULL, "MaxSize") == 50 << 20,
	   "a key set only in [Receiver ID] does not leak into [Receiver]");
	ok(c && !mf_conf_has_section(c, "Receiver", NULL), "no plain [Receiver] section");
	mf_conf_free(c);
}

static void test_syntax(void)
{
	struct mf_conf *c;
	struct mf_err err;
	enum mf_status st;

	st = load("case.conf",
		  "[general]\n"
		  "SPOOL = /case/spool\n"
		  "hostname = lower\n"
		  "[RECEIVER]\n"
		  "maxsize = 2m\n",
		  &c, &err);
	if (!is_int(st, MF_OK, "section names and keys are case-insensitive"))
		tap_diag("%s", err.msg);
	if (c) {
		is_str(mf_conf_str(c, "General", NULL, "Spool"), "/case/spool", "SPOOL found as Spool");
		is_str(mf_conf_str(c, "General", NULL, "HOSTNAME"), "lower", "lookup key is case-insensitive");
		is_int((long long)mf_conf_size(c, "Receiver", NULL, "maxsize"), 2 << 20,
		       "[RECEIVER] maxsize = 2m");
		mf_conf_free(c);
	}

	st = load("cont.conf",
		  "[General]\n"
		  "Hostname = mx.\\\n"
		  "example.org\n"
		  "Spool = /a/\\\n"
		  "b/\\\n"
		  "c\n",
		  &c, &err);
	if (!is_int(st, MF_OK, "backslash continuation loads"))
		tap_diag("%s", err.msg);
	if (c) {
		is_str(mf_conf_str(c, "General", NULL, "Hostname"), "mx.example.org",
		       "a line ending in '\\' continues on the next");
		is_str(mf_conf_str(c, "General", NULL, "Spool"), "/a/b/c",
		       "several continuation lines");
		mf_conf_free(c);
	}

	st = load("quotes.conf",
		  "[General]\n"
		  "Hostname = \"  spaced name  \"\n"
		  "Spool = \"/quoted/spool\"\n"
		  "LogLevel = \"notice\"\n",
		  &c, &err);
	if (!is_int(st, MF_OK, "quoted values load"))
		tap_diag("%s", err.msg);
	if (c) {
		is_str(mf_conf_str(c, "General", NULL, "Hostname"), "  spaced name  ",
		       "quotes removed, inner blanks kept");
		is_str(mf_conf_str(c, "General", NULL, "Spool"), "/quoted/spool",
		       "a quoted path is checked without its quotes");
		is_str(mf_conf_str(c, "General", NULL, "LogLevel"), "notice", "quoted log level");
		mf_conf_free(c);
	}

	st = load("crlf.conf", "[General]\r\nHostname = crlf\r\nSyslog = yes\r\n", &c, &err);
	ok(st == MF_OK && c && !strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "crlf") &&
	   mf_conf_bool(c, "General", NULL, "Syslog") == 1,
	   "CRLF line ends are accepted");
	mf_conf_free(c);

	st = load("noeol.conf", "[General]\nHostname = last", &c, &err);
	ok(st == MF_OK && c && !strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "last"),
	   "a last line without LF is read");
	mf_conf_free(c);

	st = load("empty.conf", "", &c, &err);
	ok(st == MF_OK && c && !strcmp(mf_conf_str(c, "General", NULL, "Spool"), MF_DEFAULT_SPOOL),
	   "an empty file gives the defaults");
	mf_conf_free(c);

	st = load("bools.conf", "[General]\nSyslog = TRUE\n", &c, &err);
	ok(st == MF_OK && c && mf_conf_bool(c, "General", NULL, "Syslog") == 1, "Syslog = TRUE");
	mf_conf_free(c);
	st = load("bools.conf", "[General]\nSyslog = 0\n", &c, &err);
	ok(st == MF_OK && c && mf_conf_bool(c, "General", NULL, "Syslog") == 0, "Syslog = 0");
	mf_conf_free(c);

	/* A comment ends at its line: a trailing '\' must not swallow the next line. */
	st = load("comment-bs.conf", "[General]\n# note \\\nHostname = after-hash\n", &c, &err);
	ok(st == MF_OK && c && !strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "after-hash"),
	   "'#' comment ending in '\\' does not continue");
	mf_conf_free(c);
	st = load("comment-bs.conf", "[General]\n; note \\\nHostname = after-semi\n", &c, &err);
	if (!ok(st == MF_OK && c &&
		!strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "after-semi"),
		"';' comment ending in '\\' does not continue"))
		tap_diag("Hostname = '%s'", c ? mf_conf_str(c, "General", NULL, "Hostname") : "?");
	mf_conf_free(c);
	st = load("comment-bs.conf", "[General]\n   # indented \\\nHostname = after-indent\n",
		  &c, &err);
	if (!ok(st == MF_OK && c &&
		!strcmp(mf_conf_str(c, "General", NULL, "Hostname"), "after-indent"),
		"indented '#' comment ending in '\\' does not continue"))
		tap_diag("Hostname = '%s'", c ? mf_conf_str(c, "General", NULL, "Hostname") : "?");
	mf_conf_free(c);
}

static void test_errors(void)
{
	char big[70000 + 64];

	conf_bad("unknown section", "# x\n\n[Bogus]\n", 3, "unknown section [Bogus]");
	conf_bad("unknown key", "[General]\nSpool = /x\nSpoll = /y\n", 3, "unknown key 'Spoll'");
	conf_bad("key of another section", "[General]\nMaxSize = 1M\n", 2, "unknown key 'MaxSize'");
	conf_bad("bad size", "[Receiver]\n\n\nMaxSize = 10X\n", 4, "MaxSize wants a size");
	conf_bad("negative size", "[Receiver]\nMaxSize = -1\n", 2, "size");
	conf_bad("bad bool", "[General]\nSyslog = maybe\n", 2, "Syslog wants a yes or no");
	conf_bad("relative path", "[General]\nSpool = var/spool\n", 2, "Spool wants a");
	conf_bad("relative path (reason)", "[General]\nSpool = var/spool\n", 2, "absolute path");
	conf_bad("empty path", "[General]\nSpool =\n", 2, "absolute path");
	conf_bad("bad log level", "[General]\nLogLevel = loud\n", 2, "log level");
	conf_bad("key outside a section", "# top\nSpool = /x\n[General]\n", 2,
		 "'Spool' outside any [Section]");
	conf_bad("duplicate key", "[General]\nSpool = /a\n\n# again\nspool = /b\n", 5,
		 "Spool is set again (first at line 2)");
	conf_bad("duplicate key across two [General]",
		 "[General]\nHostname = a\n[Receiver]\n[General]\nHostname = b\n", 5,
		 "first at line 2");
	conf_bad("duplicate key in [Receiver ID]",
		 "[Receiver r1]\nMaxSize = 1M\n[Receiver]\nMaxSize = 2M\n[Receiver r1]\nMaxSize = 3M\n",
		 6, "first at line 2");
	conf_bad("section taking no ID", "[General]\n[General foo]\n", 2,
		 "section [General] takes no ID (got 'foo')");
	conf_bad("bad ID (leading dot)", "[Receiver .hidden]\n", 1, "bad ID '.hidden'");
	conf_bad("bad ID (slash)", "[Receiver a/b]\n", 1, "bad ID 'a/b'");
	conf_bad("bad ID (two words)", "[Receiver a b]\n", 1, "bad ID");
	conf_bad("missing '='", "[General]\nHostname mx\n", 2, "expected 'Key = value'");
	conf_bad_n("NUL byte", "[General]\nHostname = a\0b\n", 25, 2, "NUL byte");
	conf_bad("bad section header (no ']')", "[General\n", 1, "bad section header");
	conf_bad("bad section header (junk after ']')", "[General] x\n", 1, "bad section header");
	conf_bad("error after a continuation names the right line",
		 "[General]\nHostname = a\\\nb\nBogus = 1\n", 4, "unknown key 'Bogus'");
	conf_bad("error in a continued line names its first line",
		 "[General]\nHostname = ok\nBo\\\ngus = 1\n", 3, "unknown key 'Bogus'");
	conf_bad("error after CRLF lines", "[General]\r\nHostname = x\r\nx\r\n", 3,
		 "expected 'Key = value'");

	memcpy(big, "[General]\nHostname = ", 21);
	memset(big + 21, 'h', 70000);
	memcpy(big + 21 + 70000, "\n", 2);
	conf_bad("line longer than 64 KiB", big, 2, "longer than 65536");
}

static void test_unreadable(void)
{
	struct mf_conf *c = NULL;
	struct mf_err err;
	const char *path = conf_path("unreadable.conf");

	if (geteuid() == 0) {
		ok(1, "# skip running as root: root can read a mode 000 file");
		ok(1, "# skip running as root");
		return;
	}
	t_write_str(path, "[General]\n");
	chmod(path, 0);
	ok(mf_conf_load(path, &c, &err) == MF_ECONFIG && !c && err.status == MF_ECONFIG,
	   "an unreadable file fails with MF_ECONFIG");
	ok(strstr(err.msg, path) && strstr(err.msg, "denied"), "the message names the file");
	chmod(path, 0600);
}

static void test_directory(void)
{
	struct mf_conf *c = NULL;
	struct mf_err err = { 0 };
	enum mf_status st;

	st = mf_conf_load(tap_tmpdir(), &c, &err);
	if (!ok(st == MF_ECONFIG && err.status == MF_ECONFIG && !c &&
		strstr(err.msg, tap_tmpdir()),
		"a directory named as the config fails with MF_ECONFIG, naming it"))
		tap_diag("status %d, msg '%s'", st, err.msg);
	mf_conf_free(c);
}

static void check_id(const char *id, int good)
{
	struct mf_err err = { 0 };
	enum mf_status st = mf_conf_check_id(id, &err);
	char shown[80];
	size_t i;

	for (i = 0; id[i] && i < sizeof shown - 1; i++)
		shown[i] = id[i] == '\n' ? '~' : id[i];
	shown[i] = '\0';
	if (good)
		ok(st == MF_OK, "id '%s' accepted", shown);
	else
		ok(st == MF_EUSAGE && err.status == MF_EUSAGE && strstr(err.msg, "bad unique id") &&
		   !strchr(err.msg, '\n'), "id '%s' refused with MF_EUSAGE", shown);
}

static void test_check_id(void)
{
	char s[80];

	check_id("relay2", 1);
	check_id("a.b-c_D9", 1);
	check_id("x", 1);
	check_id("-x", 1);
	memset(s, 'i', 64);
	s[64] = '\0';
	check_id(s, 1);
	s[64] = 'i';
	s[65] = '\0';
	check_id(s, 0);
	check_id("", 0);
	check_id(".x", 0);
	check_id("..", 0);
	check_id("a/b", 0);
	check_id("a b", 0);
	check_id("a\nb", 0);
	check_id("r\xc3\xa9lais", 0);
	check_id("a:b", 0);
}

static void test_spool(void)
{
	struct mf_conf *c;
	struct mf_err err;

	if (load("spool.conf", "[General]\nSpool = /from/config\n", &c, &err) != MF_OK) {
		tap_diag("%s", err.msg);
		return;
	}
	unsetenv("MF_SPOOL");
	is_str(mf_conf_spool(c, "/from/option"), "/from/option", "option wins over config");
	is_str(mf_conf_spool(c, NULL), "/from/config", "config when no option and no $MF_SPOOL");
	setenv("MF_SPOOL", "/from/env", 1);
	is_str(mf_conf_spool(c, "/from/option"), "/from/option", "option wins over $MF_SPOOL");
	is_str(mf_conf_spool(c, NULL), "/from/env", "$MF_SPOOL wins over config");
	is_str(mf_conf_spool(c, ""), "/from/env", "an empty option is no option");
	setenv("MF_SPOOL", "", 1);
	is_str(mf_conf_spool(c, NULL), "/from/config", "an empty $MF_SPOOL is ignored");
	unsetenv("MF_SPOOL");
	mf_conf_free(c);

	if (load("nospool.conf", "", &c, &err) == MF_OK) {
		is_str(mf_conf_spool(c, NULL), MF_DEFAULT_SPOOL, "the default spool otherwise");
		mf_conf_free(c);
	}
}

/* Values read into fixed buffers: refused with FILE:LINE and the key, never cut. */
static void test_long_values(void)
{
	char text[1300], out[256];
	struct mf_conf *c = NULL;
	struct mf_err err = { 0 };
	size_t n;

	n = (size_t)snprintf(text, sizeof text, "[Sender]\nSendingIntervals = 0s");
	while (n < 1100)
		n += (size_t)snprintf(text + n, sizeof text - n, ", 1m");
	snprintf(text + n, sizeof text - n, "\n");
	conf_bad("SendingIntervals of 1100 bytes", text, 2,
		 "SendingIntervals is longer than 1023 bytes");
	snprintf(text, sizeof text, "[General]\n\nHostname = %0300d\n", 0);
	if (!ok(load("long.conf", text, &c, &err) == MF_OK, "a Hostname of 300 bytes loads"))
		tap_diag("%s", err.msg);
	ok(mf_conf_copy(c, "General", NULL, "Hostname", out, sizeof out, &err) == MF_ECONFIG &&
	   !out[0] && strstr(err.msg, "long.conf:3: Hostname is longer than 255 bytes"),
	   "mf_conf_copy: a value too long for the buffer is MF_ECONFIG, FILE:LINE and key");
	ok(mf_conf_copy(c, "General", NULL, "Spool", out, sizeof out, &err) == MF_OK &&
	   !strcmp(out, MF_DEFAULT_SPOOL), "mf_conf_copy: a value that fits is copied");
	mf_conf_free(c);
}

int main(void)
{
	unsetenv("MF_SPOOL");
	tap_plan(106);
	test_defaults();
	test_values();
	test_syntax();
	test_errors();
	test_unreadable();
	test_directory();
	test_check_id();
	test_spool();
	test_long_values();
	return tap_done();
}
