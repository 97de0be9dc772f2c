// `snapcell run` turnaround through the CLI on lvm classic, lvm thin and
// overlay, side by side in one guest (issue 16, item 4): the same base
// content, the same command (/bin/true), the default supervisor, rounds
// interleaved so that a noisy stretch of the emulated guest hits all three.
// The guest is emulated: only the ratios mean anything. Printed as
// SNAPCELL-VM-MEASURE lines; every run must exit 0 and say "nothing left",
// no time is asserted.

#include <array>
#include <chrono>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

constexpr int kRounds = 5;
constexpr const char* kOverlayBase = "/srv/cli-overlay-base";

struct Backend {
  const char* label;
  std::vector<std::string> base_arguments;
  std::vector<double> samples_ms;
};

bool run_once(CaseContext& context, Backend& backend, bool keep_sample) {
  // --userns host for all three: the overlay base lives on the guest's
  // tmpfs, which its kernel (Debian 12's 6.1) cannot idmap (6.3+), and the
  // ratios compare backends, not identities (bench/compare has both).
  std::vector<std::string> argv{kCli, "run", "--userns", "host"};
  argv.insert(argv.end(), backend.base_arguments.begin(), backend.base_arguments.end());
  argv.insert(argv.end(),
              {"--state-dir", kCliState, "--cgroup-parent", cli_cgroups(), "--timeout", "60", "--summary", "--", "/bin/true"});
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto ran = lx::run_capturing(argv);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (!VM_CHECK_MSG(context, ran.is_ok(), ran ? "" : ran.error().message())) return false;
  const bool clean = ran->exit_code == 0 && ran->out.find("nothing left") != std::string::npos;
  if (!VM_CHECK_MSG(context, clean,
                    fmt::format("{}: snapcell run exited {}: {}{}", backend.label, ran->exit_code, lx::one_line(ran->out),
                                lx::one_line(ran->err))))
    return false;
  if (keep_sample) backend.samples_ms.push_back(ms);
  return true;
}

void cli_turnaround(CaseContext& context) {
  make_base_directory(kOverlayBase, "overlay-base");
  const std::string classic = fmt::format("{}/{}", kVolumeGroup, kClassicOrigin);
  const std::string thin = fmt::format("{}/{}", kVolumeGroup, kThinOrigin);
  std::array<Backend, 3> backends{{
      {"lvm-classic", {"--backend", "lvm", "--base", classic, "--cow-size", "16m"}, {}},
      {"lvm-thin", {"--backend", "lvm", "--base", thin}, {}},
      {"overlay", {"--backend", "overlay", "--base", kOverlayBase}, {}},
  }};
  // Round 0 warms the page cache and lvm's metadata; it is not counted.
  for (int round = 0; round <= kRounds; ++round)
    for (auto& backend : backends)
      if (!run_once(context, backend, round > 0)) return;

  std::array<double, 3> medians{};
  for (std::size_t i = 0; i < backends.size(); ++i) {
    medians[i] = median_of(backends[i].samples_ms);
    fmt::print("SNAPCELL-VM-MEASURE cli-run {} turnaround_ms={:.1f} (median of {})\n", backends[i].label, medians[i],
               backends[i].samples_ms.size());
  }
  const auto [classic_ms, thin_ms, overlay_ms] = medians;
  fmt::print("SNAPCELL-VM-MEASURE cli-run ratio lvm-classic/overlay={:.2f} lvm-thin/overlay={:.2f} thin/classic={:.2f}\n",
             classic_ms / overlay_ms, thin_ms / overlay_ms, thin_ms / classic_ms);
  sh(fmt::format("rm -rf {}", kOverlayBase));
}

const Register measured(640, "cli-run-turnaround-lvm-and-overlay", cli_turnaround);

}  // namespace
}  // namespace snapcell::vm
