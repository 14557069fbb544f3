// The end-of-call records' file (--cdr-file): one JSON line per call,
// appended and flushed as each call ends, reopened on SIGHUP so that
// logrotate can move it away.
#pragma once

#include <cstdio>
#include <string>

namespace vox::tools {

class CdrFile {
 public:
  CdrFile() = default;
  CdrFile(const CdrFile&) = delete;
  CdrFile& operator=(const CdrFile&) = delete;
  ~CdrFile() { close(); }

  // Opens `path` for appending; an error message, or empty.
  std::string open(const std::string& path);
  std::string reopen() { return path_.empty() ? std::string() : open(path_); }
  void write(const std::string& line);

 private:
  void close();
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace vox::tools
