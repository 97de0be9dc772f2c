# When killing left something behind, gives up on the unmount: the mount
# stays, and the report does not say so.
# caught by: I3 in when every kill fails, the unmount still happens or the report says why not*
mutate(snapcell/unwind.hpp [=[
  timed(report, "unmount", [&] { detail::unwind_mount(policies, plan, unit, report); });
]=] [=[
  if (report.remains.empty()) timed(report, "unmount", [&] { detail::unwind_mount(policies, plan, unit, report); });
]=])
