// The entry point of libsnapcell-archive.so (see module.hpp).

#include "archive/module.hpp"

extern "C" __attribute__((visibility("default"))) const snapcell::archive::ModuleApi* snapcell_archive_module_api() {
  static constexpr snapcell::archive::ModuleApi api{&snapcell::archive::inspect_sdist, &snapcell::archive::inspect_wheel,
                                                   &snapcell::archive::sha256_file};
  return &api;
}
