// --cdr-file (tools/voxrelay_cdr.h).
#include "voxrelay_cdr.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace vox::tools {

std::string CdrFile::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) return "--cdr-file " + path + ": " + std::strerror(errno);
  close();
  file_ = f;
  path_ = path;
  return {};
}

void CdrFile::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void CdrFile::write(const std::string& line) {
  if (!file_) return;
  // One line, whole, as the call ends: a reader tailing the file never
  // sees half a record.
  if (std::fprintf(file_, "%s\n", line.c_str()) < 0 || std::fflush(file_) != 0)
    spdlog::warn("--cdr-file {}: a record was not written: {}", path_, std::strerror(errno));
}

}  // namespace vox::tools
