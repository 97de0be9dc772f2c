# Uses a pidfd, but trusts the listing: it never re-checks, through the
# pidfd, that the process it now pins is still the unit's member.
# caught by: I1 in a PID recycled between listing and signal is never hit*
mutate(snapcell/signal.hpp [=[
  if (!is_member(*facts)) return logic_error("signal member", std::to_string(pid), "not a member of the unit");
]=] [=[
  (void)is_member;
]=])
