#include "tests/support/fixture.h"

#include "common/err.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define BLOCK (1u << 20)

static const char *const package_stems[] = {"nv_dispi.inf_amd64_", "u0398765.inf_amd64_",
                                            "iigd_dch.inf_amd64_"};
static const char *const vendors[] = {"NVIDIA", "Advanced Micro Devices, Inc.",
                                      "Intel Corporation"};
static const char *const folders[] = {"", "x64/", "x86/", "x64/sub/", "NvCamera/"};

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Writes size bytes of the content stream identified by id. */
static int write_content(const char *path, uint64_t id, uint64_t size, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  uint64_t *block = malloc(BLOCK);
  uint64_t state = id * 0x9e3779b97f4a7c15ull + 1;
  int err = block ? 0 : UV_ENOMEM;
  while (!err && size) {
    size_t n = size < BLOCK ? (size_t)size : BLOCK;
    for (size_t i = 0; i < (n + 7) / 8; i++)
      block[i] = next_random(&state);
    if (write(fd, block, n) != (ssize_t)n)
      err = UV_EIO;
    size -= n;
  }
  free(block);
  close(fd);
  return err;
}

int fixture_write_file(const char *path, uint64_t id, uint64_t size) {
  return write_content(path, id, size, 0644);
}

static int write_text(const char *path, const char *text, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : UV_EIO;
}

static int make_package(const char *dir, const struct fixture_spec *spec, int p, uint64_t *rng) {
  char pkg[1024], path[2048];
  snprintf(pkg, sizeof pkg, "%s/store/%s%08x", dir, package_stems[p],
           spec->seed * 31 + (unsigned)p);
  int err = 0;
  for (size_t f = 0; f < sizeof folders / sizeof folders[0] && !err; f++) {
    snprintf(path, sizeof path, "%s/%s", pkg, folders[f]);
    err = fs_mkdir_p(path, 0755);
  }
  if (err)
    return err;
  char inf[1024];
  /* the first package declares files for VMs, as display INFs do (our own lines) */
  const char *copy_to_vm =
      p ? ""
        : "[gpu_AddReg]\r\n"
          "HKR,\"CopyToVmOverwrite\",RuntimeFiles,%REG_MULTI_SZ%,\"shared_runtime.dll\","
          "\"gpu_runtime64.dll\"\r\n"
          "HKR,\"CopyToVmWhenNewerWow64\",Runtime32,%REG_MULTI_SZ%,\"shared_runtime.dll\"\r\n"
          "HKR,\"CopyToVmWhenNewerWow64\",Runtime32,%REG_SZ_APPEND%,\"gpu_runtime32.dll\"\r\n"
          "\r\n";
  snprintf(inf, sizeof inf,
           "; driver package\r\n[Version]\r\nSignature=\"$WINDOWS NT$\"\r\nClass=Display\r\n"
           "Provider=%%Vendor%%\r\nDriverVer=05/14/2024,%d.0.15.%u\r\n\r\n%s[Strings]\r\n"
           "Vendor=\"%s\"\r\nREG_MULTI_SZ=0x00010000\r\nREG_SZ_APPEND=0x00010008\r\n",
           31 + p, 5000 + spec->seed % 1000, copy_to_vm, vendors[p]);
  snprintf(path, sizeof path, "%s/%s.inf", pkg, package_stems[p] + 0);
  char *dot = strstr(path + strlen(pkg), ".inf_");
  if (dot)
    strcpy(dot, ".inf");
  if ((err = write_text(path, inf, 0644)))
    return err;
  uint64_t base = (uint64_t)spec->seed << 32 | (uint64_t)p << 24;
  for (int i = 0; i < spec->files_per_package && !err; i++) {
    uint64_t size = spec->small_max ? next_random(rng) % (spec->small_max + 1) : 0;
    uint64_t id = base + (uint64_t)i;
    if (i % 7 == 3)
      id = base + (uint64_t)(i - 3); /* same content as an earlier file */
    if (i % 7 == 3)
      size = 0; /* recomputed below from the earlier file's size */
    const char *folder = folders[(size_t)i % (sizeof folders / sizeof folders[0])];
    snprintf(path, sizeof path, "%s/%sfile%04d.dll", pkg, folder, i);
    if (i % 7 == 3) {
      char earlier[2048];
      struct stat st;
      snprintf(earlier, sizeof earlier, "%s/%sfile%04d.dll", pkg,
               folders[(size_t)(i - 3) % (sizeof folders / sizeof folders[0])], i - 3);
      if (stat(earlier, &st) == 0)
        size = (uint64_t)st.st_size;
    }
    err = write_content(path, id, size, i % 11 == 5 ? 0755 : 0644);
  }
  for (int i = 0; i < spec->big_files && !err; i++) {
    uint64_t span = spec->big_max > spec->big_min ? spec->big_max - spec->big_min : 0;
    uint64_t size = spec->big_min + (span ? next_random(rng) % span : 0);
    snprintf(path, sizeof path, "%s/x64/big%02d_%d.dll", pkg, i, p);
    err = write_content(path, base + 100000 + (uint64_t)i, size, 0644);
  }
  /* the same content in every package, empty files, and names that are not ASCII */
  snprintf(path, sizeof path, "%s/shared_runtime.dll", pkg);
  if (!err)
    err = write_content(path, 42, 65536 + 17, 0644);
  snprintf(path, sizeof path, "%s/empty.cat", pkg);
  if (!err)
    err = write_content(path, 0, 0, 0644);
  snprintf(path, sizeof path, "%s/x64/sub/empty2.bin", pkg);
  if (!err)
    err = write_content(path, 0, 0, 0644);
  snprintf(path, sizeof path,
           "%s/donn\xc3\xa9"
           "es_\xc3\xa9t\xc3\xa9.bin",
           pkg);
  if (!err)
    err = write_content(path, base + 7777, 3000, 0644);
  snprintf(path, sizeof path, "%s/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.dat", pkg);
  if (!err)
    err = write_content(path, base + 7778, 1234, 0644);
  return err;
}

static int make_libs(const char *dir, uint32_t seed) {
  char path[2048];
  int err;
  snprintf(path, sizeof path, "%s/inbox", dir);
  if ((err = fs_mkdir_p(path, 0755)))
    return err;
  snprintf(path, sizeof path, "%s/packaged", dir);
  if ((err = fs_mkdir_p(path, 0755)))
    return err;
  static const char *const inbox[] = {"libcuda.so.1", "libcuda.so", "libnvidia-ml.so.1",
                                      "libd3d12.so"};
  static const char *const packaged[] = {"libdxcore.so", "libd3d12.so", "libd3d12core.so"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/inbox/%s", dir, inbox[i]);
    if ((err = write_content(path, (uint64_t)seed * 1000 + 500 + (uint64_t)i,
                             40000 + (uint64_t)i * 999, 0755)))
      return err;
  }
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/packaged/%s", dir, packaged[i]);
    if ((err = write_content(path, (uint64_t)seed * 1000 + 600 + (uint64_t)i,
                             70000 + (uint64_t)i * 777, 0755)))
      return err;
  }
  snprintf(path, sizeof path, "%s/inbox/nvidia-smi", dir);
  return write_text(path, "#!/bin/sh\necho 555.85\n", 0755);
}

int fixture_make(const char *dir, const struct fixture_spec *spec) {
  uint64_t rng = (uint64_t)spec->seed * 2654435761u + 7;
  int err = 0;
  for (int p = 0; p < spec->packages && p < 3 && !err; p++)
    err = make_package(dir, spec, p, &rng);
  return err ? err : make_libs(dir, spec->seed);
}

static int find_package(const char *store, int index, char *ret, size_t size) {
  struct dirent **list;
  int n = scandir(store, &list, NULL, alphasort), found = UV_ENOENT, seen = 0;
  for (int i = 0; i < n; i++) {
    if (list[i]->d_name[0] != '.' && seen++ == index && found) {
      snprintf(ret, size, "%s", list[i]->d_name);
      found = 0;
    }
    free(list[i]);
  }
  free(list);
  return found;
}

int fixture_bump(const char *dir, uint32_t seed, char *renamed, size_t renamed_size) {
  char store[1024], first[256], second[256], path[2048], to[2048];
  snprintf(store, sizeof store, "%s/store", dir);
  int err = find_package(store, 0, first, sizeof first);
  if (err)
    return err;
  for (int i = 0;; i += 5) {
    int found = 0;
    for (size_t f = 0; f < sizeof folders / sizeof folders[0]; f++) {
      snprintf(path, sizeof path, "%s/%s/%sfile%04d.dll", store, first, folders[f], i);
      struct stat st;
      if (stat(path, &st) == 0) {
        found = 1;
        if ((err = write_content(path, (uint64_t)seed << 40 | (uint64_t)i,
                                 (uint64_t)st.st_size + 100, (int)(st.st_mode & 0777))))
          return err;
      }
    }
    if (!found)
      break;
  }
  snprintf(path, sizeof path, "%s/%s/x64/new_in_update.dll", store, first);
  if ((err = write_content(path, (uint64_t)seed << 40 | 0xffff, 12345, 0644)))
    return err;
  if (find_package(store, 1, second, sizeof second))
    snprintf(second, sizeof second, "%s", first);
  snprintf(path, sizeof path, "%s/%s", store, second);
  char *cut = strrchr(second, '_');
  snprintf(renamed, renamed_size, "%.*s_%08x", cut ? (int)(cut - second) : (int)strlen(second),
           second, seed);
  snprintf(to, sizeof to, "%s/%s", store, renamed);
  return rename(path, to) == 0 ? 0 : uv_translate_sys_error(errno);
}

static int add_file_entry(struct archive *a, const char *name, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return uv_translate_sys_error(errno);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_size(e, st.st_size);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  int err = archive_write_header(a, e) == ARCHIVE_OK ? 0 : UV_EIO;
  archive_entry_free(e);
  int fd = open(path, O_RDONLY);
  char block[65536];
  ssize_t n;
  while (!err && fd >= 0 && (n = read(fd, block, sizeof block)) > 0)
    if (archive_write_data(a, block, (size_t)n) != n)
      err = UV_EIO;
  if (fd >= 0)
    close(fd);
  return err;
}

static struct archive *zip_writer(const char *path) {
  struct archive *a = archive_write_new();
  archive_write_set_format_zip(a);
  if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
    archive_write_free(a);
    return NULL;
  }
  return a;
}

int fixture_make_msix(const char *packaged_dir, const char *msix_path, const char *bundle_path) {
  struct archive *a = zip_writer(msix_path);
  if (!a)
    return UV_EIO;
  char manifest[1024];
  snprintf(manifest, sizeof manifest, "%s/../AppxManifest.xml", packaged_dir);
  int err = fs_write_atomic(manifest, "<Package/>\n", 11, 0644);
  if (!err)
    err = add_file_entry(a, "AppxManifest.xml", manifest);
  struct dirent **list;
  int n = scandir(packaged_dir, &list, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    char name[512], path[2048];
    if (!err && list[i]->d_name[0] != '.') {
      snprintf(name, sizeof name, "lib/%s", list[i]->d_name);
      snprintf(path, sizeof path, "%s/%s", packaged_dir, list[i]->d_name);
      err = add_file_entry(a, name, path);
    }
    free(list[i]);
  }
  free(list);
  if (!err && add_file_entry(a, "tools/wsl.exe", manifest))
    err = UV_EIO;
  archive_write_free(a);
  if (err || !bundle_path)
    return err;
  if (!(a = zip_writer(bundle_path)))
    return UV_EIO;
  err = add_file_entry(a, "AppxMetadata/AppxBundleManifest.xml", manifest);
  if (!err)
    err = add_file_entry(a, "Microsoft.WSL_2.4.4.0_ARM64.msix", manifest);
  if (!err)
    err = add_file_entry(a, "Microsoft.WSL_2.4.4.0_x64.msix", msix_path);
  archive_write_free(a);
  return err;
}
