/*
 * The test runner's interface: TEST(name) registers a test; CHECK* fail it with the file and
 * line. `gpupv-tests NAME` runs one test (CTest runs each in its own process with a timeout);
 * `gpupv-tests --list` prints the names.
 */
#ifndef GPUPV_TESTS_TEST_H
#define GPUPV_TESTS_TEST_H

#include "common/buf.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) GPUPV_PRINTF(3, 4)
    __attribute__((noreturn));
/* A fresh temporary folder for this test, removed when the test passes. */
const char *test_dir(void);
/* A path inside test_dir(); returns a static-lifetime string. */
const char *test_path(const char *name);
/* The folder of tests/data. */
const char *test_data_dir(void);

#define TEST(name)                                                                                 \
  static void test_##name(void);                                                                   \
  __attribute__((constructor)) static void register_##name(void) {                                 \
    test_register(#name, test_##name);                                                             \
  }                                                                                                \
  static void test_##name(void)

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                           \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      test_fail(__FILE__, __LINE__, __VA_ARGS__);                                                  \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    if (a_ != b_)                                                                                  \
      test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);                     \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
      test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",      \
                b_ ? b_ : "(null)");                                                               \
  } while (0)

#endif
