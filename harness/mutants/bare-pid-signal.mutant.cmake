# Signals by bare PID, as kill(2) does: a PID recycled by an unrelated
# process between the listing and the signal is hit.
# caught by: I1 in a PID recycled between listing and signal is never hit*
mutate(snapcell/signal.hpp [=[
  auto handle = table.open(pid);
  if (!handle) return handle.status();
  auto facts = table.inspect(*handle);
  if (!facts) return facts.status();
  if (!is_member(*facts)) return logic_error("signal member", std::to_string(pid), "not a member of the unit");
  return table.send(*handle, signal);
]=] [=[
  (void)is_member;
  return table.kill(pid, signal);
]=])
