/*
 * The kernel's floor of a host_processes collection, without Node: per process
 * one pread at offset 0 of its kept stat, status, io and cmdline descriptors,
 * an fstat of its kept fd directory (the open-file count on Linux >= 6.2) and,
 * for objects, a readlink of its cwd — the syscalls telekit makes, nothing else
 * (no parsing). Prints CPU (user + system) µs per collection, the median of
 * ROUNDS rounds of N collections, for the metric's and the object's syscalls,
 * then per process each syscall alone.
 * Built and run by bench/host/processes.mjs: cc -O2 -o proc-floor proc-floor.c && ./proc-floor /proc 5 20
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STAT, STATUS, IO, CMDLINE, FD, NK };
static const char *names[NK] = {"stat", "status", "io", "cmdline", "fd"};
static int (*fds)[NK];
static int *pids;
static int np;
static char buf[1 << 16];
static const char *proc;

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_sec * 1e6 + r.ru_stime.tv_usec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* which: a bit per syscall (1 << STAT ... 1 << FD, 1 << NK = cwd, 1 << (NK + 1) = the /proc listing) */
static void once(unsigned which) {
  struct stat st;
  char path[64];
  if (which & (1u << (NK + 1))) {
    DIR *d = opendir(proc);
    if (d) { while (readdir(d)) ; closedir(d); }
  }
  for (int i = 0; i < np; i++) {
    for (int k = 0; k < FD; k++) if ((which & (1u << k)) && fds[i][k] >= 0) (void)!pread(fds[i][k], buf, sizeof buf, 0);
    if ((which & (1u << FD)) && fds[i][FD] >= 0) fstat(fds[i][FD], &st);
    if (which & (1u << NK)) {
      snprintf(path, sizeof path, "%s/%d/cwd", proc, pids[i]);
      (void)!readlink(path, buf, sizeof buf);
    }
  }
}

static double measure(unsigned which, int rounds, int n) {
  double s[64];
  once(which);
  for (int r = 0; r < rounds && r < 64; r++) {
    double c0 = cpu_us();
    for (int i = 0; i < n; i++) once(which);
    s[r] = (cpu_us() - c0) / n;
  }
  qsort(s, rounds, sizeof s[0], cmp);
  return s[rounds / 2];
}

int main(int argc, char **argv) {
  proc = argc > 1 ? argv[1] : "/proc";
  int rounds = argc > 2 ? atoi(argv[2]) : 5, n = argc > 3 ? atoi(argv[3]) : 20;
  DIR *d = opendir(proc);
  if (!d) { perror(proc); return 1; }
  int cap = 1024;
  pids = malloc(cap * sizeof *pids);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    if (np == cap) pids = realloc(pids, (cap *= 2) * sizeof *pids);
    pids[np++] = atoi(e->d_name);
  }
  closedir(d);
  fds = malloc(np * sizeof *fds);
  for (int i = 0; i < np; i++)
    for (int k = 0; k < NK; k++) {
      char path[64];
      snprintf(path, sizeof path, "%s/%d/%s", proc, pids[i], names[k]);
      fds[i][k] = open(path, k == FD ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    }
  unsigned metric = (1u << (NK + 1)) | (1u << STAT) | (1u << STATUS) | (1u << IO) | (1u << CMDLINE) | (1u << FD);
  printf("processes %d\n", np);
  printf("metric %.1f\n", measure(metric, rounds, n));
  printf("object %.1f\n", measure(metric | (1u << NK), rounds, n));
  for (int k = 0; k <= NK; k++) printf("per-process %s %.2f\n", k == NK ? "cwd" : names[k], measure(1u << k, rounds, n) / np);
  return 0;
}
