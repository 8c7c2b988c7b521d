// TensorRT discovery without TensorRT: missing and broken libraries, unsupported
// versions, missing modules and, where a module was built, a library that cannot
// start. Every path must end in a reason, never in a crash.
//
// Run as `test_trt_loader fallback` with LD_LIBRARY_PATH on the stand-ins of fake-trt/
// (ctest trt_loader_fallback), only the cases named "fallback: ..." run: the system lookup
// then finds a TensorRT 11 and a TensorRT 10. Likewise `test_trt_loader noparser` on
// fake-trt-noparser/ (ctest trt_loader_noparser) runs the "noparser: ..." cases, where
// neither has a usable ONNX parser. Without an argument both groups are left out.
#include <dlfcn.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "check.h"
#include "m3d/error.h"
#include "m3d/trt.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The code and message of the m3d::Error that fn throws ("" when it throws none).
template <typename F>
std::pair<std::string, std::string> thrown(F&& fn) {
  try {
    fn();
  } catch (const m3d::Error& e) {
    return {e.code(), e.what()};
  }
  return {"", ""};
}

void build_any(const std::shared_ptr<const m3d::trt::Library>& lib) {
  m3d::trt::BuildOptions o;
  o.onnxPath = "model.onnx";
  m3d::trt::build_engine(lib, o);
}

const char kPlan[4] = {1, 2, 3, 4};

m3d::trt::LoadRequest fake(const char* version, const std::string& moduleDir) {
  setenv("M3D_FAKE_TRT_VERSION", version, 1);
  return {moduleDir, M3D_TEST_FAKE_NVINFER};
}

}  // namespace

TEST_CASE("module file names carry the TensorRT major") {
  CHECK(m3d::trt::module_file_name(10) == std::string("m3d_trt10.so"));
  CHECK(m3d::trt::module_file_name(11) == std::string("m3d_trt11.so"));
}

TEST_CASE("the supported minimum is TensorRT 10.1 and 11.0") {
  CHECK_EQ(m3d::trt::minimum_version(10), 100100);
  CHECK_EQ(m3d::trt::minimum_version(11), 110000);
  CHECK_EQ(m3d::trt::minimum_version(9), 0);
  CHECK_EQ(m3d::trt::minimum_version(12), 0);
  CHECK(m3d::trt::version_text(100103) == "10.1.3");
}

TEST_CASE("a missing libnvinfer is a reason naming what was tried") {
  auto lib = m3d::trt::open_library({"", "/nonexistent/libnvinfer.so.10"});
  CHECK(!lib->available);
  CHECK(lib->api == nullptr);
  CHECK(contains(lib->reason, "TensorRT not found"));
  CHECK(contains(lib->reason, "/nonexistent/libnvinfer.so.10 not found"));
  CHECK(contains(lib->reason, "METRIC3D_TENSORRT_LIB"));
  CHECK(contains(lib->reason, "TensorRT 10.1+ or 11.x"));
  // An explicit library is the only attempt.
  CHECK_EQ(lib->attempts.size(), size_t(1));
  CHECK(lib->attempts[0].libraryPath == "/nonexistent/libnvinfer.so.10");
  CHECK(!lib->attempts[0].ok);
  CHECK_EQ(lib->attempts[0].version, 0);
}

TEST_CASE("the system lookup tries the sonames of TensorRT 11 and 10") {
  auto lib = m3d::trt::open_library({"", ""});
  if (!lib->available && lib->version == 0) {
    CHECK_EQ(lib->attempts.size(), size_t(2));
    CHECK_EQ(lib->attempts[0].major, 11);
    CHECK_EQ(lib->attempts[1].major, 10);
    CHECK(lib->attempts[0].libraryPath == "libnvinfer.so.11");
    CHECK(lib->attempts[1].libraryPath == "libnvinfer.so.10");
    CHECK(contains(lib->attempts[0].reason, "libnvinfer.so.11 not found"));
    CHECK(contains(lib->attempts[1].reason, "libnvinfer.so.10 not found"));
    CHECK(contains(lib->reason, "libnvinfer.so.11"));
    CHECK(contains(lib->reason, "libnvinfer.so.10"));
  } else {
    CHECK(lib->major() == 10 || lib->major() == 11);
    CHECK(!lib->attempts.empty());
  }
}

TEST_CASE("a file that is not a shared library is a dlopen reason") {
  const std::string path = std::string(M3D_TEST_BINARY_DIR) + "/not-a-library.so";
  FILE* f = std::fopen(path.c_str(), "w");
  CHECK(f != nullptr);
  std::fputs("this is text, not ELF\n", f);
  std::fclose(f);
  auto lib = m3d::trt::open_library({"", path});
  CHECK(!lib->available);
  CHECK(contains(lib->reason, "TensorRT not found"));
  CHECK(contains(lib->reason, path + " cannot be loaded"));
}

TEST_CASE("unsupported TensorRT versions are refused by number") {
  for (const char* version : {"90300", "120000"}) {
    auto lib = m3d::trt::open_library(fake(version, M3D_TEST_BINARY_DIR));
    CHECK(!lib->available);
    CHECK_EQ(lib->version, std::atoi(version));
    CHECK(contains(lib->reason, "TensorRT " + m3d::trt::version_text(lib->version) + " ("));
    CHECK(contains(lib->reason, "is not supported; metric3d-trt supports TensorRT 10.1+ or 11.x"));
  }
}

TEST_CASE("TensorRT 10.0 is refused before its module is loaded, naming the minimum") {
  const auto old = m3d::trt::open_library(fake("100003", M3D_TEST_BINARY_DIR));
  CHECK(!old->available && old->version == 100003);
  CHECK(contains(old->reason, "TensorRT 10.0.3 (" M3D_TEST_FAKE_NVINFER ") is too old"));
  CHECK(contains(old->reason, "needs TensorRT 10.1 or later (TensorRT 10.1+ or 11.x)"));
  CHECK(old->attempts.size() == 1 && old->attempts[0].modulePath.empty());
  // 10.1.0 itself goes on to look for the module.
  const auto first = m3d::trt::open_library(fake("100100", "/nonexistent-module-dir"));
  CHECK(contains(first->reason, "backend module for TensorRT 10"));
}

TEST_CASE("a supported TensorRT without its backend module says which module is missing") {
  auto lib = m3d::trt::open_library(fake("100300", "/nonexistent-module-dir"));
  CHECK(!lib->available);
  CHECK_EQ(lib->major(), 10);
  CHECK(contains(lib->reason, "TensorRT 10.3.0"));
  CHECK(contains(lib->reason, "backend module for TensorRT 10"));
  CHECK(contains(lib->reason, "/nonexistent-module-dir/m3d_trt10.so"));
  CHECK(lib->attempts[0].modulePath == "/nonexistent-module-dir/m3d_trt10.so");
  // No parser or plugin library next to the stand-in nor on the library path: reasons, not errors.
  CHECK(lib->attempts[0].parserPath.empty());
  CHECK(contains(lib->attempts[0].parserReason, "libnvonnxparser.so.10 not found"));
  CHECK(!lib->attempts[0].plugins);
  CHECK(contains(lib->attempts[0].pluginReason, "libnvinfer_plugin.so.10 not found"));
  lib = m3d::trt::open_library(fake("110100", "/nonexistent-module-dir"));
  CHECK(contains(lib->reason, "backend module for TensorRT 11"));
}

TEST_CASE("engine calls on an unavailable library throw BACKEND_UNAVAILABLE") {
  auto lib = m3d::trt::open_library({"", "/nonexistent/libnvinfer.so.10"});
  auto build = thrown([&] { build_any(lib); });
  CHECK(build.first == m3d::code::kBackendUnavailable);
  CHECK(contains(build.second, "TensorRT not found"));
  auto load = thrown([&] { m3d::trt::Engine engine(lib, kPlan, sizeof(kPlan), {"image", "depth", "", ""}, 1, 0); });
  CHECK(load.first == m3d::code::kBackendUnavailable);
}

#ifdef M3D_TEST_MODULE_DIR
TEST_CASE("a built module starts on a TensorRT of its major and reports what cannot be done") {
  auto lib = m3d::trt::open_library(fake(M3D_TEST_MODULE_VERSION, M3D_TEST_MODULE_DIR));
  CHECK(lib->available);
  CHECK(lib->api != nullptr);
  CHECK_EQ(lib->api->abi_version, static_cast<uint32_t>(M3D_TRT_ABI_VERSION));
  CHECK_EQ(lib->api->library_version, std::atoi(M3D_TEST_MODULE_VERSION));
  CHECK_EQ(lib->api->header_version / 10000, lib->major());
  CHECK(lib->stronglyTyped == (lib->major() >= 11));
  // Without a parser builds are refused; without plugins nothing is.
  CHECK(!lib->hasParser);
  CHECK(contains(lib->reason, "no usable ONNX parser"));
  CHECK(contains(lib->reason, "not found"));
  CHECK(contains(lib->parserReason, "libnvonnxparser.so." + std::to_string(lib->major()) + " not found"));
  // The only library tried: nothing to choose from.
  CHECK(!contains(lib->reason, "used because"));
  CHECK(!lib->plugins);
  CHECK_EQ(lib->attempts.size(), size_t(1));
  CHECK(lib->attempts[0].ok);
  // Building needs the parser; loading an engine needs a runtime the fake cannot create.
  auto build = thrown([&] { build_any(lib); });
  CHECK(build.first == m3d::code::kBackendUnavailable);
  CHECK(contains(build.second, "libnvonnxparser"));
  auto describe = thrown([&] { m3d::trt::Engine::describe(lib, kPlan, sizeof(kPlan)); });
  CHECK(describe.first == m3d::code::kBackendUnavailable);
  CHECK(contains(describe.second, "could not create a runtime"));
}

#endif

#ifdef M3D_TEST_MODULE10
TEST_CASE("the TensorRT 10 module itself refuses a 10.0 library") {
  void* module = dlopen(M3D_TEST_MODULE10, RTLD_NOW | RTLD_LOCAL);
  void* nvinfer = dlopen(M3D_TEST_FAKE_NVINFER, RTLD_NOW | RTLD_LOCAL);
  CHECK(module != nullptr && nvinfer != nullptr);
  auto open = reinterpret_cast<m3d_trt_open_fn>(dlsym(module, M3D_TRT_OPEN_SYMBOL));
  CHECK(open != nullptr);
  setenv("M3D_FAKE_TRT_VERSION", "100012", 1);
  m3d_trt_error err{};
  CHECK(open(nvinfer, nullptr, &err) == nullptr);
  CHECK_EQ(err.kind, static_cast<int32_t>(M3D_TRT_E_LIBRARY));
  CHECK(contains(err.message, "TensorRT 10.0.12 is too old"));
  CHECK(contains(err.message, "10.1.0 or later"));
  setenv("M3D_FAKE_TRT_VERSION", "100100", 1);
  err = m3d_trt_error{};
  CHECK(open(nvinfer, nullptr, &err) != nullptr);
}
#endif

// ---------------------------------------------------------------------------------------
#ifdef M3D_TEST_FAKE_DIR
// The fallback run: libnvinfer.so.11 (11.1.0) and .so.10 (10.5.0) on the library path,
// libnvonnxparser.so.10 and libnvinfer_plugin.so.10 bound to the 10, and a
// libnvonnxparser.so.11 that is bound to libnvinfer.so.10 (a parser of another major).

namespace {

const std::string kFakeDir = M3D_TEST_FAKE_DIR;

// A module folder holding only the TensorRT 10 module (when one was built). The copy is
// made once per process: rewriting a module that is loaded would corrupt its mapping.
std::string module_dir_without_11() {
#ifdef M3D_TEST_MODULE10
  static const std::string dir = [] {
    const std::filesystem::path d = std::filesystem::path(M3D_TEST_BINARY_DIR) / "modules-10-only";
    std::filesystem::create_directories(d);
    std::filesystem::remove(d / "m3d_trt10.so");
    std::filesystem::copy_file(M3D_TEST_MODULE10, d / "m3d_trt10.so");
    return d.string();
  }();
  return dir;
#else
  return "/nonexistent-module-dir";
#endif
}

}  // namespace

TEST_CASE("fallback: an 11 library without its module falls back to 10, and every attempt says why") {
  auto lib = m3d::trt::open_library({module_dir_without_11(), ""});
  CHECK_EQ(lib->attempts.size(), size_t(2));
  if (lib->attempts.size() != 2) return;
  const auto& a11 = lib->attempts[0];
  const auto& a10 = lib->attempts[1];
  CHECK_EQ(a11.major, 11);
  CHECK_EQ(a11.version, 110100);
  CHECK(a11.libraryPath == kFakeDir + "/libnvinfer.so.11");
  CHECK(!a11.ok);
  CHECK(contains(a11.reason, "found TensorRT 11.1.0 but not the metric3d-trt backend module for TensorRT 11"));
  // The parser named for 11 is bound to libnvinfer.so.10: rejected, with both versions named.
  CHECK(a11.parserPath.empty());
  CHECK(contains(a11.parserReason, kFakeDir + "/libnvonnxparser.so.11 belongs to TensorRT 10.5.0"));
  CHECK(contains(a11.parserReason, kFakeDir + "/libnvinfer.so.10"));
  CHECK(contains(a11.parserReason, "not to the loaded TensorRT 11.1.0"));
  // No plugin library of 11: not an error.
  CHECK(!a11.plugins);
  CHECK(a11.pluginPath.empty());
  CHECK(contains(a11.pluginReason, "libnvinfer_plugin.so.11 not found"));

  CHECK_EQ(a10.major, 10);
  CHECK_EQ(a10.version, 100500);
  CHECK(a10.libraryPath == kFakeDir + "/libnvinfer.so.10");
  // Found next to libnvinfer and bound to it.
  CHECK(a10.parserPath == kFakeDir + "/libnvonnxparser.so.10");
  CHECK(a10.parserReason.empty());
  CHECK(a10.pluginPath == kFakeDir + "/libnvinfer_plugin.so.10");
#ifdef M3D_TEST_MODULE10
  CHECK(a10.ok);
  CHECK(lib->available);
  CHECK_EQ(lib->major(), 10);
  CHECK(lib->libraryPath == a10.libraryPath);
  CHECK(lib->hasParser);
  CHECK(lib->parserPath == a10.parserPath);
  CHECK(lib->parserReason.empty());
  CHECK(a10.plugins);
  CHECK(lib->plugins);
  CHECK(contains(lib->reason, "TensorRT 10.5.0"));
  CHECK(contains(lib->reason, "plugins from " + a10.pluginPath));
#else
  CHECK(!a10.ok);
  CHECK(!lib->available);
  CHECK(contains(a10.reason, "backend module for TensorRT 10"));
  // The library's reason holds every attempt's.
  CHECK(contains(lib->reason, a11.reason));
  CHECK(contains(lib->reason, a10.reason));
  CHECK_EQ(lib->version, 110100);
#endif
}

#ifdef M3D_TEST_MODULE10
TEST_CASE("fallback: concurrent calls each report their own TensorRT messages") {
  auto lib = m3d::trt::open_library({module_dir_without_11(), ""});
  CHECK(lib->available);
  void* plugins = dlopen((kFakeDir + "/libnvinfer_plugin.so.10").c_str(), RTLD_NOW | RTLD_LOCAL);
  CHECK(plugins != nullptr);
  if (!lib->available || !plugins) return;
  // The plugin logger is one for the whole module, shared by every call.
  setenv("M3D_FAKE_PLUGIN_LOG", "1", 1);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      const auto self = static_cast<unsigned long long>(pthread_self());
      const std::string own = "plugins refused on thread " + std::to_string(self);
      for (int i = 0; i < 200; ++i) {
        m3d_trt_error err{};
        if (lib->api->load_plugins(plugins, &err) != 0) ++wrong;
        // Exactly this call's message: none lost to another call, none taken from one.
        const std::string message = err.message;
        const size_t at = message.find(own);
        if (at == std::string::npos || message.find("plugins refused", at + 1) != std::string::npos ||
            message.find("plugins refused") != at) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  unsetenv("M3D_FAKE_PLUGIN_LOG");
  CHECK_EQ(wrong.load(), 0);
}
#endif

#if defined(M3D_TEST_MODULE10) && defined(M3D_TEST_MODULE11)
TEST_CASE("fallback: a TensorRT that can build is preferred to a newer one whose parser belongs to another major") {
  auto lib = m3d::trt::open_library({M3D_TEST_MODULE_DIR, ""});
  CHECK_EQ(lib->attempts.size(), size_t(2));
  if (lib->attempts.size() != 2) return;
  const auto& a11 = lib->attempts[0];
  const auto& a10 = lib->attempts[1];
  // 11 starts with its module, but its parser is rejected: it is passed over, with why.
  CHECK(a11.ok);
  CHECK_EQ(a11.version, 110100);
  CHECK(a11.parserPath.empty());
  CHECK(contains(a11.parserReason, "belongs to TensorRT 10.5.0"));
  CHECK(contains(a11.reason, "no usable ONNX parser"));
  CHECK(contains(a11.reason, "belongs to TensorRT 10.5.0"));
  CHECK(contains(a11.reason, "not used: TensorRT 10.5.0 (" + kFakeDir + "/libnvinfer.so.10) has a usable ONNX parser"));
  // 10 has module and parser: it is the one taken.
  CHECK(a10.ok);
  CHECK(lib->available);
  CHECK_EQ(lib->major(), 10);
  CHECK_EQ(lib->version, 100500);
  CHECK(lib->libraryPath == a10.libraryPath);
  CHECK(lib->hasParser);
  CHECK(lib->parserPath == kFakeDir + "/libnvonnxparser.so.10");
  CHECK(lib->parserReason.empty());
  CHECK(!lib->stronglyTyped);
  CHECK_EQ(lib->api->library_version, 100500);
  CHECK(lib->reason == a10.reason);
  CHECK(!contains(lib->reason, "no usable ONNX parser"));
  CHECK(!contains(lib->reason, "not used"));
}
#endif

#endif  // M3D_TEST_FAKE_DIR

// ---------------------------------------------------------------------------------------
#ifdef M3D_TEST_NOPARSER_DIR
// The noparser run: libnvinfer.so.11 (11.1.0) and .so.10 (10.5.0) on the library path, no
// libnvonnxparser.so.11 at all and a libnvonnxparser.so.10 bound to libnvinfer.so.11.

namespace {
const std::string kNoParserDir = M3D_TEST_NOPARSER_DIR;
}  // namespace

TEST_CASE("noparser: every attempt says why it has no parser") {
#ifdef M3D_TEST_MODULE_DIR
  auto lib = m3d::trt::open_library({M3D_TEST_MODULE_DIR, ""});
#else
  auto lib = m3d::trt::open_library({"/nonexistent-module-dir", ""});
#endif
  CHECK_EQ(lib->attempts.size(), size_t(2));
  if (lib->attempts.size() != 2) return;
  const auto& a11 = lib->attempts[0];
  const auto& a10 = lib->attempts[1];
  CHECK_EQ(a11.version, 110100);
  CHECK(a11.libraryPath == kNoParserDir + "/libnvinfer.so.11");
  CHECK(a11.parserPath.empty());
  CHECK(contains(a11.parserReason, "libnvonnxparser.so.11 not found"));
  CHECK_EQ(a10.version, 100500);
  CHECK(a10.libraryPath == kNoParserDir + "/libnvinfer.so.10");
  CHECK(a10.parserPath.empty());
  CHECK(contains(a10.parserReason, kNoParserDir + "/libnvonnxparser.so.10 belongs to TensorRT 11.1.0"));
  CHECK(contains(a10.parserReason, "not to the loaded TensorRT 10.5.0"));
  CHECK(!lib->hasParser);
  CHECK(lib->parserPath.empty());
#ifndef M3D_TEST_MODULE_DIR
  CHECK(!lib->available);
  CHECK(contains(lib->reason, a11.reason));
  CHECK(contains(lib->reason, a10.reason));
#endif
}

#if defined(M3D_TEST_MODULE10) && defined(M3D_TEST_MODULE11)
TEST_CASE("noparser: with no parser for any major, the first that starts is taken for cached engines") {
  auto lib = m3d::trt::open_library({M3D_TEST_MODULE_DIR, ""});
  CHECK_EQ(lib->attempts.size(), size_t(2));
  if (lib->attempts.size() != 2) return;
  const auto& a11 = lib->attempts[0];
  const auto& a10 = lib->attempts[1];
  // Both start; 10 is tried too, for a parser, and passed over.
  CHECK(a11.ok);
  CHECK(a10.ok);
  CHECK(contains(a10.reason, "no usable ONNX parser"));
  CHECK(contains(a10.reason, "not used: TensorRT 11.1.0 (" + kNoParserDir + "/libnvinfer.so.11) was tried first"));
  CHECK(lib->available);
  CHECK_EQ(lib->major(), 11);
  CHECK(lib->libraryPath == a11.libraryPath);
  CHECK_EQ(lib->api->library_version, 110100);
  CHECK(lib->stronglyTyped);
  CHECK(!lib->hasParser);
  CHECK(lib->parserReason == a11.parserReason);
  // The reason says why a library that cannot build was taken.
  CHECK(lib->reason == a11.reason);
  CHECK(contains(lib->reason, "no usable ONNX parser (" + a11.parserReason + "): cached engines only"));
  CHECK(contains(lib->reason, "used because no TensorRT tried has both its backend module and a usable ONNX parser"));
  auto build = thrown([&] { build_any(lib); });
  CHECK(build.first == m3d::code::kBackendUnavailable);
  CHECK(contains(build.second, "libnvonnxparser"));
}
#elif defined(M3D_TEST_MODULE_DIR)
TEST_CASE("noparser: with no parser for any major, the one that starts is taken for cached engines") {
  auto lib = m3d::trt::open_library({M3D_TEST_MODULE_DIR, ""});
  CHECK(lib->available);
  CHECK(!lib->hasParser);
  CHECK(contains(lib->reason, "cached engines only"));
  CHECK(contains(lib->reason, "used because no TensorRT tried has both its backend module and a usable ONNX parser"));
  size_t started = 0;
  for (const auto& a : lib->attempts) started += a.ok ? 1 : 0;
  CHECK_EQ(started, size_t(1));
}
#endif

#endif  // M3D_TEST_NOPARSER_DIR

int main(int argc, char** argv) {
  // The group named by the argument ("" without one): the prefix of its cases' names.
  const std::string group = argc > 1 ? std::string(argv[1]) + ": " : "";
  auto group_of = [](const std::string& name) -> std::string {
    for (const char* g : {"fallback: ", "noparser: "}) {
      if (name.compare(0, std::strlen(g), g) == 0) return g;
    }
    return "";
  };
  auto& cases = m3dtest::cases();
  for (auto it = cases.begin(); it != cases.end();) {
    it = group_of(it->name) == group ? it + 1 : cases.erase(it);
  }
  return m3dtest::run_all();
}
