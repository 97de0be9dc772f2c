#pragma once
// `snapcell base create`: a Debian base made by debootstrap from the
// machine's own Debian mirror, or imported from a directory. It is made in a
// hidden partial directory of its own and renamed into place only when
// complete, so a failed or interrupted creation never leaves a base that
// looks usable; what the partial creation left (debootstrap's /proc and
// /sys mounts included) is removed, and only below that directory.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/base_store.hpp"
#include "cli/program.hpp"
#include "cli/progress.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/scratch_tmpfs.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

// What a Python build needs: an interpreter, the PEP 517 tools the builder
// runs without network (--no-build-isolation), and a C toolchain.
inline const std::vector<std::string>& builder_packages() {
  static const std::vector<std::string> packages{"python3",     "python3-setuptools", "python3-wheel",
                                                 "python3-pip", "build-essential",    "python3-dev"};
  return packages;
}

struct BaseCreateOptions {
  std::string name;
  std::string backend = "overlay";
  std::string suite = "bookworm";
  std::string from;    // import this directory instead of running debootstrap
  std::string mirror;  // default: the machine's configured Debian mirror
  std::vector<std::string> include;  // more Debian packages (build backends, say)
  // --backend lvm (lvm_base_create.hpp): the origin LV is made in this VG,
  // thin in this pool when one is given, of this size (lvcreate's form;
  // empty: a default from what goes in).
  std::string volume_group;
  std::string thin_pool;
  std::string size;
};

// The first Debian archive apt is configured with (deb822 or one-line
// format), not the security archive; deb.debian.org when there is none.
inline std::string configured_mirror() {
  std::vector<std::string> files{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"};
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string first, uri;
      words >> first;
      if (first == "URIs:" || first == "deb") {
        words >> uri;
        if (first == "deb" && uri.rfind("[", 0) == 0)  // deb [options] uri
          while (words >> uri && uri.find("://") == std::string::npos) {
          }
        if (uri.find("://") != std::string::npos && uri.find("security") == std::string::npos) return uri;
      }
    }
  }
  return "http://deb.debian.org/debian";
}

inline std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

namespace detail {

// debootstrap's "I: Retrieving libc6 2.36-9" lines, as stage and item.
// The count is per verb: retrieving and validating alternate package by package.
inline void show_debootstrap_line(Progress& progress, const std::string& line, std::map<std::string, int>& counts) {
  if (line.rfind("I: ", 0) != 0) return;
  std::istringstream words(line.substr(3));
  std::string verb, item;
  words >> verb >> item;
  std::transform(verb.begin(), verb.end(), verb.begin(), [](unsigned char c) { return std::tolower(c); });
  progress.update(verb, item, ++counts[verb]);
}


// How debootstrap fills `target`, and the base's "source" for the record.
struct Filler {
  std::vector<std::string> argv;
  std::string source;
};

inline Filler debootstrap_filler(const BaseCreateOptions& options, const std::string& target, const std::string& log_dir,
                                 Progress& progress) {
  const std::string mirror = options.mirror.empty() ? configured_mirror() : options.mirror;
  std::string include;
  for (const auto& package : builder_packages()) include += (include.empty() ? "" : ",") + package;
  for (const auto& package : options.include) include += "," + package;
  progress.note(fmt::format("debootstrap {} from {} (minbase + {}); log: {}/create.log", options.suite, mirror, include, log_dir));
  return {{"debootstrap", "--variant=minbase", "--include=" + include, options.suite, target, mirror},
          fmt::format("debootstrap {} {}", options.suite, mirror)};
}

inline Error interrupted_error(const std::string& name) {
  return logic_error("base create", name,
                     fmt::format("interrupted by {}: the partial base is removed", linux_sys::signal_name(interrupted())));
}

// Runs the program that fills a base (debootstrap, cp, mke2fs): its output
// to the log and the progress line; an Error with its last lines when it
// fails, or when a signal came (the caller then removes the partial base).
inline Status run_filler(const std::string& name, const std::vector<std::string>& argv, std::ostream& log, Progress& progress) {
  std::map<std::string, int> counts;
  std::vector<std::string> tail;
  auto ran = run_program_lines(argv, [&](const std::string& line) {
    log << line << '\n';
    tail.push_back(line);
    if (tail.size() > 5) tail.erase(tail.begin());
    show_debootstrap_line(progress, line, counts);
  });
  progress.finish();
  if (!ran) return ran.error();
  if (ran->interrupted || interrupted()) return interrupted_error(name);
  if (ran->code != 0) {
    std::string last;
    for (const auto& line : tail) last += (last.empty() ? "" : " | ") + line;
    return logic_error("base create", name, fmt::format("{} exited with {}: {}", argv.front(), ran->code, last));
  }
  return {};
}

// The record of a base just made as `options` asked, whose tree is at `root`.
inline BaseInfo made_base_info(const BaseCreateOptions& options, std::string source, double seconds, std::string root) {
  BaseInfo info;
  info.name = options.name;
  info.backend = options.backend;
  info.source = std::move(source);
  info.created_at = utc_now();
  info.creation_seconds = seconds;
  info.root = std::move(root);
  if (options.from.empty()) info.suite = options.suite;
  info.extra_packages = options.include;
  return info;
}

// The record written into the partial directory, which is then renamed
// into place: the base becomes visible only whole.
inline Status publish(const BaseStore& store, const std::string& partial, const BaseInfo& info) {
  if (Status written = linux_sys::write_file(join_path(partial, "base.json"), to_json(info).dump(2) + "\n",
                                             O_WRONLY | O_CREAT | O_EXCL);
      !written)
    return written;
  if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, store.path_of(info.name).c_str(), RENAME_NOREPLACE) != 0)
    return errno_error("rename", store.path_of(info.name));
  return {};
}

inline Status remove_partial(const BaseStore& store, const std::string& partial_name, const std::string& backend) {
  const std::string partial = join_path(store.dir(), partial_name);
  // debootstrap mounts /proc and /sys in its target: only below the partial
  // directory this run made.
  linux_sys::unmount_all_below(partial, false);
  auto dir = linux_sys::open_fd(partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (dir && backend == "btrfs")
    if (Status destroyed = linux_sys::btrfs::destroy_subvolume(dir->get(), "root", partial + "/root"); !destroyed)
      return destroyed;
  auto parent = linux_sys::open_fd(store.dir(), O_RDONLY | O_DIRECTORY);
  if (!parent) return parent.status();
  return linux_sys::remove_tree_at(parent->get(), partial_name);
}

// The packages debootstrap downloaded stay in the base otherwise: every
// snapshot would carry them, and a build has no use for them.
inline void drop_package_cache(const std::string& root) {
  const std::string cache = root + "/var/cache/apt/archives";
  auto dir = linux_sys::open_fd(cache, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) return;
  auto names = linux_sys::list_names_at(dir->get(), cache);
  if (!names) return;
  for (const auto& name : *names)
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".deb") == 0) (void)::unlinkat(dir->get(), name.c_str(), 0);
}

}  // namespace detail

// Makes the base; its BaseInfo, or the error (the partial work removed).
inline Result<BaseInfo> create_base(const BaseStore& store, const BaseCreateOptions& options) {
  if (Status valid = validate_base_name(options.name); !valid) return valid.error();
  if (auto existing = store.find(options.name); existing)
    return Error{"base create", options.name, EEXIST, fmt::format("already exists in {}", store.dir())};
  if (Status prepared = store.prepare(options.backend); !prepared) return prepared.error();

  // Not a valid base name (the "+"): never listed or found as a base.
  const std::string partial_name = fmt::format("{}+partial-{}", options.name, ::getpid());
  const std::string partial = join_path(store.dir(), partial_name);
  if (::mkdir(partial.c_str(), 0755) != 0) return errno_error("mkdir", partial);
  const std::string root = join_path(partial, "root");
  auto fail = [&](Error error) -> Result<BaseInfo> {
    if (Status removed = detail::remove_partial(store, partial_name, options.backend); !removed)
      error.detail += fmt::format("; the partial base {} could not be removed: {}", partial, removed.error().message());
    return error;
  };
  if (options.backend == "btrfs") {
    auto dir = linux_sys::open_fd(partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) return fail(dir.error());
    if (Status made = linux_sys::btrfs::create_subvolume(dir->get(), "root", root); !made) return fail(made.error());
  } else if (::mkdir(root.c_str(), 0755) != 0) {
    return fail(errno_error("mkdir", root));
  }

  std::ofstream log(join_path(partial, "create.log"));
  Progress progress(fmt::format("base create {}", options.name));
  std::string source;
  std::vector<std::string> argv;
  if (!options.from.empty()) {
    argv = {"cp", "-a", "--reflink=auto", "-T", options.from, root};
    source = "import " + options.from;
  } else {
    auto debootstrap = detail::debootstrap_filler(options, root, join_path(store.dir(), options.name), progress);
    argv = std::move(debootstrap.argv);
    source = std::move(debootstrap.source);
  }
  if (Status filled = detail::run_filler(options.name, argv, log, progress); !filled) return fail(filled.error());
  detail::drop_package_cache(root);
  if (interrupted())  // a signal after the program ended: still no base that looks usable
    return fail(detail::interrupted_error(options.name));

  const BaseInfo info = detail::made_base_info(options, source, progress.elapsed_seconds(),
                                               join_path(store.path_of(options.name), "root"));
  log.close();
  if (Status published = detail::publish(store, partial, info); !published) return fail(published.error());
  progress.note(fmt::format("done in {:.1f} s", info.creation_seconds));
  return info;
}

}  // namespace snapcell::cli
