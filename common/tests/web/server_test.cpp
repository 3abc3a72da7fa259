#include "cppblog/web/server.hpp"

#include <gtest/gtest.h>

TEST(Server, Placeholder) { SUCCEED(); }
