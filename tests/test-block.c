/* Unit tests: the marked-block module (src/block.c) that hosts, the node
 * and python stores share: finding a block and every way it can be damaged,
 * splicing, bounded reads, saves that keep the mode, quoting read back by a
 * real sh. */
#include "config.h"
#include "tap.h"
#include <gbca/block.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
body_no_x(void *arg, const char *l, size_t n)
{
	(void)arg;
	return !(n > 0 && l[0] == 'x');
}

static bool
begin_no_bang(void *arg, const char *rest, size_t n)
{
	(void)arg;
	return memchr(rest, '!', n) == NULL;
}

static enum gbca_block_status
find(const char *text, struct gbca_block *b)
{
	struct gbca_block_marks m = { "# >>> t >>>", "# <<< t <<<", begin_no_bang, body_no_x, NULL };
	return gbca_block_find(text, strlen(text), &m, b);
}

static void
test_find(void)
{
	static const char f[] = "a\n# >>> t >>> note\nok\n# <<< t <<< \r\nb";
	struct gbca_block b;

	assert_int_eq(find(f, &b), GBCA_BLOCK_OK);
	assert_true(b.found);
	assert_int_eq(b.start, 2);
	assert_int_eq(b.end, strlen(f) - 1);
	assert_int_eq(b.begin_line, 2);
	assert_int_eq(find("no block\n", &b), GBCA_BLOCK_OK);
	assert_false(b.found);
	/* an end line without its "\n", last in the file */
	assert_int_eq(find("# >>> t >>>\n# <<< t <<<", &b), GBCA_BLOCK_OK);
	assert_int_eq(b.end, strlen("# >>> t >>>\n# <<< t <<<"));
}

static void
test_damaged(void)
{
	struct gbca_block b;

	assert_int_eq(find("# >>> t >>>\n# >>> t >>>\n# <<< t <<<\n", &b), GBCA_BLOCK_NESTED);
	assert_int_eq(b.problem_line, 2);
	assert_int_eq(find("# >>> t >>>\n# <<< t <<<\n# >>> t >>>\n# <<< t <<<\n", &b), GBCA_BLOCK_TWICE);
	assert_int_eq(b.problem_line, 3);
	assert_int_eq(b.begin_line, 1);
	assert_int_eq(find("a\n# <<< t <<<\n", &b), GBCA_BLOCK_STRAY_END);
	assert_int_eq(b.problem_line, 2);
	assert_int_eq(find("a\n# >>> t >>>\nok\n", &b), GBCA_BLOCK_NO_END);
	assert_int_eq(b.begin_line, 2);
	assert_false(b.found);
	assert_int_eq(find("# >>> t >>>\nok\nx hand-added\n# <<< t <<<\n", &b), GBCA_BLOCK_FOREIGN);
	assert_int_eq(b.problem_line, 3);
	/* a foreign line and no end: the missing end is what is reported */
	assert_int_eq(find("# >>> t >>>\nx\n", &b), GBCA_BLOCK_NO_END);
	assert_int_eq(find("# >>> t >>> !\n# <<< t <<<\n", &b), GBCA_BLOCK_BAD_BEGIN);
	assert_int_eq(b.problem_line, 1);
}

static void
test_splice(void)
{
	struct gbca_strbuf out = { 0 };

	gbca_block_splice(&out, "abcdef", 6, 2, 4, "XY", 2);
	assert_str_eq(out.p, "abXYef");
	free(out.p);
	out = (struct gbca_strbuf){ 0 };
	/* removing everything still gives a (empty) buffer to write */
	gbca_block_splice(&out, "abc", 3, 0, 3, NULL, 0);
	assert_true(out.p != NULL);
	assert_int_eq(out.len, 0);
	free(out.p);
}

static void
test_read(void)
{
	struct gbca_text t;
	struct gbca_err err;
	const char *p = tap_path("text");
	const char *fifo = tap_path("fifo");
	int fd;

	assert_true(gbca_text_read(&t, tap_path("missing"), "missing", 100, &err));
	assert_true(t.data == NULL);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_int_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	assert_true(gbca_text_read(&t, p, "text", 100, &err));
	assert_str_eq(t.data, "hello\n");
	assert_int_eq(t.len, 6);
	assert_int_eq(t.st.st_mode & 0777, 0640);
	gbca_text_free(&t);
	assert_false(gbca_text_read(&t, p, "text", 3, &err));
	assert_str_contains(err.msg, "text is bigger than");
	/* a link where a resolved path was expected is refused, not followed */
	assert_int_eq(symlink(p, tap_path("link")), 0);
	assert_false(gbca_text_read_nofollow(&t, tap_path("link"), "link", 100, &err));
	assert_str_contains(err.msg, "link turned into a symbolic link");
	assert_true(gbca_text_read_nofollow(&t, p, "text", 100, &err));
	gbca_text_free(&t);
	/* a FIFO in place of the file is refused at once, never waited on */
	assert_int_eq(mkfifo(fifo, 0600), 0);
	assert_false(gbca_text_read(&t, fifo, "fifo", 100, &err));
	assert_str_contains(err.msg, "not a regular file");
}

static void
test_save_keeps_mode(void)
{
	struct gbca_save s;
	struct stat st;
	struct gbca_text t;
	const char *p = tap_path("saved");

	assert_true(gbca_text_save(p, "new\n", 4, 0604, geteuid(), getegid(), &s, true));
	assert_int_eq(stat(p, &st), 0);
	assert_int_eq(st.st_mode & 0777, 0604);
	assert_true(gbca_text_read(&t, p, "saved", 100, NULL));
	assert_str_eq(t.data, "new\n");
	gbca_text_free(&t);
	/* not committed: the target is untouched and the temp file finished */
	assert_true(gbca_text_save(p, "other\n", 6, 0604, geteuid(), getegid(), &s, false));
	assert_true(gbca_text_read(&t, p, "saved", 100, NULL));
	assert_str_eq(t.data, "new\n");
	gbca_text_free(&t);
	assert_int_eq(access(s.tmp, F_OK), 0);
	gbca_save_abort(&s);
	assert_false(access(s.tmp, F_OK) == 0);
}

static void
test_quote(void)
{
	static const char nasty[] = "it's $HOME `x` \\ \"q\"";
	struct gbca_strbuf b = { 0 }, cmd = { 0 };
	const char *got;
	int status;

	/* quoted twice: once for the sh -c script, once for popen's sh */
	gbca_strbuf_str(&b, "printf %s ");
	gbca_quote_sh(&b, nasty);
	gbca_quote_sh(&cmd, b.p);
	got = tap_capture(&status, "sh -c %s", cmd.p);
	assert_int_eq(status, 0);
	assert_str_eq(got, nasty);
	free(b.p);
	free(cmd.p);
	b = (struct gbca_strbuf){ 0 };
	gbca_quote_fish(&b, "a'b\\c");
	assert_str_eq(b.p, "'a\\'b\\\\c'");
	free(b.p);
}

static void
test_report_add(void)
{
	char buf[12] = "";

	gbca_report_add(buf, sizeof(buf), ", ", "%s", "one");
	gbca_report_add(buf, sizeof(buf), ", ", "%s", "two");
	assert_str_eq(buf, "one, two");
	gbca_report_add(buf, sizeof(buf), ", ", "%s", "three");
	assert_int_eq(strlen(buf), sizeof(buf) - 1);
	gbca_report_add(buf, sizeof(buf), ", ", "%s", "four");
	assert_int_eq(strlen(buf), sizeof(buf) - 1);
}

int
main(void)
{
	tap_add("/block/find", test_find);
	tap_add("/block/damaged", test_damaged);
	tap_add("/block/splice", test_splice);
	tap_add("/block/read-bounded", test_read);
	tap_add("/block/save-keeps-mode", test_save_keeps_mode);
	tap_add("/block/quote-read-back-by-sh", test_quote);
	tap_add("/block/report-add", test_report_add);
	return tap_run();
}
