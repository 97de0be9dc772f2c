// The samples, one function call each: the archive's entries and what the
// inspection must say about them. Most are built with libarchive's write
// API; the few that no writer produces (a NUL inside a name, a cut gzip
// stream) are patched bytes of a written one.

#include "archives/bad_sdists.hpp"

#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

#include "archives/archive_writer.hpp"

namespace snapcell::testing {

namespace {

namespace fs = std::filesystem;
using Type = WriteEntry::Type;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
}

// An honest small project: what a setuptools sdist holds.
std::vector<WriteEntry> project(const std::string& top, const std::string& package, bool with_directories) {
  std::vector<WriteEntry> entries;
  if (with_directories) entries.push_back(directory(top + "/"));
  const auto slash = top.rfind('-');
  const std::string name = top.substr(0, slash);
  const std::string version = top.substr(slash + 1);
  entries.push_back(file(top + "/PKG-INFO",
                         fmt::format("Metadata-Version: 2.1\nName: {}\nVersion: {}\nSummary: a snapcell sample\n",
                                     name, version)));
  entries.push_back(file(top + "/pyproject.toml",
                         "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n"));
  entries.push_back(file(top + "/setup.py",
                         fmt::format("from setuptools import setup\nsetup(name=\"{}\", version=\"{}\", packages=[\"{}\"])\n",
                                     name, version, package)));
  if (with_directories) entries.push_back(directory(top + "/" + package + "/"));
  entries.push_back(file(top + "/" + package + "/__init__.py", "GREETING = \"hello from snapcell\"\n"));
  return entries;
}

std::vector<WriteEntry> plus(std::vector<WriteEntry> entries, std::vector<WriteEntry> more) {
  entries.insert(entries.end(), more.begin(), more.end());
  return entries;
}

WriteEntry special(Type type, std::string path, std::string link = {}) {
  WriteEntry entry;
  entry.type = type;
  entry.path = std::move(path);
  entry.link = std::move(link);
  return entry;
}

class Corpus {
 public:
  explicit Corpus(fs::path outdir) : outdir_(std::move(outdir)) { fs::create_directories(outdir_); }

  // One sample written by `make` at OUTDIR/<slug>/<filename>.
  void add(SdistSample sample, const std::function<void(const fs::path&)>& make) {
    const fs::path dir = outdir_ / sample.slug;
    fs::remove_all(dir);
    fs::create_directories(dir);
    make(dir / sample.filename);
    samples_.push_back(std::move(sample));
  }

  void archive(SdistSample sample, WriteFormat format, const std::vector<WriteEntry>& entries) {
    add(std::move(sample), [&](const fs::path& path) { write_archive(path, format, entries); });
  }

  std::vector<SdistSample> take() { return std::move(samples_); }

 private:
  fs::path outdir_;
  std::vector<SdistSample> samples_;
};

SdistSample good(std::string slug, std::string filename, std::string what) {
  return {std::move(slug), std::move(filename), true, {}, std::move(what)};
}
SdistSample bad(std::string slug, std::string filename, std::string expected, std::string what) {
  return {std::move(slug), std::move(filename), false, std::move(expected), std::move(what)};
}

}  // namespace

std::vector<SdistSample> write_sdist_samples(const fs::path& outdir) {
  Corpus corpus(outdir);
  const std::string top = "demo_bad-1.0";
  const std::string name = top + ".tar.gz";
  const auto honest = [&] { return project(top, "demo_bad", true); };

  // ---- valid ------------------------------------------------------------------------------
  // Each holds a UTF-8 name, which libarchive drops in the C locale unless told.
  corpus.archive(good("good-tar-gz", "demo_pure-1.0.tar.gz", "a setuptools project, as .tar.gz with directory entries"),
                 WriteFormat::pax_tar_gz,
                 plus(project("demo_pure-1.0", "demo_pure", true), {file("demo_pure-1.0/NOTES-naïve-文字.txt", "é\n")}));
  corpus.archive(good("good-zip", "demo_zip-2.0.zip", "a setuptools project, as .zip without directory entries"),
                 WriteFormat::zip,
                 plus(project("demo_zip-2.0", "demo_zip", false), {file("demo_zip-2.0/NOTES-naïve-文字.txt", "é\n")}));
  corpus.archive(good("good-tar-links", "demo_links-3.0.1.tar",
                      "a plain .tar with a symlink down its own tree and a hardlink to an earlier file"),
                 WriteFormat::pax_tar,
                 plus(project("demo_links-3.0.1", "demo_links", true),
                      {file("demo_links-3.0.1/README.md", "# demo\n"),
                       special(Type::symlink, "demo_links-3.0.1/README", "README.md"),
                       special(Type::hardlink, "demo_links-3.0.1/COPYING", "demo_links-3.0.1/README.md")}));
  corpus.archive(good("good-tar-links-up", "demo_uplinks-1.2.tar.gz",
                      "links with '..' that stay inside, as real projects ship them: a test fixture pointing at a "
                      "sibling directory, and a chain of two links"),
                 WriteFormat::pax_tar_gz,
                 plus(project("demo_uplinks-1.2", "demo_uplinks", true),
                      {file("demo_uplinks-1.2/tests/certs/expired/ca", "not a real certificate\n"),
                       special(Type::symlink, "demo_uplinks-1.2/tests/certs/valid/ca", "../expired/ca"),
                       special(Type::symlink, "demo_uplinks-1.2/docs/changes", "../tests/certs/valid/ca"),
                       special(Type::symlink, "demo_uplinks-1.2/demo_uplinks/top", "..")}));

  // ---- bad member paths -------------------------------------------------------------------
  corpus.archive(bad("bad-dotdot-member", name, "path has a '..' component", "a member ../../evil.py"),
                 WriteFormat::pax_tar_gz, plus(honest(), {file(top + "/../../evil.py")}));
  corpus.archive(bad("bad-absolute-member", name, "path is absolute", "a member /etc/cron.d/evil"),
                 WriteFormat::pax_tar_gz, plus(honest(), {file("/etc/cron.d/evil")}));
  corpus.archive(bad("bad-overlong-path", name, "longer than 1024", "a member path of 2,000 bytes (pax)"),
                 WriteFormat::pax_tar_gz, [&] {
                   std::string deep = top;
                   while (deep.size() < 2000) deep += "/" + std::string(99, 'd');
                   return plus(honest(), {file(deep)});
                 }());
  corpus.archive(bad("bad-control-char-member", name, "contains control character 0x1b",
                     "a tar member whose name holds an escape sequence"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {file(top + "/x\x1b[2J.py")}));
  corpus.archive(bad("bad-newline-member", name, "contains control character 0x0a", "a member name with a newline"),
                 WriteFormat::pax_tar_gz, plus(honest(), {file(top + "/x\nINJECTED.py")}));
  corpus.add(bad("bad-invalid-utf8-member", top + ".tar", "is not valid UTF-8", "a ustar member name with byte 0xff"),
             [&](const fs::path& path) { write_archive(path, WriteFormat::ustar_tar, plus(honest(), {file(top + "/x\xff.py")})); });
  corpus.archive(bad("bad-zip-backslash", top + ".zip", "path contains a backslash", "a zip member demo_bad-1.0\\..\\..\\evil.py"),
                 WriteFormat::zip, plus(project(top, "demo_bad", false), {file(top + "\\..\\..\\evil.py")}));
  corpus.add(bad("bad-nul-in-name", top + ".zip", "contains a NUL byte",
                 "a zip member name with a NUL byte inside (patched in both headers)"),
             [&](const fs::path& path) {
               write_archive(path, WriteFormat::zip, plus(project(top, "demo_bad", false), {file(top + "/ok.pyNULL/../../evil")}));
               std::string bytes = read_bytes(path);
               for (auto at = bytes.find("NULL/"); at != std::string::npos; at = bytes.find("NULL/", at))
                 bytes.replace(at, 4, std::string(4, '\0'));
               write_bytes(path, bytes);
             });
  corpus.archive(bad("bad-duplicate-member", name, "appears twice", "the same member twice (the second would replace it)"),
                 WriteFormat::pax_tar_gz, plus(honest(), {file(top + "/setup.py", "import os\n")}));

  // ---- bad member types -------------------------------------------------------------------
  corpus.archive(bad("bad-symlink-out", name, "which leaves the top directory", "a symlink to ../../../etc/passwd"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::symlink, top + "/passwd", "../../../etc/passwd")}));
  corpus.archive(bad("bad-symlink-absolute", name, "symlink to an absolute path", "a symlink to /etc/shadow"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::symlink, top + "/shadow", "/etc/shadow")}));
  corpus.archive(bad("bad-symlink-chain", name, "which leaves the top directory",
                     "links a -> demo_bad and b -> a/../.. ('..' after a link resolves physically)"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::symlink, top + "/a", "demo_bad"), special(Type::symlink, top + "/b", "a/../..")}));
  // Escapes through chains of links that each look harmless alone.
  corpus.archive(bad("bad-chain-self-up", name, "which leaves the top directory",
                     "d/self -> ../d, then b -> d/self/../.. (two '..' from a link that names its own directory)"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {file(top + "/d/f"), special(Type::symlink, top + "/d/self", "../d"),
                                 special(Type::symlink, top + "/b", "d/self/../..")}));
  corpus.archive(bad("bad-chain-last-link-leaves", name, "which leaves the top directory",
                     "a -> b/c, b/c -> ../../etc: the first link is plain, the one it goes through leaves"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::symlink, top + "/a", "b/c"), directory(top + "/b/"),
                                 special(Type::symlink, top + "/b/c", "../../etc")}));
  corpus.archive(bad("bad-chain-out-and-back", name, "which leaves the top directory",
                     "l -> ../demo_bad-1.0/setup.py: out of the top directory and back in by its name"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::symlink, top + "/l", "../demo_bad-1.0/setup.py")}));
  corpus.archive(bad("bad-chain-through-missing", name, "out of a directory the archive does not have",
                     "l -> nothere/../../../etc: '..' out of a name the archive lacks"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::symlink, top + "/l", "nothere/../../../etc")}));
  corpus.archive(bad("bad-chain-loop", name, "loops",
                     "x -> y/z, y/z -> ../x: a cycle an extractor following links would never leave"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::symlink, top + "/x", "y/z"), directory(top + "/y/"),
                                 special(Type::symlink, top + "/y/z", "../x")}));
  corpus.archive(bad("bad-write-through-link", name, "is below the symlink",
                     "up -> .. then a member up/evil.py, which an extractor writes next to the top directory"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::symlink, top + "/up", ".."), file(top + "/up/evil.py", "import os\n")}));
  corpus.archive(bad("bad-chain-through-file", name, "goes through the file",
                     "l -> setup.py/../../etc: a regular file used as a directory on the way out"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::symlink, top + "/l", "setup.py/../../etc")}));
  corpus.archive(bad("bad-symlink-top", name, "is the top directory but a symlink", "the top directory is itself a symlink (to tmp)"),
                 WriteFormat::pax_tar_gz, {special(Type::symlink, top, "tmp"), file(top + "/setup.py")});
  corpus.archive(bad("bad-hardlink-out", name, "which is not an earlier member", "a hardlink to etc/passwd"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::hardlink, top + "/passwd", "etc/passwd")}));
  corpus.archive(bad("bad-hardlink-dotdot", name, "path has a '..' component", "a hardlink to ../../../etc/shadow"),
                 WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::hardlink, top + "/shadow", top + "/../../../etc/shadow")}));
  corpus.archive(bad("bad-char-device", name, "is a character device", "a character device (1,3) like /dev/null"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::char_device, top + "/null")}));
  corpus.archive(bad("bad-block-device", name, "is a block device", "a block device (8,0) like /dev/sda"),
                 WriteFormat::pax_tar_gz, plus(honest(), {special(Type::block_device, top + "/sda")}));
  corpus.archive(bad("bad-fifo", name, "is a fifo", "a named pipe"), WriteFormat::pax_tar_gz,
                 plus(honest(), {special(Type::fifo, top + "/pipe")}));

  // ---- bad layout ---------------------------------------------------------------------------
  corpus.archive(bad("bad-member-outside-top", name, "is outside the top directory", "a setup.py beside the top directory"),
                 WriteFormat::pax_tar_gz, plus(honest(), {file("setup.py")}));
  corpus.archive(bad("bad-two-top-dirs", name, "is outside the top directory", "demo_bad-1.0/ and demo_bad-1.1/"),
                 WriteFormat::pax_tar_gz, plus(honest(), project("demo_bad-1.1", "demo_bad", true)));
  corpus.archive(bad("bad-top-not-filename", name, "is outside the top directory 'demo_bad-1.0/'",
                     "the archive is named demo_bad-1.0 but holds other-2.0/"),
                 WriteFormat::pax_tar_gz, project("other-2.0", "other", true));

  // ---- bad filenames ----------------------------------------------------------------------
  corpus.archive(bad("bad-name-shell-metachar", "demo;reboot-1.0.tar.gz", "(found ';')",
                     "a project name with shell metacharacters"),
                 WriteFormat::pax_tar_gz, project("demo;reboot-1.0", "demo", true));
  corpus.archive(bad("bad-name-command-substitution", "demo$(id)-1.0.tar.gz", "(found '$')",
                     "a project name with $(...)"),
                 WriteFormat::pax_tar_gz, project("demo$(id)-1.0", "demo", true));
  corpus.archive(bad("bad-name-newline", "demo\n-1.0.tar.gz", "(found '\\x0a')", "a filename with a newline"),
                 WriteFormat::pax_tar_gz, project("demo\n-1.0", "demo", true));
  corpus.archive(bad("bad-name-no-version", "demo_bad.tar.gz", "has no '-VERSION'", "a filename without a version"),
                 WriteFormat::pax_tar_gz, project("demo_bad-1.0", "demo_bad", true));
  corpus.archive(bad("bad-name-suffix", "demo_bad-1.0.tar.xz", "must end with .tar.gz, .tar or .zip",
                     "an unsupported suffix"),
                 WriteFormat::pax_tar_gz, honest());

  // ---- bad content ------------------------------------------------------------------------
  corpus.add(bad("bad-empty-file", name, "is empty (0 bytes)", "a 0-byte file"),
             [](const fs::path& path) { write_bytes(path, ""); });
  corpus.add(bad("bad-not-an-archive", name, "not a .tar.gz archive", "a text file named .tar.gz"),
             [](const fs::path& path) { write_bytes(path, "this is not an archive\n"); });
  corpus.add(bad("bad-zip-named-tar-gz", name, "not a .tar.gz archive", "a zip file named .tar.gz"),
             [&](const fs::path& path) { write_archive(path, WriteFormat::zip, honest()); });
  corpus.archive(bad("bad-plain-tar-named-tar-gz", name, "is not gzip-compressed", "an uncompressed tar named .tar.gz"),
                 WriteFormat::pax_tar, honest());
  corpus.add(bad("bad-truncated-gzip", name, "reading member", "a .tar.gz cut in the middle of its gzip stream"),
             [&](const fs::path& path) {
               write_archive(path, WriteFormat::pax_tar_gz,
                             plus(honest(), {file(top + "/data.txt", [] {
                                    std::string text;
                                    for (int i = 0; i < 20000; ++i) text += fmt::format("line {}\n", i * 7919 % 10007);
                                    return text;
                                  }())}));
               const std::string bytes = read_bytes(path);
               write_bytes(path, bytes.substr(0, bytes.size() / 2));
             });
  corpus.archive(bad("bad-too-many-members", name, "has more than 20000 members", "20,001 empty files"),
                 WriteFormat::pax_tar_gz, [&] {
                   auto entries = honest();
                   for (int i = 0; entries.size() <= 20000; ++i) entries.push_back(file(fmt::format("{}/f/{}", top, i), ""));
                   return entries;
                 }());
  corpus.archive(bad("bad-sparse-terabyte", name, "more than the cap of 268435456",
                     "a sparse member declaring 1 TiB that holds 4 KiB"),
                 WriteFormat::pax_tar_gz, [&] {
                   WriteEntry sparse = file(top + "/huge.bin", std::string(4096, 'z'));
                   sparse.sparse_size = 1ull << 40;
                   return plus(honest(), {sparse});
                 }());
  corpus.archive(bad("bad-tar-gz-bomb", name, "a compression bomb", "64 MiB of zeros compressed to a few KiB (.tar.gz)"),
                 WriteFormat::pax_tar_gz, [&] {
                   WriteEntry zeros = file(top + "/zeros.bin", "");
                   zeros.zeros = 64ull << 20;
                   return plus(honest(), {zeros});
                 }());
  corpus.archive(bad("bad-zip-bomb", top + ".zip", "a compression bomb", "64 MiB of zeros deflated to a few KiB (.zip)"),
                 WriteFormat::zip, [&] {
                   WriteEntry zeros = file(top + "/zeros.bin", "");
                   zeros.zeros = 64ull << 20;
                   return plus(project(top, "demo_bad", false), {zeros});
                 }());
  return corpus.take();
}

}  // namespace snapcell::testing
