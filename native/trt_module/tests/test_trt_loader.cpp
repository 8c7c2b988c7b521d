// TensorRT discovery without TensorRT: missing and broken libraries, unsupported
// versions, missing modules and, where a module was built, a library that cannot
// start. Every path must end in a reason, never in a crash.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

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

TEST_CASE("a missing libnvinfer is a reason naming what was tried") {
  auto lib = m3d::trt::open_library({"", "/nonexistent/libnvinfer.so.10"});
  CHECK(!lib->available);
  CHECK(lib->api == nullptr);
  CHECK(contains(lib->reason, "TensorRT not found"));
  CHECK(contains(lib->reason, "/nonexistent/libnvinfer.so.10"));
  CHECK(contains(lib->reason, "METRIC3D_TENSORRT_LIB"));
}

TEST_CASE("the system lookup tries the sonames of TensorRT 11 and 10") {
  auto lib = m3d::trt::open_library({"", ""});
  if (!lib->available && lib->version == 0) {
    CHECK(contains(lib->reason, "libnvinfer.so.11"));
    CHECK(contains(lib->reason, "libnvinfer.so.10"));
  } else {
    CHECK(lib->major() == 10 || lib->major() == 11);
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
  CHECK(contains(lib->reason, path));
}

TEST_CASE("unsupported TensorRT versions are refused by number") {
  auto lib = m3d::trt::open_library(fake("90300", M3D_TEST_BINARY_DIR));
  CHECK(!lib->available);
  CHECK_EQ(lib->version, 90300);
  CHECK(contains(lib->reason, "TensorRT 9.3.0"));
  CHECK(contains(lib->reason, "supports TensorRT 10 and 11"));
  lib = m3d::trt::open_library(fake("120000", M3D_TEST_BINARY_DIR));
  CHECK(!lib->available);
  CHECK(contains(lib->reason, "TensorRT 12.0.0"));
}

TEST_CASE("a supported TensorRT without its backend module says which module is missing") {
  auto lib = m3d::trt::open_library(fake("100300", "/nonexistent-module-dir"));
  CHECK(!lib->available);
  CHECK_EQ(lib->major(), 10);
  CHECK(contains(lib->reason, "TensorRT 10.3.0"));
  CHECK(contains(lib->reason, "backend module for TensorRT 10"));
  CHECK(contains(lib->reason, "/nonexistent-module-dir/m3d_trt10.so"));
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
  CHECK(!lib->hasParser);
  CHECK(contains(lib->reason, "ONNX parser not found"));
  // Building needs the parser; loading an engine needs a runtime the fake cannot create.
  auto build = thrown([&] { build_any(lib); });
  CHECK(build.first == m3d::code::kBackendUnavailable);
  CHECK(contains(build.second, "libnvonnxparser"));
  auto describe = thrown([&] { m3d::trt::Engine::describe(lib, kPlan, sizeof(kPlan)); });
  CHECK(describe.first == m3d::code::kBackendUnavailable);
  CHECK(contains(describe.second, "could not create a runtime"));
}
#endif

TEST_MAIN
