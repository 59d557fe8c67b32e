// Makes journal files for the tollgate-ledger command-line tests:
//   tollgate-ledger-make-journal FILE sound|torn|damaged|lost
// sound: a few hundred operations; torn: the same plus half a record at the
// end (a write that was never acknowledged); damaged: the same with one byte
// flipped in the second record, far more than a tear window before the end;
// lost: the last record read back as zeros (the header still says it was
// written). Prints the offset of the torn, damaged or lost record.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <tollgate/ledger/ledger.hpp>

namespace ld = tollgate::ledger_detail;
using namespace tollgate::literals;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE sound|torn|damaged|lost\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1], kind = argv[2];
  std::uint64_t end = 0;
  {
    tollgate::journal_config cfg;
    cfg.path = path;
    cfg.mode = tollgate::durability::none;
    cfg.tear_window = 64 * 1024;
    cfg.segment_bytes = 64 * 1024;
    auto l = tollgate::journal_ledger<>::open(cfg);
    if (!l) {
      std::fprintf(stderr, "%s\n", l.error().message().c_str());
      return 1;
    }
    for (int i = 0; i < 600; ++i) {
      const auto k = std::to_string(i);
      if (!(*l)->purchase("acme", 1_usd, "p" + k) || !(*l)->charge("acme", 1_cr, "c" + k)) return 1;
    }
    end = (*l)->totals().operations;
  }
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  // Walk the frames to find the second record and the end of the data.
  std::vector<std::uint64_t> offs;
  std::uint64_t off = ld::journal_header_size;
  for (;;) {
    unsigned char h[ld::frame_header_size];
    f.seekg(static_cast<std::streamoff>(off));
    if (!f.read(reinterpret_cast<char*>(h), sizeof h)) break;
    const std::uint32_t len = h[4] | h[5] << 8 | h[6] << 16 | static_cast<std::uint32_t>(h[7]) << 24;
    if (len == 0) break;
    offs.push_back(off);
    off += ld::frame_header_size + len;
  }
  f.clear();
  if (kind == "damaged") {
    const std::uint64_t at = offs[1] + ld::frame_header_size + 4;  // in the payload
    f.seekg(static_cast<std::streamoff>(at));
    char c;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
    std::printf("%llu\n", static_cast<unsigned long long>(offs[1]));
  } else if (kind == "lost") {
    const std::vector<char> zeros(static_cast<std::size_t>(off - offs.back()), 0);
    f.seekp(static_cast<std::streamoff>(offs.back()));
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    std::printf("%llu\n", static_cast<unsigned long long>(offs.back()));
  } else if (kind == "torn") {
    const char junk[23] = "a write cut off midway";
    f.seekp(static_cast<std::streamoff>(off));
    f.write(junk, sizeof junk);
    std::printf("%llu\n", static_cast<unsigned long long>(off));
  }
  (void)end;
  return 0;
}
