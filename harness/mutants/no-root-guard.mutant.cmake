# The field's collateral kill: teardown treats whatever sits at the mount
# point as the session's mount, with no proof; after a failed snapshot that
# is a bare directory, and the unmount (and a kill-by-mount behind it) acts
# on a filesystem the session never mounted.
# host caught by: I2 in host seed scenario: a full volume filesystem fails the snapshot, and teardown leaves the bare directory*
# caught by: I2 in seed scenario: the volume group is full, the snapshot fails, the bare mount point is left alone*
# vm caught by: I2 in seed-scenario
# vm caught by: I2 in cli-seed-scenario
mutate(snapcell/unwind.hpp [=[
  if (is_plain_directory(*facts)) {
    report.add("unmount", path, Outcome::absent, "not a mount point");
    return;
  }
  auto proof = decide_ownership(path, *facts, plan.mount_source);
]=] [=[
  auto proof = Result<MountProof>(MountProof{path, facts->path_device, 0});
]=])
