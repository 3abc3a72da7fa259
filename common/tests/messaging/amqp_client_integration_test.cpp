#include "broker_test_env.hpp"
