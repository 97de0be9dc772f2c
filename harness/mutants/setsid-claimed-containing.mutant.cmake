# fork + setsid + killpg, claimed to contain: a build that calls setsid()
# again or double-forks escapes it, while the report says "proven".
# caught by: I3 in the weak supervisor's setsid escapes are leaks the harness detects
mutate(snapcell/fake/supervisors.hpp [=[
  static constexpr Containment containment = UsesCgroup || UsesPidNamespace ? Containment::full : Containment::weak;
]=] [=[
  static constexpr Containment containment = Containment::full;
]=])
