# The one place the version is written: the top-level project() and common/'s own (when it is
# built on its own) both read it; it reaches the code through cppblog/version.hpp and --version.
set(CPPBLOG_VERSION 0.9)
