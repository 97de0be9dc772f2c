# /proc/sys is not bound read-only: root inside writes the host's global
# sysctls through its own proc (a PID namespace does not scope them). The
# probe writes back the value it read: its "reached" report is the evidence,
# and verify's own comparison would catch any other value.
# technique: writes_sysctl
# supervisor: default
# userns: host
# leak: the build says it reached: .*sys
mutate(snapcell/linux/sandbox.hpp [=[
  std::vector<std::string_view> read_only{"sys", "sysrq-trigger", "irq", "bus", "fs"};
]=] [=[
  std::vector<std::string_view> read_only{"sysrq-trigger", "irq", "bus", "fs"};
]=])
