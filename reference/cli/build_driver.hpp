#pragma once
// What runs inside the snapshot, as the build's uid, in /build: unpack the
// sdist, check the build requirements the project declares (and those its
// backend asks for) against what the base has, install the missing ones
// from /wheelhouse when the user gave one, then the backend's build_wheel
// hook, offline, with its output going straight to the log.
//
// pip's own `--no-build-isolation` checks nothing: a requirement the base
// lacks either fails deep in a traceback or, worse, is silently skipped (a
// setuptools-scm project then "builds" as version 0.0.0). So the driver
// checks each requirement with pip's vendored `packaging` and, when one is
// missing, exits 1 having written /build/requirements.json:
//   {"stage": "build-system.requires" | "get_requires_for_build_wheel",
//    "missing": [{"requirement": "setuptools-scm>=8", "why": "base has none"}]}
// which the controller reads once every build process is proven gone
// (driver_reports.hpp). The project's own code runs only from the
// backend hook on, so the file is as untrusted as the log: it only ever
// explains a failure, it never makes one a success.

namespace snapcell::cli {

// The shell part. "$1" is the sdist's file name, "$2" its top directory
// (both checked by inspect_sdist: no shell metacharacters, no '/'), "$3" the
// driver below, "$4" the wheelhouse directory inside the sandbox or "", "$5"
// "pidns" when the build has a PID namespace of its own (only then does
// /proc show the build's processes alone).
inline constexpr const char* build_script = R"(set -eu
mkdir src
python3 -c 'import shutil, sys; shutil.unpack_archive(sys.argv[1], "src")' "$1"
cd "src/$2"
exec python3 -c "$3" "$4" "$5"
)";

inline constexpr const char* build_driver = R"py(
import importlib, importlib.metadata, json, os, signal, subprocess, sys
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

# The driver is the build's main process: when it ends, the PID namespace
# ends and the kernel kills the rest. On snapcell's TERM (the deadline, or
# the build being stopped) it starts nothing more and exits; while it waits
# for a hook or pip, only once that child has ended, so that a backend that
# cleans up on TERM (its own TERM comes from the supervisor) gets the grace
# to, and one that ignores TERM is killed when the grace is over. Its own
# wait, as subprocess.call and run SIGKILL their child when an exception
# leaves the wait.
stop = {"signal": 0, "waiting": False}


def on_term(signum, frame):
    stop["signal"] = signum
    if not stop["waiting"]:
        sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_term)


def wait_for(cmd, cwd=None, extra_environ=None):
    """Runs cmd to its end and returns its exit status; exits after it on a TERM."""
    stop["waiting"] = True
    try:
        if stop["signal"]:
            sys.exit(128 + stop["signal"])
        code = subprocess.Popen(cmd, cwd=cwd, env=dict(os.environ, **(extra_environ or {}))).wait()
    finally:
        stop["waiting"] = False
    if stop["signal"]:
        sys.exit(128 + stop["signal"])
    return code


def run_hook(cmd, cwd=None, extra_environ=None):
    """pyproject_hooks' runner: raises CalledProcessError as its default runner does."""
    code = wait_for(cmd, cwd, extra_environ)
    if code:
        raise subprocess.CalledProcessError(code, cmd)

REPORT = "/build/requirements.json"
LEFT_REPORT = "/build/left-behind.json"
EXTRA = "/build/requirements"  # what the wheelhouse supplied; on PYTHONPATH
WHEELHOUSE = sys.argv[1] if len(sys.argv) > 1 else ""
OWN_PID_NAMESPACE = len(sys.argv) > 2 and sys.argv[2] == "pidns"  # else /proc shows the host's processes
LEGACY = (["setuptools>=40.8.0"], "setuptools.build_meta:__legacy__", None)  # PEP 517/518 defaults


def declared():
    if not os.path.exists("pyproject.toml"):
        return LEGACY
    import tomllib
    with open("pyproject.toml", "rb") as f:
        table = tomllib.load(f).get("build-system")
    if table is None:
        return LEGACY
    return (list(table.get("requires", [])), table.get("build-backend") or LEGACY[1], table.get("backend-path"))


def unmet(texts):
    importlib.invalidate_caches()
    missing = []
    for text in texts:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            missing.append({"requirement": text, "why": "not a valid requirement: %s" % error})
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            have = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append({"requirement": text, "why": "base has none"})
            continue
        if not requirement.specifier.contains(have, prereleases=True):
            missing.append({"requirement": text, "why": "base has %s" % have})
    return missing


def from_wheelhouse(missing):
    # --pre: the user chose these wheels, and unmet() counts pre-releases too.
    wanted = [m["requirement"] for m in missing if not m["why"].startswith("not a valid")]
    print("snapcell: installing from the wheelhouse: " + ", ".join(wanted), flush=True)
    # pip's own status is not checked: what it could not install, unmet() names next.
    wait_for([sys.executable, "-m", "pip", "install", "--no-index", "--find-links", WHEELHOUSE, "--no-deps", "--pre",
              "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--break-system-packages",
              "--target", EXTRA] + wanted)
    if EXTRA not in sys.path:
        sys.path.insert(0, EXTRA)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (EXTRA, os.environ.get("PYTHONPATH", "")) if p)


def settle(texts, stage):
    missing = unmet(texts)
    if missing and WHEELHOUSE:
        from_wheelhouse(missing)
        missing = unmet(texts)
    if not missing:
        return
    for m in missing:
        print("missing build requirement: %s (%s)" % (m["requirement"], m["why"]), file=sys.stderr, flush=True)
    with open(REPORT, "w") as f:
        json.dump({"stage": stage, "missing": missing}, f)
    sys.exit(1)


def others_alive():
    """The processes of this sandbox besides the driver and its ancestors:
    in the build's own PID namespace, /proc lists only the build's."""
    keep, pid = set(), os.getpid()
    while pid > 0:
        keep.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":  # a zombie is init's to reap, not alive
                    alive.append(int(entry))
        except (OSError, IndexError):
            pass  # gone meanwhile
    return sorted(alive)


requires, backend, backend_path = declared()
settle(requires, "build-system.requires")
try:
    from pip._vendor.pyproject_hooks import BuildBackendHookCaller as Hooks
except ImportError:  # pip before 23.0
    from pip._vendor.pep517.wrappers import Pep517HookCaller as Hooks
# The hooks run in a child python whose output goes straight to the log (no
# pipe for a daemon the build starts to hold open, as pip's would be), and
# only that child is waited for.
# hatchling refuses a classifier its base's trove-classifiers list does not
# know yet (a project declaring "Python :: 3.15" on a 2025 base). Offline,
# that list cannot be updated, and classifiers are copied into the metadata
# as written either way: the check is skipped, nothing else changes.
os.environ["HATCH_METADATA_CLASSIFIERS_NO_VERIFY"] = "1"
hooks = Hooks(os.getcwd(), backend, backend_path=backend_path, runner=run_hook)
settle(hooks.get_requires_for_build_wheel({}), "get_requires_for_build_wheel")
os.makedirs("/build/out", exist_ok=True)
wheel = hooks.build_wheel("/build/out", {})
print("snapcell: the backend built " + wheel, flush=True)
left = others_alive() if OWN_PID_NAMESPACE else []
if left:
    print("snapcell: the build left %d process(es) behind: %s" % (len(left), " ".join(map(str, left[:20]))),
          file=sys.stderr, flush=True)
    with open(LEFT_REPORT, "w") as f:
        json.dump({"left_behind": len(left)}, f)
    sys.exit(1)
)py";

}  // namespace snapcell::cli
