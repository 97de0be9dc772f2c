# The process-group sweep's hard kill sends SIGTERM: a build that ignores
# it outlives the session.
# technique: ignores_term
# supervisor: session
# leak: process\(es\) left:
mutate(snapcell/linux/supervisors.hpp [=[
      SignalSweep sweep = signal_members(table, *members, SIGKILL, membership(unit));
]=] [=[
      SignalSweep sweep = signal_members(table, *members, SIGTERM, membership(unit));
]=])
