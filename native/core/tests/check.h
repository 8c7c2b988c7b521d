// Minimal test harness for the core library's ctest executables.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace m3dtest {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
inline int& failures() {
  static int f = 0;
  return f;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};

inline int run_all() {
  int failedCases = 0;
  for (auto& c : cases()) {
    const int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  unexpected exception: %s\n", e.what());
      ++failures();
    }
    const bool ok = failures() == before;
    if (!ok) ++failedCases;
    std::printf("%s %s\n", ok ? "[ ok ]" : "[FAIL]", c.name);
  }
  std::printf("%d passed, %d failed\n", static_cast<int>(cases().size()) - failedCases, failedCases);
  return failedCases == 0 ? 0 : 1;
}

}  // namespace m3dtest

#define M3D_CAT2(a, b) a##b
#define M3D_CAT(a, b) M3D_CAT2(a, b)
#define TEST_CASE(name)                                                      \
  static void M3D_CAT(test_fn_, __LINE__)();                                 \
  static m3dtest::Register M3D_CAT(test_reg_, __LINE__)(name, M3D_CAT(test_fn_, __LINE__)); \
  static void M3D_CAT(test_fn_, __LINE__)()

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);         \
      ++m3dtest::failures();                                                          \
    }                                                                                 \
  } while (0)

#define CHECK_EQ(a, b)                                                                            \
  do {                                                                                            \
    const auto va_ = (a);                                                                         \
    const auto vb_ = (b);                                                                         \
    if (!(va_ == vb_)) {                                                                          \
      std::printf("  %s:%d: CHECK_EQ(%s, %s) failed: %s vs %s\n", __FILE__, __LINE__, #a, #b,     \
                  std::to_string(va_).c_str(), std::to_string(vb_).c_str());                      \
      ++m3dtest::failures();                                                                      \
    }                                                                                             \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                          \
  do {                                                                                                 \
    const double va_ = static_cast<double>(a);                                                         \
    const double vb_ = static_cast<double>(b);                                                         \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                                            \
      std::printf("  %s:%d: CHECK_NEAR(%s, %s, %g) failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b, \
                  static_cast<double>(tol), va_, vb_);                                                 \
      ++m3dtest::failures();                                                                           \
    }                                                                                                  \
  } while (0)

#define CHECK_THROWS_CODE(expr, expectedCode)                                                      \
  do {                                                                                             \
    bool thrown_ = false;                                                                          \
    try {                                                                                          \
      expr;                                                                                        \
    } catch (const m3d::Error& e) {                                                                \
      thrown_ = std::string(e.code()) == (expectedCode);                                           \
      if (!thrown_) std::printf("  %s:%d: wrong code %s (%s)\n", __FILE__, __LINE__, e.code(), e.what()); \
    }                                                                                              \
    if (!thrown_) {                                                                                \
      std::printf("  %s:%d: expected m3d::Error %s from %s\n", __FILE__, __LINE__, expectedCode, #expr); \
      ++m3dtest::failures();                                                                       \
    }                                                                                              \
  } while (0)

#define TEST_MAIN \
  int main() { return m3dtest::run_all(); }
