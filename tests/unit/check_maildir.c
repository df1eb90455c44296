/*
 * check_maildir.c -- units of the Maildir backend's own parts: file name
 * flags, the uidlist parser, folder name encoding, the location template,
 * and serving a Maildir written by another program (UIDs on first sight,
 * stable across reopen, outside flag changes and deletes, inotify).
 * The module's sources are linked in; the ops are reached through the
 * descriptor like the core does, without a core (md_api stays NULL),
 * except for change notification, which runs on the core's watch service.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <kurir/module.h>
#include <kurir/storage.h>

#include "maildir.h"
#include "ev.h"
#include "watch.h"

const struct kurir_module_desc *maildir_LTX_kurir_module_entry(void);

static const struct kurir_storage_ops *ops;
static char scratch[256];

static void
setup(void)
{
	const struct kurir_module_desc *d = maildir_LTX_kurir_module_entry();

	ck_assert_str_eq(d->name, "maildir");
	ck_assert_uint_eq(d->kind, KURIR_MOD_STORAGE);
	ops = d->ops;
	ck_assert_uint_eq(ops->size, sizeof(struct kurir_storage_ops));
	snprintf(scratch, sizeof(scratch), "/tmp/check_maildir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
}

static void
teardown(void)
{
	md_rm_rf(scratch);
}

static void
put_file(const char *dir, const char *sub, const char *name,
    const char *body, time_t mtime)
{
	char		 path[4096];
	struct timespec	 ts[2];
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	futimens(fd, ts);
	close(fd);
}

static struct kurir_store *
open_at(const char *root)
{
	struct kurir_user_params p;
	struct kurir_store	*st = NULL;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.user = "someone@example.org";
	p.location = root;
	ck_assert_int_eq(ops->store_open(&p, &st), KURIR_OK);
	return st;
}

/* ---- file names ---------------------------------------------------- */

START_TEST(t_info_parse)
{
	uint32_t	 f, k;

	md_info_parse("123.M1P2Q3.host,S=10:2,FRSac", &f, &k);
	ck_assert_uint_eq(f, KURIR_FLAG_FLAGGED | KURIR_FLAG_ANSWERED |
	    KURIR_FLAG_SEEN);
	ck_assert_uint_eq(k, 0x5u);
	md_info_parse("123.host:2,DT", &f, &k);
	ck_assert_uint_eq(f, KURIR_FLAG_DRAFT | KURIR_FLAG_DELETED);
	ck_assert_uint_eq(k, 0);
	md_info_parse("123.host", &f, &k);
	ck_assert_uint_eq(f, 0);
	md_info_parse("123.host:1,experimental", &f, &k);
	ck_assert_uint_eq(f, 0);
	ck_assert_uint_eq(k, 0);
	md_info_parse("123.host:2,", &f, &k);
	ck_assert_uint_eq(f, 0);
}
END_TEST

START_TEST(t_info_render)
{
	char	 out[256];

	ck_assert_int_eq(md_info_render("b", 1, KURIR_FLAG_SEEN |
	    KURIR_FLAG_DRAFT | KURIR_FLAG_DELETED | KURIR_FLAG_FLAGGED |
	    KURIR_FLAG_ANSWERED, 0x2000001u, NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "b:2,DFRSTaz");
	/* P (passed) has no kurir flag but survives a rename */
	ck_assert_int_eq(md_info_render("base:2,PS", 4, KURIR_FLAG_FLAGGED, 0,
	    "base:2,PS", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "base:2,FP");
	ck_assert_int_eq(md_info_render("x", 1, 0, 0, NULL, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "x:2,");
	ck_assert_int_eq(md_info_render("long", 4, 0, 0, NULL, out, 6), -1);
	ck_assert_uint_eq(md_base_len("a.b:2,S"), 3);
	ck_assert_uint_eq(md_base_len("a.b"), 3);
}
END_TEST

START_TEST(t_size_and_unique)
{
	char		 a[256], b[256];
	uint64_t	 sz = 0;

	ck_assert_int_eq(md_size_from_name("1.M2P3.h,S=4096,W=4200:2,S",
	    &sz), 0);
	ck_assert_uint_eq(sz, 4096);
	ck_assert_int_eq(md_size_from_name("1.M2P3.h,S=77", &sz), 0);
	ck_assert_uint_eq(sz, 77);
	ck_assert_int_eq(md_size_from_name("1.M2P3.h", &sz), -1);
	ck_assert_int_eq(md_size_from_name("1.M2P3.h,S=x1", &sz), -1);
	/* S= only counts in the base name, not in the flags */
	ck_assert_int_eq(md_size_from_name("1.h:2,S=5", &sz), -1);
	ck_assert_int_eq(md_unique_name(a, sizeof(a)), 0);
	ck_assert_int_eq(md_unique_name(b, sizeof(b)), 0);
	ck_assert_str_ne(a, b);
	ck_assert_ptr_null(strchr(a, '/'));
	ck_assert_ptr_null(strchr(a, ':'));
	ck_assert_ptr_nonnull(strstr(a, ".M"));
}
END_TEST

/* ---- uidlist ------------------------------------------------------- */

static void
write_text(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(t_uidlist_parse)
{
	struct md_index	 ix;
	char		 path[512], longline[3000];

	md_index_init(&ix);
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_E_NOTFOUND);
	snprintf(path, sizeof(path), "%s/%s", scratch, MD_UIDLIST);
	memset(longline, '9', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	{
		FILE *fp = fopen(path, "w");

		ck_assert_ptr_nonnull(fp);
		fputs("K1 V1234 N5 M10\n"
		    "3 7 1700000000 100 c c.host:2,S\n"
		    "1 4 1700000000 50 n a.host\n"
		    "garbage line\n"
		    "0 1 1 1 c zero-uid\n"
		    "2 5 1700000000 60 x bad-where\n"
		    "4 8 1700000000 70 c ../escape\n", fp);
		fputs(longline, fp);
		fputs("3 9 1 1 c duplicate:2,\n"
		    "9 11 1700000001 80 c far.host:2,F\n"
		    "X 2 12\n"
		    "X zz\n"
		    "5 6 1700000000 10 c name with spaces:2,\n", fp);
		fclose(fp);
	}
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_OK);
	ck_assert_uint_eq(ix.uidvalidity, 1234);
	/* uid 9 is above N5: NEXTUID moves past it, never reused */
	ck_assert_uint_eq(ix.nextuid, 10);
	ck_assert_uint_eq(ix.highestmodseq, 12);
	ck_assert_uint_eq(ix.nrecs, 4);
	ck_assert_uint_eq(ix.recs[0].uid, 1);
	ck_assert(ix.recs[0].in_new);
	/* a log: the later line of uid 3 wins */
	ck_assert_uint_eq(ix.recs[1].uid, 3);
	ck_assert_str_eq(ix.recs[1].name, "duplicate:2,");
	ck_assert_uint_eq(ix.recs[1].modseq, 9);
	ck_assert_uint_eq(ix.recs[1].flags, 0);
	ck_assert_uint_eq(ix.recs[2].uid, 5);
	ck_assert_str_eq(ix.recs[2].name, "name with spaces:2,");
	ck_assert_uint_eq(ix.recs[3].uid, 9);
	ck_assert_uint_eq(ix.recs[3].date, 1700000001);
	ck_assert_uint_eq(ix.ntombs, 1);
	ck_assert_uint_eq(ix.tombs[0].uid, 2);
	/* write + read gives the same */
	ck_assert_int_eq(md_index_write(scratch, &ix), KURIR_OK);
	md_index_free(&ix);
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_OK);
	ck_assert_uint_eq(ix.nrecs, 4);
	ck_assert_uint_eq(ix.nextuid, 10);
	ck_assert_str_eq(ix.recs[2].name, "name with spaces:2,");
	md_index_free(&ix);
	/* a tombstone removes an earlier line; a torn last line (a write
	 * in progress or cut by a crash) is ignored, and the next save
	 * ends it first */
	write_text(path, "K1 V7 N1 M0\n"
	    "1 1 1700000000 5 c one:2,\n"
	    "2 2 1700000000 5 c two:2,\n"
	    "X 1 3\n"
	    "3 4 1700000000 5 c thr");
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_OK);
	ck_assert_uint_eq(ix.nrecs, 1);
	ck_assert_uint_eq(ix.recs[0].uid, 2);
	ck_assert_uint_eq(ix.nextuid, 3);
	ck_assert_uint_eq(ix.highestmodseq, 3);
	ck_assert_uint_eq(ix.ntombs, 1);
	{
		struct md_rec	*r = md_index_add(&ix);
		struct stat	 sb1, sb2;

		r->uid = ix.nextuid++;
		r->modseq = ++ix.highestmodseq;
		r->name = strdup("four:2,S");
		r->size = 9;
		r->dirty = 1;
		ck_assert_int_eq(md_index_tomb(&ix, 2, ++ix.highestmodseq),
		    KURIR_OK);
		free(ix.recs[0].name);
		ix.recs[0] = ix.recs[1];	/* uid 2 goes */
		ix.nrecs = 1;
		ck_assert_int_eq(stat(path, &sb1), 0);
		ck_assert_int_eq(md_index_save(scratch, &ix), KURIR_OK);
		ck_assert_int_eq(stat(path, &sb2), 0);
		ck_assert_uint_eq(sb1.st_ino, sb2.st_ino);	/* appended */
		ck_assert_int_gt(sb2.st_size, sb1.st_size);
	}
	md_index_free(&ix);
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_OK);
	ck_assert_uint_eq(ix.nrecs, 1);
	ck_assert_uint_eq(ix.recs[0].uid, 3);
	ck_assert_str_eq(ix.recs[0].name, "four:2,S");
	ck_assert_uint_eq(ix.recs[0].flags, KURIR_FLAG_SEEN);
	ck_assert_uint_eq(ix.ntombs, 2);
	ck_assert_uint_eq(ix.nextuid, 4);
	ck_assert_uint_eq(ix.highestmodseq, 5);
	/* many changes of one message: the log is compacted */
	{
		struct stat	 sb1, sb2;
		int		 k;

		ck_assert_int_eq(stat(path, &sb1), 0);
		for (k = 0; k < 100; k++) {
			ix.recs[0].modseq = ++ix.highestmodseq;
			ix.recs[0].dirty = 1;
			ck_assert_int_eq(md_index_save(scratch, &ix),
			    KURIR_OK);
		}
		ck_assert_int_eq(stat(path, &sb2), 0);
		ck_assert_uint_ne(sb1.st_ino, sb2.st_ino);	/* rewritten */
		ck_assert_int_lt(sb2.st_size, 100 * 20);
	}
	md_index_free(&ix);
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_OK);
	ck_assert_uint_eq(ix.nrecs, 1);
	ck_assert_uint_eq(ix.recs[0].modseq, 105);
	ck_assert_uint_eq(ix.ntombs, 2);
	md_index_free(&ix);
	/* a damaged header is CORRUPT, an empty file too */
	write_text(path, "K1 V0 N1 M0\n1 1 1 1 c a\n");
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_E_CORRUPT);
	md_index_free(&ix);
	write_text(path, "");
	ck_assert_int_eq(md_index_read(scratch, &ix), KURIR_E_CORRUPT);
	md_index_free(&ix);
}
END_TEST

/* A corrupt header is rebuilt under a new UIDVALIDITY, files kept. */
START_TEST(t_uidlist_rebuild)
{
	struct kurir_store		*st;
	struct kurir_mailbox_status	 s1, s2;
	char				 path[512];

	st = open_at(scratch);
	put_file(scratch, "cur", "1.a.host:2,S", "x\n", 1700000000);
	ck_assert_int_eq(ops->mailbox_status(st, "INBOX", &s1), KURIR_OK);
	ck_assert_uint_eq(s1.messages, 1);
	snprintf(path, sizeof(path), "%s/%s", scratch, MD_UIDLIST);
	write_text(path, "garbage\n");
	ck_assert_int_eq(ops->mailbox_status(st, "INBOX", &s2), KURIR_OK);
	ck_assert_uint_eq(s2.messages, 1);
	ck_assert_uint_ne(s2.uidvalidity, s1.uidvalidity);
	ops->store_close(st);
}
END_TEST

/* ---- folder names -------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*dir;
} md_names[] = {
	{ "INBOX", "" },
	{ "inbox", "" },
	{ "Sent", ".Sent" },
	{ "Work/Projects/2024", ".Work.Projects.2024" },
	{ "My Folder", ".My Folder" },
	{ "Entwürfe", ".Entw&APw-rfe" },
	{ "台北/日本語", ".&U,BTFw-.&ZeVnLIqe-" },	/* RFC 3501 5.1.3 */
	{ "v1.2/x", ".v1\\2e2.x" },
	{ "~home", ".\\7ehome" },
	{ "a~b", ".a~b" },
	{ "back\\slash", ".back\\5cslash" },
	{ "Tom & Jerry", ".Tom &- Jerry" },
	{ "inbox/Sub", ".INBOX.Sub" },
	{ "😀", ".&2D3eAA-" },
	{ "Été 2024/Café au lait", ".&AMk-t&AOk- 2024.Caf&AOk- au lait" },
};

START_TEST(t_name_encoding)
{
	char	 dir[1024], back[1024];
	size_t	 i = (size_t)_i;

	ck_assert_int_eq(md_name_to_dir(md_names[i].name, dir, sizeof(dir)),
	    KURIR_OK);
	ck_assert_str_eq(dir, md_names[i].dir);
	if (dir[0] == '\0')
		return;
	ck_assert_int_eq(md_dir_to_name(dir, back, sizeof(back)), 0);
	if (strncasecmp(md_names[i].name, "inbox/", 6) == 0)
		ck_assert_str_eq(back + 6, md_names[i].name + 6);
	else
		ck_assert_str_eq(back, md_names[i].name);
}
END_TEST

START_TEST(t_name_bad)
{
	const char	*bad_names[] = { "", "/a", "a/", "a//b", ".", "a/..",
	    "x/./y", "ctl\x01", "del\x7f", "\xff", "x\xc3", "\xed\xa0\x80" };
	const char	*bad_dirs[] = { ".", "..", "x", ".a..b", ".&Jjo",
	    ".foo&AGE-", ".\\zz", ".\\2", ".a\xc3\xa9", ".&2D3-", ".&AMk" };
	char		 out[1024];
	size_t		 i;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		ck_assert_msg(md_name_to_dir(bad_names[i], out, sizeof(out)) ==
		    KURIR_E_INVALID, "accepted name %zu", i);
	for (i = 0; i < sizeof(bad_dirs) / sizeof(bad_dirs[0]); i++)
		ck_assert_msg(md_dir_to_name(bad_dirs[i], out, sizeof(out)) ==
		    -1, "accepted dir %s", bad_dirs[i]);
	/* "..." is a fine name; so is a leading dot */
	ck_assert_int_eq(md_name_to_dir("...", out, sizeof(out)), KURIR_OK);
	ck_assert_str_eq(out, ".\\2e\\2e\\2e");
	ck_assert_int_eq(md_name_to_dir(".hidden", out, sizeof(out)),
	    KURIR_OK);
	ck_assert_int_eq(md_dir_to_name(out, out + 512, 512), 0);
	ck_assert_str_eq(out + 512, ".hidden");
}
END_TEST

/* Folders appear on disk under their encoded names, and list back. */
struct names {
	int	 n;
	char	 v[16][128];
};

static int
names_cb(void *arg, const char *name, uint32_t attrs)
{
	struct names *l = arg;

	if (l->n < 16)
		snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", name);
	return 0;
}

START_TEST(t_name_on_disk)
{
	struct kurir_store	*st = open_at(scratch);
	struct stat		 sb;
	struct names		 l;
	char			 path[512];
	int			 i, found = 0;

	ck_assert_int_eq(ops->mailbox_create(st, "a.b/Entwürfe", 0),
	    KURIR_OK);
	snprintf(path, sizeof(path), "%s/.a\\2eb.Entw&APw-rfe/cur", scratch);
	ck_assert_int_eq(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/.a\\2eb.Entw&APw-rfe/maildirfolder",
	    scratch);
	ck_assert_int_eq(stat(path, &sb), 0);
	/* a folder another program made */
	snprintf(path, sizeof(path), "%s/.Caf&AOk-", scratch);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(md_make_maildir(path, 1), 0);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(ops->mailbox_list(st, names_cb, &l), KURIR_OK);
	for (i = 0; i < l.n; i++)
		found |= (strcmp(l.v[i], "a.b/Entwürfe") == 0) |
		    (strcmp(l.v[i], "Café") == 0) << 1 |
		    (strcmp(l.v[i], "a.b") == 0) << 2;
	ck_assert_int_eq(found, 7);
	ops->store_close(st);
}
END_TEST

/* ---- location ------------------------------------------------------ */

START_TEST(t_location)
{
	struct kurir_user_params p;
	const char		*saved = md_conf.location;
	char			 out[512];

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	md_conf.state_dir = "/srv/kurir";
	p.user = "alice@example.org";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_OK);
	ck_assert_str_eq(out, "/srv/kurir/maildir/example.org/alice");
	md_conf.location = "/home/%d/%n/Maildir%%/%u";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_OK);
	ck_assert_str_eq(out,
	    "/home/example.org/alice/Maildir%/alice@example.org");
	md_conf.location = saved;
	p.user = "../x@example.org";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_E_INVALID);
	p.user = "a/b@example.org";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_E_INVALID);
	p.user = "x@..";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_E_INVALID);
	p.user = "noat";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_E_INVALID);
	p.location = "/override/here";
	ck_assert_int_eq(md_location(&p, out, sizeof(out)), KURIR_OK);
	ck_assert_str_eq(out, "/override/here");
}
END_TEST

/* ---- a Maildir made by another program ----------------------------- */

struct msgs {
	int		 n;
	struct kurir_msg m[16];
};

static int
msgs_cb(void *arg, const struct kurir_msg *m)
{
	struct msgs *l = arg;

	if (l->n < 16) {
		l->m[l->n] = *m;
		l->m[l->n++].keywords = NULL;
	}
	return 0;
}

static struct msgs *
list_of(struct kurir_mailbox *mb)
{
	static struct msgs l;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(ops->msg_list(mb, 1, UINT32_MAX, msgs_cb, &l),
	    KURIR_OK);
	return &l;
}

static int
count_dir(const char *root, const char *sub)
{
	char		 path[512];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
expunged_is_2(void *arg, uint32_t uid)
{
	ck_assert_uint_eq(uid, 2);
	(*(int *)arg)++;
	return 0;
}

START_TEST(t_foreign_import)
{
	struct kurir_store	*st;
	struct kurir_mailbox	*mb;
	struct msgs		*l;
	char			 buf[64], from[512], to[512];
	uint32_t		 uidv;
	size_t			 n;
	int			 i;

	/* mutt/procmail style: one new, two read, one with keyword a */
	ck_assert_int_eq(md_make_maildir(scratch, 0), 0);
	put_file(scratch, "new", "1700000300.P1.host", "third\n", 1700000300);
	put_file(scratch, "cur", "1700000100.P1.host:2,S", "first\n",
	    1700000100);
	put_file(scratch, "cur", "1700000200.P1.host:2,FRa", "second!\n",
	    1700000200);
	snprintf(from, sizeof(from), "%s/dovecot-keywords", scratch);
	write_text(from, "0 $Important\n");

	st = open_at(scratch);
	ck_assert_int_eq(ops->mailbox_open(st, "INBOX", &mb), KURIR_OK);
	l = list_of(mb);
	ck_assert_int_eq(l->n, 3);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(l->m[i].uid, (uint32_t)i + 1);
	ck_assert_uint_eq(l->m[0].flags, KURIR_FLAG_SEEN);
	ck_assert_uint_eq(l->m[0].size, 6);
	ck_assert_int_eq(l->m[0].internal_date, 1700000100);
	ck_assert_uint_eq(l->m[1].flags, KURIR_FLAG_FLAGGED |
	    KURIR_FLAG_ANSWERED);
	ck_assert_uint_eq(l->m[2].flags, 0);
	ck_assert_int_eq(ops->msg_read(mb, 2, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert_uint_eq(n, 8);
	ck_assert(memcmp(buf, "second!\n", 8) == 0);
	/* new/ was emptied into cur/, per the Maildir spec */
	ck_assert_int_eq(count_dir(scratch, "new"), 0);
	ck_assert_int_eq(count_dir(scratch, "cur"), 3);
	uidv = 0;
	{
		struct kurir_mailbox_status s;

		ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
		uidv = s.uidvalidity;
		ck_assert_uint_eq(s.uidnext, 4);
		ck_assert_uint_eq(s.unseen, 2);
	}
	ops->mailbox_close(mb);
	ops->store_close(st);

	/* reopen: the same UIDs, nothing renumbered */
	st = open_at(scratch);
	ck_assert_int_eq(ops->mailbox_open(st, "INBOX", &mb), KURIR_OK);
	l = list_of(mb);
	ck_assert_int_eq(l->n, 3);
	ck_assert_uint_eq(l->m[0].size, 6);
	ck_assert_uint_eq(l->m[2].size, 6);
	ck_assert_int_eq(l->m[2].internal_date, 1700000300);
	ck_assert_int_eq(ops->msg_read(mb, 3, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert(n == 6 && memcmp(buf, "third\n", 6) == 0);

	/* another program: marks #1 unread-flagged, deletes #2, drops
	 * a fourth into new/ */
	{
		struct kurir_mailbox_status s;
		uint64_t	 before;
		struct msgs	*c;
		int		 nexp = 0;

		ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
		before = s.highestmodseq;
		ck_assert_uint_eq(s.uidvalidity, uidv);
		snprintf(from, sizeof(from), "%s/cur/1700000100.P1.host:2,S",
		    scratch);
		snprintf(to, sizeof(to), "%s/cur/1700000100.P1.host:2,F",
		    scratch);
		ck_assert_int_eq(rename(from, to), 0);
		snprintf(from, sizeof(from), "%s/cur/1700000200.P1.host:2,FRa",
		    scratch);
		ck_assert_int_eq(unlink(from), 0);
		put_file(scratch, "new", "1700000400.P1.host", "fourth\n",
		    1700000400);
		/* read by UID before any sync: found by base name */
		ck_assert_int_eq(ops->msg_read(mb, 1, 0, buf, sizeof(buf),
		    &n), KURIR_OK);
		ck_assert(n == 6 && memcmp(buf, "first\n", 6) == 0);
		ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
		ck_assert_uint_eq(s.messages, 3);
		ck_assert_uint_eq(s.uidnext, 5);
		l = list_of(mb);
		ck_assert_uint_eq(l->m[0].uid, 1);
		ck_assert_uint_eq(l->m[0].flags, KURIR_FLAG_FLAGGED);
		ck_assert_uint_gt(l->m[0].modseq, before);
		ck_assert_uint_eq(l->m[1].uid, 3);
		ck_assert_uint_eq(l->m[1].modseq <= before, 1);
		ck_assert_uint_eq(l->m[2].uid, 4);
		c = calloc(1, sizeof(*c));
		ck_assert_int_eq(ops->changes_since(mb, before, msgs_cb, NULL,
		    c), KURIR_OK);
		ck_assert_int_eq(c->n, 2);	/* #1 flags, #4 new */
		free(c);
		ck_assert_int_eq(ops->changes_since(mb, before, NULL,
		    expunged_is_2, &nexp), KURIR_OK);
		ck_assert_int_eq(nexp, 1);
	}
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* A sync that finds new/, cur/ and the uidlist as the last full sync
 * left them (and settled: changed over a second before) keeps its
 * snapshot without a scan; any change by another program is seen. */
START_TEST(t_sync_stamp)
{
	struct kurir_store	*st;
	struct kurir_mailbox	*mb;
	struct kurir_mailbox_status s;
	struct md_rec		*recs;
	struct msgs		*l;
	char			 buf[64], from[512], to[512];
	size_t			 n;

	ck_assert_int_eq(md_make_maildir(scratch, 0), 0);
	/* S= says 3 bytes, the file has 8: read whole all the same */
	put_file(scratch, "cur", "1700000100.P1.host,S=3:2,", "first!!\n",
	    1700000100);
	put_file(scratch, "cur", "1700000200.P1.host,S=99:2,", "second\n",
	    1700000200);
	st = open_at(scratch);
	ck_assert_int_eq(ops->mailbox_open(st, "INBOX", &mb), KURIR_OK);
	/* the uidlist was just written: not settled, no stamp */
	ck_assert_uint_eq(mb->stamp.valid, 0);
	ck_assert_int_eq(ops->msg_read(mb, 1, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert(n == 8 && memcmp(buf, "first!!\n", 8) == 0);
	ck_assert_int_eq(ops->msg_read(mb, 2, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert(n == 7 && memcmp(buf, "second\n", 7) == 0);
	ck_assert_int_eq(ops->msg_read(mb, 1, 5, buf, 2, &n), KURIR_OK);
	ck_assert(n == 2 && memcmp(buf, "!!", 2) == 0);

	usleep(1200 * 1000);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(mb->stamp.valid, 1);
	/* nothing changed: the same snapshot, not a rescanned one */
	recs = mb->idx.recs;
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_ptr_eq(mb->idx.recs, recs);
	ck_assert_uint_eq(s.messages, 2);
	ck_assert_uint_eq(s.uidnext, 3);

	/* another program drops a message into new/ */
	put_file(scratch, "new", "1700000300.P1.host", "third\n",
	    1700000300);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(s.messages, 3);
	ck_assert_uint_eq(mb->stamp.valid, 0);

	/* ... and, once settled, renames one (a flag) */
	usleep(1200 * 1000);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(mb->stamp.valid, 1);
	snprintf(from, sizeof(from), "%s/cur/1700000200.P1.host,S=99:2,",
	    scratch);
	snprintf(to, sizeof(to), "%s/cur/1700000200.P1.host,S=99:2,F",
	    scratch);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	l = list_of(mb);
	ck_assert_int_eq(l->n, 3);
	ck_assert_uint_eq(l->m[1].flags, KURIR_FLAG_FLAGGED);
	ck_assert_int_eq(ops->msg_read(mb, 2, 0, buf, sizeof(buf), &n),
	    KURIR_OK);
	ck_assert(n == 7 && memcmp(buf, "second\n", 7) == 0);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* Files our flag changes write keep Dovecot's letters and table. */
START_TEST(t_keywords_file)
{
	struct kurir_store	*st = open_at(scratch);
	struct kurir_mailbox	*mb;
	struct kurir_uid_range	 r = { 1, 1 };
	char			 path[512], line[128];
	FILE			*fp;
	int			 i;

	put_file(scratch, "cur", "1.x.host:2,", "m\n", 1700000000);
	ck_assert_int_eq(ops->mailbox_open(st, "INBOX", &mb), KURIR_OK);
	ck_assert_int_eq(ops->msg_flags(mb, &r, 1, KURIR_FLAGS_ADD,
	    KURIR_FLAG_SEEN, "$Forwarded Work", 0, NULL, NULL), KURIR_OK);
	snprintf(path, sizeof(path), "%s/cur/1.x.host:2,Sab", scratch);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/dovecot-keywords", scratch);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	ck_assert_str_eq(line, "0 $Forwarded\n");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	ck_assert_str_eq(line, "1 Work\n");
	fclose(fp);
	/* bad keyword syntax; then the 27th keyword does not fit */
	ck_assert_int_eq(ops->msg_flags(mb, &r, 1, KURIR_FLAGS_ADD, 0,
	    "(bad)", 0, NULL, NULL), KURIR_E_INVALID);
	for (i = 0; i < 24; i++) {
		char kw[16];

		snprintf(kw, sizeof(kw), "k%d", i);
		ck_assert_int_eq(ops->msg_flags(mb, &r, 1, KURIR_FLAGS_ADD, 0,
		    kw, 0, NULL, NULL), KURIR_OK);
	}
	ck_assert_int_eq(ops->msg_flags(mb, &r, 1, KURIR_FLAGS_ADD, 0,
	    "onetoomany", 0, NULL, NULL), KURIR_E_TOOBIG);
	ops->mailbox_close(mb);
	ops->store_close(st);
}
END_TEST

/* A minimal core for the change notification: the real watch service
 * (core/watch.c) on the real event loop. */
static void
t_log(struct kurir_module *m, int level, const char *fmt, ...)
{
	(void)m;
	(void)level;
	(void)fmt;
}

static struct kurir_core_api t_api = {
	.size = sizeof(struct kurir_core_api),
	.log = t_log,
	.watch_path = watch_add,
	.watch_path_del = watch_del,
};

static int	 t_woken;

static void
t_wake(void *arg)
{
	t_woken++;
}

static int
t_wait(int fd, int ms)
{
	struct pollfd	 pfd;
	uint64_t	 t0 = ev_now_ms();

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (ev_now_ms() - t0 < (uint64_t)ms) {
		ev_run_once(ev_default(), 10);
		if (fd == -1 ? t_woken > 0 : poll(&pfd, 1, 0) == 1)
			return 1;
	}
	return 0;
}

/* A file dropped into new/ by another program wakes notify_set() and
 * notify_fd(); without a core's watch_path both say so. */
START_TEST(t_notify_drop)
{
	struct kurir_store	*st = open_at(scratch);
	struct kurir_mailbox	*mb;
	struct kurir_mailbox_status s;
	char			 from[512], to[512];
	int			 fd;

	ck_assert_int_eq(ops->mailbox_create(st, "Lists", 0), KURIR_OK);
	ck_assert_int_eq(ops->mailbox_open(st, "Lists", &mb), KURIR_OK);
	ck_assert_int_eq(ops->notify_fd(mb), -1);
	ck_assert_int_eq(ops->notify_set(mb, t_wake, NULL),
	    KURIR_E_UNSUPPORTED);
	md_api = &t_api;
	fd = ops->notify_fd(mb);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ops->notify_fd(mb), fd);
	ck_assert_int_eq(ops->notify_set(mb, t_wake, NULL), KURIR_OK);
	/* three directories, each watched once for both */
	ck_assert_uint_eq(watch_count_kernel(), 3);
	ops->notify_clear(mb);
	ck_assert_int_eq(t_wait(fd, 50), 0);
	ck_assert_int_eq(t_woken, 0);
	/* an MDA: write in tmp/, rename into new/ */
	snprintf(from, sizeof(from), "%s/.Lists", scratch);
	put_file(from, "tmp", "1700000500.P9.mda", "hello\n", 1700000500);
	snprintf(from, sizeof(from), "%s/.Lists/tmp/1700000500.P9.mda",
	    scratch);
	snprintf(to, sizeof(to), "%s/.Lists/new/1700000500.P9.mda", scratch);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(t_wait(-1, 1000), 1);
	ck_assert_int_eq(t_wait(fd, 1000), 1);
	ops->notify_clear(mb);
	ck_assert_int_eq(ops->mailbox_sync(mb, &s), KURIR_OK);
	ck_assert_uint_eq(s.messages, 1);
	ck_assert_uint_eq(list_of(mb)->m[0].internal_date, 1700000500);
	/* stopped: no more calls */
	ck_assert_int_eq(ops->notify_set(mb, NULL, NULL), KURIR_OK);
	t_woken = 0;
	snprintf(from, sizeof(from), "%s/.Lists", scratch);
	put_file(from, "new", "1700000600.P9.mda", "again\n", 1700000600);
	ck_assert_int_eq(t_wait(fd, 1000), 1);
	ck_assert_int_eq(t_woken, 0);
	ops->mailbox_close(mb);
	ck_assert_uint_eq(watch_count_kernel(), 0);
	ops->store_close(st);
	md_api = NULL;
	watch_free_all();
}
END_TEST

/* Delivery to two users on one file system shares one inode; tmp/ junk
 * older than 36 h goes when the store is opened. */
START_TEST(t_deliver_link_and_tmp)
{
	struct kurir_user_params p[2];
	const struct kurir_user_params *pp[2] = { &p[0], &p[1] };
	struct kurir_delivery	*d;
	struct kurir_store	*st;
	struct dirent		*de;
	struct stat		 a, b;
	char			 ra[512], rb[512], path[1024];
	DIR			*dir;
	int			 i;

	snprintf(ra, sizeof(ra), "%s/a", scratch);
	snprintf(rb, sizeof(rb), "%s/b", scratch);
	memset(p, 0, sizeof(p));
	for (i = 0; i < 2; i++) {
		p[i].size = sizeof(p[i]);
		p[i].user = i ? "b@example.org" : "a@example.org";
		p[i].location = i ? rb : ra;
	}
	ck_assert_int_eq(ops->deliver_begin(pp, 2, 1700000600, &d), KURIR_OK);
	ck_assert_int_eq(ops->deliver_write(d, "Subject: x\n\nhi\n", 15),
	    KURIR_OK);
	ck_assert_int_eq(ops->deliver_commit(d), KURIR_OK);
	ck_assert_int_eq(count_dir(ra, "new"), 1);
	ck_assert_int_eq(count_dir(rb, "new"), 1);
	ck_assert_int_eq(count_dir(ra, "tmp"), 0);
	for (i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(dir = opendir(i ? rb : ra));
		closedir(dir);
		snprintf(path, sizeof(path), "%s/new", i ? rb : ra);
		ck_assert_ptr_nonnull(dir = opendir(path));
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.')
				break;
		ck_assert_ptr_nonnull(de);
		ck_assert_ptr_nonnull(strstr(de->d_name, ",S=15"));
		snprintf(path, sizeof(path), "%s/new/%s", i ? rb : ra,
		    de->d_name);
		closedir(dir);
		ck_assert_int_eq(stat(path, i ? &b : &a), 0);
	}
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_mtime, 1700000600);

	/* junk: one old file, one fresh one (an append in progress); the
	 * age is the ctime's, which no one can set back */
	md_conf.tmp_max_age = 1;
	put_file(ra, "tmp", "old.junk", "x", time(NULL));
	sleep(2);
	put_file(ra, "tmp", "fresh.junk", "x", 1000000000);
	st = open_at(ra);
	md_conf.tmp_max_age = 36 * 3600;
	snprintf(path, sizeof(path), "%s/tmp/old.junk", ra);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tmp/fresh.junk", ra);
	ck_assert_int_eq(access(path, F_OK), 0);
	ops->store_close(st);
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite	*s = suite_create("maildir");
	TCase	*tc;

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_info_parse);
	tcase_add_test(tc, t_info_render);
	tcase_add_test(tc, t_size_and_unique);
	tcase_add_test(tc, t_uidlist_parse);
	tcase_add_test(tc, t_uidlist_rebuild);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, t_name_encoding, 0,
	    sizeof(md_names) / sizeof(md_names[0]));
	tcase_add_test(tc, t_name_bad);
	tcase_add_test(tc, t_name_on_disk);
	tcase_add_test(tc, t_location);
	suite_add_tcase(s, tc);

	tc = tcase_create("foreign");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_foreign_import);
	tcase_add_test(tc, t_sync_stamp);
	tcase_add_test(tc, t_keywords_file);
	tcase_add_test(tc, t_notify_drop);
	tcase_add_test(tc, t_deliver_link_and_tmp);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(maildir_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
