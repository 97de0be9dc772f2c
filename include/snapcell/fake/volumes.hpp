#pragma once
// Snapshots in a volume group of fixed capacity, with the semantics of
// lvcreate/lvremove: removal refuses a mounted or held volume, and nothing
// stops it from removing an origin (guarding that is the core's job).

#include <string>
#include <vector>

#include "snapcell/fake/world.hpp"

namespace snapcell::fake {

class FakeVolumes {
 public:
  static constexpr std::string_view kind = "fake";

  FakeVolumes(World& world, ControllerId controller) : world_(world), controller_(controller) {}

  static std::string source_of(const std::string& name) { return "fakevol:" + name; }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (auto error = world_.enter(controller_, Op::snapshot, name)) {
      // A controller killed inside a snapshot leaves what the scratch
      // backends' create does when killed between its mkdir and its record
      // of the origin: a volume holding nothing, of an unknown origin.
      if (!world_.controller_alive(controller_) && !world_.volumes().count(name))
        world_.volumes()[name] = FakeVolume{name, "?", world_.new_device(), {}, true};
      return *error;
    }
    world_.record(controller_, ActionKind::snapshot, name, 0, name);
    auto& volumes = world_.volumes();
    auto base = volumes.find(origin);
    if (base == volumes.end() || !base->second.origin.empty()) return errno_error("lvcreate --snapshot", origin, ENOENT);
    if (volumes.count(name)) return errno_error("lvcreate --snapshot", name, EEXIST);
    if (world_.snapshots_in_use() >= world_.options().capacity) return errno_error("lvcreate --snapshot", name, ENOSPC);
    volumes[name] = FakeVolume{name, origin, world_.new_device(), base->second.files};
    return MountSpec{source_of(name), "fakefs", ""};
  }

  Status remove(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::remove_volume, name)) return *error;
    auto& volumes = world_.volumes();
    auto it = volumes.find(name);
    world_.record(controller_, ActionKind::remove_volume, name, it == volumes.end() ? 0 : it->second.device, name);
    if (it == volumes.end()) return errno_error("lvremove", name, ENOENT);
    for (const auto& mount : world_.mounts())
      if (mount.device == it->second.device) return errno_error("lvremove", name, EBUSY);
    if (world_.device_busy(it->second.device)) return errno_error("lvremove", name, EBUSY);
    volumes.erase(it);
    return {};
  }

  Result<std::vector<VolumeInfo>> list(const std::string& prefix) {
    if (auto error = world_.enter(controller_, Op::list_volumes, prefix)) return *error;
    std::vector<VolumeInfo> listed;
    for (const auto& [name, volume] : world_.volumes())
      if (name.rfind(prefix, 0) == 0) listed.push_back({name, volume.origin, volume.cut_short_empty});
    return listed;
  }

  Result<MountSpec> mount_spec(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::mount_spec, name)) return *error;
    if (!world_.volumes().count(name)) return errno_error("mount spec", name, ENOENT);
    return MountSpec{source_of(name), "fakefs", ""};
  }

 private:
  World& world_;
  ControllerId controller_;
};

static_assert(VolumeManager<FakeVolumes>);

}  // namespace snapcell::fake
