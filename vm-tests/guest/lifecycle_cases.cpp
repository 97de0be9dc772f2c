// A whole Session on real LVM, classic and thin, with every supervisor: the
// build writes into its snapshot and (for the supervisors that contain it)
// leaves a process behind with setsid; teardown must end with nothing left.

#include <fstream>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

template <class S>
void lifecycle(CaseContext& context, lx::LvmSnapshotMode mode) {
  const bool thin = mode == lx::LvmSnapshotMode::thin;
  Policies<S> policies(volumes_for(mode));
  GuestSession<S> session(policies.volumes, policies.mounter, policies.supervisor, policies.journal, session_config(),
                          next_nonce);
  // The session supervisor cannot contain a setsid escape (the known leak,
  // shown by the host suite): it runs a well-behaved build here.
  const std::string leaver = S::containment == Containment::full ? "/bin/setsid_escape" : "/bin/well_behaved";
  const auto build = request(thin ? kThinOrigin : kClassicOrigin,
                             {"/bin/sh", "-c", "echo built > /artifact && exec " + leaver});
  if (!VM_CHECK(context, session.begin(build).is_ok())) return;
  const std::string name = session.name();
  Status ready = session.setup();
  if (!VM_CHECK_MSG(context, ready.is_ok(), ready ? "" : ready.error().message())) {
    context.note(format_report(session.teardown()));
    return;
  }
  VM_CHECK(context, session.plan().mount_source == policies.volumes.device_path(name));
  auto listed = policies.volumes.list(name);
  VM_CHECK(context, listed && listed->size() == 1 && listed->front().origin == build.origin);
  if (S::kind == std::string_view("default")) print_lvs_json(fmt::format("{}-snapshot-mounted", thin ? "thin" : "classic"));
  if (VM_CHECK(context, session.start().is_ok())) {
    auto outcome = session.wait();
    VM_CHECK(context, outcome && !outcome->timed_out && outcome->exit_code == 0);
    std::ifstream artifact(session.plan().mount_point + "/artifact");
    std::string line;
    std::getline(artifact, line);
    VM_CHECK_MSG(context, line == "built", "the build's write is in its snapshot");
  }
  Report report = session.teardown();
  context.note(format_report(report));
  VM_CHECK(context, report.clean());
  if (S::containment == Containment::full) VM_CHECK(context, report.containment_proven);
  auto after = policies.volumes.list(name);
  VM_CHECK(context, after && after->empty());
}

template <class S>
void register_both(int order) {
  static Register classic(order, fmt::format("lifecycle-classic-{}", S::kind),
                          [](CaseContext& c) { lifecycle<S>(c, lx::LvmSnapshotMode::classic); });
  static Register thin(order + 1, fmt::format("lifecycle-thin-{}", S::kind),
                       [](CaseContext& c) { lifecycle<S>(c, lx::LvmSnapshotMode::thin); });
}

const bool registered = [] {
  register_both<lx::SessionSupervisor>(100);
  register_both<lx::CgroupSupervisor>(110);
  register_both<lx::PidNamespaceSupervisor>(120);
  register_both<lx::DefaultSupervisor>(130);
  return true;
}();

}  // namespace
}  // namespace snapcell::vm
