#pragma once
// Loads libsnapcell-archive.so (reference/archive/module.hpp) from the
// directory of the running executable, once, on first use: only `snapcell
// build` pays for libarchive and libcrypto. A missing or broken module is an
// error naming the file and dlerror()'s reason, never a silent skip of the
// archive checks.

#include <dlfcn.h>

#include <filesystem>
#include <string>

#include "archive/module.hpp"
#include "snapcell/error.hpp"

namespace snapcell::cli {

inline Result<const archive::ModuleApi*> archive_module() {
  static Result<const archive::ModuleApi*> loaded = []() -> Result<const archive::ModuleApi*> {
    std::error_code error;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return Error{"readlink", "/proc/self/exe", error.value(), ""};
    const std::string path = (exe.parent_path() / archive::module_file).string();
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return logic_error("dlopen", path, ::dlerror());
    using Entry = const archive::ModuleApi* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, archive::module_entry));
    if (entry == nullptr) return logic_error("dlsym", path, ::dlerror());
    return entry();
  }();
  return loaded;
}

inline Result<archive::SdistFacts> inspect_sdist(const std::filesystem::path& path) {
  auto module = archive_module();
  if (!module) return module.error();
  return (*module)->inspect_sdist(path, archive::SdistLimits{});
}

inline Result<archive::WheelFacts> inspect_wheel(const std::filesystem::path& path, std::string_view project) {
  auto module = archive_module();
  if (!module) return module.error();
  return (*module)->inspect_wheel(path, project, archive::SdistLimits{});
}

inline Result<std::string> sha256_file(const std::filesystem::path& path) {
  auto module = archive_module();
  if (!module) return module.error();
  return (*module)->sha256_file(path);
}

}  // namespace snapcell::cli
