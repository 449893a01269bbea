/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the tests that work in a directory tree of their own: a fresh directory under
 * $TMPDIR (or /tmp), a copy of a fixture tree in it, files written into it, and its
 * removal with all it holds. Each test keeps the directory's path in its own buffer.
 * Every helper returns 0, or -1 when it fails.
 */
#ifndef GTHULHU_TEST_FIXTURE_TREE_H
#define GTHULHU_TEST_FIXTURE_TREE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new empty directory $TMPDIR/@name-XXXXXX, its path in @dir. */
static inline int tree_make(char *dir, size_t size, const char *name)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, size, "%s/%s-XXXXXX", base && *base ? base : "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

static inline int tree_remove_entry(const char *path, const struct stat *sb, int flag,
				    struct FTW *ftw)
{
	return remove(path);
}

/* Remove @path, and all below it if it is a directory. */
static inline int tree_remove(const char *path)
{
	return nftw(path, tree_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write @len bytes of @data to the file @root/@rel, made or truncated. */
static inline int tree_write(const char *root, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX + 64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}

/* Make the directory @root/@rel. */
static inline int tree_mkdir(const char *root, const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return mkdir(path, 0755);
}

/* nftw() passes no context: where tree_copy() copies from and to. */
static size_t tree_copy_skip;
static const char *tree_copy_dst;

static inline int tree_copy_entry(const char *path, const struct stat *sb, int flag,
				  struct FTW *ftw)
{
	char dst[PATH_MAX + 64], buf[8192];
	ssize_t n = -1;
	int in, out;

	snprintf(dst, sizeof(dst), "%s%s", tree_copy_dst, path + tree_copy_skip);
	if (flag == FTW_D)
		return mkdir(dst, 0755) && errno != EEXIST ? -1 : 0;
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in >= 0 && out >= 0)
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return n ? -1 : 0; /* 0: the whole file was read and written */
}

/* Copy the directories and files below @src into the directory @dst. */
static inline int tree_copy(const char *src, const char *dst)
{
	tree_copy_skip = strlen(src);
	tree_copy_dst = dst;
	return nftw(src, tree_copy_entry, 16, FTW_PHYS) ? -1 : 0;
}

#endif /* GTHULHU_TEST_FIXTURE_TREE_H */
